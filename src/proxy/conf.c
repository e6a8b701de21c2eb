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
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kexbridge/cipher.h"
#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/i18n.h"
#include "kexbridge/kex.h"
#include "kexbridge/net.h"
#include "kexbridge/upstream.h"
#include "conf_internal.h"

#define CONF_MAX_ROUTES		1024

/* Records the first error only, prefixed with FILE:LINE. */
void __attribute__((format(printf, 2, 3)))
conf_fail(struct conf_parser *p, const char *fmt, ...)
{
	char msg[KB_CONF_ERR_MAX];
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

/* Tells whether a route needs the bridge settings, as auto routes may bridge any session. */
bool
conf_route_bridges(const struct kb_route *route)
{
	return route->mode == KB_MODE_BRIDGE || route->mode == KB_MODE_AUTO;
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
	char msg[KB_CONF_ERR_MAX];
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
