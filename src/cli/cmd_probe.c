#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/advice.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/json.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/profile.h"
#include "kexbridge/report.h"
#include "kexbridge/sniffer.h"

#include "cli.h"
#include "probe_io.h"
#include "table.h"

#define PROBE_DEFAULT_PORT	"22"
#define PROBE_DEFAULT_TIMEOUT	10.0	/* seconds */
/* Maximum timeout: one day, in seconds. */
#define PROBE_MAX_TIMEOUT	86400.0
#define PROBE_MAX_OPTIONS	64

struct probe_options {
	const char *profiles[PROBE_MAX_OPTIONS];
	size_t profile_count;
	const char *files[PROBE_MAX_OPTIONS];
	size_t file_count;
	bool json;
	int timeout_ms;
	enum table_color_mode color;
	struct probe_target target;
};

/* One profile's result against the server. */
struct probe_outcome {
	const struct kb_profile *profile;
	struct kb_negotiation neg;
	struct kb_advice advice;
};

static void
probe_usage(FILE *out)
{
	fputs(_("Usage: kexbridge probe [OPTION]... HOST[:PORT]\n"
	    "Read the SSH server's algorithm offer (its KEXINIT) and show, for\n"
	    "each client profile, whether that client can negotiate with it.\n"
	    "HOST may be a name, an IPv4 address or an IPv6 address; write\n"
	    "[ADDRESS]:PORT to give a port with an IPv6 address.\n"
	    "\n"
	    "  --profile NAME        check only this profile (repeatable;\n"
	    "                        default: every built-in and loaded profile)\n"
	    "  --profile-file FILE   load more profiles from an INI file\n"
	    "                        (repeatable)\n"
	    "  --json                print one JSON document instead of tables\n"
	    "  --timeout SECONDS     limit for the connect and for each read and\n"
	    "                        write, in seconds (default: 10)\n"
	    "  --color WHEN          auto, always or never (default: auto, which\n"
	    "                        colors a terminal unless NO_COLOR is set)\n"
	    "  -h, --help            show this help and exit\n"
	    "\n"
	    "PORT defaults to 22. Exit status: 0 when every profile can negotiate,\n"
	    "1 when at least one cannot, 2 on an error (bad usage, name not\n"
	    "resolved, connection refused, timed out, not an SSH server).\n"), out);
}

/* Parses a timeout in seconds, fractions allowed, into milliseconds. */
static int
probe_parse_timeout(const char *arg, int *timeout_ms)
{
	char *end;
	double secs;

	errno = 0;
	secs = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(secs) ||
	    secs <= 0 || secs > PROBE_MAX_TIMEOUT)
		return KB_ERR_INVALID_ARGUMENT;
	*timeout_ms = (int)(secs * 1000.0);
	if (*timeout_ms < 1)
		*timeout_ms = 1;
	return KB_OK;
}

/* Returns -1 to go on, or the exit status (after --help or a usage error). */
static int
probe_parse_args(int argc, char **argv, struct probe_options *opts)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "profile-file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "color", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(opts, 0, sizeof(*opts));
	opts->timeout_ms = (int)(PROBE_DEFAULT_TIMEOUT * 1000);
	optind = 0;	/* glibc: start a fresh scan of this argv */
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
		case 'f':
			if ((ch == 'p' ? opts->profile_count : opts->file_count) ==
			    PROBE_MAX_OPTIONS)
				return cli_usage_error("probe", _("too many uses of %s"),
				    ch == 'p' ? "--profile" : "--profile-file");
			if (ch == 'p')
				opts->profiles[opts->profile_count++] = optarg;
			else
				opts->files[opts->file_count++] = optarg;
			break;
		case 'j':
			opts->json = true;
			break;
		case 't':
			if (probe_parse_timeout(optarg, &opts->timeout_ms) != KB_OK)
				return cli_usage_error("probe", _("invalid timeout \"%s\": "
				    "expected seconds, greater than 0 and at most "
				    "86400"), optarg);
			break;
		case 'c':
			if (table_color_mode_parse(optarg, &opts->color) != KB_OK)
				return cli_usage_error("probe", _("invalid --color \"%s\": "
				    "expected auto, always or never"), optarg);
			break;
		case 'h':
			probe_usage(stdout);
			return KB_EXIT_OK;
		default:
			return cli_bad_option("probe", argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("probe", "%s", optind == argc ?
		    _("missing HOST") : _("expected exactly one HOST"));
	if (probe_target_parse(argv[optind], PROBE_DEFAULT_PORT,
	    &opts->target) != KB_OK)
		return cli_usage_error("probe", _("invalid target \"%s\": expected HOST, "
		    "HOST:PORT or [IPv6-ADDRESS]:PORT"), argv[optind]);
	return -1;
}

