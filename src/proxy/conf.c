/*
 * The INI configuration (format in conf.h), read with inih.
 *
 * The inih builds that distributions ship pass no line number to the handler,
 * so the reader callback counts lines itself. It also picks up the section
 * headers, because inih calls the handler only for keys and an empty
 * [route NAME] section must still be reported as missing its listen address.
 * It removes each line's indentation, because inih takes an indented line as
 * the continuation of the previous value and operators indent their files.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kexbridge/cipher.h"
#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/i18n.h"
#include "kexbridge/kex.h"
#include "kexbridge/net.h"
#include "kexbridge/upstream.h"

#define CONF_MAX_ROUTES		1024
#define CONF_TIMEOUT_MAX	(7 * 24 * 3600)
#define CONF_BUFFER_MIN		4096
#define CONF_BUFFER_MAX		(64 * 1024 * 1024)
#define CONF_SESSIONS_MAX	65535
#define CONF_HOSTKEYS_MAX	8
#define CONF_EXEC_ALLOW_MAX	16
#define CONF_AUTH_TRIES_MAX	100
#define CONF_AUTH_DELAY_MAX	60
#define CONF_WINDOW_MIN		(32 * 1024)
#define CONF_WINDOW_MAX		(16 * 1024 * 1024)
#define CONF_MEMORY_MIN		(256 * 1024)
#define CONF_MEMORY_MAX		(1024 * 1024 * 1024)
#define CONF_ALLOW_MAX		256
/* sshd's RekeyLimit, too, rejects fewer bytes than this. */
#define CONF_REKEY_BYTES_MIN	16

#define ROUTE_KEYS "listen, upstream, mode, connect_timeout, handshake_timeout, " \
	"idle_timeout, buffer_limit, max_sessions, hostkey, known_hosts, hostkey_policy, " \
	"upstream_kex, upstream_hostkey, upstream_ciphers, upstream_macs, kex, ciphers, " \
	"macs, moduli, auth_methods, max_auth_tries, auth_failure_delay, exec_allow, " \
	"sftp, window_size, session_memory_limit, upstream_handshake_timeout, " \
	"upstream_auth_timeout, max_per_source, max_startups, hostkey_algorithms, " \
	"transparent, allow, rekey_limit"
#define GLOBAL_KEYS "log_format, log_target, log_level, state_dir, drain_timeout, user, max_sessions"

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

/* Records the first error only, prefixed with FILE:LINE. */
static void __attribute__((format(printf, 2, 3)))
conf_fail(struct conf_parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->path == NULL)
		snprintf(p->err, p->errlen, "%s", msg);
	else
		snprintf(p->err, p->errlen, "%s:%u: %s", p->path, p->line, msg);
}

static void
route_set_defaults(struct kb_route *route)
{
	route->mode = KB_MODE_TAP;
	route->connect_timeout = KB_CONNECT_TIMEOUT_DEFAULT;
	route->handshake_timeout = KB_HANDSHAKE_TIMEOUT_DEFAULT;
	route->idle_timeout = KB_IDLE_TIMEOUT_DEFAULT;
	route->buffer_limit = KB_BUFFER_LIMIT_DEFAULT;
	route->max_sessions = KB_MAX_SESSIONS_DEFAULT;
	route->max_per_source = KB_MAX_PER_SOURCE_DEFAULT;
	route->max_startups = KB_MAX_STARTUPS_DEFAULT;
	route->hostkey_policy = KB_UP_HOSTKEY_ACCEPT_NEW;
	route->auth_password = true;
	route->auth_kbdint = true;
	route->max_auth_tries = KB_MAX_AUTH_TRIES_DEFAULT;
	route->auth_failure_delay = KB_AUTH_FAILURE_DELAY_DEFAULT;
	route->sftp = true;
	route->window_size = KB_WINDOW_SIZE_DEFAULT;
	route->session_memory_limit = KB_SESSION_MEMORY_DEFAULT;
	route->upstream_handshake_timeout = KB_UP_HANDSHAKE_TIMEOUT_DEFAULT;
	route->upstream_auth_timeout = KB_UP_AUTH_TIMEOUT_DEFAULT;
}

static struct kb_route *
conf_find_route(const struct kb_conf *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->route_count; i++) {
		if (strcmp(conf->routes[i].name, name) == 0)
			return &conf->routes[i];
	}
	return NULL;
}

/* Appends a route with default settings; returns NULL when out of memory. */
static struct kb_route *
conf_new_route(struct kb_conf *conf, const char *name)
{
	struct kb_route *routes, *route;

	if (conf->route_count >= CONF_MAX_ROUTES)
		return NULL;
	routes = realloc(conf->routes, (conf->route_count + 1) * sizeof(*routes));
	if (routes == NULL)
		return NULL;
	conf->routes = routes;
	route = &routes[conf->route_count];
	memset(route, 0, sizeof(*route));
	if ((route->name = strdup(name)) == NULL)
		return NULL;
	route_set_defaults(route);
	conf->route_count++;
	return route;
}

static bool
conf_name_valid(const char *name)
{
	size_t i;

	if (name[0] == '\0' || strlen(name) > 64)
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		if (!isalnum((unsigned char)name[i]) && strchr("-_.", name[i]) == NULL)
			return false;
	}
	return true;
}

/* Handles a "[...]" line seen by the reader; header points after '['. */
static void
conf_enter_section(struct conf_parser *p, const char *header)
{
	char name[128];
	const char *end = strchr(header, ']'), *rest;
	size_t len;

	p->in_global = false;
	p->route = NULL;
	p->seen = 0;
	if (end == NULL)
		return;		/* inih reports the syntax error */
	len = (size_t)(end - header);
	if (len == 6 && strncmp(header, "global", 6) == 0) {
		p->in_global = true;
		return;
	}
	if (len < 6 || strncmp(header, "route ", 6) != 0) {
		conf_fail(p, _("unknown section [%.*s]; expected [global] or [route NAME]"),
		    (int)len, header);
		return;
	}

	rest = header + 6;
	while (*rest == ' ')
		rest++;
	len = (size_t)(end - rest);
	while (len > 0 && rest[len - 1] == ' ')
		len--;
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, rest, len);
	name[len] = '\0';
	if (!conf_name_valid(name)) {
		conf_fail(p, _("invalid route name '%s'; use 1 to 64 letters, digits, '-', '_' or '.'"),
		    name);
		return;
	}
	if (conf_find_route(p->conf, name) != NULL) {
		conf_fail(p, _("duplicate section [route %s]"), name);
		return;
	}
	if ((p->route = conf_new_route(p->conf, name)) == NULL) {
		conf_fail(p, _("too many routes or out of memory"));
		return;
	}
	p->route->line = p->line;
}

/*
 * inih's line reader: fgets that counts lines, removes indentation and spots
 * section headers.
 */
static char *
conf_read_line(char *str, int num, void *stream)
{
	struct conf_parser *p = stream;
	size_t indent;

	if (fgets(str, num, p->file) == NULL)
		return NULL;
	if (p->at_line_start) {
		p->line++;
		indent = strspn(str, " \t");
		memmove(str, str + indent, strlen(str + indent) + 1);
		if (str[0] == '[')
			conf_enter_section(p, str + 1);
	}
	p->at_line_start = strchr(str, '\n') != NULL;
	return str;
}

/* A unit suffix and its multiplier, e.g. "m" and 60. */
struct conf_unit {
	const char *suffix;
	unsigned long long mult;
};

