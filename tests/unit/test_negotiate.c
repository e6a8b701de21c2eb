/* Unit tests for the negotiation engine (RFC 4253 sections 7 and 7.1). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/profile.h"

/* A complete offer where every category agrees with itself. */
static const char *const base_lists[KB_CAT_NEGOTIATED] = {
	"curve25519-sha256,diffie-hellman-group14-sha256",
	"ssh-ed25519,rsa-sha2-256",
	"aes128-ctr,aes256-ctr", "aes128-ctr,aes256-ctr",
	"hmac-sha2-256,hmac-sha2-512", "hmac-sha2-256,hmac-sha2-512",
	"none", "none",
};

static void
offer_init(struct kb_kexinit *k)
{
	int cat;

	memset(k, 0, sizeof(*k));
	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++)
		assert_int_equal(kb_kexinit_set_list(k, cat, base_lists[cat]), 0);
}

static void
offer_set(struct kb_kexinit *k, enum kb_category cat, const char *list)
{
	assert_int_equal(kb_kexinit_set_list(k, cat, list), 0);
}

struct pair {
	struct kb_kexinit client;
	struct kb_kexinit server;
	struct kb_negotiation neg;
};

static int
pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	offer_init(&p->client);
	offer_init(&p->server);
	*state = p;
	return 0;
}

static int
pair_teardown(void **state)
{
	struct pair *p = *state;

	kb_kexinit_free(&p->client);
	kb_kexinit_free(&p->server);
	free(p);
	return 0;
}

static void
negotiate_base_agrees_everywhere(void **state)
{
	struct pair *p = *state;
	int cat;

	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.failed, 0);
	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++)
		assert_int_equal(p->neg.status[cat], KB_CHOICE_AGREED);
	assert_string_equal(p->neg.chosen[KB_CAT_KEX], "curve25519-sha256");
	assert_false(p->neg.strict_kex);
}

static void
negotiate_client_order_wins(void **state)
{
	struct pair *p = *state;

	offer_set(&p->client, KB_CAT_CIPHER_C2S, "aes256-ctr,aes128-ctr");
	offer_set(&p->server, KB_CAT_CIPHER_C2S, "aes128-ctr,aes256-ctr");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_string_equal(p->neg.chosen[KB_CAT_CIPHER_C2S], "aes256-ctr");
	assert_string_equal(p->neg.chosen[KB_CAT_CIPHER_S2C], "aes128-ctr");
}

static void
negotiate_empty_names_never_match(void **state)
{
	struct pair *p = *state;

	offer_set(&p->client, KB_CAT_MAC_C2S, ",hmac-sha1,");
	offer_set(&p->server, KB_CAT_MAC_C2S, ",hmac-md5,");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.status[KB_CAT_MAC_C2S], KB_CHOICE_FAILED);
	assert_null(p->neg.chosen[KB_CAT_MAC_C2S]);
}

static void
negotiate_skips_pseudo_names(void **state)
{
	struct pair *p = *state;

	offer_set(&p->client, KB_CAT_KEX, "ext-info-c,kex-strict-c-v00@openssh.com,"
	    "kexguess2@matt.ucc.asn.au,diffie-hellman-group14-sha256");
	offer_set(&p->server, KB_CAT_KEX, "kexguess2@matt.ucc.asn.au,ext-info-c,"
	    "kex-strict-c-v00@openssh.com,diffie-hellman-group14-sha256");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_string_equal(p->neg.chosen[KB_CAT_KEX], "diffie-hellman-group14-sha256");
}

static void
negotiate_only_pseudo_names_fail(void **state)
{
	struct pair *p = *state;

	offer_set(&p->client, KB_CAT_KEX, "ext-info-c,kex-strict-c-v00@openssh.com");
	offer_set(&p->server, KB_CAT_KEX, "ext-info-c,kex-strict-c-v00@openssh.com");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.status[KB_CAT_KEX], KB_CHOICE_FAILED);
	assert_int_equal(p->neg.failed, 1u << KB_CAT_KEX);
}