static void
probe_print_unknown(const struct kb_profile_set *set, const char *name)
{
	size_t i;

	fprintf(stderr, _("kexbridge: unknown profile \"%s\"; known profiles:"),
	    name);
	for (i = 0; i < set->count; i++)
		fprintf(stderr, "%s%s", i == 0 ? " " : ", ", set->profiles[i].name);
	fputc('\n', stderr);
	fputs(_("Load more profiles with --profile-file FILE.\n"), stderr);
}

/* Loads the profiles and picks the ones to check; the order is kept. */
static int
probe_select_profiles(const struct probe_options *opts,
    struct kb_profile_set *set, const struct kb_profile ***selected,
    size_t *count)
{
	char err[512];
	size_t i;
	int r;

	if ((r = kb_profile_add_builtins(set)) != KB_OK) {
		fprintf(stderr, "kexbridge: %s\n", kb_err_str(r));
		return r;
	}
	for (i = 0; i < opts->file_count; i++) {
		err[0] = '\0';
		if ((r = kb_profile_load_file(set, opts->files[i], err,
		    sizeof(err))) != KB_OK) {
			fprintf(stderr, "kexbridge: %s\n",
			    err[0] != '\0' ? err : kb_err_str(r));
			return r;
		}
	}

	*count = opts->profile_count > 0 ? opts->profile_count : set->count;
	if ((*selected = calloc(*count, sizeof(**selected))) == NULL && *count > 0)
		return KB_ERR_ALLOC_FAIL;
	for (i = 0; i < *count; i++) {
		if (opts->profile_count == 0) {
			(*selected)[i] = &set->profiles[i];
			continue;
		}
		if (((*selected)[i] = kb_profile_find(set,
		    opts->profiles[i])) == NULL) {
			probe_print_unknown(set, opts->profiles[i]);
			return KB_ERR_NOT_FOUND;
		}
	}
	return KB_OK;
}

/* Output for people. */

static void
probe_print_summary(const struct table_style *style,
    const struct probe_outcome *outcome)
{
	bool first = true;
	int cat;

	fputs("  ", stdout);
	table_put_text(stdout, outcome->profile->name);
	fputs(": ", stdout);
	if (outcome->neg.failed == 0) {
		table_put(stdout, style, TABLE_GOOD, _("OK"));
		fputc('\n', stdout);
		return;
	}
	table_put(stdout, style, TABLE_BAD, _("FAILS on"));
	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		if ((outcome->neg.failed & (1u << cat)) == 0)
			continue;
		printf("%s%s", first ? " " : ", ",
		    kb_category_key((enum kb_category)cat));
		first = false;
	}
	fputc('\n', stdout);
}

static int
probe_print_outcome(const struct table_style *style, const char *server_label,
    const struct kb_kexinit *server, const struct probe_outcome *outcome)
{
	const struct kb_profile *profile = outcome->profile;
	char *client_label = NULL, *line;
	size_t i;
	int r;

	fputc('\n', stdout);
	table_put(stdout, style, TABLE_BOLD, _("Profile "));
	table_put_text(stdout, profile->name);
	if (profile->description != NULL && profile->description[0] != '\0') {
		fputs(": ", stdout);
		table_put_text(stdout, profile->description);
	}
	fputs("\n", stdout);

	if (asprintf(&client_label, _("client: %s"), profile->name) < 0)
		return KB_ERR_ALLOC_FAIL;
	r = table_print_negotiation(stdout, style, client_label, &profile->offer,
	    server_label, server, &outcome->neg);
	free(client_label);

	for (i = 0; r == KB_OK && i < outcome->advice.count; i++) {
		if ((line = kb_advice_format(&outcome->advice.items[i], true)) == NULL)
			return KB_ERR_ALLOC_FAIL;
		fputs(i == 0 ? "\n  " : "  ", stdout);
		table_put(stdout, style, TABLE_BOLD, _("advice:"));
		fputc(' ', stdout);
		table_put_wrapped(stdout, style, line, 3 + table_width(_("advice:")),
		    4);
		free(line);
	}
	return r;
}