/*
 * Parses a decimal number with an optional suffix from units (NULL: none
 * allowed). Returns false on anything else, on overflow or outside min..max.
 */
static bool
conf_parse_number(const char *value, const struct conf_unit *units,
    unsigned long long min, unsigned long long max, unsigned long long *out)
{
	unsigned long long val;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)value[0]))
		return false;
	errno = 0;
	val = strtoull(value, &end, 10);
	if (errno != 0)
		return false;
	if (*end != '\0') {
		for (i = 0; units != NULL && units[i].suffix != NULL; i++) {
			if (strcasecmp(end, units[i].suffix) == 0)
				break;
		}
		if (units == NULL || units[i].suffix == NULL)
			return false;
		if (val > max / units[i].mult)
			return false;
		val *= units[i].mult;
	}
	if (val < min || val > max)
		return false;
	*out = val;
	return true;
}

static const struct conf_unit time_units[] = {
	{ "s", 1 }, { "m", 60 }, { "h", 3600 }, { NULL, 0 },
};
static const struct conf_unit size_units[] = {
	{ "K", 1024 }, { "KiB", 1024 }, { "M", 1024 * 1024 }, { "MiB", 1024 * 1024 },
	{ NULL, 0 },
};

static bool
conf_set_timeout(struct conf_parser *p, const char *key, const char *value,
    unsigned int min, unsigned int *out)
{
	unsigned long long val;

	if (!conf_parse_number(value, time_units, min, CONF_TIMEOUT_MAX, &val)) {
		conf_fail(p, _("invalid %s '%s' in [route %s]; expected seconds from %u to %u, "
		    "optionally with an s, m or h suffix"), key, value, p->route->name,
		    min, CONF_TIMEOUT_MAX);
		return false;
	}
	*out = (unsigned int)val;
	return true;
}

/* Tells whether a route needs the bridge settings, as auto routes may bridge any session. */
static bool
conf_route_bridges(const struct kb_route *route)
{
	return route->mode == KB_MODE_BRIDGE || route->mode == KB_MODE_AUTO;
}

static void
conf_set_mode(struct conf_parser *p, const char *value)
{
	int mode = kb_conf_mode_from_str(value);

	if (mode < 0) {
		conf_fail(p, _("invalid mode '%s' in [route %s]; expected tap, bridge or auto"),
		    value, p->route->name);
		return;
	}
	p->route->mode = (enum kb_route_mode)mode;
}

static bool
conf_set_string(struct conf_parser *p, char **dst, const char *value)
{
	free(*dst);
	if ((*dst = strdup(value)) == NULL) {
		conf_fail(p, _("out of memory"));
		return false;
	}
	return true;
}

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

static const char *const route_keys[] = {
	"listen", "upstream", "mode", "connect_timeout", "handshake_timeout",
	"idle_timeout", "buffer_limit", "max_sessions", "hostkey", "known_hosts",
	"hostkey_policy", "upstream_kex", "upstream_hostkey", "upstream_ciphers",
	"upstream_macs", "kex", "ciphers", "macs", "moduli", "auth_methods",
	"max_auth_tries", "auth_failure_delay", "exec_allow", "sftp", "window_size",
	"session_memory_limit", "upstream_handshake_timeout", "upstream_auth_timeout",
	"max_per_source", "max_startups", "hostkey_algorithms", "transparent", "allow",
	"rekey_limit", NULL,
};

/* Appends a copy of str to a NULL-terminated list of at most max entries. */
static bool
conf_list_append(struct conf_parser *p, char ***list, size_t *count, size_t max,
    const char *key, const char *str, size_t len)
{
	char **grown;

	if (*count >= max) {
		conf_fail(p, _("too many entries in %s in [route %s]; at most %zu"), key,
		    p->route->name, max);
		return false;
	}
	if ((grown = realloc(*list, (*count + 2) * sizeof(**list))) == NULL ||
	    (grown[*count] = strndup(str, len)) == NULL) {
		if (grown != NULL)
			*list = grown;
		conf_fail(p, _("out of memory"));
		return false;
	}
	*list = grown;
	(*count)++;
	grown[*count] = NULL;
	return true;
}

/*
 * Calls fn for each comma-separated item of value, spaces around items
 * removed. Fails on an empty item.
 */
static bool
conf_foreach_item(struct conf_parser *p, const char *key, const char *value,
    bool (*fn)(struct conf_parser *, const char *, const char *, size_t))
{
	const char *item = value, *end;
	size_t len;

	for (;;) {
		while (*item == ' ')
			item++;
		end = strchr(item, ',');
		len = end != NULL ? (size_t)(end - item) : strlen(item);
		while (len > 0 && item[len - 1] == ' ')
			len--;
		if (len == 0) {
			conf_fail(p, _("empty entry in %s '%s' in [route %s]"), key, value,
			    p->route->name);
			return false;
		}
		if (!fn(p, key, item, len))
			return false;
		if (end == NULL)
			return true;
		item = end + 1;
	}
}

static bool
conf_add_hostkey(struct conf_parser *p, const char *key, const char *item, size_t len)
{
	struct kb_route *r = p->route;
	char path[4096];

	snprintf(path, sizeof(path), "%.*s", (int)len, item);
	if (access(path, R_OK) != 0) {
		conf_fail(p, _("cannot read host key %s in [route %s]: %s"), path, r->name,
		    strerror(errno));
		return false;
	}
	return conf_list_append(p, &r->hostkeys, &r->hostkey_count, CONF_HOSTKEYS_MAX, key,
	    item, len);
}

static bool
conf_add_exec_pattern(struct conf_parser *p, const char *key, const char *item, size_t len)
{
	size_t count = 0;

	while (p->route->exec_allow != NULL && p->route->exec_allow[count] != NULL)
		count++;
	return conf_list_append(p, &p->route->exec_allow, &count, CONF_EXEC_ALLOW_MAX, key,
	    item, len);
}

/* Checks a name of a client-facing list against what kexbridge implements. */
static bool
conf_check_offer_item(struct conf_parser *p, const char *key, const char *item, size_t len)
{
	char name[128];
	bool known;
	const char *all;

	snprintf(name, sizeof(name), "%.*s", (int)len, item);
	if (strcmp(key, "kex") == 0) {
		known = kb_kex_lookup(name) != NULL;
		all = kb_kex_names();
	} else if (strcmp(key, "ciphers") == 0) {
		known = kb_cipher_lookup(name) != NULL;
		all = kb_cipher_names();
	} else {
		known = kb_mac_lookup(name) != NULL;
		all = kb_mac_names();
	}
	if (!known || strcmp(name, "none") == 0) {
		conf_fail(p, _("%s '%s' in [route %s] is not implemented; choose from %s"), key,
		    name, p->route->name, all);
		return false;
	}
	return true;
}

/* Accepts any item; conf_foreach_item() still rejects empty ones. */
static bool
conf_accept_item(struct conf_parser *p, const char *key, const char *item, size_t len)
{
	return true;
}

static void
conf_set_offer(struct conf_parser *p, const char *key, const char *value, char **dst)
{
	if (conf_foreach_item(p, key, value, conf_check_offer_item))
		conf_set_string(p, dst, value);
}

static bool
conf_add_auth_method(struct conf_parser *p, const char *key, const char *item, size_t len)
{
	if (len == 8 && strncmp(item, "password", len) == 0)
		p->route->auth_password = true;
	else if (len == 20 && strncmp(item, "keyboard-interactive", len) == 0)
		p->route->auth_kbdint = true;
	else {
		conf_fail(p, _("invalid %s entry '%.*s' in [route %s]; expected password or "
		    "keyboard-interactive"), key, (int)len, item, p->route->name);
		return false;
	}
	return true;
}

