/*
 * The daemon's configuration: global log settings and a list of routes, each
 * a listener and the upstream it leads to.
 *
 * INI file format (inih; ';' or '#' starts a comment):
 *
 *   [global]
 *   log_format = text              text or json
 *   log_target = stderr            stderr or syslog
 *   log_level = info               error, warn, info or debug
 *
 *   [route NAME]                   one section per route; NAME is letters,
 *                                  digits, '-', '_' or '.'
 *   listen = 0.0.0.0:2222          ADDR:PORT or [IPv6]:PORT, numeric only
 *   upstream = backup.example:22   HOST:PORT or [IPv6]:PORT; port 22 if omitted
 *   mode = tap                     only tap in this version
 *   connect_timeout = 10           seconds to connect to the upstream
 *   handshake_timeout = 60         seconds from accept until both KEXINITs
 *   idle_timeout = 3600            seconds without traffic; 0 = no limit
 *   buffer_limit = 256K            bytes buffered per direction before
 *                                  reading pauses; K and M suffixes are KiB, MiB
 *   max_sessions = 256             concurrent sessions on this route
 *
 * Durations take an optional s, m or h suffix. listen and upstream are
 * required; two routes may not listen on the same address.
 */
#ifndef KEXBRIDGE_CONF_H
#define KEXBRIDGE_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "kexbridge/log.h"

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
	unsigned int line;	/* line of the section header; 0 for options */
};

struct kb_conf {
	enum kb_log_format log_format;
	enum kb_log_target log_target;
	enum kb_log_level log_level;
	struct kb_route *routes;
	size_t route_count;
};

/* Sets the defaults: text to stderr at info level, no routes. */
void kb_conf_init(struct kb_conf *conf);
void kb_conf_free(struct kb_conf *conf);

/*
 * Reads an INI file into conf and checks it with kb_conf_check(). On error
 * writes "FILE:LINE: what is wrong" to err and returns KB_ERR_CONFIG_INVALID
 * (KB_ERR_NOT_FOUND when the file cannot be opened).
 */
int kb_conf_load_file(struct kb_conf *conf, const char *path, char *err, size_t errlen);

/*
 * Adds a route from command-line options with default limits; mode may be
 * NULL for tap. Call kb_conf_check() afterwards.
 */
int kb_conf_add_route(struct kb_conf *conf, const char *name, const char *listen,
    const char *upstream, const char *mode, char *err, size_t errlen);

/*
 * Checks every route: listen and upstream present and well formed, mode
 * available, no listen address used twice. path (may be NULL) prefixes
 * messages as "path:LINE: ".
 */
int kb_conf_check(const struct kb_conf *conf, const char *path, char *err, size_t errlen);

/* Parses "tap", "bridge", "auto"; returns -1 for anything else. */
int kb_conf_mode_from_str(const char *str);
const char *kb_conf_mode_str(enum kb_route_mode mode);

/* Writes the effective settings in the INI format above. */
void kb_conf_print(FILE *out, const struct kb_conf *conf);

#endif
