/*
 * Upstream algorithm lists: what the linked libssh2 can use, ranked
 * strongest first, narrowed or reordered per route with OpenSSH's list
 * syntax (sshd_config(5), "Ciphers": a leading '+', '-' or '^').
 */
#include "config.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh2.h>
#include <openssl/provider.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/upstream.h"
#include "upstream-internal.h"

#define ALG_MAX		64	/* names per list; libssh2 1.10 has < 20 */

struct alg_list {
	const char *name[ALG_MAX];
	size_t count;
};

static const char *const category_names[KB_UP_ALG_COUNT] = {
	"kex", "hostkey", "cipher", "mac"
};

/*
 * Rankings, strongest first. A supported name missing here goes after
 * every ranked one, in libssh2's order.
 */
static const char *const rank_kex[] = {
	"curve25519-sha256", "curve25519-sha256@libssh.org",
	"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
	"diffie-hellman-group-exchange-sha256",
	"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
	"diffie-hellman-group14-sha256",
	"diffie-hellman-group14-sha1",
	"diffie-hellman-group-exchange-sha1",
	"diffie-hellman-group1-sha1",
	NULL
};

static const char *const rank_hostkey[] = {
	"ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519",
	"ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"ecdsa-sha2-nistp384-cert-v01@openssh.com",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com",
	"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com",
	"rsa-sha2-512", "rsa-sha2-256",
	"ssh-rsa-cert-v01@openssh.com", "ssh-rsa", "ssh-dss",
	NULL
};

static const char *const rank_cipher[] = {
	"chacha20-poly1305@openssh.com",
	"aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
	"aes256-ctr", "aes192-ctr", "aes128-ctr",
	"aes256-cbc", "rijndael-cbc@lysator.liu.se", "aes192-cbc", "aes128-cbc",
	"3des-cbc",
	"blowfish-cbc", "cast128-cbc", "arcfour128", "arcfour",
	NULL
};

static const char *const rank_mac[] = {
	"hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com",
	"hmac-sha2-512", "hmac-sha2-256",
	"hmac-sha1-etm@openssh.com", "hmac-sha1",
	"hmac-ripemd160", "hmac-ripemd160@openssh.com",
	"hmac-sha1-96", "hmac-md5", "hmac-md5-96",
	NULL
};

static const char *const *const rankings[KB_UP_ALG_COUNT] = {
	rank_kex, rank_hostkey, rank_cipher, rank_mac
};

/*
 * OpenSSL 3 moved these ciphers to its legacy provider; libssh2 1.10 still
 * lists them but cannot start them unless that provider is loaded.
 */
static const char *const legacy_names[] = {
	"blowfish-cbc", "arcfour", "arcfour128", "cast128-cbc", NULL
};

/*
 * libssh2 1.10 lists OpenSSH host certificates but checks the signature
 * with the plain key parser and cannot match them against known_hosts
 * (no @cert-authority), so they are offered only when named.
 */
static const char *const named_only_patterns[] = {
	"*-cert-v01@openssh.com", NULL
};

/* Markers in KEXINIT that are not methods (RFC 8308, OpenSSH PROTOCOL). */
static const char *const pseudo_patterns[] = {
	"ext-info-*", "kex-strict-*", NULL
};

static const int libssh2_methods[KB_UP_ALG_COUNT] = {
	LIBSSH2_METHOD_KEX, LIBSSH2_METHOD_HOSTKEY,
	LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_MAC_CS
};

const char *
kb_up_alg_category_str(enum kb_up_alg_category cat)
{
	if ((unsigned int)cat >= KB_UP_ALG_COUNT)
		return "?";
	return category_names[cat];
}

static bool
name_in(const char *name, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(name, *set) == 0)
			return true;
	return false;
}

static bool
name_matches_any(const char *name, const char *const *patterns)
{
	for (; *patterns != NULL; patterns++)
		if (fnmatch(*patterns, name, 0) == 0)
			return true;
	return false;
}

static bool
list_has(const struct alg_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->name[i], name) == 0)
			return true;
	return false;
}

static void
list_add(struct alg_list *l, const char *name)
{
	if (l->count < ALG_MAX && !list_has(l, name))
		l->name[l->count++] = name;
}

static size_t
rank_of(enum kb_up_alg_category cat, const char *name)
{
	const char *const *r = rankings[cat];
	size_t i;

	for (i = 0; r[i] != NULL; i++)
		if (strcmp(r[i], name) == 0)
			return i;
	return i;
}

/*
 * The usable names of supported, ranked: "none" and pseudo-algorithms
 * dropped; legacy names and certificates kept only in *all (for explicit
 * requests).
 */
