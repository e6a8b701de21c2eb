/*
 * Unit tests for the upstream algorithm lists (kexbridge/upstream.h):
 * OpenSSH list syntax over a fixed set of supported names, and the real
 * lists of the linked libssh2.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kexbridge/err.h"
#include "kexbridge/upstream.h"

/* As libssh2 1.10 lists them: unranked, with "none" and legacy names. */
static const char *const kex_supported[] = {
	"diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1",
	"diffie-hellman-group-exchange-sha1", "curve25519-sha256",
	"diffie-hellman-group14-sha256", "ecdh-sha2-nistp256",
	"diffie-hellman-group-exchange-sha256", "ext-info-c", NULL
};

static const char *const cipher_supported[] = {
	"3des-cbc", "arcfour", "aes128-cbc", "aes256-ctr", "blowfish-cbc",
	"aes128-ctr", "cast128-cbc", "aes256-cbc", "arcfour128", "none", NULL
};

struct resolved {
	int r;
	char *list;
	bool legacy;
	char err[1024];
};

static struct resolved
resolve(enum kb_up_alg_category cat, const char *const *supported,
    const char *spec)
{
	struct resolved res = { .err = "" };

	res.r = kb_up_alg_resolve(cat, supported, spec, &res.list, &res.legacy,
	    res.err, sizeof(res.err));
	return res;
}

static void
expect_list(enum kb_up_alg_category cat, const char *const *supported,
    const char *spec, const char *want)
{
	struct resolved res = resolve(cat, supported, spec);

	assert_int_equal(res.r, KB_OK);
	assert_non_null(res.list);
	assert_string_equal(res.list, want);
	free(res.list);
}

static void
expect_error(enum kb_up_alg_category cat, const char *const *supported,
    const char *spec, const char *in_message)
{
	struct resolved res = resolve(cat, supported, spec);

	assert_int_equal(res.r, KB_ERR_CONFIG_INVALID);
	assert_null(res.list);
	assert_non_null(strstr(res.err, in_message));
}

static void
alg_default_ranks_strongest_first(void **state)
{
	(void)state;
	expect_list(KB_UP_ALG_KEX, kex_supported, NULL,
	    "curve25519-sha256,ecdh-sha2-nistp256,"
	    "diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256,"
	    "diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,"
	    "diffie-hellman-group1-sha1");
}

static void
alg_default_drops_legacy_and_none(void **state)
{
	(void)state;
	expect_list(KB_UP_ALG_CIPHER, cipher_supported, "",
	    "aes256-ctr,aes128-ctr,aes256-cbc,aes128-cbc,3des-cbc");
}

static void
alg_plain_list_replaces_in_given_order(void **state)
{
	(void)state;
	expect_list(KB_UP_ALG_KEX, kex_supported,
	    "diffie-hellman-group14-sha1, diffie-hellman-group1-sha1",
	    "diffie-hellman-group14-sha1,diffie-hellman-group1-sha1");
}

static void
alg_plus_appends_to_default(void **state)
{
	struct resolved res;

	(void)state;
	expect_list(KB_UP_ALG_CIPHER, cipher_supported, "+aes128-ctr",
	    "aes256-ctr,aes128-ctr,aes256-cbc,aes128-cbc,3des-cbc");
	res = resolve(KB_UP_ALG_CIPHER, cipher_supported, "+blowfish-cbc");
	assert_int_equal(res.r, KB_OK);
	assert_string_equal(res.list,
	    "aes256-ctr,aes128-ctr,aes256-cbc,aes128-cbc,3des-cbc,blowfish-cbc");
	assert_true(res.legacy);
	free(res.list);
}

static void
alg_minus_removes_names_and_patterns(void **state)
{
	(void)state;
	expect_list(KB_UP_ALG_CIPHER, cipher_supported, "-3des-cbc,*-cbc",
	    "aes256-ctr,aes128-ctr");
	expect_list(KB_UP_ALG_KEX, kex_supported, "-diffie-hellman-group?-sha1,"
	    "diffie-hellman-group-exchange-sha1,diffie-hellman-group14-*",
	    "curve25519-sha256,ecdh-sha2-nistp256,"
	    "diffie-hellman-group-exchange-sha256");
}

static void
alg_caret_puts_names_first(void **state)
{
	(void)state;
	expect_list(KB_UP_ALG_CIPHER, cipher_supported, "^3des-cbc,aes128-cbc",
	    "3des-cbc,aes128-cbc,aes256-ctr,aes128-ctr,aes256-cbc");
}

static void
alg_pattern_expands_without_legacy(void **state)
{
	struct resolved res;

	(void)state;
	res = resolve(KB_UP_ALG_CIPHER, cipher_supported, "*-cbc");
	assert_int_equal(res.r, KB_OK);
	assert_string_equal(res.list, "aes256-cbc,aes128-cbc,3des-cbc");
	assert_false(res.legacy);
	free(res.list);
}

static void
alg_legacy_name_is_kept_when_named(void **state)
{
	struct resolved res;

	(void)state;
	res = resolve(KB_UP_ALG_CIPHER, cipher_supported, "arcfour128,aes128-cbc");
	assert_int_equal(res.r, KB_OK);
	assert_string_equal(res.list, "arcfour128,aes128-cbc");
	assert_true(res.legacy);
	free(res.list);
}

