/*
 * Runs the negotiation engine over the real-world cases in *.case files
 * (format in tests/cases/README.md), one cmocka test per file.
 *
 * Cases come from $CASES_DIR (default tests/cases) and from the shared case
 * folder: $SHARED_CASES_DIR, else $top_srcdir/../shared/cases, when it
 * exists. A shared file identical to a local one of the same name runs once.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "kexbridge/advice.h"
#include "kexbridge/json.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/report.h"
#include "kexbridge/version.h"

/*
 * Lists for a category a case leaves out (README "Unknown categories"): a
 * cipher that is not AEAD, so MAC expectations stay meaningful, and a kex
 * list without strict-kex markers.
 */
static const char *const fill_lists[KB_CAT_NEGOTIATED] = {
	"diffie-hellman-group14-sha256",
	"ssh-ed25519",
	"aes128-ctr", "aes128-ctr",
	"hmac-sha2-256", "hmac-sha2-256",
	"none", "none",
};

struct case_data {
	const char *path;
	struct kb_kexinit client;
	struct kb_kexinit server;
	struct kb_version client_version;
	struct kb_version server_version;
	bool has_client_version;
	bool has_server_version;
	bool has_client[KB_CAT_NEGOTIATED];
	bool has_server[KB_CAT_NEGOTIATED];
	char *expect[KB_CAT_NEGOTIATED];
	/* -1 when the file has no expect.strict_kex line. */
	int expect_strict;
	int expect_count;
	/* First problem with the file itself. */
	char error[512];
};

static char *
case_trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
	    end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static void
case_error(struct case_data *c, int lineno, const char *what, const char *key)
{
	if (c->error[0] == '\0')
		snprintf(c->error, sizeof(c->error), "%s:%d: %s: %s", c->path, lineno,
		    what, key);
}

static void
case_set_side(struct case_data *c, int lineno, bool client, const char *field,
    const char *value)
{
	struct kb_kexinit *k = client ? &c->client : &c->server;
	int cat;

	if (strcmp(field, "version") == 0) {
		struct kb_version *v = client ? &c->client_version : &c->server_version;
		bool ok = kb_version_parse_line(value, strlen(value), v) == 0;

		if (client)
			c->has_client_version = ok;
		else
			c->has_server_version = ok;
		return;
	}
	if (strcmp(field, "first_kex_follows") == 0) {
		k->first_kex_follows = strcmp(value, "1") == 0;
		return;
	}
	cat = kb_category_from_key(field);
	if (cat < 0 || cat >= KB_CAT_NEGOTIATED) {
		case_error(c, lineno, "unknown key", field);
		return;
	}
	if (kb_kexinit_set_list(k, (enum kb_category)cat, value) != 0)
		case_error(c, lineno, "list rejected by kb_kexinit_set_list", field);
	if (client)
		c->has_client[cat] = true;
	else
		c->has_server[cat] = true;
}

static void
case_set_expect(struct case_data *c, int lineno, const char *field, const char *value)
{
	int cat;

	if (strcmp(field, "strict_kex") == 0) {
		c->expect_strict = strcmp(value, "on") == 0;
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
			case_error(c, lineno, "strict_kex must be on or off", value);
		return;
	}
	cat = kb_category_from_key(field);
	if (cat < 0 || cat >= KB_CAT_NEGOTIATED) {
		case_error(c, lineno, "unknown expect key", field);
		return;
	}
	free(c->expect[cat]);
	c->expect[cat] = strdup(value);
	c->expect_count++;
}

static void
case_parse_line(struct case_data *c, int lineno, char *line)
{
	char *eq, *key, *value, *dot;

	line = case_trim(line);
	if (*line == '\0' || *line == '#')
		return;
	if ((eq = strchr(line, '=')) == NULL) {
		case_error(c, lineno, "expected key = value", line);
		return;
	}
	*eq = '\0';
	key = case_trim(line);
	value = case_trim(eq + 1);
	if ((dot = strchr(key, '.')) == NULL) {
		case_error(c, lineno, "key without side", key);
		return;
	}
	*dot = '\0';
	if (strcmp(key, "client") == 0 || strcmp(key, "server") == 0)
		case_set_side(c, lineno, strcmp(key, "client") == 0, dot + 1, value);
	else if (strcmp(key, "expect") == 0)
		case_set_expect(c, lineno, dot + 1, value);
	else
		case_error(c, lineno, "unknown side", key);
}