static void
list_build_supported(enum kb_up_alg_category cat, const char *const *supported,
    struct alg_list *all, struct alg_list *def)
{
	size_t n = 0, i, j;

	all->count = def->count = 0;
	for (i = 0; supported[i] != NULL; i++) {
		if (strcmp(supported[i], "none") == 0 ||
		    name_matches_any(supported[i], pseudo_patterns))
			continue;
		list_add(all, supported[i]);
	}

	/* Stable insertion sort by rank: unranked names keep libssh2's order. */
	n = all->count;
	for (i = 1; i < n; i++) {
		const char *cur = all->name[i];
		size_t r = rank_of(cat, cur);

		for (j = i; j > 0 && rank_of(cat, all->name[j - 1]) > r; j--)
			all->name[j] = all->name[j - 1];
		all->name[j] = cur;
	}

	for (i = 0; i < n; i++)
		if (!name_in(all->name[i], legacy_names) &&
		    !name_matches_any(all->name[i], named_only_patterns))
			list_add(def, all->name[i]);
}

static void
list_join(const struct alg_list *l, char *out, size_t outlen)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->count && off < outlen; i++)
		off += (size_t)snprintf(out + off, outlen - off, "%s%s",
		    i > 0 ? "," : "", l->name[i]);
}

static int
err_unknown(enum kb_up_alg_category cat, const char *name,
    const struct alg_list *all, char *err, size_t errlen)
{
	char names[1024];

	list_join(all, names, sizeof(names));
	snprintf(err, errlen, _("%s: \"%s\" is not supported by libssh2 %s; "
	    "supported: %s"), kb_up_alg_category_str(cat), name,
	    LIBSSH2_VERSION, names);
	return KB_ERR_CONFIG_INVALID;
}

static const char *
list_find(const struct alg_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->name[i], name) == 0)
			return l->name[i];
	return NULL;
}

/*
 * Adds to out what one element of a list names: a literal name from all
 * (legacy ones included, because the route names them), or every
 * name of def a pattern matches (so "*" never pulls in a legacy cipher).
 * The strings stored are libssh2's, which outlive the spec.
 */
static int
list_add_element(enum kb_up_alg_category cat, const char *elem,
    const struct alg_list *all, const struct alg_list *def,
    struct alg_list *out, char *err, size_t errlen)
{
	const char *found;
	bool matched = false;

	if (strcmp(elem, "none") == 0) {
		snprintf(err, errlen, _("%s: \"none\" is never offered upstream"),
		    kb_up_alg_category_str(cat));
		return KB_ERR_CONFIG_INVALID;
	}
	if (strpbrk(elem, "*?[") == NULL) {
		if ((found = list_find(all, elem)) == NULL)
			return err_unknown(cat, elem, all, err, errlen);
		list_add(out, found);
		return KB_OK;
	}
	for (size_t i = 0; i < def->count; i++) {
		if (fnmatch(elem, def->name[i], 0) == 0) {
			list_add(out, def->name[i]);
			matched = true;
		}
	}
	if (!matched)
		return err_unknown(cat, elem, all, err, errlen);
	return KB_OK;
}

/* Removes from l every name an element of a "-" list matches. */
static int
list_remove_element(enum kb_up_alg_category cat, const char *elem,
    const struct alg_list *all, struct alg_list *l, char *err, size_t errlen)
{
	size_t i, j;

	if (strpbrk(elem, "*?[") == NULL && strcmp(elem, "none") != 0 &&
	    list_find(all, elem) == NULL)
		return err_unknown(cat, elem, all, err, errlen);
	for (i = j = 0; i < l->count; i++)
		if (fnmatch(elem, l->name[i], 0) != 0)
			l->name[j++] = l->name[i];
	l->count = j;
	return KB_OK;
}

static char *
str_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* Applies each element of names (comma-separated, modified) to out. */
static int
list_apply(enum kb_up_alg_category cat, char mode, char *names,
    const struct alg_list *all, const struct alg_list *def,
    struct alg_list *out, char *err, size_t errlen)
{
	char *save = NULL, *tok;
	int r;

	for (tok = strtok_r(names, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		tok = str_trim(tok);
		if (*tok == '\0')
			continue;
		if (mode == '-')
			r = list_remove_element(cat, tok, all, out, err, errlen);
		else
			r = list_add_element(cat, tok, all, def, out, err, errlen);
		if (r != KB_OK)
			return r;
	}
	return KB_OK;
}

int
kb_up_alg_resolve(enum kb_up_alg_category cat, const char *const *supported,
    const char *spec, char **out, bool *legacy, char *err, size_t errlen)
{
	struct alg_list all, def, res = { .count = 0 };
	char buf[1024], joined[1024], *names, mode = '\0';
	int r;

	*out = NULL;
	*legacy = false;
	if ((unsigned int)cat >= KB_UP_ALG_COUNT || supported == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	list_build_supported(cat, supported, &all, &def);

	if (spec == NULL)
		spec = "";
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, _("%s: list too long"),
		    kb_up_alg_category_str(cat));
		return KB_ERR_CONFIG_INVALID;
	}
	memcpy(buf, spec, strlen(spec) + 1);
	names = str_trim(buf);
	if (*names == '+' || *names == '-' || *names == '^')
		mode = *names++;