static void
negotiate_aead_mac_implicit(void **state)
{
	struct pair *p = *state;

	offer_set(&p->client, KB_CAT_CIPHER_C2S, "chacha20-poly1305@openssh.com,aes128-ctr");
	offer_set(&p->server, KB_CAT_CIPHER_C2S, "aes128-ctr,chacha20-poly1305@openssh.com");
	offer_set(&p->client, KB_CAT_CIPHER_S2C, "aes256-gcm@openssh.com");
	offer_set(&p->server, KB_CAT_CIPHER_S2C, "aes256-gcm@openssh.com");
	/* MAC lists with nothing in common must not matter under AEAD. */
	offer_set(&p->client, KB_CAT_MAC_C2S, "hmac-sha1");
	offer_set(&p->server, KB_CAT_MAC_C2S, "hmac-md5");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_string_equal(p->neg.chosen[KB_CAT_CIPHER_C2S], "chacha20-poly1305@openssh.com");
	assert_int_equal(p->neg.status[KB_CAT_MAC_C2S], KB_CHOICE_IMPLICIT);
	assert_null(p->neg.chosen[KB_CAT_MAC_C2S]);
	assert_int_equal(p->neg.status[KB_CAT_MAC_S2C], KB_CHOICE_IMPLICIT);
	assert_int_equal(p->neg.failed, 0);
}

static void
negotiate_rfc5647_gcm_needs_mac(void **state)
{
	struct pair *p = *state;

	offer_set(&p->client, KB_CAT_CIPHER_C2S, "aes128-gcm");
	offer_set(&p->server, KB_CAT_CIPHER_C2S, "aes128-gcm");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.status[KB_CAT_MAC_C2S], KB_CHOICE_AGREED);
	assert_string_equal(p->neg.chosen[KB_CAT_MAC_C2S], "hmac-sha2-256");
}

static void
negotiate_mac_after_failed_cipher(void **state)
{
	struct pair *p = *state;

	offer_set(&p->client, KB_CAT_CIPHER_C2S, "chacha20-poly1305@openssh.com");
	offer_set(&p->server, KB_CAT_CIPHER_C2S, "aes128-cbc");
	offer_set(&p->client, KB_CAT_MAC_C2S, "hmac-sha1");
	offer_set(&p->server, KB_CAT_MAC_C2S, "hmac-md5");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.status[KB_CAT_CIPHER_C2S], KB_CHOICE_FAILED);
	assert_int_equal(p->neg.status[KB_CAT_MAC_C2S], KB_CHOICE_FAILED);
}

static void
negotiate_reports_every_failure(void **state)
{
	struct pair *p = *state;

	offer_set(&p->server, KB_CAT_KEX, "diffie-hellman-group1-sha1");
	offer_set(&p->server, KB_CAT_CIPHER_S2C, "3des-cbc");
	offer_set(&p->server, KB_CAT_MAC_C2S, "hmac-md5");
	offer_set(&p->server, KB_CAT_COMP_S2C, "zlib");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.failed, (1u << KB_CAT_KEX) | (1u << KB_CAT_CIPHER_S2C) |
	    (1u << KB_CAT_MAC_C2S) | (1u << KB_CAT_COMP_S2C));
	assert_int_equal(p->neg.status[KB_CAT_HOSTKEY], KB_CHOICE_AGREED);
	assert_string_equal(p->neg.chosen[KB_CAT_MAC_S2C], "hmac-sha2-256");
}

static void
negotiate_hostkey_failure_keeps_kex(void **state)
{
	struct pair *p = *state;

	offer_set(&p->server, KB_CAT_HOSTKEY, "ssh-dss");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.status[KB_CAT_KEX], KB_CHOICE_AGREED);
	assert_string_equal(p->neg.chosen[KB_CAT_KEX], "curve25519-sha256");
	assert_int_equal(p->neg.failed, 1u << KB_CAT_HOSTKEY);
}

static void
negotiate_unrestricted_takes_other_first(void **state)
{
	struct pair *p = *state;

	p->client.unrestricted = 1u << KB_CAT_HOSTKEY;
	offer_set(&p->client, KB_CAT_HOSTKEY, "");
	offer_set(&p->server, KB_CAT_HOSTKEY, ",ext-info-s,ssh-rsa,ssh-ed25519");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_string_equal(p->neg.chosen[KB_CAT_HOSTKEY], "ssh-rsa");

	/* A restricted client against an unrestricted server: the client's first. */
	p->client.unrestricted = 0;
	p->server.unrestricted = 1u << KB_CAT_CIPHER_C2S;
	offer_set(&p->client, KB_CAT_HOSTKEY, "ssh-ed25519");
	offer_set(&p->client, KB_CAT_CIPHER_C2S, "aes256-ctr,aes128-ctr");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_string_equal(p->neg.chosen[KB_CAT_CIPHER_C2S], "aes256-ctr");
	assert_int_equal(p->neg.failed, 0);
}