static void
conf_set_auth_methods(struct conf_parser *p, const char *value)
{
	p->route->auth_password = false;
	p->route->auth_kbdint = false;
	conf_foreach_item(p, "auth_methods", value, conf_add_auth_method);
}

static void
conf_set_bool(struct conf_parser *p, const char *key, const char *value, bool *out)
{
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
	    strcmp(value, "1") == 0)
		*out = true;
	else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
	    strcmp(value, "0") == 0)
		*out = false;
	else
		conf_fail(p, _("invalid %s '%s' in [route %s]; expected yes or no"), key, value,
		    p->route->name);
}

static void
conf_set_size(struct conf_parser *p, const char *key, const char *value,
    unsigned long long min, unsigned long long max, unsigned long long *out)
{
	if (!conf_parse_number(value, size_units, min, max, out))
		conf_fail(p, _("invalid %s '%s' in [route %s]; expected bytes from %llu to %llu, "
		    "optionally with a K or M suffix"), key, value, p->route->name, min, max);
}

static const struct conf_unit rekey_size_units[] = {
	{ "K", 1024 }, { "KiB", 1024 }, { "M", 1024 * 1024 }, { "MiB", 1024 * 1024 },
	{ "G", 1024 * 1024 * 1024 }, { "GiB", 1024 * 1024 * 1024 }, { NULL, 0 },
};

/*
 * Parses "SIZE [SECONDS]" as sshd parses RekeyLimit: SIZE is "default" or
 * bytes, where 0 also means the default, and SECONDS is "none" or a
 * duration, where 0 also means none.
 */
static void
conf_set_rekey_limit(struct conf_parser *p, const char *value)
{
	struct kb_route *r = p->route;
	char copy[128], *size, *seconds, *extra, *save = NULL;
	unsigned long long val;

	if (snprintf(copy, sizeof(copy), "%s", value) >= (int)sizeof(copy) ||
	    (size = strtok_r(copy, " \t", &save)) == NULL) {
		conf_fail(p, _("invalid rekey_limit '%s' in [route %s]; expected SIZE "
		    "[SECONDS], for example \"1G 3600\""), value, r->name);
		return;
	}
	seconds = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (extra != NULL) {
		conf_fail(p, _("invalid rekey_limit '%s' in [route %s]; expected SIZE "
		    "[SECONDS], for example \"1G 3600\""), value, r->name);
		return;
	}

	if (strcmp(size, "default") == 0)
		val = 0;
	else if (!conf_parse_number(size, rekey_size_units, 0, UINT64_MAX, &val) ||
	    (val != 0 && val < CONF_REKEY_BYTES_MIN)) {
		conf_fail(p, _("invalid rekey_limit size '%s' in [route %s]; expected default "
		    "or at least %d bytes, optionally with a K, M or G suffix"), size, r->name,
		    CONF_REKEY_BYTES_MIN);
		return;
	}
	r->rekey_bytes = val;

	if (seconds == NULL || strcmp(seconds, "none") == 0)
		val = 0;
	else if (!conf_parse_number(seconds, time_units, 0, CONF_TIMEOUT_MAX, &val)) {
		conf_fail(p, _("invalid rekey_limit time '%s' in [route %s]; expected none or "
		    "seconds from 0 to %u, optionally with an s, m or h suffix"), seconds,
		    r->name, CONF_TIMEOUT_MAX);
		return;
	}
	r->rekey_seconds = (uint32_t)val;
}

static void
conf_set_count(struct conf_parser *p, const char *key, const char *value,
    unsigned int min, unsigned int max, unsigned int *out)
{
	unsigned long long val;

	if (!conf_parse_number(value, NULL, min, max, &val)) {
		conf_fail(p, _("invalid %s '%s' in [route %s]; expected a number from %u to %u"),
		    key, value, p->route->name, min, max);
		return;
	}
	*out = (unsigned int)val;
}

static void
conf_set_hostkey_policy(struct conf_parser *p, const char *value)
{
	int policy = kb_up_hostkey_policy_from_str(value);

	if (policy < 0) {
		conf_fail(p, _("invalid hostkey_policy '%s' in [route %s]; expected strict, "
		    "accept-new or off"), value, p->route->name);
		return;
	}
	p->route->hostkey_policy = (enum kb_up_hostkey_policy)policy;
}

static void
conf_set_moduli(struct conf_parser *p, const char *value)
{
	if (access(value, R_OK) != 0) {
		conf_fail(p, _("cannot read moduli file %s in [route %s]: %s"), value,
		    p->route->name, strerror(errno));
		return;
	}
	if (conf_set_string(p, &p->route->moduli, value))
		p->route->moduli_set = true;
}

static void
conf_set_transparent(struct conf_parser *p, const char *value)
{
	int mode = kb_transparent_from_str(value);

	if (mode < 0) {
		conf_fail(p, _("invalid transparent '%s' in [route %s]; expected no, redirect "
		    "or tproxy"), value, p->route->name);
		return;
	}
	p->route->transparent = (enum kb_transparent)mode;
}

static bool
conf_add_allow(struct conf_parser *p, const char *key, const char *item, size_t len)
{
	struct kb_route *r = p->route;
	struct kb_origdst_allow *grown;
	char why[256];

	if (r->allow_count >= CONF_ALLOW_MAX) {
		conf_fail(p, _("too many entries in %s in [route %s]; at most %d"), key, r->name,
		    CONF_ALLOW_MAX);
		return false;
	}
	if ((grown = realloc(r->allow, (r->allow_count + 1) * sizeof(*grown))) == NULL) {
		conf_fail(p, _("out of memory"));
		return false;
	}
	r->allow = grown;
	if (kb_origdst_parse_allow(item, len, &grown[r->allow_count], why, sizeof(why)) != 0) {
		conf_fail(p, _("[route %s]: %s"), r->name, why);
		return false;
	}
	r->allow_count++;
	return true;
}

static void
conf_set_allow(struct conf_parser *p, const char *value)
{
	free(p->route->allow);
	p->route->allow = NULL;
	p->route->allow_count = 0;
	if (conf_foreach_item(p, "allow", value, conf_add_allow) &&
	    conf_set_string(p, &p->route->allow_spec, value))
		p->route->allow_line = p->line;
}

