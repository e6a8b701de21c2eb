/*
 * kexbridge run: the daemon. Reads the configuration (a file or one route
 * from options), listens on every route, switches to the configured user and
 * relays. SIGHUP reloads the file; SIGINT and SIGTERM stop accepting and let
 * open sessions finish for up to drain_timeout seconds.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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
	const char *user;
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
	    "                     [--mode tap|bridge|auto] [bridge options]\n"
	    "                     [--log-format text|json] [--syslog]\n"
	    "                     [--log-level LEVEL] [--user NAME] [-t]\n"
	    "\n"
	    "Relays SSH connections and logs the algorithm negotiation of each one; in\n"
	    "bridge mode, terminates SSH from the client and opens a new SSH session to\n"
	    "the upstream with the algorithms it still speaks.\n"
	    "\n"
	    "  -f, --config FILE        read routes and log settings from the INI FILE\n"
	    "      --listen ADDR:PORT   listen on this numeric address and TCP port\n"
	    "                           (IPv6 as [ADDR]:PORT)\n"
	    "      --upstream HOST:PORT relay to this host and TCP port (default port 22)\n"
	    "      --mode MODE          route mode: tap (default), bridge, or auto (relay\n"
	    "                           while the offers agree, bridge when they do not)\n"
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
	    "      --user NAME          switch to this account once listening and the\n"
	    "                           host keys are loaded (needs root)\n"
	    "  -t, --test               check the configuration, print the effective\n"
	    "                           settings and exit\n"
	    "  -h, --help               show this help and exit\n"
	    "\n"
	    "Routes given with --listen use the defaults: connect_timeout 10 s,\n"
	    "handshake_timeout 60 s, idle_timeout 3600 s, buffer_limit 262144 bytes,\n"
	    "max_sessions 256. Options override the file's [global] settings.\n"
	    "\n"
	    "SIGHUP reads FILE again: new connections get the new settings, open\n"
	    "sessions finish on the old ones. SIGTERM and SIGINT stop accepting and\n"
	    "wait up to drain_timeout seconds (default 30) for open sessions.\n"));
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
		{ "user", required_argument, NULL, 'U' },
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
		case 'U': opt->user = optarg; break;
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
			cli_bad_option("run", argv);
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

	if (opt->user != NULL &&
	    (r = kb_conf_global_set(conf, "user", opt->user, err, errlen)) != 0)
		return r;

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

/* How often retired relays are checked for their last session. */
#define RUN_REAP_INTERVAL_MS	500

/* One configuration and the relay started from it. */
struct run_generation {
	struct kb_conf conf;
	struct kb_relay *relay;
	struct run_generation *next;	/* in run_daemon.retired */
};

/* The running daemon: the current generation and those still draining. */
struct run_daemon {
	const struct run_options *opt;
	struct event_base *base;
	struct run_generation *current;
	/* Generations replaced by a reload whose sessions still run. */
	struct run_generation *retired;
	struct event *sigint, *sigterm, *sighup;
	struct event *reap_timer;	/* frees empty generations, ends the drain */
	struct event *drain_timer;	/* drain_timeout after SIGTERM or SIGINT */
	bool draining;
};

static void
run_generation_free(struct run_generation *gen)
{
	if (gen == NULL)
		return;
	kb_relay_free(gen->relay);
	kb_conf_free(&gen->conf);
	free(gen);
}

static size_t
run_session_count(const struct run_daemon *d)
{
	const struct run_generation *gen;
	size_t n = kb_relay_session_count(d->current->relay);

	for (gen = d->retired; gen != NULL; gen = gen->next)
		n += kb_relay_session_count(gen->relay);
	return n;
}

static void
run_reap_start(struct run_daemon *d)
{
	struct timeval tv = { 0, RUN_REAP_INTERVAL_MS * 1000 };

	if (!evtimer_pending(d->reap_timer, NULL))
		evtimer_add(d->reap_timer, &tv);
}

/*
 * Closes every session still open on any generation and ends the event
 * loop. timed_out is true when drain_timeout ran out, false for
 * drain_timeout 0 or a second signal.
 */