static void
negotiate_unrestricted_needs_a_name(void **state)
{
	struct pair *p = *state;

	p->client.unrestricted = (1u << KB_CAT_COMP_C2S) | (1u << KB_CAT_COMP_S2C);
	p->server.unrestricted = 1u << KB_CAT_COMP_C2S;
	offer_set(&p->server, KB_CAT_COMP_S2C, "");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.status[KB_CAT_COMP_C2S], KB_CHOICE_FAILED);
	assert_int_equal(p->neg.status[KB_CAT_COMP_S2C], KB_CHOICE_FAILED);
}

static void
negotiate_strict_kex_needs_both_markers(void **state)
{
	struct pair *p = *state;

	offer_set(&p->client, KB_CAT_KEX, "curve25519-sha256,kex-strict-c-v00@openssh.com");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_false(p->neg.strict_kex);

	offer_set(&p->server, KB_CAT_KEX, "curve25519-sha256,kex-strict-c-v00@openssh.com");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_false(p->neg.strict_kex);

	offer_set(&p->server, KB_CAT_KEX, "curve25519-sha256,ext-info-s,"
	    "kex-strict-s-v00@openssh.com");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_true(p->neg.strict_kex);
	assert_true(p->neg.ext_info_s);
	assert_false(p->neg.ext_info_c);

	/* The client's marker on the server side does not count. */
	offer_set(&p->client, KB_CAT_KEX, "curve25519-sha256,kex-strict-s-v00@openssh.com");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_false(p->neg.strict_kex);
}

static void
negotiate_guess_right_on_equal_first_names(void **state)
{
	struct pair *p = *state;

	p->client.first_kex_follows = true;
	/* Later names differ: only the first kex and host key names count. */
	offer_set(&p->server, KB_CAT_KEX, "curve25519-sha256");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_true(p->neg.client_guessed);
	assert_true(p->neg.client_guess_right);
	assert_false(p->neg.server_guessed);
	assert_false(p->neg.server_guess_right);
}

static void
negotiate_guess_wrong_on_kex(void **state)
{
	struct pair *p = *state;

	p->client.first_kex_follows = true;
	p->server.first_kex_follows = true;
	offer_set(&p->server, KB_CAT_KEX, "diffie-hellman-group14-sha256,curve25519-sha256");
	kb_negotiate(&p->client, &p->server, &p->neg);
	/* The kex still agrees, on the client's first choice. */
	assert_string_equal(p->neg.chosen[KB_CAT_KEX], "curve25519-sha256");
	assert_true(p->neg.client_guessed);
	assert_false(p->neg.client_guess_right);
	assert_true(p->neg.server_guessed);
	assert_false(p->neg.server_guess_right);
}

static void
negotiate_guess_wrong_on_hostkey(void **state)
{
	struct pair *p = *state;

	p->client.first_kex_follows = true;
	offer_set(&p->server, KB_CAT_HOSTKEY, "rsa-sha2-256,ssh-ed25519");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_int_equal(p->neg.failed, 0);
	assert_false(p->neg.client_guess_right);
}

static void
negotiate_guess_wrong_on_failure(void **state)
{
	struct pair *p = *state;

	p->client.first_kex_follows = true;
	offer_set(&p->server, KB_CAT_CIPHER_S2C, "3des-cbc");
	kb_negotiate(&p->client, &p->server, &p->neg);
	assert_true(p->neg.client_guessed);
	assert_false(p->neg.client_guess_right);
}