/* Keys of the tap relay and of every route. */
static void
conf_route_key_common(struct conf_parser *p, enum conf_route_key key, const char *value)
{
	struct kb_route *r = p->route;
	unsigned long long val;

	switch (key) {
	case KEY_LISTEN:
		if (conf_set_string(p, &r->listen, value))
			r->listen_line = p->line;
		break;
	case KEY_UPSTREAM:
		if (conf_set_string(p, &r->upstream, value))
			r->upstream_line = p->line;
		break;
	case KEY_MODE:
		conf_set_mode(p, value);
		break;
	case KEY_CONNECT_TIMEOUT:
		conf_set_timeout(p, "connect_timeout", value, 1, &r->connect_timeout);
		break;
	case KEY_HANDSHAKE_TIMEOUT:
		conf_set_timeout(p, "handshake_timeout", value, 1, &r->handshake_timeout);
		break;
	case KEY_IDLE_TIMEOUT:
		conf_set_timeout(p, "idle_timeout", value, 0, &r->idle_timeout);
		break;
	case KEY_BUFFER_LIMIT:
		if (!conf_parse_number(value, size_units, CONF_BUFFER_MIN, CONF_BUFFER_MAX, &val)) {
			conf_fail(p, _("invalid buffer_limit '%s' in [route %s]; expected bytes "
			    "from %d to %d, optionally with a K or M suffix"), value, r->name,
			    CONF_BUFFER_MIN, CONF_BUFFER_MAX);
			break;
		}
		r->buffer_limit = (size_t)val;
		break;
	case KEY_MAX_SESSIONS:
		conf_set_count(p, "max_sessions", value, 1, CONF_SESSIONS_MAX, &r->max_sessions);
		break;
	case KEY_MAX_PER_SOURCE:
		conf_set_count(p, "max_per_source", value, 1, CONF_SESSIONS_MAX,
		    &r->max_per_source);
		break;
	case KEY_MAX_STARTUPS:
		conf_set_count(p, "max_startups", value, 1, CONF_SESSIONS_MAX, &r->max_startups);
		break;
	case KEY_TRANSPARENT:
		conf_set_transparent(p, value);
		break;
	case KEY_ALLOW:
		conf_set_allow(p, value);
		break;
	default:
		break;
	}
}

/* Keys of bridge mode. */
static void
conf_route_key_bridge(struct conf_parser *p, enum conf_route_key key, const char *value)
{
	struct kb_route *r = p->route;
	unsigned long long val;
	int cat;

	switch (key) {
	case KEY_HOSTKEY:
		if (conf_foreach_item(p, "hostkey", value, conf_add_hostkey))
			r->hostkey_line = p->line;
		break;
	case KEY_KNOWN_HOSTS:
		conf_set_string(p, &r->known_hosts, value);
		break;
	case KEY_HOSTKEY_POLICY:
		conf_set_hostkey_policy(p, value);
		break;
	case KEY_UPSTREAM_KEX:
	case KEY_UPSTREAM_HOSTKEY:
	case KEY_UPSTREAM_CIPHERS:
	case KEY_UPSTREAM_MACS:
		cat = KB_UP_ALG_KEX + (int)(key - KEY_UPSTREAM_KEX);
		if (conf_set_string(p, &r->upstream_spec[cat], value))
			r->upstream_spec_line[cat] = p->line;
		break;
	case KEY_KEX:
		conf_set_offer(p, "kex", value, &r->kex);
		r->kex_line = p->line;
		break;
	case KEY_CIPHERS:
		conf_set_offer(p, "ciphers", value, &r->ciphers);
		r->ciphers_line = p->line;
		break;
	case KEY_MACS:
		conf_set_offer(p, "macs", value, &r->macs);
		r->macs_line = p->line;
		break;
	case KEY_HOSTKEY_ALGORITHMS:
		/* Checked against the host keys by kb_conf_finish(). */
		if (conf_foreach_item(p, "hostkey_algorithms", value, conf_accept_item) &&
		    conf_set_string(p, &r->hostkey_algorithms, value))
			r->hostkey_algorithms_line = p->line;
		break;
	case KEY_MODULI:
		conf_set_moduli(p, value);
		break;
	case KEY_AUTH_METHODS:
		conf_set_auth_methods(p, value);
		break;
	case KEY_MAX_AUTH_TRIES:
		conf_set_count(p, "max_auth_tries", value, 1, CONF_AUTH_TRIES_MAX,
		    &r->max_auth_tries);
		break;
	case KEY_AUTH_FAILURE_DELAY:
		conf_set_timeout(p, "auth_failure_delay", value, 0, &r->auth_failure_delay);
		if (!p->failed && r->auth_failure_delay > CONF_AUTH_DELAY_MAX)
			conf_fail(p, _("auth_failure_delay '%s' in [route %s] is too long; "
			    "at most %d s"), value, r->name, CONF_AUTH_DELAY_MAX);
		break;
	case KEY_EXEC_ALLOW:
		conf_foreach_item(p, "exec_allow", value, conf_add_exec_pattern);
		break;
	case KEY_SFTP:
		conf_set_bool(p, "sftp", value, &r->sftp);
		break;
	case KEY_WINDOW_SIZE:
		val = r->window_size;
		conf_set_size(p, "window_size", value, CONF_WINDOW_MIN, CONF_WINDOW_MAX, &val);
		r->window_size = (uint32_t)val;
		break;
	case KEY_SESSION_MEMORY_LIMIT:
		val = r->session_memory_limit;
		conf_set_size(p, "session_memory_limit", value, CONF_MEMORY_MIN, CONF_MEMORY_MAX,
		    &val);
		r->session_memory_limit = (size_t)val;
		break;
	case KEY_UPSTREAM_HANDSHAKE_TIMEOUT:
		conf_set_timeout(p, "upstream_handshake_timeout", value, 1,
		    &r->upstream_handshake_timeout);
		break;
	case KEY_UPSTREAM_AUTH_TIMEOUT:
		conf_set_timeout(p, "upstream_auth_timeout", value, 1, &r->upstream_auth_timeout);
		break;
	case KEY_REKEY_LIMIT:
		conf_set_rekey_limit(p, value);
		break;
	default:
		conf_route_key_common(p, key, value);
		break;
	}
}

/* Looks up a route key; returns -1 (and fails p) for an unknown one. */
static int
conf_route_key_index(struct conf_parser *p, const char *name)
{
	int i;

	for (i = 0; route_keys[i] != NULL; i++) {
		if (strcmp(name, route_keys[i]) == 0)
			return i;
	}
	conf_fail(p, _("unknown key '%s' in [route %s]; valid keys are %s"), name,
	    p->route->name, ROUTE_KEYS);
	return -1;
}

/*
 * Sets the [global] keys of the daemon process: drain_timeout and user.
 * Returns false for any other key. The user must exist when the file is
 * read, so that -t and a reload reject a name the privilege drop would.
 */
static bool
conf_global_key_daemon(struct conf_parser *p, const char *name, const char *value)
{
	struct kb_conf *c = p->conf;
	unsigned long long val;

	if (strcmp(name, "drain_timeout") == 0) {
		if (!conf_parse_number(value, time_units, 0, CONF_TIMEOUT_MAX, &val))
			conf_fail(p, _("invalid drain_timeout '%s' in [global]; expected seconds "
			    "from 0 to %u, optionally with an s, m or h suffix"), value,
			    CONF_TIMEOUT_MAX);
		else
			c->drain_timeout = (unsigned int)val;
		return true;
	}
	if (strcmp(name, "user") != 0)
		return false;
	free(c->user);
	c->user = NULL;
	if (value[0] == '\0' || getpwnam(value) == NULL)
		conf_fail(p, _("unknown user '%s' in [global]; expected an account name "
		    "from the passwd database"), value);
	else if ((c->user = strdup(value)) == NULL)
		conf_fail(p, _("out of memory"));
	return true;
}

/* Sets [global] max_sessions; returns false for any other key. */
static bool
conf_global_key_limits(struct conf_parser *p, const char *name, const char *value)
{
	unsigned long long val;

	if (strcmp(name, "max_sessions") != 0)
		return false;
	if (!conf_parse_number(value, NULL, 1, CONF_SESSIONS_MAX, &val))
		conf_fail(p, _("invalid max_sessions '%s' in [global]; expected a number "
		    "from 1 to %d"), value, CONF_SESSIONS_MAX);
	else
		p->conf->max_sessions = (unsigned int)val;
	return true;
}