	/*
	 * '+': the default, then these; '-': the default without these;
	 * '^': these, then the default; plain: these alone; empty: default.
	 */
	if (mode == '+' || mode == '-' || *names == '\0')
		res = def;
	r = list_apply(cat, mode, names, &all, &def, &res, err, errlen);
	if (r == KB_OK && mode == '^')
		for (size_t i = 0; i < def.count; i++)
			list_add(&res, def.name[i]);
	if (r != KB_OK)
		return r;

	if (res.count == 0) {
		snprintf(err, errlen, _("%s: the list \"%s\" leaves no method "
		    "to offer"), kb_up_alg_category_str(cat), spec);
		return KB_ERR_CONFIG_INVALID;
	}
	for (size_t i = 0; i < res.count; i++)
		*legacy = *legacy || name_in(res.name[i], legacy_names);
	list_join(&res, joined, sizeof(joined));
	if ((*out = strdup(joined)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	return KB_OK;
}

int
up_legacy_provider_load(void)
{
	static OSSL_PROVIDER *legacy, *dflt;

	if (legacy != NULL && dflt != NULL)
		return KB_OK;
	if (dflt == NULL)
		dflt = OSSL_PROVIDER_load(NULL, "default");
	if (legacy == NULL)
		legacy = OSSL_PROVIDER_load(NULL, "legacy");
	return legacy != NULL && dflt != NULL ? KB_OK : KB_ERR_CRYPTO;
}

/* Asks libssh2 for its methods of one category; frees with libssh2_free. */
static int
algs_resolve_one(LIBSSH2_SESSION *ssh, enum kb_up_alg_category cat,
    const char *spec, char **out, bool *legacy, char *err, size_t errlen)
{
	const char **algs = NULL;
	const char *names[ALG_MAX + 1];
	int n, r;

	n = libssh2_session_supported_algs(ssh, libssh2_methods[cat], &algs);
	if (n <= 0) {
		snprintf(err, errlen, _("%s: libssh2 lists no methods"),
		    kb_up_alg_category_str(cat));
		return KB_ERR_INTERNAL;
	}
	if (n > ALG_MAX)
		n = ALG_MAX;
	for (int i = 0; i < n; i++)
		names[i] = algs[i];
	names[n] = NULL;
	r = kb_up_alg_resolve(cat, names, spec, out, legacy, err, errlen);
	libssh2_free(ssh, algs);
	return r;
}

int
kb_up_algs_resolve(struct kb_up_algs *algs,
    const char *const spec[KB_UP_ALG_COUNT], char *err, size_t errlen)
{
	LIBSSH2_SESSION *ssh = NULL;
	bool legacy;
	int r;

	memset(algs, 0, sizeof(*algs));
	if ((r = up_libssh2_init()) != KB_OK) {
		snprintf(err, errlen, "%s", _("libssh2 cannot be initialised"));
		return r;
	}
	if ((ssh = libssh2_session_init()) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		snprintf(err, errlen, "%s", kb_err_str(r));
		goto out;
	}
	for (int cat = 0; cat < KB_UP_ALG_COUNT; cat++) {
		r = algs_resolve_one(ssh, (enum kb_up_alg_category)cat,
		    spec != NULL ? spec[cat] : NULL, &algs->list[cat], &legacy,
		    err, errlen);
		if (r != KB_OK)
			goto out;
		algs->legacy = algs->legacy || legacy;
	}

	/* An explicitly named legacy cipher must really work, or fail now. */
	if (algs->legacy && (r = up_legacy_provider_load()) != KB_OK)
		snprintf(err, errlen, "%s", _("cipher: the list names a cipher "
		    "that needs OpenSSL's legacy provider, which cannot be "
		    "loaded (is ossl-modules/legacy.so installed?)"));
 out:
	if (ssh != NULL)
		libssh2_session_free(ssh);
	if (r != KB_OK)
		kb_up_algs_free(algs);
	return r;
}

void
kb_up_algs_free(struct kb_up_algs *algs)
{
	if (algs == NULL)
		return;
	for (int cat = 0; cat < KB_UP_ALG_COUNT; cat++) {
		free(algs->list[cat]);
		algs->list[cat] = NULL;
	}
	algs->legacy = false;
}