static void
negotiate_ucsm_profile_vs_server(void **state)
{
	struct kb_profile_set set = { NULL, 0 };
	const struct kb_profile *ucsm;
	struct pair *p = *state;

	assert_int_equal(kb_profile_add_builtins(&set), 0);
	ucsm = kb_profile_find(&set, "ucsm-4.0");
	assert_non_null(ucsm);
	offer_set(&p->server, KB_CAT_KEX, "curve25519-sha256,diffie-hellman-group14-sha1,"
	    "diffie-hellman-group16-sha512");
	offer_set(&p->server, KB_CAT_HOSTKEY, "rsa-sha2-512,ssh-rsa");
	kb_negotiate(&ucsm->offer, &p->server, &p->neg);
	assert_string_equal(p->neg.chosen[KB_CAT_KEX], "diffie-hellman-group16-sha512");
	/* The FI takes any host key and compression the server offers. */
	assert_string_equal(p->neg.chosen[KB_CAT_HOSTKEY], "rsa-sha2-512");
	assert_string_equal(p->neg.chosen[KB_CAT_COMP_C2S], "none");
	assert_string_equal(p->neg.chosen[KB_CAT_CIPHER_C2S], "aes128-ctr");
	assert_string_equal(p->neg.chosen[KB_CAT_MAC_S2C], "hmac-sha2-256");
	assert_int_equal(p->neg.failed, 0);

	offer_set(&p->server, KB_CAT_CIPHER_C2S, "aes128-cbc,3des-cbc");
	offer_set(&p->server, KB_CAT_MAC_C2S, "hmac-sha1");
	kb_negotiate(&ucsm->offer, &p->server, &p->neg);
	assert_int_equal(p->neg.failed, (1u << KB_CAT_CIPHER_C2S) | (1u << KB_CAT_MAC_C2S));
	kb_profile_set_free(&set);
}

static void
name_is_pseudo_table(void **state)
{
	(void)state;
	assert_true(kb_name_is_pseudo("ext-info-c"));
	assert_true(kb_name_is_pseudo("ext-info-s"));
	assert_true(kb_name_is_pseudo("kex-strict-c-v00@openssh.com"));
	assert_true(kb_name_is_pseudo("kex-strict-s-v00@openssh.com"));
	assert_true(kb_name_is_pseudo("kexguess2@matt.ucc.asn.au"));
	assert_false(kb_name_is_pseudo("curve25519-sha256"));
	assert_false(kb_name_is_pseudo("ext-info"));
	assert_false(kb_name_is_pseudo(""));
	assert_false(kb_name_is_pseudo(NULL));
}

static void
cipher_is_aead_table(void **state)
{
	(void)state;
	assert_true(kb_cipher_is_aead("aes128-gcm@openssh.com"));
	assert_true(kb_cipher_is_aead("aes256-gcm@openssh.com"));
	assert_true(kb_cipher_is_aead("chacha20-poly1305@openssh.com"));
	assert_false(kb_cipher_is_aead("aes128-gcm"));
	assert_false(kb_cipher_is_aead("aes128-ctr"));
	assert_false(kb_cipher_is_aead(NULL));
}

#define PAIR_TEST(f)	cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		PAIR_TEST(negotiate_base_agrees_everywhere),
		PAIR_TEST(negotiate_client_order_wins),
		PAIR_TEST(negotiate_empty_names_never_match),
		PAIR_TEST(negotiate_skips_pseudo_names),
		PAIR_TEST(negotiate_only_pseudo_names_fail),
		PAIR_TEST(negotiate_aead_mac_implicit),
		PAIR_TEST(negotiate_rfc5647_gcm_needs_mac),
		PAIR_TEST(negotiate_mac_after_failed_cipher),
		PAIR_TEST(negotiate_reports_every_failure),
		PAIR_TEST(negotiate_hostkey_failure_keeps_kex),
		PAIR_TEST(negotiate_unrestricted_takes_other_first),
		PAIR_TEST(negotiate_unrestricted_needs_a_name),
		PAIR_TEST(negotiate_strict_kex_needs_both_markers),
		PAIR_TEST(negotiate_guess_right_on_equal_first_names),
		PAIR_TEST(negotiate_guess_wrong_on_kex),
		PAIR_TEST(negotiate_guess_wrong_on_hostkey),
		PAIR_TEST(negotiate_guess_wrong_on_failure),
		PAIR_TEST(negotiate_ucsm_profile_vs_server),
		cmocka_unit_test(name_is_pseudo_table),
		cmocka_unit_test(cipher_is_aead_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