static void
run_close_all(struct run_daemon *d, bool timed_out)
{
	struct run_generation *gen;
	size_t n = run_session_count(d);

	if (n > 0 && timed_out)
		kb_log(KB_LOG_WARN, NULL, "drain_timeout of %u s reached; closing sessions "
		    "still open: %zu", d->current->conf.drain_timeout, n);
	else if (n > 0)
		kb_log(KB_LOG_INFO, NULL, "closing %zu open sessions", n);
	kb_relay_close_sessions(d->current->relay, "shutdown");
	for (gen = d->retired; gen != NULL; gen = gen->next)
		kb_relay_close_sessions(gen->relay, "shutdown");
	event_base_loopexit(d->base, NULL);
}

/* Frees the retired generations whose last session ended; ends a drain. */
static void
run_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run_daemon *d = arg;
	struct run_generation **link = &d->retired, *gen;

	while ((gen = *link) != NULL) {
		if (kb_relay_session_count(gen->relay) > 0) {
			link = &gen->next;
			continue;
		}
		*link = gen->next;
		kb_log(KB_LOG_INFO, NULL, "last session on the previous configuration ended");
		run_generation_free(gen);
	}
	if (d->draining && run_session_count(d) == 0) {
		kb_log(KB_LOG_INFO, NULL, "all sessions finished");
		event_base_loopexit(d->base, NULL);
		return;
	}
	if (d->draining || d->retired != NULL)
		run_reap_start(d);
}

static void
run_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	run_close_all(arg, true);
}

/*
 * Stops accepting on every generation and lets open sessions finish for up
 * to drain_timeout seconds. A second signal closes them at once.
 */
static void
run_stop(struct run_daemon *d, int sig)
{
	struct timeval tv = { d->current->conf.drain_timeout, 0 };
	struct run_generation *gen;
	size_t n;

	if (d->draining) {
		kb_log(KB_LOG_INFO, NULL, "received %s again; closing open sessions now",
		    strsignal(sig));
		run_close_all(d, false);
		return;
	}
	kb_log(KB_LOG_INFO, NULL, "received %s; shutting down", strsignal(sig));
	kb_relay_stop_accepting(d->current->relay);
	for (gen = d->retired; gen != NULL; gen = gen->next)
		kb_relay_stop_accepting(gen->relay);
	n = run_session_count(d);
	if (n == 0 || d->current->conf.drain_timeout == 0) {
		run_close_all(d, false);
		return;
	}
	kb_log(KB_LOG_INFO, NULL, "waiting up to %u s for %zu open sessions to finish",
	    d->current->conf.drain_timeout, n);
	d->draining = true;
	evtimer_add(d->drain_timer, &tv);
	run_reap_start(d);
}

/*
 * Reads the configuration file again and, when it is valid, starts a relay
 * generation for it. New connections get the new configuration; sessions
 * already open finish on the generation that accepted them.
 */
static void
run_reload(struct run_daemon *d)
{
	struct run_generation *gen, *old = d->current;
	const char *path = d->opt->file;
	char err[KB_CONF_ERR_MAX];

	if (path == NULL) {
		kb_log(KB_LOG_WARN, NULL, "received SIGHUP, but the routes come from options, "
		    "not -f FILE; nothing to reload");
		return;
	}
	if (d->draining) {
		kb_log(KB_LOG_INFO, NULL, "received SIGHUP while shutting down; ignored");
		return;
	}
	if ((gen = calloc(1, sizeof(*gen))) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, "configuration not reloaded: out of memory");
		return;
	}
	kb_conf_init(&gen->conf);
	/*
	 * NOTE: after the privilege drop this runs as the configured user, so a
	 * root-only file or host key, or a new port below 1024, fails the reload.
	 */
	if (run_build_conf(d->opt, &gen->conf, err, sizeof(err)) != 0 ||
	    (gen->relay = kb_relay_reload(old->relay, &gen->conf, err, sizeof(err))) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, "configuration not reloaded, still running the "
		    "previous one: %s", err);
		run_generation_free(gen);
		return;
	}
	if ((old->conf.user == NULL) != (gen->conf.user == NULL) ||
	    (old->conf.user != NULL && strcmp(old->conf.user, gen->conf.user) != 0))
		kb_log(KB_LOG_WARN, NULL, "user changed in %s; it takes effect at the next "
		    "start", path);

	kb_log_init("kexbridge", gen->conf.log_format, gen->conf.log_target,
	    gen->conf.log_level);
	old->next = d->retired;
	d->retired = old;
	d->current = gen;
	kb_log(KB_LOG_INFO, NULL, "configuration reloaded: %zu routes", gen->conf.route_count);
	run_reap_start(d);
}

