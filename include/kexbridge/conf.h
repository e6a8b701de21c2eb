/*
 * The daemon's configuration: global log settings and a list of routes, each
 * a listener and the upstream it leads to.
 *
 * INI file format (inih; ';' or '#' starts a comment). Lines may be
 * indented. A value ends at the end of its line: an indented line is a key
 * line of its own, never a continuation of the value above.
 *
 *   [global]
 *   log_format = text              text or json
 *   log_target = stderr            stderr or syslog
 *   log_level = info               error, warn, info or debug
 *   max_sessions = 1024            concurrent sessions on all routes together
 *
 *   [route NAME]                   one section per route; NAME is letters,
 *                                  digits, '-', '_' or '.'
 *   listen = 0.0.0.0:2222          ADDR:PORT or [IPv6]:PORT, numeric only
 *   upstream = backup.example:22   HOST:PORT or [IPv6]:PORT; port 22 if omitted
 *   mode = tap                     tap, bridge, or auto (relay while the
 *                                  offers agree, bridge when they do not)
 *   connect_timeout = 10           seconds to connect to the upstream
 *   handshake_timeout = 60         seconds from accept until both KEXINITs
 *   idle_timeout = 3600            seconds without traffic; 0 = no limit
 *   buffer_limit = 256K            bytes buffered per direction before
 *                                  reading pauses; K and M suffixes are KiB, MiB
 *   max_sessions = 256             concurrent sessions on this route
 *   transparent = no               no, redirect or tproxy: the upstream is
 *                                  each connection's original destination
 *                                  (iptables REDIRECT or TPROXY), and the
 *                                  upstream key must be absent
 *   allow = 10.0.2.0/24:22, ...    original destinations a transparent route
 *                                  may connect to (forms in origdst.h);
 *                                  required when transparent is on
 *   max_per_source = 32            concurrent sessions from one client address
 *   max_startups = 64              concurrent sessions still in the handshake
 *                                  (tap: both KEXINITs not yet seen; bridge:
 *                                  client not yet authenticated), as sshd's
 *                                  MaxStartups; further connections are closed
 *
 * A connection over one of these limits is closed at once, before anything is
 * sent to it, and logged as a "limit" event, as are the handshake and idle
 * timeouts when they fire.
 *
 * Bridge mode (kexbridge is the SSH server for the client and an SSH client
 * of the upstream); tap routes ignore these keys:
 *
 *   hostkey = FILE[,FILE...]       private host keys, OpenSSH or PEM; when
 *                                  none is given, ssh-ed25519 and RSA 3072
 *                                  keys are created in state_dir
 *   known_hosts = FILE             upstream host keys; STATE_DIR/known_hosts
 *   hostkey_policy = accept-new    strict, accept-new or off
 *   upstream_kex = LIST            upstream algorithm lists in OpenSSH
 *   upstream_hostkey = LIST        syntax (a,b  +a  -a  ^a), checked
 *   upstream_ciphers = LIST        against the linked libssh2 when the
 *   upstream_macs = LIST           file is read
 *   kex, ciphers, macs = LIST      offered to the client; default all
 *                                  implemented
 *   hostkey_algorithms = LIST      host key signature algorithms offered to
 *                                  the client; each must be served by one of
 *                                  the host keys; default all they serve
 *   moduli = FILE                  groups for diffie-hellman-group-exchange;
 *                                  /etc/ssh/moduli when it exists
 *   auth_methods = password,keyboard-interactive
 *   max_auth_tries = 6
 *   auth_failure_delay = 2         seconds before a failure is reported
 *   exec_allow = PATTERN[,...]     commands allowed besides scp -t/-f
 *   sftp = yes                     allow the sftp subsystem
 *   window_size = 2M               channel window towards the client
 *   session_memory_limit = 4M      bytes one session buffers in total
 *   rekey_limit = default none     SIZE [SECONDS], as sshd's RekeyLimit: we
 *                                  start a rekey with the client after SIZE
 *                                  bytes (K, M, G suffixes; default: the
 *                                  cipher's limit) either way under one key,
 *                                  or after SECONDS (none: no time limit)
 *   upstream_handshake_timeout = 60, upstream_auth_timeout = 60
 *
 * [global] also takes:
 *
 *   state_dir = /var/lib/kexbridge host keys and known_hosts
 *   drain_timeout = 30             seconds that open sessions may run on after
 *                                  SIGTERM or SIGINT; 0 = close them at once
 *   user = NAME                    account to switch to after the listeners
 *                                  are bound and the host keys loaded; unset:
 *                                  keep the starting user
 *
 * Durations take an optional s, m or h suffix. listen is required, and
 * upstream unless the route is transparent; two routes may not listen on the
 * same address.
 */
