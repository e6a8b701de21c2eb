/*
 * Client profiles: built-in offers of known clients, and INI files with more
 * (format in kexbridge/profile.h). A category a profile leaves out is
 * unrestricted: that client accepts whatever the server offers there.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/profile.h"

/* Name-list flags a profile file cannot carry: inih trims and splits on them. */
#define PROFILE_BAD_LIST_FLAGS	(KB_NL_SPACE | KB_NL_NONPRINTABLE)

/* Maximum line inih may need: a name-list of maximum length plus its key. */
#define PROFILE_MAX_LINE	(KB_NAMELIST_MAX_BYTES + 64)

struct profile_builtin {
	const char *name;
	const char *description;
	const char *version;
	/* Per category a comma-separated list, or NULL for unrestricted. */
	const char *lists[KB_CAT_NEGOTIATED];
};

#define UCSM_KEX	"diffie-hellman-group-exchange-sha256," \
	"diffie-hellman-group16-sha512,diffie-hellman-group18-sha512"
#define UCSM_CIPHERS	"aes128-ctr,aes192-ctr,aes256-ctr"
#define UCSM_MACS	"hmac-sha2-256,hmac-sha2-512"

/*
 * Captured from the KEXINIT that ssh(1) of OpenSSH 9.2p1 Debian-2+deb12u10
 * sends with no configuration and no known_hosts entry. That Debian build
 * also offers sntrup761x25519-sha512, the name upstream added in 9.9, so
 * earlier Debian 12 builds may lack the first kex name.
 */
#define OPENSSH92_KEX	"sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com," \
	"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256," \
	"ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256," \
	"diffie-hellman-group16-sha512,diffie-hellman-group18-sha512," \
	"diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com"
#define OPENSSH92_HOSTKEY	"ssh-ed25519-cert-v01@openssh.com," \
	"ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com," \
	"ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com," \
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com," \
	"rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256," \
	"ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com," \
	"sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"
#define OPENSSH92_CIPHERS	"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr," \
	"aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
#define OPENSSH92_MACS	"umac-64-etm@openssh.com,umac-128-etm@openssh.com," \
	"hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com," \
	"hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com," \
	"hmac-sha2-256,hmac-sha2-512,hmac-sha1"
/* With the default "Compression no", OpenSSH 9.2 still lists zlib last. */
#define OPENSSH92_COMP	"none,zlib@openssh.com,zlib"

static const struct profile_builtin builtins[] = {
	{
		"ucsm-4.0",
		N_("Cisco UCS fabric interconnect, UCS Manager 4.0(2a) and later"),
		NULL,
		{ UCSM_KEX, NULL, UCSM_CIPHERS, UCSM_CIPHERS, UCSM_MACS, UCSM_MACS,
		    NULL, NULL },
	},
	{
		"openssh-9.2",
		N_("OpenSSH 9.2p1 client defaults (Debian 12)"),
		"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10",
		{ OPENSSH92_KEX, OPENSSH92_HOSTKEY, OPENSSH92_CIPHERS,
		    OPENSSH92_CIPHERS, OPENSSH92_MACS, OPENSSH92_MACS,
		    OPENSSH92_COMP, OPENSSH92_COMP },
	},
};

static void
profile_free(struct kb_profile *profile)
{
	free(profile->name);
	free(profile->description);
	free(profile->version);
	kb_kexinit_free(&profile->offer);
	memset(profile, 0, sizeof(*profile));
}

/* Appends an empty profile called name; returns it, or NULL. */
static struct kb_profile *
profile_append(struct kb_profile_set *set, const char *name)
{
	struct kb_profile *profiles, *profile;

	profiles = realloc(set->profiles, (set->count + 1) * sizeof(*profiles));
	if (profiles == NULL)
		return NULL;
	set->profiles = profiles;
	profile = &profiles[set->count];
	memset(profile, 0, sizeof(*profile));
	if ((profile->name = strdup(name)) == NULL)
		return NULL;
	set->count++;
	return profile;
}

