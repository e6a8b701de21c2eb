/* Unit tests for advice items, their sentences, and the negotiation report. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kexbridge/advice.h"
#include "kexbridge/algdb.h"
#include "kexbridge/json.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/profile.h"
#include "kexbridge/report.h"
#include "kexbridge/version.h"

/* The FI 4.0(2a)+ offer: host key and compression unrestricted. */
static const char *const fi_lists[KB_CAT_NEGOTIATED] = {
	"diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
	    "diffie-hellman-group18-sha512",
	NULL,
	"aes128-ctr,aes192-ctr,aes256-ctr", "aes128-ctr,aes192-ctr,aes256-ctr",
	"hmac-sha2-256,hmac-sha2-512", "hmac-sha2-256,hmac-sha2-512",
	NULL, NULL,
};

/* A legacy server that shares nothing with the FI in kex, cipher and MAC. */
static const char *const legacy_lists[KB_CAT_NEGOTIATED] = {
	"diffie-hellman-group14-sha1,diffie-hellman-group1-sha1",
	"ssh-rsa",
	"aes128-cbc,3des-cbc,aes256-cbc", "aes128-cbc,3des-cbc,aes256-cbc",
	"hmac-sha1,hmac-md5", "hmac-sha1,hmac-md5",
	"none", "none",
};

struct fixture {
	struct kb_kexinit client;
	struct kb_kexinit server;
	struct kb_version version;
	struct kb_negotiation neg;
	struct kb_advice advice;
};

static void
offer_load(struct kb_kexinit *k, const char *const lists[])
{
	int cat;

	kb_kexinit_free(k);
	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		if (lists[cat] == NULL)
			k->unrestricted |= 1u << cat;
		assert_int_equal(kb_kexinit_set_list(k, cat, lists[cat]), 0);
	}
}

static int
fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	offer_load(&f->client, fi_lists);
	offer_load(&f->server, legacy_lists);
	*state = f;
	return 0;
}

static int
fixture_teardown(void **state)
{
	struct fixture *f = *state;

	kb_advice_free(&f->advice);
	kb_kexinit_free(&f->client);
	kb_kexinit_free(&f->server);
	free(f);
	return 0;
}

/* Negotiates and builds advice; version may be NULL. */
static void
fixture_run(struct fixture *f, const char *version)
{
	const struct kb_version *v = NULL;

	if (version != NULL) {
		assert_int_equal(kb_version_parse_line(version, strlen(version),
		    &f->version), 0);
		v = &f->version;
	}
	kb_advice_free(&f->advice);
	kb_negotiate(&f->client, &f->server, &f->neg);
	assert_int_equal(kb_advice_build(&f->client, &f->server, v, &f->neg,
	    &f->advice), 0);
}

/* The first item of kind for cat; fails the test when there is none. */
static const struct kb_advice_item *
find_item(const struct fixture *f, enum kb_advice_kind kind, enum kb_category cat)
{
	size_t i;

	for (i = 0; i < f->advice.count; i++) {
		if (f->advice.items[i].kind == kind && f->advice.items[i].category == cat)
			return &f->advice.items[i];
	}
	fail_msg("no advice item of kind %d for %s", (int)kind, kb_category_key(cat));
	return NULL;
}

static size_t
count_kind(const struct fixture *f, enum kb_advice_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < f->advice.count; i++)
		n += f->advice.items[i].kind == kind;
	return n;
}

static void
assert_sentence(const struct kb_advice_item *item, const char *expected)
{
	char *text = kb_advice_format(item, false);

	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
}

static void
advice_openssh53_full_kex_list(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	fixture_run(f, "SSH-2.0-OpenSSH_5.3");
	assert_int_equal(f->neg.failed, (1u << KB_CAT_KEX) | (1u << KB_CAT_CIPHER_C2S) |
	    (1u << KB_CAT_CIPHER_S2C) | (1u << KB_CAT_MAC_C2S) | (1u << KB_CAT_MAC_S2C));

	/* 5.3 has DH-GEX-SHA256 (4.4) but not group16/18 (7.3), and no "+". */
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_KEX);
	assert_string_equal(item->names, "diffie-hellman-group-exchange-sha256");
	assert_string_equal(item->config_line, "KexAlgorithms diffie-hellman-group14-sha1,"
	    "diffie-hellman-group1-sha1,diffie-hellman-group-exchange-sha256");
	assert_string_equal(item->software, "OpenSSH 5.3");

	/* hmac-sha2 came in 5.9, so 5.3 can only be upgraded. */
	item = find_item(f, KB_ADVICE_SERVER_UPGRADE, KB_CAT_MAC_C2S);
	assert_string_equal(item->names, "hmac-sha2-512,hmac-sha2-256");
	assert_true(item->both_directions);
	assert_sentence(item, "OpenSSH 5.3 supports no MAC the client "
	    "offers (hmac-sha2-512,hmac-sha2-256): upgrade the server.");
	assert_int_equal(count_kind(f, KB_ADVICE_SERVER_UPGRADE), 1);

	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_CIPHER_C2S);
	assert_string_equal(item->names, "aes256-ctr,aes192-ctr,aes128-ctr");
	assert_string_equal(item->config_line,
	    "Ciphers aes128-cbc,3des-cbc,aes256-cbc,aes256-ctr");
}

