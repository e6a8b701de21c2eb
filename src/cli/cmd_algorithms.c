/*
 * kexbridge algorithms: what the linked libraries can really do. The client
 * side is kexbridge's own SSH server; the upstream side is every method the
 * linked libssh2 lists, each tried against OpenSSL as loaded now, then
 * again with OpenSSL's legacy provider loaded.
 */
#include "config.h"

#include <fnmatch.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libssh2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "cli.h"
#include "kexbridge/cipher.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/i18n.h"
#include "kexbridge/json.h"
#include "kexbridge/kex.h"

#define ALGS_MAX	64	/* names per category; libssh2 1.11 lists fewer than 30 */

enum algs_usable {
	ALGS_UNKNOWN,		/* no OpenSSL requirement known for the name */
	ALGS_NO,
	ALGS_YES,
};

/* The OpenSSL 3 algorithms one SSH method name needs; NULL: none. */
struct algs_need {
	const char *pattern;	/* fnmatch(3) pattern of method names */
	const char *cipher;	/* EVP_CIPHER_fetch name */
	const char *digest;	/* EVP_MD_fetch name */
	const char *keymgmt;	/* EVP_KEYMGMT_fetch name */
};

/* First match wins, so specific patterns come before general ones. */
static const struct algs_need needs[] = {
	{ "ext-info-*", NULL, NULL, NULL },
	{ "kex-strict-*", NULL, NULL, NULL },
	{ "curve25519-sha256*", NULL, "SHA2-256", "X25519" },
	{ "curve448-sha512", NULL, "SHA2-512", "X448" },
	{ "ecdh-sha2-nistp256", NULL, "SHA2-256", "EC" },
	{ "ecdh-sha2-nistp384", NULL, "SHA2-384", "EC" },
	{ "ecdh-sha2-nistp521", NULL, "SHA2-512", "EC" },
	{ "diffie-hellman-*-sha512", NULL, "SHA2-512", "DH" },
	{ "diffie-hellman-*-sha256", NULL, "SHA2-256", "DH" },
	{ "diffie-hellman-*-sha1", NULL, "SHA1", "DH" },
	{ "ssh-ed25519*", NULL, NULL, "ED25519" },
	{ "ecdsa-sha2-nistp256*", NULL, "SHA2-256", "EC" },
	{ "ecdsa-sha2-nistp384*", NULL, "SHA2-384", "EC" },
	{ "ecdsa-sha2-nistp521*", NULL, "SHA2-512", "EC" },
	{ "rsa-sha2-512*", NULL, "SHA2-512", "RSA" },
	{ "rsa-sha2-256*", NULL, "SHA2-256", "RSA" },
	{ "ssh-rsa*", NULL, "SHA1", "RSA" },
	{ "ssh-dss*", NULL, "SHA1", "DSA" },
	{ "chacha20-poly1305@openssh.com", "ChaCha20", NULL, NULL },
	{ "aes128-gcm@openssh.com", "AES-128-GCM", NULL, NULL },
	{ "aes256-gcm@openssh.com", "AES-256-GCM", NULL, NULL },
	{ "aes128-ctr", "AES-128-CTR", NULL, NULL },
	{ "aes192-ctr", "AES-192-CTR", NULL, NULL },
	{ "aes256-ctr", "AES-256-CTR", NULL, NULL },
	{ "aes128-cbc", "AES-128-CBC", NULL, NULL },
	{ "aes192-cbc", "AES-192-CBC", NULL, NULL },
	{ "aes256-cbc", "AES-256-CBC", NULL, NULL },
	{ "rijndael-cbc@lysator.liu.se", "AES-256-CBC", NULL, NULL },
	{ "3des-cbc", "DES-EDE3-CBC", NULL, NULL },
	{ "blowfish-cbc", "BF-CBC", NULL, NULL },
	{ "cast128-cbc", "CAST5-CBC", NULL, NULL },
	{ "arcfour*", "RC4", NULL, NULL },
	{ "hmac-sha2-256*", NULL, "SHA2-256", NULL },
	{ "hmac-sha2-512*", NULL, "SHA2-512", NULL },
	{ "hmac-sha1*", NULL, "SHA1", NULL },
	{ "hmac-md5*", NULL, "MD5", NULL },
	{ "hmac-ripemd160*", NULL, "RIPEMD160", NULL },
	{ NULL, NULL, NULL, NULL },
};

