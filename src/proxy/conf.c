/*
 * The INI configuration (format in conf.h), read with inih.
 *
 * The inih builds that distributions ship pass no line number to the handler,
 * so the reader callback counts lines itself. It also picks up the section
 * headers, because inih calls the handler only for keys and an empty
 * [route NAME] section must still be reported as missing its listen address.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/net.h"

#define CONF_MAX_ROUTES		1024
#define CONF_TIMEOUT_MAX	(7 * 24 * 3600)
#define CONF_BUFFER_MIN		4096
#define CONF_BUFFER_MAX		(64 * 1024 * 1024)
#define CONF_SESSIONS_MAX	65535

#define ROUTE_KEYS "listen, upstream, mode, connect_timeout, handshake_timeout, " \
	"idle_timeout, buffer_limit, max_sessions"
#define GLOBAL_KEYS "log_format, log_target, log_level"

struct conf_parser {
	struct kb_conf *conf;
	const char *path;
	FILE *file;
	unsigned int line;
	bool at_line_start;
	bool in_global;
	struct kb_route *route;		/* current [route NAME], or NULL */
	unsigned int seen;		/* bit per key index already set */
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

/* inih's line reader: fgets that counts lines and spots section headers. */
static char *
conf_read_line(char *str, int num, void *stream)
{
	struct conf_parser *p = stream;
	const char *s;

	if (fgets(str, num, p->file) == NULL)
		return NULL;
	if (p->at_line_start) {
		p->line++;
		for (s = str; *s == ' ' || *s == '\t'; s++)
			;
		if (*s == '[')
			conf_enter_section(p, s + 1);
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

static void
conf_set_mode(struct conf_parser *p, const char *value)
{
	int mode = kb_conf_mode_from_str(value);

	if (mode < 0) {
		conf_fail(p, _("invalid mode '%s' in [route %s]; expected tap"), value,
		    p->route->name);
		return;
	}
	if (mode != KB_MODE_TAP) {
		conf_fail(p, _("mode '%s' in [route %s] is not available in this version; "
		    "only 'tap' is"), value, p->route->name);
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

static const char *const route_keys[] = {
	"listen", "upstream", "mode", "connect_timeout", "handshake_timeout",
	"idle_timeout", "buffer_limit", "max_sessions", NULL,
};

static void
conf_route_key(struct conf_parser *p, int key, const char *value)
{
	struct kb_route *r = p->route;
	unsigned long long val;

	switch (key) {
	case 0:
		conf_set_string(p, &r->listen, value);
		break;
	case 1:
		conf_set_string(p, &r->upstream, value);
		break;
	case 2:
		conf_set_mode(p, value);
		break;
	case 3:
		conf_set_timeout(p, "connect_timeout", value, 1, &r->connect_timeout);
		break;
	case 4:
		conf_set_timeout(p, "handshake_timeout", value, 1, &r->handshake_timeout);
		break;
	case 5:
		conf_set_timeout(p, "idle_timeout", value, 0, &r->idle_timeout);
		break;
	case 6:
		if (!conf_parse_number(value, size_units, CONF_BUFFER_MIN, CONF_BUFFER_MAX, &val)) {
			conf_fail(p, _("invalid buffer_limit '%s' in [route %s]; expected bytes "
			    "from %d to %d, optionally with a K or M suffix"), value, r->name,
			    CONF_BUFFER_MIN, CONF_BUFFER_MAX);
			break;
		}
		r->buffer_limit = (size_t)val;
		break;
	case 7:
		if (!conf_parse_number(value, NULL, 1, CONF_SESSIONS_MAX, &val)) {
			conf_fail(p, _("invalid max_sessions '%s' in [route %s]; expected a number "
			    "from 1 to %d"), value, r->name, CONF_SESSIONS_MAX);
			break;
		}
		r->max_sessions = (unsigned int)val;
		break;
	}
}

static void
conf_global_key(struct conf_parser *p, const char *name, const char *value)
{
	struct kb_conf *c = p->conf;
	int level;

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
	for (i = 0; route_keys[i] != NULL; i++) {
		if (strcmp(name, route_keys[i]) == 0)
			break;
	}
	if (route_keys[i] == NULL) {
		conf_fail(p, _("unknown key '%s' in [route %s]; valid keys are %s"), name,
		    p->route->name, ROUTE_KEYS);
		return 1;
	}
	if (p->seen & (1u << i)) {
		conf_fail(p, _("'%s' is set twice in [route %s]"), name, p->route->name);
		return 1;
	}
	p->seen |= 1u << i;
	conf_route_key(p, i, value);
	return 1;
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
	return kb_conf_check(conf, path, err, errlen);
}

void
kb_conf_init(struct kb_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->log_format = KB_LOG_TEXT;
	conf->log_target = KB_LOG_STDERR;
	conf->log_level = KB_LOG_INFO;
}

void
kb_conf_free(struct kb_conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->route_count; i++) {
		free(conf->routes[i].name);
		free(conf->routes[i].listen);
		free(conf->routes[i].upstream);
	}
	free(conf->routes);
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
		snprintf(err, errlen, _("invalid mode '%s'; expected tap"), mode);
		return KB_ERR_CONFIG_INVALID;
	}
	if (m != KB_MODE_TAP) {
		snprintf(err, errlen, _("mode '%s' is not available in this version; only 'tap' is"),
		    mode);
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

/* Writes "path:LINE: " (or nothing without a path) and the message. */
static int __attribute__((format(printf, 5, 6)))
conf_check_fail(const char *path, const struct kb_route *route, char *err,
    size_t errlen, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path != NULL && route != NULL)
		snprintf(err, errlen, "%s:%u: %s", path, route->line, msg);
	else if (path != NULL)
		snprintf(err, errlen, "%s: %s", path, msg);
	else
		snprintf(err, errlen, "%s", msg);
	return KB_ERR_CONFIG_INVALID;
}

/* Checks one route's addresses; writes its listen address in canonical form. */
static int
conf_check_route(const struct kb_route *r, const char *path, char *canon,
    size_t canonlen, char *err, size_t errlen)
{
	char host[KB_NET_HOST_MAX], port[KB_NET_PORT_MAX], why[256];
	struct kb_net_addr addr;

	if (r->listen == NULL)
		return conf_check_fail(path, r, err, errlen,
		    _("[route %s] has no listen address; add 'listen = ADDR:PORT'"), r->name);
	if (r->upstream == NULL)
		return conf_check_fail(path, r, err, errlen,
		    _("[route %s] has no upstream; add 'upstream = HOST:PORT'"), r->name);
	if (kb_net_parse(r->listen, NULL, true, &addr, why, sizeof(why)) != 0)
		return conf_check_fail(path, r, err, errlen,
		    _("invalid listen address '%s' in [route %s]: %s; expected ADDR:PORT "
		    "or [IPv6]:PORT"), r->listen, r->name, why);
	if (kb_net_split(r->upstream, "22", host, port, why, sizeof(why)) != 0)
		return conf_check_fail(path, r, err, errlen,
		    _("invalid upstream '%s' in [route %s]: %s; expected HOST:PORT or "
		    "[IPv6]:PORT"), r->upstream, r->name, why);
	if (r->mode != KB_MODE_TAP)
		return conf_check_fail(path, r, err, errlen,
		    _("mode '%s' in [route %s] is not available in this version; only 'tap' is"),
		    kb_conf_mode_str(r->mode), r->name);
	kb_net_format((struct sockaddr *)&addr.ss, addr.len, canon, canonlen);
	return 0;
}

int
kb_conf_check(const struct kb_conf *conf, const char *path, char *err, size_t errlen)
{
	char (*canon)[KB_NET_ADDRSTR_MAX] = NULL;
	size_t i, j;
	int r = 0;

	if (conf->route_count == 0)
		return conf_check_fail(path, NULL, err, errlen,
		    _("no route configured; add a [route NAME] section with listen and upstream"));
	if ((canon = calloc(conf->route_count, sizeof(*canon))) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	for (i = 0; i < conf->route_count; i++) {
		r = conf_check_route(&conf->routes[i], path, canon[i], sizeof(canon[i]),
		    err, errlen);
		if (r != 0)
			goto out;
		for (j = 0; j < i; j++) {
			if (strcmp(canon[i], canon[j]) != 0)
				continue;
			r = conf_check_fail(path, &conf->routes[i], err, errlen,
			    _("duplicate listen address %s in [route %s]; [route %s] "
			    "already listens there"), canon[i], conf->routes[i].name,
			    conf->routes[j].name);
			goto out;
		}
	}
 out:
	free(canon);
	return r;
}

static const char *
conf_level_str(enum kb_log_level level)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	return names[level];
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
	for (i = 0; i < conf->route_count; i++) {
		r = &conf->routes[i];
		fprintf(out, "\n[route %s]\n", r->name);
		fprintf(out, "listen = %s\n", r->listen);
		fprintf(out, "upstream = %s\n", r->upstream);
		fprintf(out, "mode = %s\n", kb_conf_mode_str(r->mode));
		fprintf(out, "connect_timeout = %u\n", r->connect_timeout);
		fprintf(out, "handshake_timeout = %u\n", r->handshake_timeout);
		fprintf(out, "idle_timeout = %u\n", r->idle_timeout);
		fprintf(out, "buffer_limit = %zu\n", r->buffer_limit);
		fprintf(out, "max_sessions = %u\n", r->max_sessions);
	}
}
