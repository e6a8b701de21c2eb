#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/json.h"
#include "kexbridge/net.h"
#include "kexbridge/profile.h"
#include "kexbridge/sniffer.h"

#include "cli.h"
#include "probe_io.h"
#include "table.h"

#define CAPTURE_DEFAULT_TIMEOUT	30.0	/* seconds */
#define CAPTURE_MAX_TIMEOUT	86400.0	/* seconds */
/* Clients served at once; more are closed at accept. */
#define CAPTURE_MAX_CLIENTS	64
/* After our DISCONNECT, how long we wait for the client to close. */
#define CAPTURE_LINGER_MS	2000
#define CAPTURE_READ_CHUNK	4096
#define CAPTURE_NAME_MAX	64

static const char capture_goodbye[] =
    "kexbridge capture: your offer was recorded; this is not a real server";

struct capture_options {
	const char *listen;
	unsigned long count;	/* 0: until SIGINT or SIGTERM */
	int timeout_ms;
	const char *profile_path;
	const char *name;
	bool json;
	enum table_color_mode color;
};

struct capture_client;

struct capture_server {
	const struct capture_options *opts;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *sigint, *sigterm;
	struct table_style style;
	struct kb_kexinit offer;
	bool have_offer;
	FILE *profile_file;
	/* Profile names taken: built-ins, the file's and those written now. */
	struct kb_profile_set taken;
	char **written;
	size_t written_count;
	unsigned long captures;
	unsigned long accepted;
	size_t clients;
	bool stopping;
	TAILQ_HEAD(, capture_client) client_list;
};

struct capture_client {
	struct capture_server *server;
	struct bufferevent *bev;
	struct event *deadline;
	struct kb_sniffer *sniffer;
	char addr[KB_NET_ADDRSTR_MAX];
	/* DISCONNECT queued; the client is only drained from now on. */
	bool closing;
	bool captured;
	TAILQ_ENTRY(capture_client) entry;
};

/* Command line. */

static void
capture_usage(FILE *out)
{
	fputs(_("Usage: kexbridge capture --listen ADDR:PORT [OPTION]...\n"
	    "Act as a decoy SSH server: record the algorithm offer (KEXINIT) of\n"
	    "each SSH client that connects, then disconnect it politely. No\n"
	    "session is ever established.\n"
	    "\n"
	    "  --listen ADDR:PORT    numeric address and port to listen on;\n"
	    "                        write [ADDRESS]:PORT for IPv6 (required)\n"
	    "  --count N             exit after N captures (default: run until\n"
	    "                        interrupted with SIGINT or SIGTERM)\n"
	    "  --timeout SECONDS     close a client that has not sent its\n"
	    "                        KEXINIT within this time, in seconds\n"
	    "                        (default: 30)\n"
	    "  --write-profile FILE  append each capture to FILE as a profile\n"
	    "                        that `kexbridge probe --profile-file FILE`\n"
	    "                        reads\n"
	    "  --name NAME           profile name for the captures (default:\n"
	    "                        derived from the client's version line);\n"
	    "                        a suffix -2, -3, ... keeps names unique\n"
	    "  --json                print one JSON object per capture per line\n"
	    "  --color WHEN          auto, always or never (default: auto)\n"
	    "  -h, --help            show this help and exit\n"
	    "\n"
	    "Exit status: 0 after N captures or when interrupted, 2 on an error\n"
	    "(bad usage, cannot listen, cannot write the profile file).\n"), out);
}

static bool
capture_parse_seconds(const char *arg, int *ms)
{
	char *end;
	double secs;

	errno = 0;
	secs = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(secs) ||
	    secs <= 0 || secs > CAPTURE_MAX_TIMEOUT)
		return false;
	*ms = secs * 1000.0 < 1 ? 1 : (int)(secs * 1000.0);
	return true;
}

static bool
capture_name_valid(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= CAPTURE_NAME_MAX && strspn(name,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "._-@+") == len;
}