static int
probe_print_text(const struct probe_options *opts,
    const struct kb_sniffer *sniffer, const struct probe_outcome *outcomes,
    size_t count)
{
	const struct kb_version *version = kb_sniffer_version(sniffer);
	struct table_style style;
	char *escaped, *server_label;
	size_t i;
	int r = KB_OK;

	table_style_init(&style, opts->color);
	if ((escaped = table_escape(version->line, strlen(version->line))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	table_put(stdout, &style, TABLE_BOLD, _("Server "));
	printf("%s\n  %s %s\n", opts->target.label, _("version:"), escaped);
	free(escaped);

	if (asprintf(&server_label, _("server: %s"), opts->target.label) < 0)
		return KB_ERR_ALLOC_FAIL;
	for (i = 0; i < count && r == KB_OK; i++)
		r = probe_print_outcome(&style, server_label,
		    kb_sniffer_kexinit(sniffer), &outcomes[i]);
	free(server_label);

	fputc('\n', stdout);
	table_put(stdout, &style, TABLE_BOLD, _("Summary"));
	fputc('\n', stdout);
	for (i = 0; i < count; i++)
		probe_print_summary(&style, &outcomes[i]);
	return r;
}

/* Output for machines. */

static int
probe_print_json(const struct probe_options *opts,
    const struct kb_sniffer *sniffer, const struct probe_outcome *outcomes,
    size_t count)
{
	const struct kb_version *version = kb_sniffer_version(sniffer);
	const struct kb_kexinit *server = kb_sniffer_kexinit(sniffer);
	struct kb_report report;
	struct kb_json *json;
	const char *text;
	size_t i;

	if ((json = kb_json_new()) == NULL)
		return KB_ERR_ALLOC_FAIL;
	kb_json_str(json, "target", opts->target.label);
	kb_json_str(json, "server_version", version->line);
	probe_json_offer(json, "server_offer", server);
	kb_json_array_begin(json, "profiles");
	for (i = 0; i < count; i++) {
		const struct kb_profile *profile = outcomes[i].profile;

		kb_json_object_begin(json, NULL);
		kb_json_str(json, "name", profile->name);
		if (profile->description != NULL)
			kb_json_str(json, "description", profile->description);
		else
			kb_json_null(json, "description");
		kb_json_bool(json, "ok", outcomes[i].neg.failed == 0);
		report = (struct kb_report){
			.client_version = NULL,
			.server_version = version,
			.client = &profile->offer,
			.server = server,
			.neg = &outcomes[i].neg,
			.advice = &outcomes[i].advice,
		};
		kb_report_json(json, &report);
		kb_json_object_end(json);
	}
	kb_json_array_end(json);
	if ((text = kb_json_finish(json)) != NULL)
		puts(text);
	kb_json_free(json);
	return text != NULL ? KB_OK : KB_ERR_ALLOC_FAIL;
}

static void
probe_print_failure(const struct probe_options *opts,
    const struct probe_result *result)
{
	struct kb_json *json;
	const char *text;

	fprintf(stderr, "kexbridge: %s: %s\n", opts->target.label, result->message);
	if (!opts->json || (json = kb_json_new()) == NULL)
		return;
	kb_json_str(json, "target", opts->target.label);
	kb_json_str(json, "error", probe_failure_key(result->failure));
	if ((text = kb_json_finish(json)) != NULL)
		puts(text);
	kb_json_free(json);
}

/* Negotiates every selected profile against the server's offer. */
static int
probe_evaluate(const struct kb_sniffer *sniffer,
    const struct kb_profile **selected, struct probe_outcome *outcomes,
    size_t count)
{
	const struct kb_kexinit *server = kb_sniffer_kexinit(sniffer);
	size_t i;
	int r;

	for (i = 0; i < count; i++) {
		outcomes[i].profile = selected[i];
		kb_negotiate(&selected[i]->offer, server, &outcomes[i].neg);
		if ((r = kb_advice_build(&selected[i]->offer, server,
		    kb_sniffer_version(sniffer), &outcomes[i].neg,
		    &outcomes[i].advice)) != KB_OK)
			return r;
	}
	return KB_OK;
}

int
cmd_probe(int argc, char **argv)
{
	struct probe_options opts;
	struct kb_profile_set set = { 0 };
	const struct kb_profile **selected = NULL;
	struct probe_outcome *outcomes = NULL;
	struct probe_result result = { 0 };
	size_t count = 0, i;
	int status, r = KB_OK;

	if ((status = probe_parse_args(argc, argv, &opts)) >= 0)
		return status;
	status = KB_EXIT_ERROR;
	if (probe_select_profiles(&opts, &set, &selected, &count) != KB_OK)
		goto out;

	if (probe_run(&opts.target, opts.timeout_ms, &result) != KB_OK) {
		probe_print_failure(&opts, &result);
		goto out;
	}

	if ((outcomes = calloc(count > 0 ? count : 1, sizeof(*outcomes))) == NULL ||
	    (r = probe_evaluate(result.sniffer, selected, outcomes, count)) != KB_OK ||
	    (r = (opts.json ? probe_print_json : probe_print_text)(&opts,
	    result.sniffer, outcomes, count)) != KB_OK) {
		fprintf(stderr, "kexbridge: %s\n", kb_err_str(outcomes == NULL ?
		    KB_ERR_ALLOC_FAIL : r));
		goto out;
	}
	status = KB_EXIT_OK;
	for (i = 0; i < count; i++)
		if (outcomes[i].neg.failed != 0)
			status = KB_EXIT_MISMATCH;
 out:
	fflush(stdout);
	for (i = 0; outcomes != NULL && i < count; i++)
		kb_advice_free(&outcomes[i].advice);
	free(outcomes);
	free(selected);
	probe_result_free(&result);
	kb_profile_set_free(&set);
	return status;
}