static void
conf_global_key(struct conf_parser *p, const char *name, const char *value)
{
	struct kb_conf *c = p->conf;
	int level;

	if (conf_global_key_daemon(p, name, value))
		return;
	if (conf_global_key_limits(p, name, value))
		return;
	if (strcmp(name, "log_format") == 0) {
		if (strcmp(value, "text") == 0)
			c->log_format = KB_LOG_TEXT;
		else if (strcmp(value, "json") == 0)
			c->log_format = KB_LOG_JSON;
		else
			conf_fail(p, _("invalid log_format '%s'; expected text or json"), value);
	} else if (strcmp(name, "log_target") == 0) {
		if (strcmp(value, "stderr") == 0)
			c->log_target = KB_LOG_STDERR;
		else if (strcmp(value, "syslog") == 0)
			c->log_target = KB_LOG_SYSLOG;
		else
			conf_fail(p, _("invalid log_target '%s'; expected stderr or syslog"), value);
	} else if (strcmp(name, "log_level") == 0) {
		if ((level = kb_log_level_from_str(value)) < 0)
			conf_fail(p, _("invalid log_level '%s'; expected error, warn, info or debug"),
			    value);
		else
			c->log_level = (enum kb_log_level)level;
	} else if (strcmp(name, "state_dir") == 0) {
		free(c->state_dir);
		c->state_dir = NULL;
		if (value[0] != '/')
			conf_fail(p, _("invalid state_dir '%s'; expected an absolute path"), value);
		else if ((c->state_dir = strdup(value)) == NULL)
			conf_fail(p, _("out of memory"));
	} else {
		conf_fail(p, _("unknown key '%s' in [global]; valid keys are %s"), name,
		    GLOBAL_KEYS);
	}
}

/* inih's handler; returns 1 so inih keeps going, errors live in p. */
static int
conf_handle_key(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parser *p = user;
	int i;

	if (p->failed)
		return 1;
	if (p->in_global) {
		conf_global_key(p, name, value);
		return 1;
	}
	if (p->route == NULL) {
		if (section[0] == '\0')
			conf_fail(p, _("key '%s' outside a section; put it under [global] or "
			    "[route NAME]"), name);
		return 1;
	}
	if ((i = conf_route_key_index(p, name)) < 0)
		return 1;
	if (p->seen & (1ull << i)) {
		conf_fail(p, _("'%s' is set twice in [route %s]"), name, p->route->name);
		return 1;
	}
	p->seen |= 1ull << i;
	conf_route_key_bridge(p, (enum conf_route_key)i, value);
	return 1;
}

int
kb_conf_route_set(struct kb_conf *conf, struct kb_route *route, const char *key,
    const char *value, char *err, size_t errlen)
{
	struct conf_parser p;
	int i;

	memset(&p, 0, sizeof(p));
	p.conf = conf;
	p.route = route;
	p.err = err;
	p.errlen = errlen;
	if ((i = conf_route_key_index(&p, key)) >= 0)
		conf_route_key_bridge(&p, (enum conf_route_key)i, value);
	return p.failed ? KB_ERR_CONFIG_INVALID : 0;
}

int
kb_conf_global_set(struct kb_conf *conf, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct conf_parser p;

	memset(&p, 0, sizeof(p));
	p.conf = conf;
	p.err = err;
	p.errlen = errlen;
	conf_global_key(&p, key, value);
	return p.failed ? KB_ERR_CONFIG_INVALID : 0;
}

int
kb_conf_load_file(struct kb_conf *conf, const char *path, char *err, size_t errlen)
{
	struct conf_parser p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.conf = conf;
	p.path = path;
	p.at_line_start = true;
	p.err = err;
	p.errlen = errlen;
	if ((p.file = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, _("cannot open %s: %s"), path, strerror(errno));
		return KB_ERR_NOT_FOUND;
	}
	rc = ini_parse_stream(conf_read_line, &p, conf_handle_key, &p);
	fclose(p.file);

	if (p.failed)
		return KB_ERR_CONFIG_INVALID;
	if (rc > 0) {
		snprintf(err, errlen, _("%s:%d: syntax error; expected [section], "
		    "key = value or a comment"), path, rc);
		return KB_ERR_CONFIG_INVALID;
	}
	if (rc < 0) {
		snprintf(err, errlen, _("%s: cannot read the file"), path);
		return KB_ERR_CONFIG_INVALID;
	}
	return kb_conf_finish(conf, path, err, errlen);
}

void
kb_conf_init(struct kb_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->log_format = KB_LOG_TEXT;
	conf->log_target = KB_LOG_STDERR;
	conf->log_level = KB_LOG_INFO;
	conf->max_sessions = KB_GLOBAL_MAX_SESSIONS_DEFAULT;
	conf->drain_timeout = KB_DRAIN_TIMEOUT_DEFAULT;
}

static void
conf_strv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static void
conf_route_free(struct kb_route *r)
{
	int cat;

	free(r->name);
	free(r->listen);
	free(r->upstream);
	free(r->upstream_addr);
	free(r->allow);
	free(r->allow_spec);
	conf_strv_free(r->hostkeys);
	free(r->known_hosts);
	for (cat = 0; cat < KB_UP_ALG_COUNT; cat++)
		free(r->upstream_spec[cat]);
	kb_up_algs_free(&r->upstream_algs);
	free(r->kex);
	free(r->ciphers);
	free(r->macs);
	free(r->hostkey_algorithms);
	free(r->moduli);
	conf_strv_free(r->exec_allow);
}

void
kb_conf_free(struct kb_conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->route_count; i++)
		conf_route_free(&conf->routes[i]);
	free(conf->routes);
	free(conf->state_dir);
	conf->state_dir = NULL;
	free(conf->user);
	conf->user = NULL;
	conf->routes = NULL;
	conf->route_count = 0;
}

int
kb_conf_mode_from_str(const char *str)
{
	if (str == NULL)
		return -1;
	if (strcmp(str, "tap") == 0)
		return KB_MODE_TAP;
	if (strcmp(str, "bridge") == 0)
		return KB_MODE_BRIDGE;
	if (strcmp(str, "auto") == 0)
		return KB_MODE_AUTO;
	return -1;
}

const char *
kb_conf_mode_str(enum kb_route_mode mode)
{
	switch (mode) {
	case KB_MODE_TAP:
		return "tap";
	case KB_MODE_BRIDGE:
		return "bridge";
	case KB_MODE_AUTO:
		return "auto";
	}
	return "?";
}

int
kb_conf_add_route(struct kb_conf *conf, const char *name, const char *listen,
    const char *upstream, const char *mode, char *err, size_t errlen)
{
	struct kb_route *route;
	int m = mode != NULL ? kb_conf_mode_from_str(mode) : KB_MODE_TAP;

	if (m < 0) {
		snprintf(err, errlen, _("invalid mode '%s'; expected tap, bridge or auto"), mode);
		return KB_ERR_CONFIG_INVALID;
	}
	if ((route = conf_new_route(conf, name)) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	route->mode = (enum kb_route_mode)m;
	if ((listen != NULL && (route->listen = strdup(listen)) == NULL) ||
	    (upstream != NULL && (route->upstream = strdup(upstream)) == NULL)) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	return 0;
}

/*
 * Writes "path:LINE: " (or "path: " when line is 0, nothing without a path)
 * and the message.
 */
static int __attribute__((format(printf, 5, 6)))
conf_check_fail(const char *path, unsigned int line, char *err, size_t errlen,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path != NULL && line != 0)
		snprintf(err, errlen, "%s:%u: %s", path, line, msg);
	else if (path != NULL)
		snprintf(err, errlen, "%s: %s", path, msg);
	else
		snprintf(err, errlen, "%s", msg);
	return KB_ERR_CONFIG_INVALID;
}