struct algs_entry {
	char name[96];
	enum algs_usable now;		/* with the providers loaded at start */
	enum algs_usable legacy;	/* with the legacy provider loaded too */
};

struct algs_category {
	const char *key;		/* JSON key and heading */
	struct algs_entry entry[ALGS_MAX];
	size_t count;
};

/* The four categories of one side, in KEXINIT order (RFC 4253 section 7.1). */
struct algs_side {
	struct algs_category cat[4];
};

struct algs_report {
	struct algs_side client;
	struct algs_side upstream;
	const char *libssh2_version;
	bool legacy_loaded;
	char error[256];		/* why the upstream side is empty, or "" */
};

static const char *const category_keys[4] = { "kex", "hostkey", "cipher", "mac" };
static const int libssh2_methods[4] = {
	LIBSSH2_METHOD_KEX, LIBSSH2_METHOD_HOSTKEY, LIBSSH2_METHOD_CRYPT_CS,
	LIBSSH2_METHOD_MAC_CS,
};

/* Tries to fetch what name needs from OpenSSL's default library context. */
static enum algs_usable
algs_try(const char *name)
{
	const struct algs_need *n;
	EVP_CIPHER *cipher = NULL;
	EVP_KEYMGMT *keymgmt = NULL;
	EVP_MD *md = NULL;
	bool ok = true;

	for (n = needs; n->pattern != NULL; n++) {
		if (fnmatch(n->pattern, name, 0) == 0)
			break;
	}
	if (n->pattern == NULL)
		return ALGS_UNKNOWN;
	if (n->cipher != NULL)
		ok = ok && (cipher = EVP_CIPHER_fetch(NULL, n->cipher, NULL)) != NULL;
	if (n->digest != NULL)
		ok = ok && (md = EVP_MD_fetch(NULL, n->digest, NULL)) != NULL;
	if (n->keymgmt != NULL)
		ok = ok && (keymgmt = EVP_KEYMGMT_fetch(NULL, n->keymgmt, NULL)) != NULL;
	EVP_CIPHER_free(cipher);
	EVP_MD_free(md);
	EVP_KEYMGMT_free(keymgmt);
	return ok ? ALGS_YES : ALGS_NO;
}

static void
algs_add(struct algs_category *cat, const char *name, size_t len)
{
	struct algs_entry *e;

	if (cat->count >= ALGS_MAX || len == 0)
		return;
	e = &cat->entry[cat->count++];
	snprintf(e->name, sizeof(e->name), "%.*s", (int)len, name);
	e->now = algs_try(e->name);
}

/* Adds each name of a comma-separated list. */
static void
algs_add_list(struct algs_category *cat, const char *list)
{
	const char *end;

	while (list != NULL && *list != '\0') {
		end = strchr(list, ',');
		algs_add(cat, list, end != NULL ? (size_t)(end - list) : strlen(list));
		list = end != NULL ? end + 1 : NULL;
	}
}

/*
 * The host key algorithms kexbridge serves: a key of each type is generated,
 * so a type OpenSSL cannot make shows up as unusable.
 */