#ifndef KEXBRIDGE_CONF_H
#define KEXBRIDGE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kexbridge/log.h"
#include "kexbridge/origdst.h"
#include "kexbridge/upstream.h"

enum kb_route_mode {
	KB_MODE_TAP,
	KB_MODE_BRIDGE,
	KB_MODE_AUTO,
};

#define KB_CONNECT_TIMEOUT_DEFAULT	10
#define KB_HANDSHAKE_TIMEOUT_DEFAULT	60
#define KB_IDLE_TIMEOUT_DEFAULT		3600
#define KB_BUFFER_LIMIT_DEFAULT		(256 * 1024)
#define KB_MAX_SESSIONS_DEFAULT		256
#define KB_GLOBAL_MAX_SESSIONS_DEFAULT	1024
#define KB_MAX_PER_SOURCE_DEFAULT	32
#define KB_MAX_STARTUPS_DEFAULT		64
#define KB_STATE_DIR_DEFAULT		"/var/lib/kexbridge"
#define KB_DRAIN_TIMEOUT_DEFAULT	30
#define KB_MODULI_DEFAULT		"/etc/ssh/moduli"
#define KB_MAX_AUTH_TRIES_DEFAULT	6
#define KB_AUTH_FAILURE_DELAY_DEFAULT	2
#define KB_WINDOW_SIZE_DEFAULT		(2 * 1024 * 1024)
#define KB_SESSION_MEMORY_DEFAULT	(4 * 1024 * 1024)

struct kb_route {
	char *name;
	char *listen;		/* as written */
	char *upstream;		/* as written */
	enum kb_route_mode mode;
	unsigned int connect_timeout;	/* seconds */
	unsigned int handshake_timeout;	/* seconds */
	unsigned int idle_timeout;	/* seconds; 0 = none */
	size_t buffer_limit;		/* bytes per direction */
	unsigned int max_sessions;
	unsigned int max_per_source;	/* sessions from one client address */
	unsigned int max_startups;	/* sessions not past the handshake */
	unsigned int line;	/* line of the section header; 0 for options */
	unsigned int listen_line;	/* line of the listen key; 0 for options */
	unsigned int upstream_line;	/* line of the upstream key; 0 for options */
	char *upstream_addr;	/* NULL until kb_conf_resolve_upstreams() */

	/* Transparent interception; upstream is NULL when it is on. */
	enum kb_transparent transparent;
	struct kb_origdst_allow *allow;	/* original destinations allowed */
	size_t allow_count;
	char *allow_spec;		/* as written */
	unsigned int allow_line;	/* line of the allow key; 0 for options */

	/* Bridge mode. Lists are NULL when not set. */
	char **hostkeys;		/* private key files */
	size_t hostkey_count;
	char *known_hosts;		/* NULL until kb_conf_finish() */
	bool known_hosts_default;	/* known_hosts was derived from state_dir */
	enum kb_up_hostkey_policy hostkey_policy;
	char *upstream_spec[KB_UP_ALG_COUNT];	/* as written */
	unsigned int upstream_spec_line[KB_UP_ALG_COUNT];
	struct kb_up_algs upstream_algs;	/* resolved by kb_conf_finish() */
	char *kex;			/* offers to the client; NULL: all */
	char *ciphers;
	char *macs;
	char *hostkey_algorithms;	/* NULL: all the host keys serve */
	/* Lines of the client-facing lists, for the start-up check; 0: unset. */
	unsigned int kex_line, ciphers_line, macs_line, hostkey_line;
	unsigned int hostkey_algorithms_line;
	char *moduli;			/* NULL: no file, the built-in groups */
	bool moduli_set;		/* moduli was configured, not the default */
	bool auth_password;
	bool auth_kbdint;
	unsigned int max_auth_tries;
	unsigned int auth_failure_delay;	/* seconds */
	char **exec_allow;		/* extra patterns, NULL-terminated */
	bool sftp;
	uint32_t window_size;		/* bytes */
	size_t session_memory_limit;	/* bytes */
	uint64_t rekey_bytes;		/* 0: the cipher's default */
	uint32_t rekey_seconds;		/* 0: no time limit */
	unsigned int upstream_handshake_timeout;	/* seconds */
	unsigned int upstream_auth_timeout;		/* seconds */
};