static void
run_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP)
		run_reload(arg);
	else
		run_stop(arg, (int)sig);
}

/*
 * Gives the state directory and the files directly in it to uid:gid, so
 * host keys and known_hosts stay usable after the privilege drop. Creates
 * the directory (mode 0700) when it is missing. Symbolic links are changed,
 * never followed.
 */
static int
run_chown_state_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *dp = NULL;
	int dfd = -1, r = KB_ERR_SYSTEM;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto out;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fchown(dfd, uid, gid) != 0 || (dp = fdopendir(dfd)) == NULL)
		goto out;
	dfd = -1;	/* closedir() closes it */
	errno = 0;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fchownat(dirfd(dp), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
			goto out;
	}
	if (errno == 0)
		r = 0;
 out:
	if (r != 0)
		snprintf(err, errlen, _("cannot give the state directory %s to uid %u: %s"),
		    dir, (unsigned int)uid, strerror(errno));
	if (dp != NULL)
		closedir(dp);
	if (dfd >= 0)
		close(dfd);
	return r;
}

/*
 * Switches to conf->user once the listeners are bound and the host keys
 * loaded: initgroups, setgid, setuid, then checks that root cannot be
 * regained. Without user, only warns when running as root.
 */
static int
run_drop_privileges(const struct kb_conf *conf, char *err, size_t errlen)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;
	int r;

	if (conf->user == NULL) {
		if (geteuid() == 0)
			kb_log(KB_LOG_WARN, NULL, "running as root; set user in [global] or "
			    "--user NAME to switch to an unprivileged account after start-up");
		return 0;
	}
	if ((pw = getpwnam(conf->user)) == NULL) {
		snprintf(err, errlen, _("unknown user '%s'"), conf->user);
		return KB_ERR_NOT_FOUND;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (geteuid() != 0) {
		if (getuid() == uid && geteuid() == uid)
			return 0;
		snprintf(err, errlen, _("cannot switch to user %s: kexbridge runs as uid %u, "
		    "not root; start it as root or drop the user setting"), conf->user,
		    (unsigned int)geteuid());
		return KB_ERR_SYSTEM;
	}
	if ((r = run_chown_state_dir(kb_conf_state_dir(conf), uid, gid, err, errlen)) != 0)
		return r;
	if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
		snprintf(err, errlen, _("cannot switch to user %s: %s"), conf->user,
		    strerror(errno));
		return KB_ERR_SYSTEM;
	}
	/* setuid(2) by root sets the real, effective and saved ids. Check that it held. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 || getuid() != uid ||
	    geteuid() != uid || getgid() != gid || getegid() != gid)) {
		snprintf(err, errlen, _("switched to user %s, but root can still be regained"),
		    conf->user);
		return KB_ERR_SYSTEM;
	}
	kb_log(KB_LOG_INFO, NULL, "running as user %s (uid %u, gid %u)", conf->user,
	    (unsigned int)uid, (unsigned int)gid);
	return 0;
}

/* Creates the event loop, the signal events and the timers of d. */
static int
run_daemon_init(struct run_daemon *d)
{
	if ((d->base = event_base_new()) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, "cannot create the event loop");
		return KB_ERR_ALLOC_FAIL;
	}
	d->sigint = evsignal_new(d->base, SIGINT, run_signal_cb, d);
	d->sigterm = evsignal_new(d->base, SIGTERM, run_signal_cb, d);
	d->sighup = evsignal_new(d->base, SIGHUP, run_signal_cb, d);
	d->reap_timer = evtimer_new(d->base, run_reap_cb, d);
	d->drain_timer = evtimer_new(d->base, run_drain_timeout_cb, d);
	if (d->sigint == NULL || d->sigterm == NULL || d->sighup == NULL ||
	    d->reap_timer == NULL || d->drain_timer == NULL ||
	    evsignal_add(d->sigint, NULL) != 0 || evsignal_add(d->sigterm, NULL) != 0 ||
	    evsignal_add(d->sighup, NULL) != 0) {
		kb_log(KB_LOG_ERROR, NULL, "cannot install the signal handlers");
		return KB_ERR_SYSTEM;
	}
	return 0;
}

static void
run_daemon_free(struct run_daemon *d)
{
	struct run_generation *gen;
	struct event *events[] = {
		d->sigint, d->sigterm, d->sighup, d->reap_timer, d->drain_timer,
	};
	size_t i;

	run_generation_free(d->current);
	while ((gen = d->retired) != NULL) {
		d->retired = gen->next;
		run_generation_free(gen);
	}
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (events[i] != NULL)
			event_free(events[i]);
	}
	if (d->base != NULL)
		event_base_free(d->base);
}

