/* Unit tests for built-in client profiles and profile files. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kexbridge/err.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/profile.h"
#include "kexbridge/version.h"

/* Writes text to a new temporary file; the caller unlinks and frees the path. */
static char *
write_temp(const char *text)
{
	char *path = strdup("/tmp/kb-profile-XXXXXX");
	FILE *f;
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text as a profile file; returns the error code, err gets the message. */
static int
load_text(struct kb_profile_set *set, const char *text, char *err, size_t errlen)
{
	char *path = write_temp(text);
	int r;

	err[0] = '\0';
	r = kb_profile_load_file(set, path, err, errlen);
	unlink(path);
	free(path);
	return r;
}

static void
profile_builtin_ucsm(void **state)
{
	struct kb_profile_set set = { NULL, 0 };
	const struct kb_profile *p;

	(void)state;
	assert_int_equal(kb_profile_add_builtins(&set), 0);
	p = kb_profile_find(&set, "ucsm-4.0");
	assert_non_null(p);
	assert_string_equal(p->description,
	    "Cisco UCS fabric interconnect, UCS Manager 4.0(2a) and later");
	assert_string_equal(p->offer.lists[KB_CAT_KEX].raw,
	    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
	    "diffie-hellman-group18-sha512");
	assert_string_equal(p->offer.lists[KB_CAT_CIPHER_S2C].raw,
	    "aes128-ctr,aes192-ctr,aes256-ctr");
	assert_string_equal(p->offer.lists[KB_CAT_MAC_C2S].raw, "hmac-sha2-256,hmac-sha2-512");
	assert_int_equal(p->offer.unrestricted, (1u << KB_CAT_HOSTKEY) |
	    (1u << KB_CAT_COMP_C2S) | (1u << KB_CAT_COMP_S2C));
	/* Adding them again does not duplicate them. */
	assert_int_equal(kb_profile_add_builtins(&set), 0);
	assert_int_equal(set.count, 2);
	kb_profile_set_free(&set);
}

static void
profile_builtin_openssh92(void **state)
{
	struct kb_profile_set set = { NULL, 0 };
	const struct kb_profile *p;

	(void)state;
	assert_int_equal(kb_profile_add_builtins(&set), 0);
	p = kb_profile_find(&set, "openssh-9.2");
	assert_non_null(p);
	assert_int_equal(p->offer.unrestricted, 0);
	/* The client appends its ext-info and strict-kex markers. */
	assert_true(kb_namelist_contains(&p->offer.lists[KB_CAT_KEX], "ext-info-c"));
	assert_true(kb_namelist_contains(&p->offer.lists[KB_CAT_KEX],
	    "kex-strict-c-v00@openssh.com"));
	assert_string_equal(p->offer.lists[KB_CAT_CIPHER_C2S].names[0],
	    "chacha20-poly1305@openssh.com");
	assert_string_equal(p->offer.lists[KB_CAT_COMP_C2S].raw, "none,zlib@openssh.com,zlib");
	assert_int_equal(kb_kexinit_flags(&p->offer), 0);
	assert_null(kb_profile_find(&set, "no-such-profile"));
	kb_profile_set_free(&set);
}

static void
profile_load_file(void **state)
{
	struct kb_profile_set set = { NULL, 0 };
	const struct kb_profile *p;
	char err[512];

	(void)state;
	assert_int_equal(load_text(&set,
	    "# a comment\n"
	    "[legacy-box]\n"
	    "description = Old backup server client\n"
	    "version = SSH-2.0-OpenSSH_5.3\n"
	    "kex = diffie-hellman-group14-sha1,diffie-hellman-group1-sha1\n"
	    "cipher_c2s = aes128-cbc\n"
	    "cipher_s2c = 3des-cbc\n"
	    "mac = hmac-sha1\n"
	    "\n"
	    "[second]\n"
	    "comp = none\n", err, sizeof(err)), 0);
	assert_int_equal(set.count, 2);
	p = kb_profile_find(&set, "legacy-box");
	assert_non_null(p);
	assert_string_equal(p->description, "Old backup server client");
	assert_string_equal(p->version, "SSH-2.0-OpenSSH_5.3");
	assert_string_equal(p->offer.lists[KB_CAT_CIPHER_C2S].raw, "aes128-cbc");
	assert_string_equal(p->offer.lists[KB_CAT_CIPHER_S2C].raw, "3des-cbc");
	assert_string_equal(p->offer.lists[KB_CAT_MAC_S2C].raw, "hmac-sha1");
	assert_int_equal(p->offer.unrestricted, (1u << KB_CAT_HOSTKEY) |
	    (1u << KB_CAT_COMP_C2S) | (1u << KB_CAT_COMP_S2C));
	p = kb_profile_find(&set, "second");
	assert_non_null(p);
	assert_string_equal(p->offer.lists[KB_CAT_COMP_S2C].raw, "none");
	assert_true((p->offer.unrestricted & (1u << KB_CAT_KEX)) != 0);
	kb_profile_set_free(&set);
}

struct bad_file {
	const char *text;
	const char *expected;	/* substring of the message after the path */
};

static const struct bad_file bad_files[] = {
	{ "[a]\nkex = x\nciphers = aes128-ctr\n", ":3: unknown key \"ciphers\"" },
	{ "kex = x\n", ":1: \"kex\" is outside a profile" },
	{ "[a]\nkex = x\n[b]\nkex = y\n[a]\nmac = z\n", ":5: profile \"a\" is defined twice" },
	{ "[ucsm-4.0]\nkex = x\n", ":1: profile \"ucsm-4.0\" is defined twice" },
	{ "[a]\nkex = x\nkex = y\n", ":3: \"kex\" sets a value that an earlier line" },
	{ "[a]\ncipher = x\ncipher_s2c = y\n", ":3: \"cipher_s2c\" sets a value" },
	{ "[a]\nkex = a, b\n", ":2: invalid name-list for kex" },
	{ "[a]\nversion = OpenSSH_9.2\n", ":2: invalid version" },
	{ "[bad name]\nkex = x\n", ":1: invalid profile name" },
	{ "[a]\nkex = x\njunk line\n", ":3: expected \"key = value\"" },
};

static void
profile_rejects_bad_files(void **state)
{
	struct kb_profile_set set = { NULL, 0 };
	char err[512];
	size_t i;

	(void)state;
	assert_int_equal(kb_profile_add_builtins(&set), 0);
	for (i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		assert_int_equal(load_text(&set, bad_files[i].text, err, sizeof(err)),
		    KB_ERR_CONFIG_INVALID);
		if (strstr(err, bad_files[i].expected) == NULL)
			fail_msg("file %zu: expected \"%s\" in \"%s\"", i,
			    bad_files[i].expected, err);
		assert_true(strncmp(err, "/tmp/kb-profile-", 16) == 0);
		/* A rejected file adds nothing. */
		assert_int_equal(set.count, 2);
	}
	kb_profile_set_free(&set);
}

static void
profile_missing_file(void **state)
{
	struct kb_profile_set set = { NULL, 0 };
	char err[512];

	(void)state;
	assert_int_equal(kb_profile_load_file(&set, "/nonexistent/kb.profile", err,
	    sizeof(err)), KB_ERR_CONFIG_INVALID);
	assert_non_null(strstr(err, "/nonexistent/kb.profile: "));
}

static void
assert_offers_equal(const struct kb_kexinit *a, const struct kb_kexinit *b)
{
	int cat;

	assert_int_equal(a->unrestricted, b->unrestricted);
	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		if ((a->unrestricted & (1u << cat)) != 0)
			continue;
		assert_string_equal(a->lists[cat].raw != NULL ? a->lists[cat].raw : "",
		    b->lists[cat].raw != NULL ? b->lists[cat].raw : "");
	}
}