/* Returns -1 to go on, or the exit status (after --help or a usage error). */
static int
capture_parse_args(int argc, char **argv, struct capture_options *opts)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "write-profile", required_argument, NULL, 'w' },
		{ "name", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "color", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int ch;

	memset(opts, 0, sizeof(*opts));
	opts->timeout_ms = (int)(CAPTURE_DEFAULT_TIMEOUT * 1000);
	optind = 0;	/* glibc: start a fresh scan of this argv */
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			opts->listen = optarg;
			break;
		case 'n':
			errno = 0;
			opts->count = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || opts->count == 0)
				return cli_usage_error("capture", _("invalid count \"%s\": "
				    "expected a whole number of at least 1"), optarg);
			break;
		case 't':
			if (!capture_parse_seconds(optarg, &opts->timeout_ms))
				return cli_usage_error("capture", _("invalid timeout \"%s\": "
				    "expected seconds, greater than 0 and at most "
				    "86400"), optarg);
			break;
		case 'w':
			opts->profile_path = optarg;
			break;
		case 'N':
			if (!capture_name_valid(optarg))
				return cli_usage_error("capture", _("invalid profile name "
				    "\"%s\": use 1 to 64 letters, digits and . _ - @ +"),
				    optarg);
			opts->name = optarg;
			break;
		case 'j':
			opts->json = true;
			break;
		case 'c':
			if (table_color_mode_parse(optarg, &opts->color) != KB_OK)
				return cli_usage_error("capture", _("invalid --color \"%s\": "
				    "expected auto, always or never"), optarg);
			break;
		case 'h':
			capture_usage(stdout);
			return KB_EXIT_OK;
		default:
			return cli_bad_option("capture", argv);
		}
	}
	if (optind != argc)
		return cli_usage_error("capture", _("unexpected argument \"%s\""),
		    argv[optind]);
	if (opts->listen == NULL)
		return cli_usage_error("capture", "%s", _("missing --listen ADDR:PORT"));
	if (opts->name != NULL && opts->profile_path == NULL)
		return cli_usage_error("capture", "%s",
		    _("--name needs --write-profile FILE"));
	return -1;
}

/* Profile names. */

static bool
capture_name_taken(const struct capture_server *server, const char *name)
{
	size_t i;

	if (kb_profile_find(&server->taken, name) != NULL)
		return true;
	for (i = 0; i < server->written_count; i++)
		if (strcmp(server->written[i], name) == 0)
			return true;
	return false;
}

/*
 * Picks the profile name for a capture: --name, else the client's software
 * ("OpenSSH_9.6p1" becomes "openssh_9.6p1"), else "captured-N". A suffix
 * -2, -3, ... is added until no known profile has that name.
 */
static void
capture_pick_name(const struct capture_server *server,
    const struct kb_version *version, char *out, size_t outlen)
{
	char base[CAPTURE_NAME_MAX + 1];
	size_t i, len = 0;
	unsigned long n;

	if (server->opts->name != NULL)
		snprintf(base, sizeof(base), "%s", server->opts->name);
	else {
		for (i = 0; version->software[i] != '\0' &&
		    len < CAPTURE_NAME_MAX - 8; i++) {
			char c = version->software[i];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", c) ==
			    NULL)
				c = '-';
			base[len++] = c;
		}
		base[len] = '\0';
		if (len == 0)
			snprintf(base, sizeof(base), "captured-%lu",
			    server->captures);
	}

	snprintf(out, outlen, "%s", base);
	for (n = 2; capture_name_taken(server, out); n++)
		snprintf(out, outlen, "%s-%lu", base, n);
}