static void
advice_openssh74_keeps_server_list(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	fixture_run(f, "SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7");
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_KEX);
	assert_string_equal(item->names, "diffie-hellman-group18-sha512,"
	    "diffie-hellman-group16-sha512,diffie-hellman-group-exchange-sha256");
	/* The line keeps the legacy names other clients of this server rely on. */
	assert_string_equal(item->config_line, "KexAlgorithms diffie-hellman-group14-sha1,"
	    "diffie-hellman-group1-sha1,diffie-hellman-group18-sha512");
	assert_sentence(item, "Server must add a kex algorithm the client offers: "
	    "diffie-hellman-group18-sha512,diffie-hellman-group16-sha512,"
	    "diffie-hellman-group-exchange-sha256. In sshd_config, replacing "
	    "any existing line for that keyword: KexAlgorithms diffie-hellman-group14-sha1,"
	    "diffie-hellman-group1-sha1,diffie-hellman-group18-sha512");

	/* Both MAC directions failed alike, so one item covers them. */
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_MAC_C2S);
	assert_true(item->both_directions);
	assert_string_equal(item->config_line, "MACs hmac-sha1,hmac-md5,hmac-sha2-512");
	assert_int_equal(count_kind(f, KB_ADVICE_SERVER_UPGRADE), 0);
}

static void
advice_openssh92_keeps_server_list(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	offer_load(&f->client, fi_lists);
	assert_int_equal(kb_kexinit_set_list(&f->client, KB_CAT_KEX,
	    "diffie-hellman-group-exchange-sha256"), 0);
	fixture_run(f, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_KEX);
	assert_sentence(item, "Server must add a kex algorithm the client offers: "
	    "diffie-hellman-group-exchange-sha256. In sshd_config, replacing "
	    "any existing line for that keyword: KexAlgorithms diffie-hellman-group14-sha1,"
	    "diffie-hellman-group1-sha1,diffie-hellman-group-exchange-sha256");
}

static void
advice_upgrade_when_nothing_supported(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	/* 4.3 predates DH-GEX-SHA256 (4.4), group16/18 (7.3) and hmac-sha2 (5.9). */
	fixture_run(f, "SSH-2.0-OpenSSH_4.3");
	item = find_item(f, KB_ADVICE_SERVER_UPGRADE, KB_CAT_KEX);
	assert_string_equal(item->software, "OpenSSH 4.3");
	assert_null(item->config_line);
	/* The ciphers of both directions fold into one item. */
	assert_int_equal(count_kind(f, KB_ADVICE_SERVER_ADD), 1);
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_CIPHER_C2S);
	assert_true(item->both_directions);
}

static void
advice_unknown_server_lists_names(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	fixture_run(f, "SSH-2.0-Cisco-1.25");
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_KEX);
	assert_string_equal(item->names, "diffie-hellman-group18-sha512,"
	    "diffie-hellman-group16-sha512,diffie-hellman-group-exchange-sha256");
	assert_null(item->config_line);
	assert_null(item->software);
	assert_int_equal(count_kind(f, KB_ADVICE_SERVER_UPGRADE), 0);

	fixture_run(f, NULL);
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_CIPHER_C2S);
	assert_sentence(item, "Server must add a cipher the client "
	    "offers: aes256-ctr,aes192-ctr,aes128-ctr.");
}

static void
advice_server_items_come_first(void **state)
{
	struct fixture *f = *state;
	bool client_seen = false;
	size_t i;

	fixture_run(f, "SSH-2.0-OpenSSH_7.4");
	assert_true(count_kind(f, KB_ADVICE_CLIENT_ADD) > 0);
	for (i = 0; i < f->advice.count; i++) {
		if (f->advice.items[i].kind == KB_ADVICE_CLIENT_ADD)
			client_seen = true;
		else if (f->advice.items[i].kind == KB_ADVICE_SERVER_ADD)
			assert_false(client_seen);
	}
}

