/*
 * kexbridge run: the daemon. Reads the configuration (a file or one route
 * from options), listens on every route and relays until SIGINT or SIGTERM.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "cli.h"
#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/net.h"
#include "kexbridge/relay.h"

/* Route keys set from the command line, in the order given. */
#define RUN_ROUTE_OPTS_MAX	32

struct run_route_opt {
	const char *key;
	const char *value;
};

struct run_options {
	const char *file;
	const char *listen;
	const char *upstream;
	const char *mode;
	const char *state_dir;
	struct run_route_opt route_opt[RUN_ROUTE_OPTS_MAX];
	size_t route_opt_count;
	const char *log_format;
	const char *log_level;
	bool syslog;
	bool check_only;
};

static void
run_usage(FILE *out)
{
	fprintf(out, "%s",
	    _("Usage: kexbridge run [-f FILE | --listen ADDR:PORT --upstream HOST:PORT]\n"
	    "                     [--mode tap|bridge] [bridge options]\n"
	    "                     [--log-format text|json] [--syslog]\n"
	    "                     [--log-level LEVEL] [-t]\n"
	    "\n"
	    "Relays SSH connections and logs the algorithm negotiation of each one; in\n"
	    "bridge mode, terminates SSH from the client and opens a new SSH session to\n"
	    "the upstream with the algorithms it still speaks.\n"
	    "\n"
	    "  -f, --config FILE        read routes and log settings from the INI FILE\n"
	    "      --listen ADDR:PORT   listen on this numeric address and TCP port\n"
	    "                           (IPv6 as [ADDR]:PORT)\n"
	    "      --upstream HOST:PORT relay to this host and TCP port (default port 22)\n"
	    "      --mode MODE          route mode: tap (default) or bridge\n"
	    "\n"
	    "Bridge options (with --listen; in a file, the keys of the same name):\n"
	    "      --hostkey FILE       server host key, OpenSSH or PEM; repeatable\n"
	    "                           (default: keys created in the state directory)\n"
	    "      --state-dir DIR      state directory (default /var/lib/kexbridge)\n"
	    "      --known-hosts FILE   upstream host keys (default STATE_DIR/known_hosts)\n"
	    "      --hostkey-policy P   strict, accept-new (default) or off\n"
	    "      --upstream-kex LIST, --upstream-hostkey LIST,\n"
	    "      --upstream-ciphers LIST, --upstream-macs LIST\n"
	    "                           upstream algorithms in OpenSSH syntax: a,b sets,\n"
	    "                           +a appends, -a removes, ^a puts first\n"
	    "\n"
	    "      --log-format FORMAT  text (default) or json, one object per line\n"
	    "      --syslog             log to syslog (facility daemon) instead of stderr\n"
	    "      --log-level LEVEL    error, warn, info (default) or debug\n"
	    "  -t, --test               check the configuration, print the effective\n"
	    "                           settings and exit\n"
	    "  -h, --help               show this help and exit\n"
	    "\n"
	    "Routes given with --listen use the defaults: connect_timeout 10 s,\n"
	    "handshake_timeout 60 s, idle_timeout 3600 s, buffer_limit 262144 bytes,\n"
	    "max_sessions 256. Options override the file's [global] settings.\n"));
}

/* Records a bridge option as the route key it sets. */
static int
run_add_route_opt(struct run_options *opt, int c, const char *value)
{
	static const struct {
		int c;
		const char *key;
	} keys[] = {
		{ 'K', "hostkey" }, { 'k', "known_hosts" }, { 'P', "hostkey_policy" },
		{ '1', "upstream_kex" }, { '2', "upstream_hostkey" },
		{ '3', "upstream_ciphers" }, { '4', "upstream_macs" },
	};
	size_t i;

	if (opt->route_opt_count >= RUN_ROUTE_OPTS_MAX) {
		fprintf(stderr, _("kexbridge run: too many bridge options; at most %d\n"),
		    RUN_ROUTE_OPTS_MAX);
		return -1;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].c != c)
			continue;
		opt->route_opt[opt->route_opt_count].key = keys[i].key;
		opt->route_opt[opt->route_opt_count].value = value;
		opt->route_opt_count++;
		return 0;
	}
	return -1;
}

