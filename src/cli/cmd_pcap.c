/*
 * `kexbridge pcap FILE`: reads a packet capture, finds every SSH session in
 * it by its version line (on any port), and reports each negotiation the
 * way `kexbridge probe` does, from the real client's and server's offers.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kexbridge/advice.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/json.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/report.h"
#include "kexbridge/sniffer.h"

#include "../pcap/pcap_internal.h"
#include "cli.h"
#include "table.h"

struct pcap_options {
	const char *path;
	const char *filter;
	bool json;
	enum table_color_mode color;
};

/* Reason a session has no negotiation to show; JSON keys in pcap_reason_key. */
enum pcap_reason {
	PCAP_REASON_NONE,
	PCAP_REASON_MID_STREAM,
	PCAP_REASON_NO_VERSION,
	PCAP_REASON_GAP,
	PCAP_REASON_MALFORMED,
	PCAP_REASON_DISCONNECTED,
	PCAP_REASON_CLOSED,
	PCAP_REASON_CAPTURE_ENDS,
	PCAP_REASON_COUNT,
};

static const char *const pcap_reason_key[PCAP_REASON_COUNT] = {
	[PCAP_REASON_NONE] = "none",
	[PCAP_REASON_MID_STREAM] = "mid_stream",
	[PCAP_REASON_NO_VERSION] = "no_version",
	[PCAP_REASON_GAP] = "missing_segments",
	[PCAP_REASON_MALFORMED] = "malformed",
	[PCAP_REASON_DISCONNECTED] = "disconnected",
	[PCAP_REASON_CLOSED] = "closed",
	[PCAP_REASON_CAPTURE_ENDS] = "capture_ends",
};

/* One side's problem; side is 0 for the client, 1 for the server. */
struct pcap_problem {
	enum pcap_reason reason;
	int side;
	const struct reasm_dir *dir;
};

struct pcap_session {
	const struct reasm_flow *flow;
	size_t number;
	const struct reasm_dir *client;
	const struct reasm_dir *server;
	char client_label[64];
	char server_label[64];
	struct pcap_problem problem;
};

struct pcap_totals {
	size_t sessions;
	size_t agreed;
	size_t failed;
	size_t incomplete;
	size_t reasons[PCAP_REASON_COUNT];
	size_t other_flows;
	bool file_truncated;
	char truncated_msg[512];
};

struct pcap_run {
	struct pcap_options opts;
	struct table_style style;
	struct pcap_totals totals;
	const struct capfile_stats *stats;
};

static void
pcap_usage(FILE *out)
{
	fputs(_("Usage: kexbridge pcap [OPTION]... FILE\n"
	    "Read a packet capture (pcap or pcapng) and show, for every SSH\n"
	    "session in it, both version lines, both algorithm offers and the\n"
	    "result of the negotiation, with advice for a failure. Sessions are\n"
	    "found by their version line, on any TCP port.\n"
	    "\n"
	    "  --filter EXPR         read only the packets that match this\n"
	    "                        tcpdump filter expression\n"
	    "  --json                print one JSON object per line: one per\n"
	    "                        session, then a summary\n"
	    "  --color WHEN          auto, always or never (default: auto)\n"
	    "  -h, --help            show this help and exit\n"
	    "\n"
	    "Exit status: 0 when every complete session negotiates, 1 when at\n"
	    "least one fails, 2 when the file cannot be read (missing, not a\n"
	    "capture, invalid filter).\n"), out);
}