/* The line of a route's key, or of its section when the key has none. */
static unsigned int
conf_key_line(const struct kb_route *r, unsigned int key_line)
{
	return key_line != 0 ? key_line : r->line;
}

/*
 * Checks a listen address. kb_net_split() reports a missing port as
 * "expected HOST:PORT", which is wrong for a numeric-only listen address,
 * so that case gets its own message.
 */
static int
conf_check_listen(const struct kb_route *r, const char *path, struct kb_net_addr *addr,
    char *err, size_t errlen)
{
	char host[KB_NET_HOST_MAX], port[KB_NET_PORT_MAX], why[256];
	unsigned int line = conf_key_line(r, r->listen_line);

	if (kb_net_split(r->listen, NULL, host, port, why, sizeof(why)) != 0) {
		if (kb_net_split(r->listen, "22", host, port, why, sizeof(why)) == 0)
			return conf_check_fail(path, line, err, errlen,
			    _("missing port in listen address '%s' in [route %s]; expected "
			    "ADDR:PORT or [IPv6]:PORT"), r->listen, r->name);
		return conf_check_fail(path, line, err, errlen,
		    _("invalid listen address '%s' in [route %s]: %s"), r->listen, r->name,
		    why);
	}
	if (kb_net_resolve(host, port, true, addr, why, sizeof(why)) != 0)
		return conf_check_fail(path, line, err, errlen,
		    _("invalid listen address '%s' in [route %s]: %s; expected ADDR:PORT "
		    "or [IPv6]:PORT"), r->listen, r->name, why);
	return 0;
}

/*
 * A transparent route connects to each connection's original destination,
 * so a static upstream would be ambiguous, and without an allow-list it
 * would be an open relay.
 */
static int
conf_check_transparent(const struct kb_route *r, const char *path, char *err,
    size_t errlen)
{
	const char *mode = kb_transparent_str(r->transparent);

	if (r->transparent == KB_TRANSPARENT_NO && r->upstream == NULL)
		return conf_check_fail(path, r->line, err, errlen,
		    _("[route %s] has no upstream; add 'upstream = HOST:PORT'"), r->name);
	if (r->transparent == KB_TRANSPARENT_NO && r->allow_count > 0)
		return conf_check_fail(path, conf_key_line(r, r->allow_line), err, errlen,
		    _("allow in [route %s] applies only to transparent routes; set "
		    "'transparent = redirect' or 'tproxy', or remove allow"), r->name);
	if (r->transparent != KB_TRANSPARENT_NO && r->upstream != NULL)
		return conf_check_fail(path, conf_key_line(r, r->upstream_line), err, errlen,
		    _("[route %s] has transparent = %s and an upstream; a transparent route "
		    "connects to each connection's original destination, so remove upstream"),
		    r->name, mode);
	if (r->transparent != KB_TRANSPARENT_NO && r->allow_count == 0)
		return conf_check_fail(path, r->line, err, errlen,
		    _("[route %s] has transparent = %s but no allow list; add 'allow = "
		    "ADDR[/PREFIX][:PORT], ...' with the servers it may connect to"), r->name,
		    mode);
	return 0;
}

/* Checks one route's settings; writes its listen address in canonical form. */
static int
conf_check_route(const struct kb_route *r, const char *path, char *canon,
    size_t canonlen, char *err, size_t errlen)
{
	char host[KB_NET_HOST_MAX], port[KB_NET_PORT_MAX], why[256];
	struct kb_net_addr addr;
	int rc;

	if (r->listen == NULL)
		return conf_check_fail(path, r->line, err, errlen,
		    _("[route %s] has no listen address; add 'listen = ADDR:PORT'"), r->name);
	if ((rc = conf_check_transparent(r, path, err, errlen)) != 0)
		return rc;
	if ((rc = conf_check_listen(r, path, &addr, err, errlen)) != 0)
		return rc;
	if (r->upstream != NULL && kb_net_split(r->upstream, "22", host, port, why, sizeof(why)) != 0)
		return conf_check_fail(path, conf_key_line(r, r->upstream_line), err, errlen,
		    _("invalid upstream '%s' in [route %s]: %s"), r->upstream, r->name, why);
	if (conf_route_bridges(r) && !r->auth_password && !r->auth_kbdint)
		return conf_check_fail(path, r->line, err, errlen,
		    _("[route %s] allows no authentication method; set auth_methods"), r->name);
	if (conf_route_bridges(r) && r->window_size > r->session_memory_limit / 2)
		return conf_check_fail(path, r->line, err, errlen,
		    _("window_size (%u) in [route %s] must be at most half of "
		    "session_memory_limit (%zu)"), (unsigned int)r->window_size, r->name,
		    r->session_memory_limit);
	kb_net_format((struct sockaddr *)&addr.ss, addr.len, canon, canonlen);
	return 0;
}