/* Applies the bridge options to the command-line route. */
static int
run_apply_route_opts(const struct run_options *opt, struct kb_conf *conf, char *err,
    size_t errlen)
{
	size_t i;
	int r;

	for (i = 0; i < opt->route_opt_count; i++) {
		if ((r = kb_conf_route_set(conf, &conf->routes[0], opt->route_opt[i].key,
		    opt->route_opt[i].value, err, errlen)) != 0)
			return r;
	}
	return 0;
}

/* Returns 0 to run, 1 for --help, or -1 on a usage error (already printed). */
static int
run_parse_args(int argc, char **argv, struct run_options *opt)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "listen", required_argument, NULL, 'l' },
		{ "upstream", required_argument, NULL, 'u' },
		{ "mode", required_argument, NULL, 'm' },
		{ "hostkey", required_argument, NULL, 'K' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "known-hosts", required_argument, NULL, 'k' },
		{ "hostkey-policy", required_argument, NULL, 'P' },
		{ "upstream-kex", required_argument, NULL, '1' },
		{ "upstream-hostkey", required_argument, NULL, '2' },
		{ "upstream-ciphers", required_argument, NULL, '3' },
		{ "upstream-macs", required_argument, NULL, '4' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "syslog", no_argument, NULL, 's' },
		{ "test", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "f:th", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': opt->file = optarg; break;
		case 'l': opt->listen = optarg; break;
		case 'u': opt->upstream = optarg; break;
		case 'm': opt->mode = optarg; break;
		case 'S': opt->state_dir = optarg; break;
		case 'K':
		case 'k':
		case 'P':
		case '1':
		case '2':
		case '3':
		case '4':
			if (run_add_route_opt(opt, c, optarg) != 0)
				return -1;
			break;
		case 'F': opt->log_format = optarg; break;
		case 'L': opt->log_level = optarg; break;
		case 's': opt->syslog = true; break;
		case 't': opt->check_only = true; break;
		case 'h': return 1;
		default:
			fprintf(stderr, "%s", _("Try 'kexbridge run --help'.\n"));
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, _("kexbridge run: unexpected argument '%s'\n"), argv[optind]);
		return -1;
	}
	return 0;
}

/* Builds conf from the file or from --listen/--upstream, then the log overrides. */
static int
run_build_conf(const struct run_options *opt, struct kb_conf *conf, char *err, size_t errlen)
{
	int level, r;

	if (opt->file != NULL && (opt->listen != NULL || opt->upstream != NULL ||
	    opt->mode != NULL || opt->route_opt_count > 0)) {
		snprintf(err, errlen, "%s", _("use either -f FILE or --listen/--upstream/--mode "
		    "and the bridge options, not both"));
		return KB_ERR_CONFIG_INVALID;
	}
	/* The state directory is a global setting; it is known before keys are created. */
	if (opt->file != NULL) {
		if ((r = kb_conf_load_file(conf, opt->file, err, errlen)) != 0)
			return r;
		if (opt->state_dir != NULL &&
		    (r = kb_conf_global_set(conf, "state_dir", opt->state_dir, err, errlen)) != 0)
			return r;
		if (opt->state_dir != NULL && (r = kb_conf_finish(conf, opt->file, err, errlen)) != 0)
			return r;
	} else if (opt->listen == NULL || opt->upstream == NULL) {
		snprintf(err, errlen, "%s",
		    _("no route given; use -f FILE, or both --listen ADDR:PORT and --upstream HOST:PORT"));
		return KB_ERR_CONFIG_INVALID;
	} else {
		if ((opt->state_dir != NULL && (r = kb_conf_global_set(conf, "state_dir",
		    opt->state_dir, err, errlen)) != 0) ||
		    (r = kb_conf_add_route(conf, "cli", opt->listen, opt->upstream, opt->mode,
		    err, errlen)) != 0 ||
		    (r = run_apply_route_opts(opt, conf, err, errlen)) != 0 ||
		    (r = kb_conf_finish(conf, NULL, err, errlen)) != 0)
			return r;
	}

	if (opt->log_format != NULL) {
		if (strcmp(opt->log_format, "text") == 0)
			conf->log_format = KB_LOG_TEXT;
		else if (strcmp(opt->log_format, "json") == 0)
			conf->log_format = KB_LOG_JSON;
		else {
			snprintf(err, errlen, _("invalid --log-format '%s'; expected text or json"),
			    opt->log_format);
			return KB_ERR_CONFIG_INVALID;
		}
	}
	if (opt->log_level != NULL) {
		if ((level = kb_log_level_from_str(opt->log_level)) < 0) {
			snprintf(err, errlen,
			    _("invalid --log-level '%s'; expected error, warn, info or debug"),
			    opt->log_level);
			return KB_ERR_CONFIG_INVALID;
		}
		conf->log_level = (enum kb_log_level)level;
	}
	if (opt->syslog)
		conf->log_target = KB_LOG_SYSLOG;
	return 0;
}