/* Writes offer as a profile, loads it back and compares. */
static void
round_trip(const char *name, const char *description, const struct kb_version *version,
    const struct kb_kexinit *offer)
{
	struct kb_profile_set set = { NULL, 0 };
	const struct kb_profile *p;
	char *text = NULL, err[512];
	size_t len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(kb_profile_write(f, name, description, version, offer), 0);
	fclose(f);
	if (load_text(&set, text, err, sizeof(err)) != 0)
		fail_msg("written profile does not load: %s\n%s", err, text);
	free(text);
	p = kb_profile_find(&set, name);
	assert_non_null(p);
	if (description != NULL)
		assert_string_equal(p->description, description);
	if (version != NULL)
		assert_string_equal(p->version, version->line);
	assert_offers_equal(offer, &p->offer);
	kb_profile_set_free(&set);
}

static void
profile_write_reads_back(void **state)
{
	struct kb_profile_set set = { NULL, 0 };
	struct kb_kexinit offer;
	struct kb_version version;
	size_t i;
	int cat;

	(void)state;
	assert_int_equal(kb_profile_add_builtins(&set), 0);
	for (i = 0; i < set.count; i++)
		round_trip("copy", set.profiles[i].description, NULL, &set.profiles[i].offer);
	kb_profile_set_free(&set);

	/* A captured offer with different directions, duplicates and an empty list. */
	memset(&offer, 0, sizeof(offer));
	for (cat = 0; cat < KB_CAT_COUNT; cat++)
		assert_int_equal(kb_kexinit_set_list(&offer, cat, "none"), 0);
	assert_int_equal(kb_kexinit_set_list(&offer, KB_CAT_KEX,
	    "diffie-hellman-group1-sha1,ext-info-c"), 0);
	assert_int_equal(kb_kexinit_set_list(&offer, KB_CAT_CIPHER_C2S, "aes128-cbc"), 0);
	assert_int_equal(kb_kexinit_set_list(&offer, KB_CAT_MAC_C2S, "hmac-sha1,hmac-sha1"), 0);
	assert_int_equal(kb_kexinit_set_list(&offer, KB_CAT_COMP_S2C, ""), 0);
	assert_int_equal(kb_version_parse_line("SSH-2.0-JSCH-0.1.54", 19, &version), 0);
	round_trip("captured", "JSch; captured 2024", &version, &offer);

	/* What a file cannot carry is rejected, not written wrong. */
	assert_int_equal(kb_kexinit_set_list(&offer, KB_CAT_KEX, "a b"), 0);
	assert_int_equal(kb_profile_write(stdout, "x", NULL, NULL, &offer),
	    KB_ERR_INVALID_ARGUMENT);
	assert_int_equal(kb_kexinit_set_list(&offer, KB_CAT_KEX, "a"), 0);
	assert_int_equal(kb_profile_write(stdout, "bad name", NULL, NULL, &offer),
	    KB_ERR_INVALID_ARGUMENT);
	assert_int_equal(kb_profile_write(stdout, "x", "two\nlines", NULL, &offer),
	    KB_ERR_INVALID_ARGUMENT);
	kb_kexinit_free(&offer);
}

static void
profile_long_list_loads(void **state)
{
	struct kb_profile_set set = { NULL, 0 };
	char *text, err[512];
	size_t len, i;
	FILE *f;

	(void)state;
	/* 300 names, far beyond inih's default 200-byte line. */
	f = open_memstream(&text, &len);
	assert_non_null(f);
	fputs("[long]\nkex = ", f);
	for (i = 0; i < 300; i++)
		fprintf(f, "%sname-%03zu@example.com", i > 0 ? "," : "", i);
	fputs("\n", f);
	fclose(f);
	assert_int_equal(load_text(&set, text, err, sizeof(err)), 0);
	free(text);
	assert_int_equal(kb_profile_find(&set, "long")->offer.lists[KB_CAT_KEX].count, 300);
	kb_profile_set_free(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(profile_builtin_ucsm),
		cmocka_unit_test(profile_builtin_openssh92),
		cmocka_unit_test(profile_load_file),
		cmocka_unit_test(profile_rejects_bad_files),
		cmocka_unit_test(profile_missing_file),
		cmocka_unit_test(profile_write_reads_back),
		cmocka_unit_test(profile_long_list_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