/* Returns -1 to go on, or the exit status (after --help or a usage error). */
static int
pcap_parse_args(int argc, char **argv, struct pcap_options *opts)
{
	static const struct option longopts[] = {
		{ "filter", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "color", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(opts, 0, sizeof(*opts));
	optind = 0;	/* glibc: start a fresh scan of this argv */
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			opts->filter = optarg;
			break;
		case 'j':
			opts->json = true;
			break;
		case 'c':
			if (table_color_mode_parse(optarg, &opts->color) != KB_OK)
				return cli_usage_error("pcap", _("invalid --color \"%s\": "
				    "expected auto, always or never"), optarg);
			break;
		case 'h':
			pcap_usage(stdout);
			return KB_EXIT_OK;
		default:
			return cli_bad_option("pcap", argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("pcap", "%s", optind == argc ?
		    _("missing FILE") : _("expected exactly one FILE"));
	opts->path = argv[optind];
	return -1;
}

/* ISO 8601 in UTC with microseconds, as capture tools print time. */
static void
pcap_format_time(int64_t ts_us, char *out, size_t outlen)
{
	time_t secs = (time_t)(ts_us / 1000000);
	struct tm tm;
	char date[32];

	if (ts_us < 0 || gmtime_r(&secs, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, outlen, "-");
		return;
	}
	snprintf(out, outlen, "%s.%06dZ", date, (int)(ts_us % 1000000));
}

static const char *
pcap_side_name(int side, bool translate)
{
	if (side == 0)
		return translate ? _("client") : "client";
	return translate ? _("server") : "server";
}

static const char *
pcap_roles_text(enum reasm_roles roles, bool translate)
{
	switch (roles) {
	case REASM_ROLES_BANNER:
		return translate ? _("identified by the lines the server sent "
		    "before its version line (no TCP handshake in the capture)") :
		    "banner";
	case REASM_ROLES_KEXINIT:
		return translate ? _("identified by ext-info or kex-strict in "
		    "the kex lists (no TCP handshake in the capture)") : "kexinit";
	case REASM_ROLES_PORTS:
		return translate ? _("guessed from the ports (no TCP handshake in "
		    "the capture, and nothing in the data tells the client from "
		    "the server): the server is taken to be on port 22 or the "
		    "lower port") : "ports";
	default:
		return translate ? NULL : "handshake";
	}
}

/* Sessions and what is missing from them. */

static bool
pcap_starts_with_ssh(const struct reasm_dir *dir)
{
	return dir->head_len == 4 && memcmp(dir->head, "SSH-", 4) == 0;
}

static enum pcap_reason
pcap_dir_reason(const struct reasm_flow *flow, const struct reasm_dir *dir)
{
	enum kb_sniff_state st = KB_SNIFF_VERSION;
	bool version = false;

	if (dir->sniffer != NULL) {
		st = kb_sniffer_state(dir->sniffer);
		version = kb_sniffer_version(dir->sniffer) != NULL;
	}
	if (st == KB_SNIFF_DONE)
		return PCAP_REASON_NONE;
	if (st == KB_SNIFF_DISCONNECTED)
		return PCAP_REASON_DISCONNECTED;
	if (!version && dir->has_data && !dir->syn_seen && !pcap_starts_with_ssh(dir))
		return PCAP_REASON_MID_STREAM;
	if (st == KB_SNIFF_FAILED)
		return version ? PCAP_REASON_MALFORMED : PCAP_REASON_NO_VERSION;
	if (dir->gap)
		return PCAP_REASON_GAP;
	if (dir->fin || flow->rst)
		return PCAP_REASON_CLOSED;
	return PCAP_REASON_CAPTURE_ENDS;
}

static void
pcap_find_problem(struct pcap_session *s)
{
	const struct reasm_dir *dirs[2] = { s->client, s->server };
	int side;

	s->problem.reason = PCAP_REASON_NONE;
	for (side = 0; side < 2; side++) {
		s->problem.reason = pcap_dir_reason(s->flow, dirs[side]);
		s->problem.side = side;
		s->problem.dir = dirs[side];
		if (s->problem.reason != PCAP_REASON_NONE)
			return;
	}
}

static bool
pcap_dir_has_version(const struct reasm_dir *dir)
{
	return dir->sniffer != NULL && kb_sniffer_version(dir->sniffer) != NULL;
}

/* Messages with msgids, formatted in English for JSON or translated for people. */
static char *
pcap_problem_text(const struct pcap_session *s, bool translate)
{
	const struct pcap_problem *p = &s->problem;
	const char *side = pcap_side_name(p->side, translate);
	const char *extra = "";
	bool seen = pcap_dir_has_version(p->dir);
	char *text = NULL;
	int r = -1;

#define PCAP_TR(msgid)	(translate ? _(msgid) : (msgid))
	switch (p->reason) {
	case PCAP_REASON_MID_STREAM:
		r = asprintf(&text, PCAP_TR(N_("the capture starts in the middle "
		    "of the connection: no version line from the %s")), side);
		break;
	case PCAP_REASON_NO_VERSION:
		r = asprintf(&text, PCAP_TR(N_("the %s's stream does not start "
		    "with an SSH version line")), side);
		break;
	case PCAP_REASON_GAP:
		if (p->dir->snapped)
			extra = PCAP_TR(N_(" (the snapshot length cut packets "
			    "short: capture with -s 0)"));
		else if (s->flow->overflow)
			extra = PCAP_TR(N_(" (more than 512 KiB arrived out of "
			    "order)"));
		r = asprintf(&text, PCAP_TR(N_("segments of the %s's stream are "
		    "missing from the capture, from byte %lu of the stream%s")),
		    side, (unsigned long)p->dir->gap_offset, extra);
		break;
	case PCAP_REASON_MALFORMED:
		r = asprintf(&text, PCAP_TR(N_("the %s's stream is not a valid "
		    "SSH handshake: %s")), side, translate ?
		    kb_err_str(kb_sniffer_error(p->dir->sniffer)) :
		    kb_err_msgid(kb_sniffer_error(p->dir->sniffer)));
		break;
	case PCAP_REASON_DISCONNECTED:
		r = asprintf(&text, PCAP_TR(N_("the %s sent SSH_MSG_DISCONNECT "
		    "before its KEXINIT: reason %u, \"%s\"")), side,
		    (unsigned int)kb_sniffer_disconnect_reason(p->dir->sniffer),
		    kb_sniffer_disconnect_text(p->dir->sniffer));
		break;
	case PCAP_REASON_CLOSED:
		r = asprintf(&text, seen ? PCAP_TR(N_("the connection was closed "
		    "before the %s's KEXINIT")) : PCAP_TR(N_("the connection was "
		    "closed before the %s's version line")), side);
		break;
	default:
		r = asprintf(&text, seen ? PCAP_TR(N_("the capture ends before "
		    "the %s's KEXINIT")) : PCAP_TR(N_("the capture ends before the "
		    "%s's version line")), side);
		break;
	}
#undef PCAP_TR
	return r < 0 ? NULL : text;
}

/* Output for people. */

static void
pcap_print_field(const char *label, const char *value)
{
	printf("  %s ", label);
	table_put_text(stdout, value);
	fputc('\n', stdout);
}

static void
pcap_print_version(const char *label, const struct reasm_dir *dir)
{
	const struct kb_version *version = NULL;
	char *escaped;

	if (dir->sniffer != NULL)
		version = kb_sniffer_version(dir->sniffer);
	if (version == NULL) {
		pcap_print_field(label, _("(not seen)"));
		return;
	}
	if ((escaped = table_escape(version->line, strlen(version->line))) == NULL)
		return;
	pcap_print_field(label, escaped);
	free(escaped);
}

static void
pcap_print_header(struct pcap_run *run, const struct pcap_session *s)
{
	char when[48], *title;
	const char *roles;

	fputc('\n', stdout);
	if (asprintf(&title, _("Session %zu: client %s, server %s"), s->number,
	    s->client_label, s->server_label) >= 0) {
		table_put(stdout, &run->style, TABLE_BOLD, title);
		fputc('\n', stdout);
		free(title);
	}
	pcap_format_time(s->flow->first_us, when, sizeof(when));
	pcap_print_field(_("first packet:  "), when);
	pcap_format_time(s->client->kexinit_us, when, sizeof(when));
	pcap_print_field(_("client KEXINIT:"), when);
	pcap_format_time(s->server->kexinit_us, when, sizeof(when));
	pcap_print_field(_("server KEXINIT:"), when);
	pcap_print_version(_("client version:"), s->client);
	pcap_print_version(_("server version:"), s->server);
	if ((roles = pcap_roles_text(s->flow->roles, true)) != NULL) {
		printf("  %s ", _("roles:"));
		table_put_wrapped(stdout, &run->style, roles,
		    3 + table_width(_("roles:")), 4);
	}
}

static void
pcap_print_result(struct pcap_run *run, const struct kb_negotiation *neg)
{
	bool first = true;
	int cat;

	printf("\n  %s ", _("result:"));
	if (neg->failed == 0) {
		table_put(stdout, &run->style, TABLE_GOOD, _("OK"));
		fputc('\n', stdout);
		return;
	}
	table_put(stdout, &run->style, TABLE_BAD, _("FAILS on"));
	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		if ((neg->failed & (1u << cat)) == 0)
			continue;
		printf("%s%s", first ? " " : ", ",
		    kb_category_key((enum kb_category)cat));
		first = false;
	}
	fputc('\n', stdout);
}

static int
pcap_print_text(struct pcap_run *run, const struct pcap_session *s,
    const struct kb_report *report)
{
	char *client_label = NULL, *server_label = NULL, *line;
	size_t i;
	int r = KB_ERR_ALLOC_FAIL;

	pcap_print_header(run, s);
	fputc('\n', stdout);
	if (asprintf(&client_label, _("client: %s"), s->client_label) < 0 ||
	    asprintf(&server_label, _("server: %s"), s->server_label) < 0)
		goto out;
	if ((r = table_print_negotiation(stdout, &run->style, client_label,
	    report->client, server_label, report->server, report->neg)) != KB_OK)
		goto out;
	for (i = 0; i < report->advice->count; i++) {
		if ((line = kb_advice_format(&report->advice->items[i], true)) == NULL) {
			r = KB_ERR_ALLOC_FAIL;
			goto out;
		}
		fputs(i == 0 ? "\n  " : "  ", stdout);
		table_put(stdout, &run->style, TABLE_BOLD, _("advice:"));
		fputc(' ', stdout);
		table_put_wrapped(stdout, &run->style, line,
		    3 + table_width(_("advice:")), 4);
		free(line);
	}
	pcap_print_result(run, report->neg);
 out:
	free(client_label);
	free(server_label);
	return r;
}

static void
pcap_print_incomplete_text(struct pcap_run *run, const struct pcap_session *s)
{
	char *text;

	pcap_print_header(run, s);
	printf("\n  %s ", _("result:"));
	table_put(stdout, &run->style, TABLE_BAD, _("INCOMPLETE"));
	fputc('\n', stdout);
	if ((text = pcap_problem_text(s, true)) != NULL) {
		printf("  %s ", _("reason:"));
		table_put_wrapped(stdout, &run->style, text,
		    3 + table_width(_("reason:")), 4);
		free(text);
	}
}

/* Output for machines: one object per line. */

static void
pcap_json_endpoints(struct kb_json *json, const struct pcap_session *s)
{
	char when[48];

	kb_json_uint(json, "session", s->number);
	kb_json_str(json, "client", s->client_label);
	kb_json_str(json, "server", s->server_label);
	pcap_format_time(s->flow->first_us, when, sizeof(when));
	kb_json_str(json, "first_seen", when);
	if (s->client->kexinit_us >= 0) {
		pcap_format_time(s->client->kexinit_us, when, sizeof(when));
		kb_json_str(json, "client_kexinit_seen", when);
	} else
		kb_json_null(json, "client_kexinit_seen");
	if (s->server->kexinit_us >= 0) {
		pcap_format_time(s->server->kexinit_us, when, sizeof(when));
		kb_json_str(json, "server_kexinit_seen", when);
	} else
		kb_json_null(json, "server_kexinit_seen");
	kb_json_str(json, "roles", pcap_roles_text(s->flow->roles, false));
}

static int
pcap_json_print(struct kb_json *json)
{
	const char *text;

	if ((text = kb_json_finish(json)) != NULL)
		puts(text);
	kb_json_free(json);
	return text != NULL ? KB_OK : KB_ERR_ALLOC_FAIL;
}

static int
pcap_print_json(const struct pcap_session *s, const struct kb_report *report)
{
	struct kb_json *json;

	if ((json = kb_json_new()) == NULL)
		return KB_ERR_ALLOC_FAIL;
	kb_json_str(json, "event", "negotiation");
	pcap_json_endpoints(json, s);
	kb_report_json(json, report);
	return pcap_json_print(json);
}

static const struct kb_version *
pcap_dir_version(const struct reasm_dir *dir)
{
	return dir->sniffer != NULL ? kb_sniffer_version(dir->sniffer) : NULL;
}

static int
pcap_print_incomplete_json(const struct pcap_session *s)
{
	const struct kb_version *version;
	struct kb_json *json;
	char *text;

	if ((json = kb_json_new()) == NULL)
		return KB_ERR_ALLOC_FAIL;
	kb_json_str(json, "event", "incomplete");
	pcap_json_endpoints(json, s);
	version = pcap_dir_version(s->client);
	kb_json_str(json, "client_version", version != NULL ? version->line : NULL);
	version = pcap_dir_version(s->server);
	kb_json_str(json, "server_version", version != NULL ? version->line : NULL);
	kb_json_str(json, "reason", pcap_reason_key[s->problem.reason]);
	kb_json_str(json, "side", pcap_side_name(s->problem.side, false));
	text = pcap_problem_text(s, false);
	kb_json_str(json, "message", text);
	free(text);
	return pcap_json_print(json);
}

/* Negotiates a complete session and prints it. */
static int
pcap_report_complete(struct pcap_run *run, const struct pcap_session *s)
{
	struct kb_negotiation neg;
	struct kb_advice advice = { 0 };
	struct kb_report report = { 0 };
	int r;

	report.client_version = kb_sniffer_version(s->client->sniffer);
	report.server_version = kb_sniffer_version(s->server->sniffer);
	report.client = kb_sniffer_kexinit(s->client->sniffer);
	report.server = kb_sniffer_kexinit(s->server->sniffer);
	kb_negotiate(report.client, report.server, &neg);
	if ((r = kb_advice_build(report.client, report.server,
	    report.server_version, &neg, &advice)) != KB_OK)
		goto out;
	report.neg = &neg;
	report.advice = &advice;
	if (neg.failed != 0)
		run->totals.failed++;
	else
		run->totals.agreed++;
	r = run->opts.json ? pcap_print_json(s, &report) :
	    pcap_print_text(run, s, &report);
 out:
	kb_advice_free(&advice);
	return r;
}

static void
pcap_session_init(struct pcap_session *s, const struct reasm_flow *flow,
    int client)
{
	memset(s, 0, sizeof(*s));
	s->flow = flow;
	s->client = &flow->dir[client];
	s->server = &flow->dir[!client];
	capfile_endpoint_str(&flow->ep[client], s->client_label,
	    sizeof(s->client_label));
	capfile_endpoint_str(&flow->ep[!client], s->server_label,
	    sizeof(s->server_label));
}

/*
 * A flow without a handshake whose bytes do not start with "SSH-" is taken
 * for an SSH session captured mid-stream when it uses port 22 or a port on
 * which the capture shows an SSH server. Returns the client's side, or -1.
 */
static int
pcap_mid_stream_client(const struct reasm *reasm, const struct reasm_flow *flow)
{
	uint16_t p0 = flow->ep[0].port, p1 = flow->ep[1].port;

	if (flow->dir[0].syn_seen || flow->dir[1].syn_seen ||
	    (!flow->dir[0].has_data && !flow->dir[1].has_data))
		return -1;
	if (p0 == 22 || reasm_port_has_ssh(reasm, p0))
		return 1;
	if (p1 == 22 || reasm_port_has_ssh(reasm, p1))
		return 0;
	return -1;
}

static int
pcap_report_flow(struct pcap_run *run, const struct reasm *reasm,
    const struct reasm_flow *flow)
{
	struct pcap_session s;
	int client = flow->client;

	if (flow->kind != REASM_KIND_SSH) {
		if ((client = pcap_mid_stream_client(reasm, flow)) < 0) {
			run->totals.other_flows++;
			return KB_OK;
		}
	}
	pcap_session_init(&s, flow, client);
	s.number = ++run->totals.sessions;
	pcap_find_problem(&s);
	if (s.problem.reason == PCAP_REASON_NONE)
		return pcap_report_complete(run, &s);

	run->totals.incomplete++;
	run->totals.reasons[s.problem.reason]++;
	if (run->opts.json)
		return pcap_print_incomplete_json(&s);
	pcap_print_incomplete_text(run, &s);
	return KB_OK;
}

/* The totals, and what was skipped. */

static void
pcap_print_summary_text(struct pcap_run *run)
{
	const struct pcap_totals *t = &run->totals;
	const struct capfile_stats *st = run->stats;
	int i;

	fputc('\n', stdout);
	table_put(stdout, &run->style, TABLE_BOLD, _("Summary"));
	fputc('\n', stdout);
	printf(_("  SSH sessions: %zu (negotiated: %zu, failed: %zu, "
	    "incomplete: %zu)\n"), t->sessions, t->agreed, t->failed,
	    t->incomplete);
	for (i = PCAP_REASON_NONE + 1; i < PCAP_REASON_COUNT; i++) {
		if (t->reasons[i] != 0)
			printf(_("    incomplete, %s: %zu\n"), pcap_reason_key[i],
			    t->reasons[i]);
	}
	printf(_("  other TCP flows (not SSH), ignored: %zu\n"), t->other_flows);
	printf(_("  packets: %llu; skipped: %llu IP fragments, %llu not TCP, "
	    "%llu malformed; %llu cut short by the snapshot length\n"),
	    (unsigned long long)st->packets, (unsigned long long)st->fragments,
	    (unsigned long long)st->not_tcp, (unsigned long long)st->malformed,
	    (unsigned long long)st->snapped);
	if (t->sessions == 0)
		printf("  %s\n", _("no SSH session found in the capture"));
	if (t->file_truncated) {
		printf("  %s ", _("warning:"));
		table_put_wrapped(stdout, &run->style, t->truncated_msg,
		    3 + table_width(_("warning:")), 4);
	}
}

static int
pcap_print_summary_json(struct pcap_run *run)
{
	const struct pcap_totals *t = &run->totals;
	const struct capfile_stats *st = run->stats;
	struct kb_json *json;
	int i;

	if ((json = kb_json_new()) == NULL)
		return KB_ERR_ALLOC_FAIL;
	kb_json_str(json, "event", "summary");
	kb_json_str(json, "file", run->opts.path);
	kb_json_uint(json, "sessions", t->sessions);
	kb_json_uint(json, "negotiated", t->agreed);
	kb_json_uint(json, "failed", t->failed);
	kb_json_uint(json, "incomplete", t->incomplete);
	kb_json_object_begin(json, "incomplete_reasons");
	for (i = PCAP_REASON_NONE + 1; i < PCAP_REASON_COUNT; i++) {
		if (t->reasons[i] != 0)
			kb_json_uint(json, pcap_reason_key[i], t->reasons[i]);
	}
	kb_json_object_end(json);
	kb_json_uint(json, "other_flows", t->other_flows);
	kb_json_uint(json, "packets", st->packets);
	kb_json_uint(json, "fragments", st->fragments);
	kb_json_uint(json, "not_tcp", st->not_tcp);
	kb_json_uint(json, "malformed", st->malformed);
	kb_json_uint(json, "snapped", st->snapped);
	kb_json_bool(json, "file_truncated", t->file_truncated);
	if (t->file_truncated)
		kb_json_str(json, "file_error", t->truncated_msg);
	return pcap_json_print(json);
}

static void
pcap_print_open_error(const struct pcap_options *opts, const char *key,
    const char *msg)
{
	struct kb_json *json;

	fprintf(stderr, "kexbridge: %s: %s\n", opts->path, msg);
	if (!opts->json || (json = kb_json_new()) == NULL)
		return;
	kb_json_str(json, "event", "error");
	kb_json_str(json, "file", opts->path);
	kb_json_str(json, "error", key);
	kb_json_str(json, "message", msg);
	(void)pcap_json_print(json);
}

/* Reads every TCP segment of the file into the reassembler. */
static int
pcap_read_all(struct pcap_run *run, struct capfile *file, struct reasm *reasm)
{
	struct capfile_segment seg;
	int r;

	while ((r = capfile_next(file, &seg, run->totals.truncated_msg,
	    sizeof(run->totals.truncated_msg))) == 1) {
		if ((r = reasm_add(reasm, &seg)) != KB_OK)
			return r;
	}
	if (r == KB_ERR_MESSAGE_TRUNCATED && run->stats->packets == 0) {
		/* Not one packet: the file is damaged from the start. */
		pcap_print_open_error(&run->opts, "not_a_capture",
		    run->totals.truncated_msg);
		return r;
	}
	if (r == KB_ERR_MESSAGE_TRUNCATED) {
		/* The packets before the damage are still worth a report. */
		run->totals.file_truncated = true;
		fprintf(stderr, _("kexbridge: %s: the capture cannot be read to "
		    "the end (%s); reporting the packets before that point\n"),
		    run->opts.path, run->totals.truncated_msg);
		r = KB_OK;
	}
	return r != KB_OK ? r : reasm_finish(reasm);
}

int
cmd_pcap(int argc, char **argv)
{
	struct pcap_run run;
	struct capfile *file = NULL;
	struct reasm *reasm = NULL;
	const struct reasm_flow *flow;
	const char *key = "cannot_open";
	char err[1024];
	int status, r;

	memset(&run, 0, sizeof(run));
	if ((status = pcap_parse_args(argc, argv, &run.opts)) >= 0)
		return status;
	status = KB_EXIT_ERROR;
	table_style_init(&run.style, run.opts.color);

	err[0] = '\0';
	if ((r = capfile_open(run.opts.path, run.opts.filter, &file, err,
	    sizeof(err), &key)) != KB_OK) {
		pcap_print_open_error(&run.opts, key, err[0] != '\0' ? err :
		    kb_err_str(r));
		goto out;
	}
	run.stats = capfile_stats(file);
	if ((reasm = reasm_new()) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto fail;
	}
	if ((r = pcap_read_all(&run, file, reasm)) == KB_ERR_MESSAGE_TRUNCATED)
		goto out;	/* already reported */
	if (r != KB_OK)
		goto fail;

	for (flow = reasm_flows(reasm); flow != NULL; flow = flow->next) {
		if ((r = pcap_report_flow(&run, reasm, flow)) != KB_OK)
			goto fail;
	}
	if ((r = run.opts.json ? pcap_print_summary_json(&run) : KB_OK) != KB_OK)
		goto fail;
	if (!run.opts.json)
		pcap_print_summary_text(&run);
	status = run.totals.failed != 0 ? KB_EXIT_MISMATCH : KB_EXIT_OK;
	goto out;
 fail:
	fprintf(stderr, "kexbridge: %s: %s\n", run.opts.path, kb_err_str(r));
 out:
	fflush(stdout);
	reasm_free(reasm);
	capfile_close(file);
	return status;
}