static int
profile_add_builtin(struct kb_profile_set *set, const struct profile_builtin *b)
{
	struct kb_profile *profile;
	enum kb_category cat;
	int r;

	if ((profile = profile_append(set, b->name)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((profile->description = strdup(_(b->description))) == NULL ||
	    (b->version != NULL && (profile->version = strdup(b->version)) == NULL))
		return KB_ERR_ALLOC_FAIL;
	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		if (b->lists[cat] == NULL) {
			profile->offer.unrestricted |= 1u << cat;
			continue;
		}
		if ((r = kb_kexinit_set_list(&profile->offer, cat, b->lists[cat])) != 0)
			return r;
	}
	return KB_OK;
}

int
kb_profile_add_builtins(struct kb_profile_set *set)
{
	size_t i;
	int r;

	if (set == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		if (kb_profile_find(set, builtins[i].name) != NULL)
			continue;
		if ((r = profile_add_builtin(set, &builtins[i])) != 0)
			return r;
	}
	return KB_OK;
}

const struct kb_profile *
kb_profile_find(const struct kb_profile_set *set, const char *name)
{
	size_t i;

	if (set == NULL || name == NULL)
		return NULL;
	for (i = 0; i < set->count; i++) {
		if (strcmp(set->profiles[i].name, name) == 0)
			return &set->profiles[i];
	}
	return NULL;
}

void
kb_profile_set_free(struct kb_profile_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->count; i++)
		profile_free(&set->profiles[i]);
	free(set->profiles);
	set->profiles = NULL;
	set->count = 0;
}

/* Letters, digits, '.', '_', '-': safe in a file, a log line and a CLI argument. */
static bool
profile_name_valid(const char *name)
{
	const char *p;

	if (*name == '\0')
		return false;
	for (p = name; *p != '\0'; p++) {
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '.' && *p != '_' && *p != '-')
			return false;
	}
	return true;
}

/* A value inih reads back unchanged: one line, no edge blanks, no " ;" comment. */
static bool
profile_value_writable(const char *value)
{
	size_t len = strlen(value);

	if (strpbrk(value, "\r\n") != NULL || strstr(value, " ;") != NULL ||
	    strstr(value, "\t;") != NULL)
		return false;
	return len == 0 || (value[0] != ' ' && value[0] != '\t' &&
	    value[len - 1] != ' ' && value[len - 1] != '\t');
}

static bool
profile_version_valid(const char *version)
{
	const unsigned char *p;

	if (strncmp(version, "SSH-", 4) != 0 || strlen(version) > KB_VERSION_MAX - 2)
		return false;
	for (p = (const unsigned char *)version; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return false;
	}
	return true;
}

/* Profile file keys besides the category lists. */
enum profile_key {
	PROFILE_KEY_DESCRIPTION = KB_CAT_NEGOTIATED,
	PROFILE_KEY_VERSION,
};

static const struct {
	const char *key;
	int first;	/* category, or enum profile_key */
	int last;	/* equal to first, or the s2c category for a pair */
} profile_keys[] = {
	{ "description", PROFILE_KEY_DESCRIPTION, PROFILE_KEY_DESCRIPTION },
	{ "version", PROFILE_KEY_VERSION, PROFILE_KEY_VERSION },
	{ "kex", KB_CAT_KEX, KB_CAT_KEX },
	{ "hostkey", KB_CAT_HOSTKEY, KB_CAT_HOSTKEY },
	{ "cipher", KB_CAT_CIPHER_C2S, KB_CAT_CIPHER_S2C },
	{ "cipher_c2s", KB_CAT_CIPHER_C2S, KB_CAT_CIPHER_C2S },
	{ "cipher_s2c", KB_CAT_CIPHER_S2C, KB_CAT_CIPHER_S2C },
	{ "mac", KB_CAT_MAC_C2S, KB_CAT_MAC_S2C },
	{ "mac_c2s", KB_CAT_MAC_C2S, KB_CAT_MAC_C2S },
	{ "mac_s2c", KB_CAT_MAC_S2C, KB_CAT_MAC_S2C },
	{ "comp", KB_CAT_COMP_C2S, KB_CAT_COMP_S2C },
	{ "comp_c2s", KB_CAT_COMP_C2S, KB_CAT_COMP_C2S },
	{ "comp_s2c", KB_CAT_COMP_S2C, KB_CAT_COMP_S2C },
};