/* Fills categories that the file leaves out for both sides. */
static void
case_fill_missing(struct case_data *c)
{
	int cat;

	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		if (c->has_client[cat] != c->has_server[cat])
			case_error(c, 0, "category given for one side only",
			    kb_category_key((enum kb_category)cat));
		if (c->has_client[cat] || c->has_server[cat])
			continue;
		if (c->expect[cat] != NULL)
			case_error(c, 0, "expect line for a category without lists",
			    kb_category_key((enum kb_category)cat));
		assert_int_equal(kb_kexinit_set_list(&c->client, cat, fill_lists[cat]), 0);
		assert_int_equal(kb_kexinit_set_list(&c->server, cat, fill_lists[cat]), 0);
	}
}

static void
case_load(struct case_data *c, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->path = path;
	c->expect_strict = -1;
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: cannot open", path);
	while (getline(&line, &cap, f) != -1)
		case_parse_line(c, ++lineno, line);
	free(line);
	fclose(f);
	case_fill_missing(c);
	if (c->expect_count == 0 && c->expect_strict < 0)
		case_error(c, 0, "no expect lines", "expect.*");
}

static void
case_free(struct case_data *c)
{
	int cat;

	kb_kexinit_free(&c->client);
	kb_kexinit_free(&c->server);
	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++)
		free(c->expect[cat]);
}

static const char *
case_actual(const struct kb_negotiation *neg, int cat)
{
	if (neg->status[cat] == KB_CHOICE_FAILED)
		return "FAIL";
	if (neg->status[cat] == KB_CHOICE_IMPLICIT)
		return "implicit";
	return neg->chosen[cat];
}

/* Advice and the JSON report must build for every case, too. */
static void
case_check_report(struct case_data *c, const struct kb_negotiation *neg)
{
	struct kb_advice advice;
	struct kb_report report;
	struct kb_json *json;
	size_t i;
	char *text;

	assert_int_equal(kb_advice_build(&c->client, &c->server,
	    c->has_server_version ? &c->server_version : NULL, neg, &advice), 0);
	if (neg->failed != 0 && advice.count == 0)
		fail_msg("%s: negotiation failed but no advice was built", c->path);
	for (i = 0; i < advice.count; i++) {
		text = kb_advice_format(&advice.items[i], false);
		assert_non_null(text);
		free(text);
	}
	memset(&report, 0, sizeof(report));
	report.client_version = c->has_client_version ? &c->client_version : NULL;
	report.server_version = c->has_server_version ? &c->server_version : NULL;
	report.client = &c->client;
	report.server = &c->server;
	report.neg = neg;
	report.advice = &advice;
	json = kb_json_new();
	assert_non_null(json);
	kb_report_json(json, &report);
	assert_non_null(kb_json_finish(json));
	kb_json_free(json);
	text = kb_report_line(&report, false);
	assert_non_null(text);
	free(text);
	kb_advice_free(&advice);
}

static void
case_run(void **state)
{
	struct kb_negotiation neg;
	struct case_data c;
	char *mismatch = NULL;
	size_t len = 0;
	FILE *f;
	int cat;

	case_load(&c, *state);
	if (c.error[0] != '\0') {
		case_free(&c);
		fail_msg("%s", c.error);
	}
	kb_negotiate(&c.client, &c.server, &neg);

	/* Collect every mismatch so one run shows them all. */
	f = open_memstream(&mismatch, &len);
	assert_non_null(f);
	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		const char *key = kb_category_key((enum kb_category)cat);
		const char *actual = case_actual(&neg, cat);

		if (neg.chosen[cat] != NULL && kb_name_is_pseudo(neg.chosen[cat]))
			fprintf(f, "\n  %s: pseudo-algorithm %s chosen", key, neg.chosen[cat]);
		if (c.expect[cat] != NULL && strcmp(c.expect[cat], actual) != 0)
			fprintf(f, "\n  %s: expected %s, got %s", key, c.expect[cat], actual);
	}
	if (c.expect_strict >= 0 && c.expect_strict != (int)neg.strict_kex)
		fprintf(f, "\n  strict_kex: expected %s, got %s",
		    c.expect_strict ? "on" : "off", neg.strict_kex ? "on" : "off");
	fclose(f);
	if (len > 0) {
		case_free(&c);
		fail_msg("%s:%s", (const char *)*state, mismatch);
	}
	free(mismatch);
	case_check_report(&c, &neg);
	case_free(&c);
}