static void
advice_client_names_nonweak_first(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_CIPHER_C2S,
	    "3des-cbc,aes128-cbc,ext-info-s,,aes128-gcm@openssh.com,aes256-ctr"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->client, KB_CAT_CIPHER_C2S,
	    "aes192-ctr"), 0);
	fixture_run(f, "SSH-2.0-OpenSSH_7.4");
	item = find_item(f, KB_ADVICE_CLIENT_ADD, KB_CAT_CIPHER_C2S);
	assert_string_equal(item->names,
	    "aes128-gcm@openssh.com,aes256-ctr,aes128-cbc,3des-cbc");
	assert_sentence(item, "Client must add a client-to-server cipher the server "
	    "offers: aes128-gcm@openssh.com,aes256-ctr,aes128-cbc,3des-cbc.");
}

static void
advice_hostkey_needs_key_file(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	offer_load(&f->server, fi_lists);
	f->client.unrestricted = 0;
	f->server.unrestricted = 0;
	assert_int_equal(kb_kexinit_set_list(&f->client, KB_CAT_HOSTKEY,
	    "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,rsa-sha2-512"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_HOSTKEY, "ssh-dss"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->client, KB_CAT_COMP_C2S, "none"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->client, KB_CAT_COMP_S2C, "none"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_COMP_C2S, "none"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_COMP_S2C, "none"), 0);
	fixture_run(f, "SSH-2.0-OpenSSH_7.4");
	assert_int_equal(f->neg.failed, 1u << KB_CAT_HOSTKEY);
	assert_int_equal(f->neg.status[KB_CAT_KEX], KB_CHOICE_AGREED);

	/* A host certificate needs a CA, so only plain key types are advised. */
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_HOSTKEY);
	assert_string_equal(item->names, "ssh-ed25519,rsa-sha2-512");
	assert_string_equal(item->config_line, "HostKeyAlgorithms ssh-dss,ssh-ed25519");
	item = find_item(f, KB_ADVICE_HOSTKEY_FILE, KB_CAT_HOSTKEY);
	assert_string_equal(item->names, "ssh-ed25519");
	assert_string_equal(item->config_line, "HostKey /etc/ssh/ssh_host_ed25519_key");
	assert_sentence(item, "Server needs a host key for ssh-ed25519: create it with "
	    "\"ssh-keygen -t ed25519 -f /etc/ssh/ssh_host_ed25519_key -N ''\". "
	    "In sshd_config: HostKey /etc/ssh/ssh_host_ed25519_key");
}

static void
advice_hostkey_rsa_key_present(void **state)
{
	struct fixture *f = *state;

	offer_load(&f->server, fi_lists);
	f->client.unrestricted = 0;
	f->server.unrestricted = 0;
	assert_int_equal(kb_kexinit_set_list(&f->client, KB_CAT_HOSTKEY, "rsa-sha2-512"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_HOSTKEY, "ssh-rsa"), 0);
	fixture_run(f, "SSH-2.0-OpenSSH_7.4");
	/* The RSA key is there; only the signature algorithm is missing. */
	assert_int_equal(count_kind(f, KB_ADVICE_HOSTKEY_FILE), 0);
	assert_string_equal(find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_HOSTKEY)->config_line,
	    "HostKeyAlgorithms ssh-rsa,rsa-sha2-512");
}

static void
advice_weak_on_success(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	offer_load(&f->client, legacy_lists);
	fixture_run(f, "SSH-2.0-OpenSSH_7.4");
	assert_int_equal(f->neg.failed, 0);
	assert_int_equal(count_kind(f, KB_ADVICE_SERVER_ADD), 0);
	/* kex, host key, one cipher and one MAC: s2c repeats c2s. */
	assert_int_equal(count_kind(f, KB_ADVICE_WEAK), 4);
	item = find_item(f, KB_ADVICE_WEAK, KB_CAT_KEX);
	assert_sentence(item, "Agreed kex algorithm diffie-hellman-group14-sha1 is weak: SHA-1.");
	item = find_item(f, KB_ADVICE_WEAK, KB_CAT_CIPHER_C2S);
	assert_true((item->weak & KB_WEAK_CBC) != 0);
	assert_sentence(item, "Agreed client-to-server cipher aes128-cbc is weak: CBC mode.");
	find_item(f, KB_ADVICE_WEAK, KB_CAT_HOSTKEY);
	find_item(f, KB_ADVICE_WEAK, KB_CAT_MAC_C2S);
}