static void
alg_unknown_name_is_rejected_with_supported_list(void **state)
{
	(void)state;
	expect_error(KB_UP_ALG_CIPHER, cipher_supported, "aes128-cbc,aes512-ctr",
	    "\"aes512-ctr\" is not supported");
	expect_error(KB_UP_ALG_CIPHER, cipher_supported, "+chacha20-poly1305",
	    "supported: aes256-ctr,aes128-ctr");
	expect_error(KB_UP_ALG_CIPHER, cipher_supported, "-aes512-ctr",
	    "aes512-ctr");
	expect_error(KB_UP_ALG_KEX, kex_supported, "sntrup*", "sntrup*");
}

static void
alg_none_is_never_offered(void **state)
{
	(void)state;
	expect_error(KB_UP_ALG_CIPHER, cipher_supported, "none", "\"none\"");
	expect_error(KB_UP_ALG_CIPHER, cipher_supported, "+none", "\"none\"");
	expect_error(KB_UP_ALG_KEX, kex_supported, "ext-info-c",
	    "not supported");
}

static void
alg_empty_result_is_rejected(void **state)
{
	(void)state;
	expect_error(KB_UP_ALG_CIPHER, cipher_supported, "-*", "no method");
	expect_error(KB_UP_ALG_CIPHER, cipher_supported, " , ", "no method");
}

static void
alg_duplicates_are_offered_once(void **state)
{
	(void)state;
	expect_list(KB_UP_ALG_CIPHER, cipher_supported,
	    "aes128-cbc,aes128-cbc,3des-cbc", "aes128-cbc,3des-cbc");
}

/* The real lists: every category resolves, legacy and "none" left out. */
static void
algs_resolve_default_uses_libssh2(void **state)
{
	struct kb_up_algs algs;
	const char *spec[KB_UP_ALG_COUNT] = { NULL, NULL, NULL, NULL };
	char err[1024] = "";

	(void)state;
	assert_int_equal(kb_up_algs_resolve(&algs, spec, err, sizeof(err)), KB_OK);
	for (int cat = 0; cat < KB_UP_ALG_COUNT; cat++) {
		assert_non_null(algs.list[cat]);
		assert_true(strlen(algs.list[cat]) > 0);
		assert_null(strstr(algs.list[cat], "none"));
	}
	assert_null(strstr(algs.list[KB_UP_ALG_CIPHER], "arcfour"));
	assert_null(strstr(algs.list[KB_UP_ALG_CIPHER], "blowfish"));
	assert_non_null(strstr(algs.list[KB_UP_ALG_KEX],
	    "diffie-hellman-group14-sha1"));
	assert_false(algs.legacy);
	kb_up_algs_free(&algs);
	assert_null(algs.list[KB_UP_ALG_KEX]);
}

static void
algs_resolve_legacy_cipher_loads_provider(void **state)
{
	struct kb_up_algs algs;
	const char *spec[KB_UP_ALG_COUNT] = {
		"diffie-hellman-group1-sha1", "ssh-rsa", "blowfish-cbc,3des-cbc",
		"hmac-md5"
	};
	char err[1024] = "";
	int r;

	(void)state;
	r = kb_up_algs_resolve(&algs, spec, err, sizeof(err));
	if (r == KB_ERR_CRYPTO) {
		/* No legacy provider installed: the error must say so. */
		assert_non_null(strstr(err, "legacy provider"));
		return;
	}
	assert_int_equal(r, KB_OK);
	assert_string_equal(algs.list[KB_UP_ALG_CIPHER], "blowfish-cbc,3des-cbc");
	assert_string_equal(algs.list[KB_UP_ALG_MAC], "hmac-md5");
	assert_true(algs.legacy);
	kb_up_algs_free(&algs);
}

static void
algs_resolve_reports_category_of_bad_name(void **state)
{
	struct kb_up_algs algs;
	const char *spec[KB_UP_ALG_COUNT] = { NULL, NULL, NULL, "hmac-sha3-1024" };
	char err[1024] = "";

	(void)state;
	assert_int_equal(kb_up_algs_resolve(&algs, spec, err, sizeof(err)),
	    KB_ERR_CONFIG_INVALID);
	assert_true(strncmp(err, "mac: ", 5) == 0);
	assert_non_null(strstr(err, "hmac-sha1"));
	assert_null(algs.list[KB_UP_ALG_KEX]);
}

static void
hostkey_policy_names_round_trip(void **state)
{
	(void)state;
	for (int p = KB_UP_HOSTKEY_STRICT; p <= KB_UP_HOSTKEY_OFF; p++)
		assert_int_equal(kb_up_hostkey_policy_from_str(
		    kb_up_hostkey_policy_str((enum kb_up_hostkey_policy)p)), p);
	assert_int_equal(kb_up_hostkey_policy_from_str("yes"), -1);
	assert_int_equal(kb_up_hostkey_policy_from_str(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alg_default_ranks_strongest_first),
		cmocka_unit_test(alg_default_drops_legacy_and_none),
		cmocka_unit_test(alg_plain_list_replaces_in_given_order),
		cmocka_unit_test(alg_plus_appends_to_default),
		cmocka_unit_test(alg_minus_removes_names_and_patterns),
		cmocka_unit_test(alg_caret_puts_names_first),
		cmocka_unit_test(alg_pattern_expands_without_legacy),
		cmocka_unit_test(alg_legacy_name_is_kept_when_named),
		cmocka_unit_test(alg_unknown_name_is_rejected_with_supported_list),
		cmocka_unit_test(alg_none_is_never_offered),
		cmocka_unit_test(alg_empty_result_is_rejected),
		cmocka_unit_test(alg_duplicates_are_offered_once),
		cmocka_unit_test(algs_resolve_default_uses_libssh2),
		cmocka_unit_test(algs_resolve_legacy_cipher_loads_provider),
		cmocka_unit_test(algs_resolve_reports_category_of_bad_name),
		cmocka_unit_test(hostkey_policy_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
