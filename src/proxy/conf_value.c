/*
 * The value of each configuration key: its parser, its range, and where
 * it is stored in struct kb_conf or struct kb_route.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kexbridge/cipher.h"
#include "kexbridge/conf.h"
#include "kexbridge/i18n.h"
#include "kexbridge/kex.h"
#include "kexbridge/upstream.h"
#include "conf_internal.h"

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
void
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

static const char *const global_keys[] = {
	"log_format", "log_target", "log_level", "state_dir", "drain_timeout", "user",
	"max_sessions", NULL
};

/* Edit distance between a and b (insertions, deletions, substitutions). */
static size_t
conf_distance(const char *a, const char *b)
{
	size_t row[64], i, j, diag, up, lb = strlen(b);

	if (strlen(a) >= sizeof(row) / sizeof(row[0]) || lb >= sizeof(row) / sizeof(row[0]))
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; a[i - 1] != '\0'; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

/*
 * Returns the key closest to name when it is a likely typo: at most two
 * edits, or a third for names of eight characters or more. Else NULL.
 */
static const char *
conf_closest_key(const char *name, const char *const *keys)
{
	const char *best = NULL;
	size_t d, best_d = SIZE_MAX, max = strlen(name) >= 8 ? 3 : 2;
	int i;

	for (i = 0; keys[i] != NULL; i++) {
		if ((d = conf_distance(name, keys[i])) < best_d) {
			best_d = d;
			best = keys[i];
		}
	}
	return best_d <= max ? best : NULL;
}

/* Looks up a route key; returns -1 (and fails p) for an unknown one. */
int
conf_route_key_index(struct conf_parser *p, const char *name)
{
	const char *hint;
	int i;

	for (i = 0; route_keys[i] != NULL; i++) {
		if (strcmp(name, route_keys[i]) == 0)
			return i;
	}
	if ((hint = conf_closest_key(name, route_keys)) != NULL)
		conf_fail(p, _("unknown key '%s' in [route %s]; did you mean '%s'? "
		    "Valid keys are %s"), name, p->route->name, hint, ROUTE_KEYS);
	else
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

void
conf_global_key(struct conf_parser *p, const char *name, const char *value)
{
	struct kb_conf *c = p->conf;
	const char *hint;
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
	} else if ((hint = conf_closest_key(name, global_keys)) != NULL) {
		conf_fail(p, _("unknown key '%s' in [global]; did you mean '%s'? "
		    "Valid keys are %s"), name, hint, GLOBAL_KEYS);
	} else {
		conf_fail(p, _("unknown key '%s' in [global]; valid keys are %s"), name,
		    GLOBAL_KEYS);
	}
}