struct kb_conf {
	enum kb_log_format log_format;
	enum kb_log_target log_target;
	enum kb_log_level log_level;
	char *state_dir;		/* NULL: KB_STATE_DIR_DEFAULT */
	unsigned int drain_timeout;	/* seconds; 0 = close sessions at once */
	char *user;			/* NULL: no privilege drop */
	unsigned int max_sessions;	/* on all routes together */
	struct kb_route *routes;
	size_t route_count;
};

/* Sets the defaults: text to stderr at info level, no routes. */
void kb_conf_init(struct kb_conf *conf);
void kb_conf_free(struct kb_conf *conf);

/* Size of an error buffer that fits any configuration error in full. */
#define KB_CONF_ERR_MAX		2048

/*
 * Reads an INI file into conf and checks it with kb_conf_check(). On error
 * writes "FILE:LINE: what is wrong" to err and returns KB_ERR_CONFIG_INVALID
 * (KB_ERR_NOT_FOUND when the file cannot be opened).
 */
int kb_conf_load_file(struct kb_conf *conf, const char *path, char *err, size_t errlen);

/*
 * Adds a route from command-line options with default limits; mode may be
 * NULL for tap. Call kb_conf_finish() afterwards.
 */
int kb_conf_add_route(struct kb_conf *conf, const char *name, const char *listen,
    const char *upstream, const char *mode, char *err, size_t errlen);

/*
 * Checks every route: listen and upstream present and well formed, mode
 * available, no listen address used twice. path (may be NULL) prefixes
 * messages as "path:LINE: ".
 */
int kb_conf_check(const struct kb_conf *conf, const char *path, char *err, size_t errlen);

/*
 * Sets one route key as the INI file would (hostkey appends), for
 * command-line options. Writes what is wrong to err.
 */
int kb_conf_route_set(struct kb_conf *conf, struct kb_route *route, const char *key,
    const char *value, char *err, size_t errlen);
/* Sets one [global] key as the INI file would. */
int kb_conf_global_set(struct kb_conf *conf, const char *key, const char *value,
    char *err, size_t errlen);

/*
 * Completes the configuration after the last key: resolves each bridge
 * route's upstream algorithm lists (kb_up_algs_resolve), fills in the
 * known_hosts and moduli defaults, then runs kb_conf_check().
 * kb_conf_load_file() calls it; command-line configurations call it once
 * their options are set.
 */
int kb_conf_finish(struct kb_conf *conf, const char *path, char *err, size_t errlen);

/*
 * Resolves every route's upstream with getaddrinfo(3), as the relay does at
 * start-up, and stores the address in upstream_addr. Blocks while names are
 * looked up. On error writes "path:LINE: what is wrong" naming the upstream
 * key's line and returns KB_ERR_NOT_FOUND or KB_ERR_INVALID_ARGUMENT.
 */
int kb_conf_resolve_upstreams(struct kb_conf *conf, const char *path, char *err,
    size_t errlen);

/* The state directory in effect. */
const char *kb_conf_state_dir(const struct kb_conf *conf);

/* Parses "tap", "bridge", "auto"; returns -1 for anything else. */
int kb_conf_mode_from_str(const char *str);
const char *kb_conf_mode_str(enum kb_route_mode mode);

/*
 * Writes the effective settings in the INI format above. The upstream always
 * shows its port and, after kb_conf_resolve_upstreams(), is followed by the
 * resolved address in parentheses: "upstream = localhost:22 (127.0.0.1:22)".
 */
void kb_conf_print(FILE *out, const struct kb_conf *conf);

#endif