static int
capture_write_profile(struct capture_server *server,
    const struct capture_client *client, char *name, size_t namelen)
{
	const struct kb_version *version = kb_sniffer_version(client->sniffer);
	char description[256], when[32], **grown;
	time_t now = time(NULL);
	struct tm tm;
	int r;

	capture_pick_name(server, version, name, namelen);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", gmtime_r(&now, &tm));
	snprintf(description, sizeof(description),
	    _("captured by kexbridge from %s at %s"), client->addr, when);

	r = kb_profile_write(server->profile_file, name, description, version,
	    kb_sniffer_kexinit(client->sniffer));
	if (r == KB_OK && (fflush(server->profile_file) != 0 ||
	    ferror(server->profile_file)))
		r = KB_ERR_SYSTEM;
	if (r != KB_OK)
		return r;

	grown = reallocarray(server->written, server->written_count + 1,
	    sizeof(*grown));
	if (grown == NULL || (grown[server->written_count] = strdup(name)) == NULL) {
		if (grown != NULL)
			server->written = grown;
		return KB_ERR_ALLOC_FAIL;
	}
	server->written = grown;
	server->written_count++;
	return KB_OK;
}

/* Printing a capture. */

static void
capture_print_json(const struct capture_server *server,
    const struct capture_client *client, const char *profile)
{
	struct kb_json *json;
	const char *text;

	if ((json = kb_json_new()) == NULL)
		return;
	kb_json_uint(json, "capture", server->captures);
	kb_json_str(json, "client", client->addr);
	kb_json_str(json, "client_version",
	    kb_sniffer_version(client->sniffer)->line);
	probe_json_offer(json, "client_offer", kb_sniffer_kexinit(client->sniffer));
	if (profile != NULL)
		kb_json_str(json, "profile", profile);
	else
		kb_json_null(json, "profile");
	if ((text = kb_json_finish(json)) != NULL)
		puts(text);
	kb_json_free(json);
}

/* "category: name,name" lines, for output that is not a terminal. */
static void
capture_print_plain(const struct kb_kexinit *offer)
{
	char *escaped;
	int cat;

	for (cat = 0; cat < KB_CAT_COUNT; cat++) {
		const struct kb_namelist *list = &offer->lists[cat];

		/* Language lists are almost always empty; show them only when not. */
		if (cat >= KB_CAT_LANG_C2S && list->raw_len == 0)
			continue;
		if ((escaped = table_escape(list->raw, list->raw_len)) == NULL)
			continue;
		printf("  %s: %s\n", kb_category_key((enum kb_category)cat),
		    escaped);
		free(escaped);
	}
}

static void
capture_print_text(const struct capture_server *server,
    const struct capture_client *client, const char *profile)
{
	const struct kb_version *version = kb_sniffer_version(client->sniffer);
	char *escaped;

	table_put(stdout, &server->style, TABLE_BOLD, _("Capture"));
	printf(" %lu: %s\n", server->captures, client->addr);
	if ((escaped = table_escape(version->line, strlen(version->line))) != NULL) {
		printf("  %s %s\n", _("version:"), escaped);
		free(escaped);
	}
	if (profile != NULL)
		printf("  %s %s (%s)\n", _("profile:"), profile,
		    server->opts->profile_path);
	if (server->style.width == 0)
		capture_print_plain(kb_sniffer_kexinit(client->sniffer));
	else if (table_print_offer(stdout, &server->style, _("client offer"),
	    kb_sniffer_kexinit(client->sniffer)) != KB_OK)
		fprintf(stderr, "kexbridge: %s\n", kb_err_str(KB_ERR_ALLOC_FAIL));
	fputc('\n', stdout);
}

/* Clients. */

static void
capture_client_free(struct capture_client *client)
{
	struct capture_server *server = client->server;

	TAILQ_REMOVE(&server->client_list, client, entry);
	server->clients--;
	if (client->deadline != NULL)
		event_free(client->deadline);
	if (client->bev != NULL)
		bufferevent_free(client->bev);
	kb_sniffer_free(client->sniffer);

	/* After the Nth capture, exit once its DISCONNECT went out. */
	if (server->stopping && (client->captured || server->clients == 0))
		event_base_loopexit(server->base, NULL);
	free(client);
}