static void
run_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	kb_log(KB_LOG_INFO, NULL, "received %s; shutting down", strsignal((int)sig));
	event_base_loopexit(base, NULL);
}

/* Runs the relay until a signal arrives; returns the exit status. */
static int
run_loop(const struct kb_conf *conf)
{
	struct event_base *base = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	struct kb_relay *relay = NULL;
	char err[512];
	int status = KB_EXIT_ERROR;

	if ((base = event_base_new()) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, "cannot create the event loop");
		goto out;
	}
	sigint = evsignal_new(base, SIGINT, run_signal_cb, base);
	sigterm = evsignal_new(base, SIGTERM, run_signal_cb, base);
	if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) != 0 ||
	    evsignal_add(sigterm, NULL) != 0) {
		kb_log(KB_LOG_ERROR, NULL, "cannot install the signal handlers");
		goto out;
	}
	if ((relay = kb_relay_new(base, conf, err, sizeof(err))) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, "%s", err);
		goto out;
	}

	event_base_dispatch(base);

	kb_relay_stop_accepting(relay);
	if (kb_relay_session_count(relay) > 0)
		kb_log(KB_LOG_INFO, NULL, "closing %zu open sessions",
		    kb_relay_session_count(relay));
	kb_relay_close_sessions(relay, "shutdown");
	kb_log(KB_LOG_INFO, NULL, "stopped");
	status = KB_EXIT_OK;
 out:
	kb_relay_free(relay);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	if (base != NULL)
		event_base_free(base);
	return status;
}

int
cmd_run(int argc, char **argv)
{
	struct run_options opt;
	struct kb_conf conf;
	char err[1024];
	int r, status;

	memset(&opt, 0, sizeof(opt));
	if ((r = run_parse_args(argc, argv, &opt)) != 0) {
		if (r > 0)
			run_usage(stdout);
		return r > 0 ? KB_EXIT_OK : KB_EXIT_ERROR;
	}

	kb_conf_init(&conf);
	if (run_build_conf(&opt, &conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "kexbridge: %s\n", err);
		kb_conf_free(&conf);
		return KB_EXIT_ERROR;
	}
	/* For -t: resolve every upstream now, as the relay would at start-up. */
	if (opt.check_only &&
	    kb_conf_resolve_upstreams(&conf, opt.file, err, sizeof(err)) != 0) {
		fprintf(stderr, "kexbridge: %s\n", err);
		kb_conf_free(&conf);
		return KB_EXIT_ERROR;
	}
	if (opt.check_only) {
		printf("%s", _("# configuration OK; effective settings:\n"));
		kb_conf_print(stdout, &conf);
		kb_conf_free(&conf);
		return KB_EXIT_OK;
	}

	/* A peer that closes mid-write must fail that session, not the process. */
	signal(SIGPIPE, SIG_IGN);
	kb_log_init("kexbridge", conf.log_format, conf.log_target, conf.log_level);
	status = run_loop(&conf);
	kb_conf_free(&conf);
	return status;
}