struct case_list {
	struct CMUnitTest *tests;
	char **paths;
	size_t count;
};

static bool
case_same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa != NULL && fb != NULL;
	int ca, cb;

	while (same) {
		ca = fgetc(fa);
		cb = fgetc(fb);
		if (ca != cb)
			same = false;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	return same;
}

static bool
case_is_duplicate(const struct case_list *list, const char *path)
{
	const char *base = strrchr(path, '/') + 1;
	const char *other;
	size_t i;

	for (i = 0; i < list->count; i++) {
		other = strrchr(list->paths[i], '/') + 1;
		if (strcmp(base, other) == 0 && case_same_file(path, list->paths[i]))
			return true;
	}
	return false;
}

static int
case_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* Adds every *.case file in dir, in name order; returns -1 if dir is unreadable. */
static int
case_scan_dir(struct case_list *list, const char *dir)
{
	struct dirent *de;
	char **found = NULL;
	size_t nfound = 0, i, n;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".case") != 0)
			continue;
		found = realloc(found, (nfound + 1) * sizeof(*found));
		if (found == NULL || asprintf(&found[nfound], "%s/%s", dir, de->d_name) < 0)
			abort();
		nfound++;
	}
	closedir(d);
	qsort(found, nfound, sizeof(*found), case_name_cmp);
	for (i = 0; i < nfound; i++) {
		if (case_is_duplicate(list, found[i])) {
			free(found[i]);
			continue;
		}
		list->paths = realloc(list->paths, (list->count + 1) * sizeof(*list->paths));
		if (list->paths == NULL)
			abort();
		list->paths[list->count++] = found[i];
	}
	free(found);
	return 0;
}

static char *
case_shared_dir(void)
{
	const char *env = getenv("SHARED_CASES_DIR");
	struct stat st;
	char *dir;

	if (env != NULL && *env != '\0')
		return strdup(env);
	if ((env = getenv("top_srcdir")) == NULL || *env == '\0')
		return NULL;
	if (asprintf(&dir, "%s/../shared/cases", env) < 0)
		return NULL;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(dir);
		return NULL;
	}
	return dir;
}

int
main(void)
{
	const char *dir = getenv("CASES_DIR");
	struct case_list list = { NULL, NULL, 0 };
	char *shared;
	size_t i;
	int r;

	if (dir == NULL || *dir == '\0')
		dir = "tests/cases";
	if (case_scan_dir(&list, dir) != 0) {
		fprintf(stderr, "test_cases: cannot read case folder %s; set CASES_DIR\n", dir);
		return 1;
	}
	if ((shared = case_shared_dir()) != NULL && case_scan_dir(&list, shared) != 0) {
		fprintf(stderr, "test_cases: cannot read shared case folder %s\n", shared);
		free(shared);
		return 1;
	}
	free(shared);
	if (list.count == 0) {
		fprintf(stderr, "test_cases: no *.case files in %s\n", dir);
		return 1;
	}

	if ((list.tests = calloc(list.count, sizeof(*list.tests))) == NULL)
		abort();
	for (i = 0; i < list.count; i++) {
		list.tests[i].name = list.paths[i];
		list.tests[i].test_func = case_run;
		list.tests[i].initial_state = list.paths[i];
	}
	r = _cmocka_run_group_tests("negotiation_cases", list.tests, list.count, NULL, NULL);
	for (i = 0; i < list.count; i++)
		free(list.paths[i]);
	free(list.paths);
	free(list.tests);
	return r;
}