static void
capture_client_report(const struct capture_client *client, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
capture_client_report(const struct capture_client *client, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kexbridge: capture: %s: ", client->addr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
capture_arm_deadline(struct capture_client *client, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(client->deadline, &tv);
}

/* Records the offer, queues our DISCONNECT and starts draining. */
static void
capture_client_done(struct capture_client *client)
{
	struct capture_server *server = client->server;
	char name[CAPTURE_NAME_MAX + 16];
	const char *profile = NULL;
	struct kb_buf *out;
	int r;

	server->captures++;
	client->captured = true;
	if (server->profile_file != NULL) {
		if ((r = capture_write_profile(server, client, name,
		    sizeof(name))) == KB_OK)
			profile = name;
		else
			fprintf(stderr, _("kexbridge: cannot write profile to %s: "
			    "%s\n"), server->opts->profile_path, r == KB_ERR_SYSTEM ?
			    strerror(errno) : kb_err_str(r));
	}
	if (server->opts->json)
		capture_print_json(server, client, profile);
	else
		capture_print_text(server, client, profile);
	fflush(stdout);

	if (server->opts->count > 0 && server->captures >= server->opts->count) {
		server->stopping = true;
		evconnlistener_disable(server->listener);
	}

	/* RFC 4253 section 11.1: tell the client why we close. */
	client->closing = true;
	if ((out = kb_buf_new(1024)) != NULL &&
	    probe_put_disconnect(out, capture_goodbye) == KB_OK)
		bufferevent_write(client->bev, kb_buf_ptr(out), kb_buf_len(out));
	kb_buf_free(out);
	capture_arm_deadline(client, CAPTURE_LINGER_MS);
}

/* Explains why a client's bytes did not lead to a KEXINIT. */
static void
capture_client_explain(const struct capture_client *client)
{
	enum kb_sniff_state state = kb_sniffer_state(client->sniffer);
	int err = kb_sniffer_error(client->sniffer);

	if (state == KB_SNIFF_DISCONNECTED)
		capture_client_report(client, _("the client disconnected before "
		    "sending its KEXINIT (reason %u: %s)"),
		    (unsigned int)kb_sniffer_disconnect_reason(client->sniffer),
		    kb_sniffer_disconnect_text(client->sniffer));
	else if (kb_sniffer_version(client->sniffer) == NULL)
		capture_client_report(client, _("not SSH: %s; closing"),
		    kb_err_str(err));
	else
		capture_client_report(client, _("invalid packet from the client: "
		    "%s; closing"), kb_err_str(err));
}

static void
capture_read_cb(struct bufferevent *bev, void *arg)
{
	struct capture_client *client = arg;
	struct evbuffer *input = bufferevent_get_input(bev);
	uint8_t chunk[CAPTURE_READ_CHUNK];
	enum kb_sniff_state state;
	int n;

	while ((n = evbuffer_remove(input, chunk, sizeof(chunk))) > 0) {
		/* Once closing, what the client still sends is discarded. */
		if (client->closing)
			continue;
		kb_sniffer_feed(client->sniffer, chunk, (size_t)n);
		state = kb_sniffer_state(client->sniffer);
		if (state == KB_SNIFF_DONE) {
			capture_client_done(client);
		} else if (state == KB_SNIFF_DISCONNECTED ||
		    state == KB_SNIFF_FAILED) {
			capture_client_explain(client);
			capture_client_free(client);
			return;
		}
	}
}

static void
capture_write_cb(struct bufferevent *bev, void *arg)
{
	struct capture_client *client = arg;

	/* Our DISCONNECT is out: send FIN and wait for the client's. */
	if (client->closing)
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void
capture_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct capture_client *client = arg;

	(void)bev;
	if (!client->closing && (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		if (kb_sniffer_offset(client->sniffer) == 0)
			capture_client_report(client, "%s", _("the client closed "
			    "the connection without sending anything"));
		else
			capture_client_report(client, "%s", _("the client closed "
			    "the connection before sending its KEXINIT"));
	}
	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		capture_client_free(client);
}

static void
capture_deadline_cb(evutil_socket_t fd, short events, void *arg)
{
	struct capture_client *client = arg;

	(void)fd;
	(void)events;
	if (!client->closing)
		capture_client_report(client, _("no KEXINIT within %g s; "
		    "closing"), client->server->opts->timeout_ms / 1000.0);
	capture_client_free(client);
}

static int
capture_client_start(struct capture_client *client, evutil_socket_t fd)
{
	struct capture_server *server = client->server;
	struct kb_buf *out;
	int r;

	client->bev = bufferevent_socket_new(server->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	client->deadline = evtimer_new(server->base, capture_deadline_cb, client);
	client->sniffer = kb_sniffer_new(KB_ROLE_CLIENT);
	if (client->bev == NULL || client->deadline == NULL ||
	    client->sniffer == NULL)
		return KB_ERR_ALLOC_FAIL;
	bufferevent_setcb(client->bev, capture_read_cb, capture_write_cb,
	    capture_event_cb, client);

	/* Our identification line and a broad KEXINIT, so the client proceeds. */
	if ((out = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_put(out, kb_version_ours(),
	    strlen(kb_version_ours()))) == KB_OK &&
	    (r = probe_put_kexinit(out, &server->offer)) == KB_OK &&
	    bufferevent_write(client->bev, kb_buf_ptr(out), kb_buf_len(out)) != 0)
		r = KB_ERR_ALLOC_FAIL;
	kb_buf_free(out);
	if (r != KB_OK)
		return r;

	capture_arm_deadline(client, server->opts->timeout_ms);
	return bufferevent_enable(client->bev, EV_READ | EV_WRITE) == 0 ?
	    KB_OK : KB_ERR_SYSTEM;
}

static void
capture_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct capture_server *server = arg;
	struct capture_client *client;
	char addr[KB_NET_ADDRSTR_MAX];

	(void)listener;
	kb_net_format(sa, (socklen_t)salen, addr, sizeof(addr));
	if (server->stopping) {
		evutil_closesocket(fd);
		return;
	}
	if (server->clients >= CAPTURE_MAX_CLIENTS) {
		fprintf(stderr, _("kexbridge: capture: %s: too many clients at "
		    "once (maximum %d); closing\n"), addr, CAPTURE_MAX_CLIENTS);
		evutil_closesocket(fd);
		return;
	}
	if ((client = calloc(1, sizeof(*client))) == NULL) {
		fprintf(stderr, "kexbridge: capture: %s: %s\n", addr,
		    kb_err_str(KB_ERR_ALLOC_FAIL));
		evutil_closesocket(fd);
		return;
	}
	client->server = server;
	snprintf(client->addr, sizeof(client->addr), "%s", addr);
	TAILQ_INSERT_TAIL(&server->client_list, client, entry);
	server->clients++;
	server->accepted++;

	if (capture_client_start(client, fd) != KB_OK) {
		capture_client_report(client, "%s", kb_err_str(KB_ERR_ALLOC_FAIL));
		if (client->bev == NULL)
			evutil_closesocket(fd);
		capture_client_free(client);
	}
}

static void
capture_accept_error_cb(struct evconnlistener *listener, void *arg)
{
	(void)listener;
	(void)arg;
	/* EMFILE and the like: the listener keeps running, so say why. */
	fprintf(stderr, _("kexbridge: capture: accept failed: %s\n"),
	    strerror(EVUTIL_SOCKET_ERROR()));
}

static void
capture_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct capture_server *server = arg;

	(void)sig;
	(void)events;
	event_base_loopexit(server->base, NULL);
}

/* Setup and teardown. */

static int
capture_open_profile_file(struct capture_server *server)
{
	const char *path = server->opts->profile_path;
	char err[512] = "";

	/* Names in the file and the built-ins are taken; a file that does not
	 * parse yet (it may not exist) only loses that check. */
	kb_profile_add_builtins(&server->taken);
	if (access(path, F_OK) == 0 &&
	    kb_profile_load_file(&server->taken, path, err, sizeof(err)) != KB_OK)
		fprintf(stderr, _("kexbridge: warning: %s; new names may repeat "
		    "names in that file\n"), err);
	if ((server->profile_file = fopen(path, "a")) == NULL) {
		fprintf(stderr, _("kexbridge: cannot open %s for appending: %s\n"),
		    path, strerror(errno));
		return KB_ERR_SYSTEM;
	}
	return KB_OK;
}

static int
capture_listen(struct capture_server *server)
{
	struct kb_net_addr addr;
	char err[256] = "";

	if (kb_net_parse(server->opts->listen, NULL, true, &addr, err,
	    sizeof(err)) != KB_OK) {
		fprintf(stderr, _("kexbridge: invalid --listen \"%s\": %s\n"),
		    server->opts->listen, err);
		return KB_ERR_INVALID_ARGUMENT;
	}
	server->listener = evconnlistener_new_bind(server->base,
	    capture_accept_cb, server, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&addr.ss, (int)addr.len);
	if (server->listener == NULL) {
		fprintf(stderr, _("kexbridge: cannot listen on %s: %s\n"),
		    server->opts->listen, strerror(errno));
		return KB_ERR_SYSTEM;
	}
	evconnlistener_set_error_cb(server->listener, capture_accept_error_cb);
	fprintf(stderr, _("kexbridge: capture: listening on %s\n"),
	    server->opts->listen);
	return KB_OK;
}

static int
capture_setup(struct capture_server *server)
{
	int r;

	table_style_init(&server->style, server->opts->color);
	if ((r = probe_offer_init(&server->offer, KB_ROLE_SERVER)) != KB_OK)
		return r;
	server->have_offer = true;
	if (server->opts->profile_path != NULL &&
	    (r = capture_open_profile_file(server)) != KB_OK)
		return r;
	if ((server->base = event_base_new()) == NULL)
		return KB_ERR_ALLOC_FAIL;
	server->sigint = evsignal_new(server->base, SIGINT, capture_signal_cb,
	    server);
	server->sigterm = evsignal_new(server->base, SIGTERM, capture_signal_cb,
	    server);
	if (server->sigint == NULL || server->sigterm == NULL ||
	    event_add(server->sigint, NULL) != 0 ||
	    event_add(server->sigterm, NULL) != 0)
		return KB_ERR_SYSTEM;
	return capture_listen(server);
}

static void
capture_teardown(struct capture_server *server)
{
	size_t i;

	while (!TAILQ_EMPTY(&server->client_list)) {
		server->stopping = false;
		capture_client_free(TAILQ_FIRST(&server->client_list));
	}
	if (server->listener != NULL)
		evconnlistener_free(server->listener);
	if (server->sigint != NULL)
		event_free(server->sigint);
	if (server->sigterm != NULL)
		event_free(server->sigterm);
	if (server->base != NULL)
		event_base_free(server->base);
	if (server->profile_file != NULL)
		fclose(server->profile_file);
	for (i = 0; i < server->written_count; i++)
		free(server->written[i]);
	free(server->written);
	kb_profile_set_free(&server->taken);
	if (server->have_offer)
		kb_kexinit_free(&server->offer);
}

int
cmd_capture(int argc, char **argv)
{
	struct capture_options opts;
	struct capture_server server;
	int status, r;

	if ((status = capture_parse_args(argc, argv, &opts)) >= 0)
		return status;
	memset(&server, 0, sizeof(server));
	server.opts = &opts;
	/* A client that resets the connection must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	TAILQ_INIT(&server.client_list);
	status = KB_EXIT_ERROR;
	if ((r = capture_setup(&server)) != KB_OK) {
		if (r == KB_ERR_ALLOC_FAIL)
			fprintf(stderr, "kexbridge: %s\n", kb_err_str(r));
		goto out;
	}
	if (event_base_dispatch(server.base) == -1) {
		fprintf(stderr, "kexbridge: %s\n", kb_err_str(KB_ERR_SYSTEM));
		goto out;
	}
	fprintf(stderr, ngettext("kexbridge: capture: stopped after %lu capture\n",
	    "kexbridge: capture: stopped after %lu captures\n", server.captures),
	    server.captures);
	status = KB_EXIT_OK;
 out:
	capture_teardown(&server);
	return status;
}