static void
algs_client_hostkeys(struct algs_category *cat)
{
	static const struct {
		enum kb_hostkey_type type;
		const char *algorithms;	/* shown when the key cannot be made */
	} types[] = {
		{ KB_HOSTKEY_ED25519, "ssh-ed25519" },
		{ KB_HOSTKEY_ECDSA_P256, "ecdsa-sha2-nistp256" },
		{ KB_HOSTKEY_RSA, "rsa-sha2-512,rsa-sha2-256,ssh-rsa" },
	};
	struct kb_hostkey *key;
	size_t i, first, j;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		first = cat->count;
		if (kb_hostkey_generate(types[i].type, 2048, &key) == 0) {
			algs_add_list(cat, kb_hostkey_algorithms(key));
			kb_hostkey_free(key);
			continue;
		}
		algs_add_list(cat, types[i].algorithms);
		for (j = first; j < cat->count; j++)
			cat->entry[j].now = ALGS_NO;
	}
}

static void
algs_client_side(struct algs_side *side)
{
	algs_add_list(&side->cat[0], kb_kex_names());
	algs_client_hostkeys(&side->cat[1]);
	algs_add_list(&side->cat[2], kb_cipher_names());
	algs_add_list(&side->cat[3], kb_mac_names());
}

/* Lists every method libssh2 supports; on failure writes why to rep->error. */
static void
algs_upstream_side(struct algs_report *rep)
{
	LIBSSH2_SESSION *ssh;
	const char **names = NULL;
	int c, i, n;

	rep->libssh2_version = libssh2_version(0);
	if (libssh2_init(0) != 0) {
		snprintf(rep->error, sizeof(rep->error), "%s",
		    _("libssh2 cannot be initialised"));
		return;
	}
	if ((ssh = libssh2_session_init()) == NULL) {
		snprintf(rep->error, sizeof(rep->error), "%s", _("out of memory"));
		libssh2_exit();
		return;
	}
	for (c = 0; c < 4; c++) {
		n = libssh2_session_supported_algs(ssh, libssh2_methods[c], &names);
		for (i = 0; i < n; i++)
			algs_add(&rep->upstream.cat[c], names[i], strlen(names[i]));
		if (n > 0)
			libssh2_free(ssh, names);
	}
	libssh2_session_free(ssh);
	libssh2_exit();
}

/* Loads the legacy provider (and default, which loading one turns off) and retries. */
static void
algs_try_legacy(struct algs_report *rep)
{
	struct algs_side *sides[2] = { &rep->client, &rep->upstream };
	struct algs_entry *e;
	size_t s, c, i;

	rep->legacy_loaded = OSSL_PROVIDER_load(NULL, "default") != NULL &&
	    OSSL_PROVIDER_load(NULL, "legacy") != NULL;
	for (s = 0; s < 2; s++) {
		for (c = 0; c < 4; c++) {
			for (i = 0; i < sides[s]->cat[c].count; i++) {
				e = &sides[s]->cat[c].entry[i];
				e->legacy = e->now == ALGS_NO && rep->legacy_loaded ?
				    algs_try(e->name) : e->now;
			}
		}
	}
}

static const char *
algs_status_text(const struct algs_entry *e)
{
	if (e->now == ALGS_YES)
		return _("usable");
	if (e->legacy == ALGS_YES)
		return _("needs OpenSSL's legacy provider");
	if (e->now == ALGS_NO)
		return _("not usable with this OpenSSL");
	return _("listed; no OpenSSL check known");
}

static void
algs_print_side(const struct algs_side *side, const char *title)
{
	const struct algs_category *cat;
	size_t c, i;

	printf("%s\n", title);
	for (c = 0; c < 4; c++) {
		cat = &side->cat[c];
		printf("  %s\n", cat->key);
		for (i = 0; i < cat->count; i++)
			printf("    %-42s %s\n", cat->entry[i].name,
			    algs_status_text(&cat->entry[i]));
	}
}

