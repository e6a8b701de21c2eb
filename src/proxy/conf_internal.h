/*
 * Shared by the files of the INI configuration (private to src/proxy):
 *
 *   conf.c        reading the file with inih, the route table, the checks
 *                 after reading, kb_conf_* life cycle
 *   conf_value.c  each key's parser, range and where it is stored
 *   conf_print.c  the effective settings that kexbridge run -t prints
 */
#ifndef KEXBRIDGE_CONF_INTERNAL_H
#define KEXBRIDGE_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kexbridge/conf.h"

/* The state of one read of a file, or of one kb_conf_*_set() call. */
struct conf_parser {
	struct kb_conf *conf;
	const char *path;
	FILE *file;
	unsigned int line;
	bool at_line_start;
	bool in_global;
	struct kb_route *route;		/* current [route NAME], or NULL */
	unsigned long long seen;	/* bit per key index already set */
	char *err;
	size_t errlen;
	bool failed;
};

/*
 * Route keys, in the order of route_keys[] in conf_value.c. A key's value
 * is also its bit in conf_parser.seen.
 */
enum conf_route_key {
	KEY_LISTEN,
	KEY_UPSTREAM,
	KEY_MODE,
	KEY_CONNECT_TIMEOUT,
	KEY_HANDSHAKE_TIMEOUT,
	KEY_IDLE_TIMEOUT,
	KEY_BUFFER_LIMIT,
	KEY_MAX_SESSIONS,
	KEY_HOSTKEY,
	KEY_KNOWN_HOSTS,
	KEY_HOSTKEY_POLICY,
	KEY_UPSTREAM_KEX,	/* the four upstream lists in enum kb_up_alg_category order */
	KEY_UPSTREAM_HOSTKEY,
	KEY_UPSTREAM_CIPHERS,
	KEY_UPSTREAM_MACS,
	KEY_KEX,
	KEY_CIPHERS,
	KEY_MACS,
	KEY_MODULI,
	KEY_AUTH_METHODS,
	KEY_MAX_AUTH_TRIES,
	KEY_AUTH_FAILURE_DELAY,
	KEY_EXEC_ALLOW,
	KEY_SFTP,
	KEY_WINDOW_SIZE,
	KEY_SESSION_MEMORY_LIMIT,
	KEY_UPSTREAM_HANDSHAKE_TIMEOUT,
	KEY_UPSTREAM_AUTH_TIMEOUT,
	KEY_MAX_PER_SOURCE,
	KEY_MAX_STARTUPS,
	KEY_HOSTKEY_ALGORITHMS,
	KEY_TRANSPARENT,
	KEY_ALLOW,
	KEY_REKEY_LIMIT,
};

/* conf.c */
void conf_fail(struct conf_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool conf_route_bridges(const struct kb_route *route);

/* conf_value.c */
int conf_route_key_index(struct conf_parser *p, const char *name);
/* Parses any route key's value into p->route. An invalid value fails p. */
void conf_route_key_bridge(struct conf_parser *p, enum conf_route_key key,
    const char *value);
/* Parses a [global] key's value into p->conf. An invalid value fails p. */
void conf_global_key(struct conf_parser *p, const char *name, const char *value);

#endif