static void
advice_no_weak_for_strong(void **state)
{
	struct fixture *f = *state;

	offer_load(&f->server, fi_lists);
	fixture_run(f, NULL);
	assert_int_equal(f->neg.status[KB_CAT_HOSTKEY], KB_CHOICE_FAILED);
	assert_int_equal(f->neg.status[KB_CAT_COMP_C2S], KB_CHOICE_FAILED);
	/* Both sides unrestricted: nothing to name, so no add items either. */
	assert_int_equal(count_kind(f, KB_ADVICE_SERVER_ADD), 0);
	assert_int_equal(count_kind(f, KB_ADVICE_WEAK), 0);

	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_HOSTKEY, "ssh-ed25519"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_COMP_C2S, "none"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_COMP_S2C, "none"), 0);
	f->server.unrestricted = 0;
	fixture_run(f, NULL);
	assert_int_equal(f->neg.failed, 0);
	assert_int_equal(f->advice.count, 0);
}

static void
advice_malformed_list(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_MAC_C2S,
	    "hmac-md5,hmac-sha1,hmac-sha1"), 0);
	fixture_run(f, NULL);
	item = find_item(f, KB_ADVICE_MALFORMED_LIST, KB_CAT_KEX);
	assert_false(item->client_side);
	assert_true((item->weak & KB_NL_DUPLICATE) != 0);
	assert_sentence(item, "Server sends malformed name-lists: duplicate name.");
}

static void
advice_escapes_peer_names(void **state)
{
	struct fixture *f = *state;
	const struct kb_advice_item *item;

	assert_int_equal(kb_kexinit_set_list(&f->client, KB_CAT_KEX, "evil\x1b[2J"), 0);
	fixture_run(f, NULL);
	item = find_item(f, KB_ADVICE_SERVER_ADD, KB_CAT_KEX);
	assert_sentence(item, "Server must add a kex algorithm the client offers: "
	    "evil\\x1b[2J.");
}

/* A tiny offer, so the whole JSON can be compared. */
static const char *const tiny_client[KB_CAT_NEGOTIATED] = {
	"curve25519-sha256,kex-strict-c-v00@openssh.com", "ssh-ed25519",
	"chacha20-poly1305@openssh.com", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256",
	NULL, "none",
};
static const char *const tiny_server[KB_CAT_NEGOTIATED] = {
	"curve25519-sha256,kex-strict-s-v00@openssh.com", "ssh-ed25519",
	"chacha20-poly1305@openssh.com", "aes256-ctr", "hmac-sha2-256", "hmac-sha2-256",
	"none", "none",
};