int
kb_conf_check(const struct kb_conf *conf, const char *path, char *err, size_t errlen)
{
	char (*canon)[KB_NET_ADDRSTR_MAX] = NULL;
	const struct kb_route *ri, *rj;
	size_t i, j;
	int r = 0;

	if (conf->route_count == 0)
		return conf_check_fail(path, 0, err, errlen,
		    _("no route configured; add a [route NAME] section with listen and upstream"));
	if ((canon = calloc(conf->route_count, sizeof(*canon))) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	for (i = 0; i < conf->route_count; i++) {
		ri = &conf->routes[i];
		r = conf_check_route(ri, path, canon[i], sizeof(canon[i]), err, errlen);
		if (r != 0)
			goto out;
		for (j = 0; j < i; j++) {
			if (strcmp(canon[i], canon[j]) != 0)
				continue;
			rj = &conf->routes[j];
			r = conf_check_fail(path, conf_key_line(ri, ri->listen_line), err, errlen,
			    _("duplicate listen address %s in [route %s]; [route %s] "
			    "already listens there (line %u)"), canon[i], ri->name, rj->name,
			    conf_key_line(rj, rj->listen_line));
			goto out;
		}
	}
 out:
	free(canon);
	return r;
}

int
kb_conf_resolve_upstreams(struct kb_conf *conf, const char *path, char *err,
    size_t errlen)
{
	char why[256], addr_str[KB_NET_ADDRSTR_MAX];
	struct kb_net_addr addr;
	struct kb_route *r;
	size_t i;
	int rc;

	for (i = 0; i < conf->route_count; i++) {
		r = &conf->routes[i];
		if (r->upstream == NULL)
			continue;	/* transparent: no static upstream */
		if ((rc = kb_net_parse(r->upstream, "22", false, &addr, why, sizeof(why))) != 0) {
			conf_check_fail(path, conf_key_line(r, r->upstream_line), err, errlen,
			    _("invalid upstream '%s' in [route %s]: %s"), r->upstream, r->name,
			    why);
			return rc;
		}
		kb_net_format((struct sockaddr *)&addr.ss, addr.len, addr_str, sizeof(addr_str));
		free(r->upstream_addr);
		if ((r->upstream_addr = strdup(addr_str)) == NULL) {
			snprintf(err, errlen, "%s", _("out of memory"));
			return KB_ERR_ALLOC_FAIL;
		}
	}
	return 0;
}

const char *
kb_conf_state_dir(const struct kb_conf *conf)
{
	return conf->state_dir != NULL ? conf->state_dir : KB_STATE_DIR_DEFAULT;
}

/*
 * Resolves the route's upstream lists. kb_up_algs_resolve() reports
 * "CATEGORY: what is wrong"; the category picks the line to blame.
 */
static int
conf_resolve_upstream(struct kb_route *r, const char *path, char *err, size_t errlen)
{
	const char *spec[KB_UP_ALG_COUNT];
	unsigned int line = r->line;
	char why[512];
	const char *cat_name;
	size_t n;
	int cat, rc;

	for (cat = 0; cat < KB_UP_ALG_COUNT; cat++)
		spec[cat] = r->upstream_spec[cat];
	kb_up_algs_free(&r->upstream_algs);
	why[0] = '\0';
	if ((rc = kb_up_algs_resolve(&r->upstream_algs, spec, why, sizeof(why))) == 0)
		return 0;
	for (cat = 0; cat < KB_UP_ALG_COUNT; cat++) {
		cat_name = kb_up_alg_category_str((enum kb_up_alg_category)cat);
		n = strlen(cat_name);
		if (strncmp(why, cat_name, n) == 0 && why[n] == ':' &&
		    r->upstream_spec_line[cat] != 0)
			line = r->upstream_spec_line[cat];
	}
	conf_check_fail(path, line, err, errlen,
	    _("invalid upstream algorithm list in [route %s]: %s"), r->name, why);
	return rc;
}

/* Fills the bridge defaults that depend on other settings or on the system. */
static int
conf_finish_bridge(struct kb_conf *conf, struct kb_route *r, char *err, size_t errlen)
{
	/* A second call, after --state-dir, derives the default again. */
	if (r->known_hosts_default) {
		free(r->known_hosts);
		r->known_hosts = NULL;
	}
	if (r->known_hosts == NULL) {
		if (asprintf(&r->known_hosts, "%s/known_hosts", kb_conf_state_dir(conf)) < 0) {
			r->known_hosts = NULL;
			snprintf(err, errlen, "%s", _("out of memory"));
			return KB_ERR_ALLOC_FAIL;
		}
		r->known_hosts_default = true;
	}
	if (r->moduli == NULL && access(KB_MODULI_DEFAULT, R_OK) == 0 &&
	    (r->moduli = strdup(KB_MODULI_DEFAULT)) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	return 0;
}

/*
 * Whether OpenSSL, with the providers loaded now, has what the client-facing
 * method name needs. Names were checked against kexbridge's tables when the
 * file was read, so an unknown name here is reported as unusable.
 */
static bool
conf_offer_usable(const char *key, const char *name)
{
	const struct kb_kex_info *kex;
	const char *cipher = NULL, *digest = NULL, *keymgmt = NULL;
	EVP_CIPHER *c = NULL;
	EVP_KEYMGMT *k = NULL;
	EVP_MD *md = NULL;
	bool ok = true;

	if (strcmp(key, "kex") == 0) {
		if ((kex = kb_kex_lookup(name)) == NULL)
			return false;
		digest = kex->digest;
		keymgmt = kex->type == KB_KEX_CURVE25519 ? "X25519" :
		    kex->type == KB_KEX_ECDH_NIST ? "EC" : "DH";
	} else if (strcmp(key, "ciphers") == 0) {
		if (kb_cipher_lookup(name) == NULL)
			return false;
		cipher = kb_cipher_evp_name(kb_cipher_lookup(name));
	} else if (kb_mac_lookup(name) != NULL) {
		digest = kb_mac_evp_digest(kb_mac_lookup(name));
	} else {
		return false;
	}
	if (cipher != NULL)
		ok = ok && (c = EVP_CIPHER_fetch(NULL, cipher, NULL)) != NULL;
	if (digest != NULL)
		ok = ok && (md = EVP_MD_fetch(NULL, digest, NULL)) != NULL;
	if (keymgmt != NULL)
		ok = ok && (k = EVP_KEYMGMT_fetch(NULL, keymgmt, NULL)) != NULL;
	EVP_CIPHER_free(c);
	EVP_MD_free(md);
	EVP_KEYMGMT_free(k);
	return ok;
}

/* Checks that OpenSSL can run every name of one written client-facing list. */
static int
conf_check_offer_list(const struct kb_route *r, const char *key, const char *list,
    unsigned int line, const char *path, char *err, size_t errlen)
{
	char *copy, *name, *save = NULL;
	int rc = 0;

	if (list == NULL)
		return 0;
	if ((copy = strdup(list)) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	for (name = strtok_r(copy, ", ", &save); name != NULL;
	    name = strtok_r(NULL, ", ", &save)) {
		if (conf_offer_usable(key, name))
			continue;
		rc = conf_check_fail(path, conf_key_line(r, line), err, errlen,
		    _("%s '%s' in [route %s] cannot be used with the OpenSSL library as "
		    "loaded; remove it (run 'kexbridge algorithms' for what works)"), key, name,
		    r->name);
		break;
	}
	free(copy);
	return rc;
}

/*
 * The signature algorithms the route's host keys serve, comma-separated, in
 * out. Without configured keys the daemon loads or creates an ssh-ed25519
 * and an RSA key (hostkeys.c), whose algorithms are listed here.
 * NOTE: keep the default list in step with kb_bridge_hostkeys_load().
 */
static int
conf_hostkey_algorithms(const struct kb_route *r, const char *path, char *out,
    size_t outlen, char *err, size_t errlen)
{
	struct kb_hostkey *key;
	size_t i, used;
	int rc;

	if (r->hostkey_count == 0) {
		snprintf(out, outlen, "ssh-ed25519,rsa-sha2-512,rsa-sha2-256,ssh-rsa");
		return 0;
	}
	out[0] = '\0';
	for (i = 0; i < r->hostkey_count; i++) {
		if ((rc = kb_hostkey_load(r->hostkeys[i], &key)) != 0)
			return conf_check_fail(path, conf_key_line(r, r->hostkey_line), err,
			    errlen, _("cannot load host key %s in [route %s]: %s"),
			    r->hostkeys[i], r->name, kb_err_str(rc));
		used = strlen(out);
		snprintf(out + used, outlen - used, "%s%s", used > 0 ? "," : "",
		    kb_hostkey_algorithms(key));
		kb_hostkey_free(key);
	}
	return 0;
}

/* Whether name is one of the comma-separated names in list. */
static bool
conf_list_contains(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

/*
 * Checks a bridge route's client-facing lists at start-up: every kex,
 * cipher and MAC works with OpenSSL as loaded and, when hostkey_algorithms
 * is set, the host keys load and serve every name in it.
 */
static int
conf_check_offers(const struct kb_route *r, const char *path, char *err, size_t errlen)
{
	char served[1024], *copy, *name, *save = NULL;
	int rc;

	if ((rc = conf_check_offer_list(r, "kex", r->kex, r->kex_line, path, err,
	    errlen)) != 0 ||
	    (rc = conf_check_offer_list(r, "ciphers", r->ciphers, r->ciphers_line, path, err,
	    errlen)) != 0 ||
	    (rc = conf_check_offer_list(r, "macs", r->macs, r->macs_line, path, err,
	    errlen)) != 0)
		return rc;
	/* The host keys themselves are loaded, and checked, when the relay starts. */
	if (r->hostkey_algorithms == NULL)
		return 0;
	if ((rc = conf_hostkey_algorithms(r, path, served, sizeof(served), err, errlen)) != 0)
		return rc;
	if ((copy = strdup(r->hostkey_algorithms)) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	for (name = strtok_r(copy, ", ", &save); name != NULL && rc == 0;
	    name = strtok_r(NULL, ", ", &save)) {
		if (!conf_list_contains(served, name))
			rc = conf_check_fail(path, conf_key_line(r, r->hostkey_algorithms_line),
			    err, errlen, _("hostkey_algorithms '%s' in [route %s] is not served "
			    "by any of the route's host keys; they serve %s"), name, r->name,
			    served);
	}
	free(copy);
	return rc;
}

int
kb_conf_finish(struct kb_conf *conf, const char *path, char *err, size_t errlen)
{
	struct kb_route *r;
	size_t i;
	int rc;

	if ((rc = kb_conf_check(conf, path, err, errlen)) != 0)
		return rc;
	for (i = 0; i < conf->route_count; i++) {
		r = &conf->routes[i];
		if (!conf_route_bridges(r))
			continue;
		if ((rc = conf_resolve_upstream(r, path, err, errlen)) != 0 ||
		    (rc = conf_check_offers(r, path, err, errlen)) != 0 ||
		    (rc = conf_finish_bridge(conf, r, err, errlen)) != 0)
			return rc;
	}
	return 0;
}

static const char *
conf_level_str(enum kb_log_level level)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	return names[level];
}

static void
conf_print_list(FILE *out, const char *key, char *const *list)
{
	size_t i;

	fprintf(out, "%s = ", key);
	for (i = 0; list != NULL && list[i] != NULL; i++)
		fprintf(out, "%s%s", i > 0 ? "," : "", list[i]);
	fprintf(out, "\n");
}

static void
conf_print_bridge(FILE *out, const struct kb_route *r)
{
	static const char *const up_keys[KB_UP_ALG_COUNT] = {
		"upstream_kex", "upstream_hostkey", "upstream_ciphers", "upstream_macs",
	};
	int cat;

	if (r->hostkey_count > 0)
		conf_print_list(out, "hostkey", r->hostkeys);
	else
		fprintf(out, "# hostkey: none; ssh-ed25519 and RSA keys in the state directory\n");
	fprintf(out, "known_hosts = %s\n", r->known_hosts != NULL ? r->known_hosts : "");
	fprintf(out, "hostkey_policy = %s\n", kb_up_hostkey_policy_str(r->hostkey_policy));
	for (cat = 0; cat < KB_UP_ALG_COUNT; cat++) {
		if (r->upstream_spec[cat] != NULL)
			fprintf(out, "# %s as written: %s\n", up_keys[cat], r->upstream_spec[cat]);
		fprintf(out, "%s = %s\n", up_keys[cat],
		    r->upstream_algs.list[cat] != NULL ? r->upstream_algs.list[cat] : "");
	}
	fprintf(out, "kex = %s\n", r->kex != NULL ? r->kex : kb_kex_names());
	fprintf(out, "ciphers = %s\n", r->ciphers != NULL ? r->ciphers : kb_cipher_names());
	fprintf(out, "macs = %s\n", r->macs != NULL ? r->macs : kb_mac_names());
	if (r->hostkey_algorithms != NULL)
		fprintf(out, "hostkey_algorithms = %s\n", r->hostkey_algorithms);
	if (r->moduli != NULL)
		fprintf(out, "moduli = %s\n", r->moduli);
	else
		fprintf(out, "# moduli: none; the built-in RFC 3526 groups\n");
	fprintf(out, "auth_methods = %s%s%s\n", r->auth_password ? "password" : "",
	    r->auth_password && r->auth_kbdint ? "," : "",
	    r->auth_kbdint ? "keyboard-interactive" : "");
	fprintf(out, "max_auth_tries = %u\n", r->max_auth_tries);
	fprintf(out, "auth_failure_delay = %u\n", r->auth_failure_delay);
	fprintf(out, "# exec: scp -t or scp -f with one path is always allowed\n");
	if (r->exec_allow != NULL)
		conf_print_list(out, "exec_allow", r->exec_allow);
	fprintf(out, "sftp = %s\n", r->sftp ? "yes" : "no");
	fprintf(out, "window_size = %u\n", (unsigned int)r->window_size);
	fprintf(out, "session_memory_limit = %zu\n", r->session_memory_limit);
	fprintf(out, "upstream_handshake_timeout = %u\n", r->upstream_handshake_timeout);
	fprintf(out, "upstream_auth_timeout = %u\n", r->upstream_auth_timeout);
	if (r->rekey_bytes == 0)
		fprintf(out, "rekey_limit = default");
	else
		fprintf(out, "rekey_limit = %llu", (unsigned long long)r->rekey_bytes);
	if (r->rekey_seconds == 0)
		fprintf(out, " none\n");
	else
		fprintf(out, " %u\n", (unsigned int)r->rekey_seconds);
}

/* Writes "upstream = HOST:PORT", the default port filled in, and the address. */
static void
conf_print_upstream(FILE *out, const struct kb_route *r)
{
	char host[KB_NET_HOST_MAX], port[KB_NET_PORT_MAX], why[256];

	if (r->transparent != KB_TRANSPARENT_NO) {
		fprintf(out, "# upstream: each connection's original destination\n");
		fprintf(out, "transparent = %s\n", kb_transparent_str(r->transparent));
		fprintf(out, "allow = %s\n", r->allow_spec != NULL ? r->allow_spec : "");
		return;
	}
	if (kb_net_split(r->upstream, "22", host, port, why, sizeof(why)) != 0)
		fprintf(out, "upstream = %s", r->upstream);
	else if (strchr(host, ':') != NULL)
		fprintf(out, "upstream = [%s]:%s", host, port);
	else
		fprintf(out, "upstream = %s:%s", host, port);
	if (r->upstream_addr != NULL)
		fprintf(out, " (%s)", r->upstream_addr);
	fprintf(out, "\n");
}

void
kb_conf_print(FILE *out, const struct kb_conf *conf)
{
	const struct kb_route *r;
	size_t i;

	fprintf(out, "[global]\n");
	fprintf(out, "log_format = %s\n", conf->log_format == KB_LOG_JSON ? "json" : "text");
	fprintf(out, "log_target = %s\n",
	    conf->log_target == KB_LOG_SYSLOG ? "syslog" : "stderr");
	fprintf(out, "log_level = %s\n", conf_level_str(conf->log_level));
	fprintf(out, "state_dir = %s\n", kb_conf_state_dir(conf));
	fprintf(out, "max_sessions = %u\n", conf->max_sessions);
	fprintf(out, "drain_timeout = %u\n", conf->drain_timeout);
	if (conf->user != NULL)
		fprintf(out, "user = %s\n", conf->user);
	for (i = 0; i < conf->route_count; i++) {
		r = &conf->routes[i];
		fprintf(out, "\n[route %s]\n", r->name);
		fprintf(out, "listen = %s\n", r->listen);
		conf_print_upstream(out, r);
		fprintf(out, "mode = %s\n", kb_conf_mode_str(r->mode));
		fprintf(out, "connect_timeout = %u\n", r->connect_timeout);
		fprintf(out, "handshake_timeout = %u\n", r->handshake_timeout);
		fprintf(out, "idle_timeout = %u\n", r->idle_timeout);
		fprintf(out, "buffer_limit = %zu\n", r->buffer_limit);
		fprintf(out, "max_sessions = %u\n", r->max_sessions);
		fprintf(out, "max_per_source = %u\n", r->max_per_source);
		fprintf(out, "max_startups = %u\n", r->max_startups);
		if (conf_route_bridges(r))
			conf_print_bridge(out, r);
	}
}