/*
 * Runs the relay for conf until SIGTERM or SIGINT and the drain that follows,
 * and returns the exit status. It takes over conf and leaves it empty.
 */
/*
 * Descriptors one session may use at most: two sockets, and in tap mode
 * two pipes of two descriptors each while splice(2) moves data.
 */
#define RUN_FDS_PER_SESSION	6
/* Listeners, the pipe cache, the log and libevent's own descriptors. */
#define RUN_FDS_RESERVED	64

/*
 * Raises the soft limit on open descriptors to the hard limit, as the
 * sessions of max_sessions may need several thousand and the soft limit
 * is often 1024. libevent uses epoll, so descriptors above FD_SETSIZE are
 * fine. Logs a warning when even the hard limit is too low.
 */
static void
run_raise_nofile(const struct kb_conf *conf)
{
	struct rlimit rl;
	unsigned long long need, before;

	need = (unsigned long long)conf->max_sessions * RUN_FDS_PER_SESSION +
	    RUN_FDS_RESERVED;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	before = (unsigned long long)rl.rlim_cur;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			kb_log(KB_LOG_DEBUG, NULL, "raised the open file limit from %llu to %llu",
			    before, (unsigned long long)rl.rlim_cur);
		else if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		kb_log(KB_LOG_WARN, NULL, "the open file limit is %llu, but max_sessions = %u "
		    "may need %llu descriptors; raise LimitNOFILE in the systemd unit "
		    "or ulimit -n", (unsigned long long)rl.rlim_cur, conf->max_sessions, need);
}

static int
run_loop(const struct run_options *opt, struct kb_conf *conf)
{
	struct run_daemon d;
	char err[KB_CONF_ERR_MAX];
	int status = KB_EXIT_ERROR;

	memset(&d, 0, sizeof(d));
	d.opt = opt;
	if ((d.current = calloc(1, sizeof(*d.current))) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, "out of memory");
		return KB_EXIT_ERROR;
	}
	d.current->conf = *conf;
	kb_conf_init(conf);
	run_raise_nofile(&d.current->conf);
	if (run_daemon_init(&d) != 0)
		goto out;
	if ((d.current->relay = kb_relay_new(d.base, &d.current->conf, err,
	    sizeof(err))) == NULL ||
	    run_drop_privileges(&d.current->conf, err, sizeof(err)) != 0) {
		kb_log(KB_LOG_ERROR, NULL, "%s", err);
		goto out;
	}

	event_base_dispatch(d.base);

	kb_log(KB_LOG_INFO, NULL, "stopped");
	status = KB_EXIT_OK;
 out:
	run_daemon_free(&d);
	return status;
}

/*
 * For -t: checks that the state directory exists or can be created, as
 * bridge and auto routes keep host keys and known_hosts there. run
 * creates only the last component, like mkdir(1) without -p.
 */
static int
run_check_state_dir(const struct kb_conf *conf, char *err, size_t errlen)
{
	const char *dir = kb_conf_state_dir(conf);
	char parent[4096], *slash;
	struct stat st;
	size_t i;
	bool needed = false;

	for (i = 0; i < conf->route_count; i++)
		needed |= conf->routes[i].mode != KB_MODE_TAP;
	if (!needed || dir == NULL)
		return 0;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		snprintf(err, errlen, _("cannot create state directory %s: %s; create it or "
		    "set state_dir"), dir, strerror(ENOTDIR));
		return -1;
	}
	snprintf(parent, sizeof(parent), "%s", dir);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent)
		*slash = '\0';
	else if (slash != NULL)
		slash[1] = '\0';
	if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, _("cannot create state directory %s: %s; create it or "
		    "set state_dir"), dir, strerror(ENOENT));
		return -1;
	}
	return 0;
}

int
cmd_run(int argc, char **argv)
{
	struct run_options opt;
	struct kb_conf conf;
	char err[KB_CONF_ERR_MAX];
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
	    (kb_conf_resolve_upstreams(&conf, opt.file, err, sizeof(err)) != 0 ||
	    run_check_state_dir(&conf, err, sizeof(err)) != 0)) {
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
	status = run_loop(&opt, &conf);
	kb_conf_free(&conf);
	return status;
}