static void
report_json_exact(void **state)
{
	struct fixture *f = *state;
	struct kb_report report;
	struct kb_version cv;
	struct kb_json *json;
	char *line;

	offer_load(&f->client, tiny_client);
	offer_load(&f->server, tiny_server);
	f->client.first_kex_follows = true;
	assert_int_equal(kb_version_parse_line("SSH-2.0-\"x\"", 11, &cv), 0);
	fixture_run(f, "SSH-2.0-OpenSSH_9.2");
	memset(&report, 0, sizeof(report));
	report.client_version = &cv;
	report.server_version = NULL;
	report.client = &f->client;
	report.server = &f->server;
	report.neg = &f->neg;
	report.advice = &f->advice;

	json = kb_json_new();
	assert_non_null(json);
	kb_json_str(json, "event", "negotiation");
	kb_report_json(json, &report);
	assert_string_equal(kb_json_finish(json),
	    "{\"event\":\"negotiation\","
	    "\"client_version\":\"SSH-2.0-\\\"x\\\"\",\"server_version\":null,"
	    "\"client_offer\":{\"kex\":[\"curve25519-sha256\",\"kex-strict-c-v00@openssh.com\"],"
	    "\"hostkey\":[\"ssh-ed25519\"],\"cipher_c2s\":[\"chacha20-poly1305@openssh.com\"],"
	    "\"cipher_s2c\":[\"aes128-ctr\"],\"mac_c2s\":[\"hmac-sha2-256\"],"
	    "\"mac_s2c\":[\"hmac-sha2-256\"],\"comp_c2s\":[\"*\"],\"comp_s2c\":[\"none\"]},"
	    "\"server_offer\":{\"kex\":[\"curve25519-sha256\",\"kex-strict-s-v00@openssh.com\"],"
	    "\"hostkey\":[\"ssh-ed25519\"],\"cipher_c2s\":[\"chacha20-poly1305@openssh.com\"],"
	    "\"cipher_s2c\":[\"aes256-ctr\"],\"mac_c2s\":[\"hmac-sha2-256\"],"
	    "\"mac_s2c\":[\"hmac-sha2-256\"],\"comp_c2s\":[\"none\"],\"comp_s2c\":[\"none\"]},"
	    "\"result\":{\"kex\":\"curve25519-sha256\",\"hostkey\":\"ssh-ed25519\","
	    "\"cipher_c2s\":\"chacha20-poly1305@openssh.com\",\"cipher_s2c\":null,"
	    "\"mac_c2s\":\"implicit\",\"mac_s2c\":\"hmac-sha2-256\","
	    "\"comp_c2s\":\"none\",\"comp_s2c\":\"none\"},"
	    "\"failed\":[\"cipher_s2c\"],\"strict_kex\":true,"
	    "\"guess\":{\"client\":{\"sent\":true,\"right\":false},"
	    "\"server\":{\"sent\":false,\"right\":false}},"
	    "\"advice\":[\"Server must add a server-to-client cipher the client offers: "
	    "aes128-ctr. In sshd_config, replacing any existing line for that "
	    "keyword: Ciphers aes256-ctr,aes128-ctr\","
	    "\"Client must add a server-to-client cipher the server offers: aes256-ctr.\"]}");
	kb_json_free(json);

	line = kb_report_line(&report, false);
	assert_non_null(line);
	assert_string_equal(line, "failed: cipher_s2c (client: aes128-ctr; server: "
	    "aes256-ctr) advice: (1) Server must add a server-to-client cipher the client "
	    "offers: aes128-ctr. In sshd_config, replacing any existing line for "
	    "that keyword: Ciphers aes256-ctr,aes128-ctr (2) Client must add "
	    "a server-to-client cipher the server offers: aes256-ctr.");
	free(line);
}

static void
report_line_success_with_warning(void **state)
{
	struct fixture *f = *state;
	struct kb_report report;
	char *line;

	offer_load(&f->client, tiny_client);
	offer_load(&f->server, tiny_server);
	assert_int_equal(kb_kexinit_set_list(&f->client, KB_CAT_CIPHER_S2C, "3des-cbc"), 0);
	assert_int_equal(kb_kexinit_set_list(&f->server, KB_CAT_CIPHER_S2C,
	    "aes256-ctr,3des-cbc"), 0);
	fixture_run(f, NULL);
	memset(&report, 0, sizeof(report));
	report.client = &f->client;
	report.server = &f->server;
	report.neg = &f->neg;
	report.advice = &f->advice;
	line = kb_report_line(&report, false);
	assert_non_null(line);
	assert_string_equal(line, "agreed kex=curve25519-sha256 hostkey=ssh-ed25519 "
	    "cipher_c2s=chacha20-poly1305@openssh.com cipher_s2c=3des-cbc "
	    "mac_c2s=implicit mac_s2c=hmac-sha2-256 comp_c2s=none comp_s2c=none "
	    "warning: Agreed server-to-client cipher 3des-cbc is weak: CBC mode, 3DES, "
	    "64-bit block size.");
	free(line);
}

#define FIXTURE_TEST(f)	cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(advice_openssh53_full_kex_list),
		FIXTURE_TEST(advice_openssh74_keeps_server_list),
		FIXTURE_TEST(advice_openssh92_keeps_server_list),
		FIXTURE_TEST(advice_upgrade_when_nothing_supported),
		FIXTURE_TEST(advice_unknown_server_lists_names),
		FIXTURE_TEST(advice_server_items_come_first),
		FIXTURE_TEST(advice_client_names_nonweak_first),
		FIXTURE_TEST(advice_hostkey_needs_key_file),
		FIXTURE_TEST(advice_hostkey_rsa_key_present),
		FIXTURE_TEST(advice_weak_on_success),
		FIXTURE_TEST(advice_no_weak_for_strong),
		FIXTURE_TEST(advice_malformed_list),
		FIXTURE_TEST(advice_escapes_peer_names),
		FIXTURE_TEST(report_json_exact),
		FIXTURE_TEST(report_line_success_with_warning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
