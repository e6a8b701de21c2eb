/*
 * A negotiation result as JSON members (for the "negotiation" event) and as
 * one text line. Names from peers are escaped in the text line; the JSON
 * writer escapes them itself.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/report.h"

#define REPORT_TR(translate, msgid)	((translate) ? _(msgid) : (msgid))

static bool
report_is_open(const struct kb_kexinit *kexinit, enum kb_category cat)
{
	return (kexinit->unrestricted & (1u << cat)) != 0;
}

static void
report_json_offer(struct kb_json *json, const char *key, const struct kb_kexinit *kexinit)
{
	const struct kb_namelist *list;
	enum kb_category cat;
	size_t i;

	kb_json_object_begin(json, key);
	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		kb_json_array_begin(json, kb_category_key(cat));
		if (report_is_open(kexinit, cat)) {
			kb_json_str(json, NULL, "*");
		} else {
			list = &kexinit->lists[cat];
			for (i = 0; i < list->count; i++)
				kb_json_str(json, NULL, list->names[i]);
		}
		kb_json_array_end(json);
	}
	kb_json_object_end(json);
}

static void
report_json_guess(struct kb_json *json, const char *key, bool sent, bool right)
{
	kb_json_object_begin(json, key);
	kb_json_bool(json, "sent", sent);
	kb_json_bool(json, "right", right);
	kb_json_object_end(json);
}

void
kb_report_json(struct kb_json *json, const struct kb_report *report)
{
	const struct kb_negotiation *neg = report->neg;
	enum kb_category cat;
	size_t i;
	char *text;

	kb_json_str(json, "client_version",
	    report->client_version != NULL ? report->client_version->line : NULL);
	kb_json_str(json, "server_version",
	    report->server_version != NULL ? report->server_version->line : NULL);
	report_json_offer(json, "client_offer", report->client);
	report_json_offer(json, "server_offer", report->server);

	kb_json_object_begin(json, "result");
	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		if (neg->status[cat] == KB_CHOICE_IMPLICIT)
			kb_json_str(json, kb_category_key(cat), "implicit");
		else
			kb_json_str(json, kb_category_key(cat), neg->chosen[cat]);
	}
	kb_json_object_end(json);

	kb_json_array_begin(json, "failed");
	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		if ((neg->failed & (1u << cat)) != 0)
			kb_json_str(json, NULL, kb_category_key(cat));
	}
	kb_json_array_end(json);

	kb_json_bool(json, "strict_kex", neg->strict_kex);
	kb_json_object_begin(json, "guess");
	report_json_guess(json, "client", neg->client_guessed, neg->client_guess_right);
	report_json_guess(json, "server", neg->server_guessed, neg->server_guess_right);
	kb_json_object_end(json);

	kb_json_array_begin(json, "advice");
	for (i = 0; report->advice != NULL && i < report->advice->count; i++) {
		if ((text = kb_advice_format(&report->advice->items[i], false)) == NULL)
			continue;
		kb_json_str(json, NULL, text);
		free(text);
	}
	kb_json_array_end(json);
}

/* Writes s with bytes outside printable ASCII escaped (kb_log_escape). */
static void
report_put_escaped(FILE *f, const char *s)
{
	size_t len = strlen(s);
	char *buf;

	if ((buf = malloc(len * 4 + 1)) == NULL)
		return;
	fputs(kb_log_escape(buf, len * 4 + 1, s, len), f);
	free(buf);
}

static void
report_put_list(FILE *f, const struct kb_kexinit *kexinit, enum kb_category cat)
{
	if (report_is_open(kexinit, cat))
		fputc('*', f);
	else
		report_put_escaped(f, kexinit->lists[cat].raw != NULL ?
		    kexinit->lists[cat].raw : "");
}

static void
report_put_agreed(FILE *f, const struct kb_negotiation *neg)
{
	enum kb_category cat;

	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		fprintf(f, " %s=", kb_category_key(cat));
		if (neg->status[cat] == KB_CHOICE_IMPLICIT)
			fputs("implicit", f);
		else
			report_put_escaped(f, neg->chosen[cat] != NULL ? neg->chosen[cat] : "");
	}
}

static void
report_put_failed(FILE *f, const struct kb_report *report, bool translate)
{
	const char *sep = " ";
	enum kb_category cat;

	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		if ((report->neg->failed & (1u << cat)) == 0)
			continue;
		fprintf(f, "%s%s (%s", sep, kb_category_key(cat),
		    REPORT_TR(translate, N_("client: ")));
		report_put_list(f, report->client, cat);
		fputs(REPORT_TR(translate, N_("; server: ")), f);
		report_put_list(f, report->server, cat);
		fputc(')', f);
		/* TRANSLATORS: separates failed categories on the negotiation line. */
		sep = REPORT_TR(translate, N_(", "));
	}
}

static void
report_put_advice(FILE *f, const struct kb_advice *advice, const char *label,
    bool translate)
{
	size_t i, n;
	char *text;

	if (advice == NULL || advice->count == 0)
		return;
	/* Numbered when there are several, so one item's config line ends visibly. */
	fprintf(f, " %s", label);
	for (i = 0, n = 0; i < advice->count; i++) {
		if ((text = kb_advice_format(&advice->items[i], translate)) == NULL)
			continue;
		if (advice->count > 1)
			fprintf(f, " (%zu) %s", ++n, text);
		else
			fprintf(f, " %s", text);
		free(text);
	}
}

char *
kb_report_line(const struct kb_report *report, bool translate)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (report == NULL || report->neg == NULL)
		return NULL;
	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	if (report->neg->failed == 0) {
		fputs(REPORT_TR(translate, N_("agreed")), f);
		report_put_agreed(f, report->neg);
		/* On success the advice holds only warnings: weak or malformed. */
		report_put_advice(f, report->advice,
		    REPORT_TR(translate, N_("warning:")), translate);
	} else {
		fputs(REPORT_TR(translate, N_("failed:")), f);
		report_put_failed(f, report, translate);
		report_put_advice(f, report->advice,
		    REPORT_TR(translate, N_("advice:")), translate);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