static void
algs_print_text(const struct algs_report *rep)
{
	printf(_("kexbridge %s, libssh2 %s, %s\n"), PACKAGE_VERSION,
	    rep->libssh2_version != NULL ? rep->libssh2_version : "?",
	    OpenSSL_version(OPENSSL_VERSION));
	printf(_("OpenSSL legacy provider: %s\n\n"),
	    rep->legacy_loaded ? _("available") : _("not available"));
	algs_print_side(&rep->client, _("Client side (kexbridge as the SSH server):"));
	printf("\n");
	algs_print_side(&rep->upstream, _("Upstream side (libssh2 as the SSH client):"));
	if (rep->error[0] != '\0')
		printf(_("  upstream methods unknown: %s\n"), rep->error);
}

static const char *
algs_usable_json(enum algs_usable u)
{
	switch (u) {
	case ALGS_YES:
		return "yes";
	case ALGS_NO:
		return "no";
	default:
		return "unknown";
	}
}

static void
algs_json_side(struct kb_json *json, const char *key, const struct algs_side *side,
    bool legacy)
{
	const struct algs_entry *e;
	size_t c, i;

	kb_json_object_begin(json, key);
	for (c = 0; c < 4; c++) {
		kb_json_array_begin(json, side->cat[c].key);
		for (i = 0; i < side->cat[c].count; i++) {
			e = &side->cat[c].entry[i];
			kb_json_object_begin(json, NULL);
			kb_json_str(json, "name", e->name);
			kb_json_str(json, "usable", algs_usable_json(e->now));
			if (legacy)
				kb_json_str(json, "usable_with_legacy_provider",
				    algs_usable_json(e->legacy));
			kb_json_object_end(json);
		}
		kb_json_array_end(json);
	}
	kb_json_object_end(json);
}

static int
algs_print_json(const struct algs_report *rep)
{
	struct kb_json *json = kb_json_new();
	const char *out;

	if (json == NULL)
		return KB_EXIT_ERROR;
	kb_json_str(json, "kexbridge", PACKAGE_VERSION);
	kb_json_str(json, "libssh2", rep->libssh2_version != NULL ? rep->libssh2_version : "");
	kb_json_str(json, "openssl", OpenSSL_version(OPENSSL_VERSION));
	kb_json_bool(json, "legacy_provider", rep->legacy_loaded);
	algs_json_side(json, "client", &rep->client, false);
	algs_json_side(json, "upstream", &rep->upstream, true);
	if (rep->error[0] != '\0')
		kb_json_str(json, "error", rep->error);
	if ((out = kb_json_finish(json)) != NULL)
		printf("%s\n", out);
	kb_json_free(json);
	return out != NULL ? KB_EXIT_OK : KB_EXIT_ERROR;
}

static void
algs_usage(FILE *out)
{
	fprintf(out, "%s", _("Usage: kexbridge algorithms [--json]\n"
	    "\n"
	    "Lists the algorithms this build can use: towards the client (kexbridge's\n"
	    "own SSH server) and towards the upstream (every method of the linked\n"
	    "libssh2), each checked against OpenSSL as loaded now and with OpenSSL's\n"
	    "legacy provider.\n"
	    "\n"
	    "Options:\n"
	    "  --json       write one JSON object instead of the table\n"
	    "  -h, --help   show this help and exit\n"));
}

int
cmd_algorithms(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct algs_report rep;	/* about 50 KiB: kept off the stack */
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			algs_usage(stdout);
			return KB_EXIT_OK;
		default:
			return cli_bad_option("algorithms", argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, _("kexbridge algorithms: unexpected argument '%s'\n"), argv[optind]);
		return KB_EXIT_ERROR;
	}

	memset(&rep, 0, sizeof(rep));
	for (c = 0; c < 4; c++) {
		rep.client.cat[c].key = category_keys[c];
		rep.upstream.cat[c].key = category_keys[c];
	}
	algs_client_side(&rep.client);
	algs_upstream_side(&rep);
	algs_try_legacy(&rep);

	if (json)
		return algs_print_json(&rep);
	algs_print_text(&rep);
	return KB_EXIT_OK;
}