struct profile_loader {
	struct kb_profile_set *set;
	struct kb_profile *current;
	/* Bit per category or profile_key already set in the current section. */
	unsigned int seen;
	/* First error, without its "FILE:LINE: " prefix. */
	char msg[512];
	bool failed;
};

/* Categories the finished section left out accept anything. */
static void
profile_finish_section(struct profile_loader *loader)
{
	enum kb_category cat;

	if (loader->current == NULL)
		return;
	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		if ((loader->seen & (1u << cat)) == 0)
			loader->current->offer.unrestricted |= 1u << cat;
	}
	loader->current = NULL;
	loader->seen = 0;
}

static int
profile_fail(struct profile_loader *loader, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
profile_fail(struct profile_loader *loader, const char *fmt, ...)
{
	va_list ap;

	if (!loader->failed) {
		va_start(ap, fmt);
		vsnprintf(loader->msg, sizeof(loader->msg), fmt, ap);
		va_end(ap);
		loader->failed = true;
	}
	return 0;
}

static int
profile_set_list(struct profile_loader *loader, const char *key, int cat,
    const char *value)
{
	struct kb_kexinit *offer = &loader->current->offer;
	char flags[256];

	if (kb_kexinit_set_list(offer, (enum kb_category)cat, value) != 0)
		return profile_fail(loader, _("invalid name-list for %s; a list has at "
		    "most %d names and %d bytes"), key, KB_NAMELIST_MAX_NAMES,
		    KB_NAMELIST_MAX_BYTES);
	if ((offer->lists[cat].flags & PROFILE_BAD_LIST_FLAGS) != 0)
		return profile_fail(loader, _("invalid name-list for %s (%s); write "
		    "printable names separated by commas, without spaces"), key,
		    kb_namelist_flags_str(offer->lists[cat].flags &
		    PROFILE_BAD_LIST_FLAGS, flags, sizeof(flags)));
	return 1;
}

static int
profile_set_text(struct profile_loader *loader, int which, const char *value)
{
	char **dst = which == PROFILE_KEY_VERSION ? &loader->current->version :
	    &loader->current->description;

	if (which == PROFILE_KEY_VERSION && !profile_version_valid(value))
		return profile_fail(loader, _("invalid version \"%.64s\"; write a whole "
		    "identification line such as SSH-2.0-OpenSSH_9.2"), value);
	free(*dst);
	if ((*dst = strdup(value)) == NULL)
		return profile_fail(loader, "%s", kb_err_str(KB_ERR_ALLOC_FAIL));
	return 1;
}

/* inih callback for one "key = value" line; returns 0 to report an error. */
static int
profile_handle(void *user, const char *section, const char *key, const char *value)
{
	struct profile_loader *loader = user;
	unsigned int bits = 0;
	size_t i;
	int c;

	if (loader->failed)
		return 0;
	if (*section == '\0')
		return profile_fail(loader, _("\"%s\" is outside a profile; put a "
		    "[name] line before it"), key);
	if (loader->current == NULL || strcmp(loader->current->name, section) != 0) {
		profile_finish_section(loader);
		if ((loader->current = profile_append(loader->set, section)) == NULL)
			return profile_fail(loader, "%s", kb_err_str(KB_ERR_ALLOC_FAIL));
	}

	for (i = 0; i < sizeof(profile_keys) / sizeof(profile_keys[0]); i++) {
		if (strcmp(profile_keys[i].key, key) == 0)
			break;
	}
	if (i == sizeof(profile_keys) / sizeof(profile_keys[0]))
		return profile_fail(loader, _("unknown key \"%.64s\"; use description, "
		    "version, kex, hostkey, cipher, mac, comp, or cipher, mac and "
		    "comp with _c2s or _s2c"), key);
	for (c = profile_keys[i].first; c <= profile_keys[i].last; c++)
		bits |= 1u << c;
	if ((loader->seen & bits) != 0)
		return profile_fail(loader, _("\"%s\" sets a value that an earlier line "
		    "in [%s] already set; keep one of the two lines"), key, section);
	loader->seen |= bits;

	if (profile_keys[i].first >= KB_CAT_NEGOTIATED)
		return profile_set_text(loader, profile_keys[i].first, value);
	for (c = profile_keys[i].first; c <= profile_keys[i].last; c++) {
		if (profile_set_list(loader, key, c, value) == 0)
			return 0;
	}
	return 1;
}

/*
 * Checks the [section] lines before inih runs, because inih merges a
 * repeated section silently. NOTE: a section without keys adds no profile,
 * since inih reports only key lines. Returns the
 * line of the first problem, 0 when there is none, -1 when the file cannot
 * be read.
 */
static int
profile_scan_sections(const char *path, const struct kb_profile_set *set,
    char *msg, size_t msglen)
{
	char *line = NULL, *p, *end, **names = NULL, **grown;
	size_t cap = 0, count = 0, i;
	int lineno = 0, bad = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (bad == 0 && getline(&line, &cap, f) != -1) {
		lineno++;
		p = line;
		if (lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
			p += 3;
		p += strspn(p, " \t");
		if (*p != '[')
			continue;
		if ((end = strchr(p, ']')) == NULL) {
			snprintf(msg, msglen, "%s", _("section line without \"]\"; write "
			    "[name]"));
			bad = lineno;
			break;
		}
		*end = '\0';
		p++;
		if (!profile_name_valid(p)) {
			snprintf(msg, msglen, _("invalid profile name \"%.64s\"; use letters, "
			    "digits, \".\", \"_\" and \"-\""), p);
			bad = lineno;
			break;
		}
		for (i = 0; i < count && strcmp(names[i], p) != 0; i++)
			;
		if (i < count || kb_profile_find(set, p) != NULL) {
			snprintf(msg, msglen, _("profile \"%s\" is defined twice; rename "
			    "one of them"), p);
			bad = lineno;
			break;
		}
		if ((grown = realloc(names, (count + 1) * sizeof(*names))) == NULL ||
		    (grown[count] = strdup(p)) == NULL) {
			if (grown != NULL)
				names = grown;
			snprintf(msg, msglen, "%s", kb_err_str(KB_ERR_ALLOC_FAIL));
			bad = lineno;
			break;
		}
		names = grown;
		count++;
	}
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	free(line);
	fclose(f);
	return bad;
}

/* Runs inih with a heap line buffer large enough for a maximal name-list. */
static int
profile_run_inih(const char *path, struct profile_loader *loader)
{
	bool use_stack = ini_use_stack, allow_realloc = ini_allow_realloc;
	bool stop = ini_stop_on_first_error;
	int max_line = ini_max_line, r;

	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = PROFILE_MAX_LINE;
	ini_stop_on_first_error = true;
	r = ini_parse(path, profile_handle, loader);
	ini_use_stack = use_stack;
	ini_allow_realloc = allow_realloc;
	ini_max_line = max_line;
	ini_stop_on_first_error = stop;
	return r;
}

int
kb_profile_load_file(struct kb_profile_set *set, const char *path, char *err, size_t errlen)
{
	struct profile_loader loader;
	size_t first = set->count;
	char msg[512];
	int line;

	memset(&loader, 0, sizeof(loader));
	loader.set = set;
	line = profile_scan_sections(path, set, msg, sizeof(msg));
	if (line < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return KB_ERR_CONFIG_INVALID;
	}
	if (line == 0) {
		line = profile_run_inih(path, &loader);
		profile_finish_section(&loader);
		snprintf(msg, sizeof(msg), "%s", loader.failed ? loader.msg :
		    _("expected \"key = value\" or a [name] line"));
	}
	if (line == 0)
		return KB_OK;

	/* Keep the set as it was before this file. */
	while (set->count > first)
		profile_free(&set->profiles[--set->count]);
	if (line < 0)
		snprintf(err, errlen, "%s: %s", path, kb_err_str(KB_ERR_ALLOC_FAIL));
	else
		snprintf(err, errlen, "%s:%d: %s", path, line, msg);
	return KB_ERR_CONFIG_INVALID;
}

static bool
profile_open(const struct kb_kexinit *offer, enum kb_category cat)
{
	return (offer->unrestricted & (1u << cat)) != 0;
}

static const char *
profile_raw(const struct kb_kexinit *offer, enum kb_category cat)
{
	return offer->lists[cat].raw != NULL ? offer->lists[cat].raw : "";
}

/* Writes one category, or a c2s/s2c pair as one key when both are equal. */
static void
profile_write_pair(FILE *out, const struct kb_kexinit *offer, const char *key,
    enum kb_category c2s)
{
	enum kb_category s2c = c2s + 1;

	if (!profile_open(offer, c2s) && !profile_open(offer, s2c) &&
	    strcmp(profile_raw(offer, c2s), profile_raw(offer, s2c)) == 0) {
		fprintf(out, "%s = %s\n", key, profile_raw(offer, c2s));
		return;
	}
	if (!profile_open(offer, c2s))
		fprintf(out, "%s = %s\n", kb_category_key(c2s), profile_raw(offer, c2s));
	if (!profile_open(offer, s2c))
		fprintf(out, "%s = %s\n", kb_category_key(s2c), profile_raw(offer, s2c));
}

/* Rejects what a profile file cannot carry, so the output always reads back. */
static int
profile_check_writable(const char *name, const char *description,
    const struct kb_version *version, const struct kb_kexinit *offer)
{
	enum kb_category cat;

	if (!profile_name_valid(name))
		return KB_ERR_INVALID_ARGUMENT;
	if (description != NULL && !profile_value_writable(description))
		return KB_ERR_INVALID_ARGUMENT;
	if (version != NULL && !profile_version_valid(version->line))
		return KB_ERR_INVALID_ARGUMENT;
	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		if (profile_open(offer, cat))
			continue;
		if ((offer->lists[cat].flags & PROFILE_BAD_LIST_FLAGS) != 0 ||
		    offer->lists[cat].raw_len > KB_NAMELIST_MAX_BYTES)
			return KB_ERR_INVALID_ARGUMENT;
	}
	return KB_OK;
}

int
kb_profile_write(FILE *out, const char *name, const char *description,
    const struct kb_version *version, const struct kb_kexinit *offer)
{
	int r;

	if (out == NULL || name == NULL || offer == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = profile_check_writable(name, description, version, offer)) != 0)
		return r;

	fprintf(out, "[%s]\n", name);
	if (description != NULL)
		fprintf(out, "description = %s\n", description);
	if (version != NULL)
		fprintf(out, "version = %s\n", version->line);
	if (!profile_open(offer, KB_CAT_KEX))
		fprintf(out, "kex = %s\n", profile_raw(offer, KB_CAT_KEX));
	if (!profile_open(offer, KB_CAT_HOSTKEY))
		fprintf(out, "hostkey = %s\n", profile_raw(offer, KB_CAT_HOSTKEY));
	profile_write_pair(out, offer, "cipher", KB_CAT_CIPHER_C2S);
	profile_write_pair(out, offer, "mac", KB_CAT_MAC_C2S);
	profile_write_pair(out, offer, "comp", KB_CAT_COMP_C2S);
	fputs("\n", out);
	if (ferror(out))
		return KB_ERR_SYSTEM;
	return KB_OK;
}
