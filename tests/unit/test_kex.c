/* Unit tests for key exchange (kexbridge/kex.h), client and server in memory. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "kexbridge/buf.h"
#include "kexbridge/cipher.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/kex.h"
#include "../../src/ssh/kex_internal.h"

/* RFC 3526 section 3, the 2048-bit MODP group (group 14). */
static const char rfc3526_p2048[] =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

static const struct kb_cipher_info test_aes256_ctr = {
	"aes256-ctr", 16, 32, 16, 0, false, false,
};
static const struct kb_mac_info test_hmac_sha512 = {
	"hmac-sha2-512", 64, 64, false,
};

struct keys {
	struct kb_hostkey *ed25519;
	struct kb_hostkey *ecdsa;
	struct kb_hostkey *rsa;
};

static struct keys test_keys;

static size_t
hex_decode(const char *hex, uint8_t *out, size_t max)
{
	size_t i, n = strlen(hex) / 2;
	unsigned int v;

	assert_true(n <= max);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static int
setup_keys(void **state)
{
	(void)state;
	if (kb_hostkey_generate(KB_HOSTKEY_ED25519, 0, &test_keys.ed25519) != 0 ||
	    kb_hostkey_generate(KB_HOSTKEY_ECDSA_P256, 0, &test_keys.ecdsa) != 0 ||
	    kb_hostkey_generate(KB_HOSTKEY_RSA, 2048, &test_keys.rsa) != 0)
		return -1;
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	kb_hostkey_free(test_keys.ed25519);
	kb_hostkey_free(test_keys.ecdsa);
	kb_hostkey_free(test_keys.rsa);
	return 0;
}

static const uint8_t kexinit_c[] = { 20, 1, 2, 3, 4 };
static const uint8_t kexinit_s[] = { 20, 5, 6, 7, 8, 9 };

static void
fill_params(struct kb_kex_params *sp, struct kb_kex_client_params *cp,
    const struct kb_hostkey *key, const char *alg)
{
	memset(sp, 0, sizeof(*sp));
	memset(cp, 0, sizeof(*cp));
	sp->client_version = cp->client_version = "SSH-2.0-OpenSSH_9.6";
	sp->server_version = cp->server_version = "SSH-2.0-kexbridge";
	sp->client_kexinit = cp->client_kexinit = kexinit_c;
	sp->client_kexinit_len = cp->client_kexinit_len = sizeof(kexinit_c);
	sp->server_kexinit = cp->server_kexinit = kexinit_s;
	sp->server_kexinit_len = cp->server_kexinit_len = sizeof(kexinit_s);
	sp->hostkey = key;
	sp->hostkey_alg = cp->hostkey_alg = alg;
}

/*
 * Runs one exchange: client and server pass payloads until both are done.
 * Returns the first error; on success checks H and keys match.
 */
static int
run_exchange(const char *method, const struct kb_kex_params *sp,
    const struct kb_kex_client_params *cp, unsigned int *group_bits)
{
	const struct kb_kex_info *info = kb_kex_lookup(method);
	struct kb_kex_server *server = NULL;
	struct kb_kex_client *client = NULL;
	struct kb_buf *c2s, *s2c;
	struct kb_newkeys ck, sk;
	const uint8_t *ch, *sh;
	size_t chlen, shlen, i;
	bool cdone = false, sdone = false;
	int r;

	assert_non_null(info);
	c2s = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	s2c = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	assert_int_equal(kb_kex_server_new(info, sp, &server), 0);
	assert_int_equal(kb_kex_client_new(info, cp, &client), 0);
	assert_int_equal(kb_kex_client_start(client, c2s), 0);

	for (i = 0; i < 4 && !cdone; i++) {
		r = kb_kex_server_input(server, kb_buf_ptr(c2s), kb_buf_len(c2s), s2c, &sdone);
		kb_buf_reset(c2s);
		if (r != 0)
			goto out;
		if (group_bits != NULL && !sdone && kb_buf_len(s2c) > 5) {
			/* GEX_GROUP: byte 31, mpint p: length minus the sign byte. */
			const uint8_t *p = kb_buf_ptr(s2c);
			uint32_t plen = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
			    (uint32_t)p[3] << 8 | p[4];
			*group_bits = (plen - 1) * 8;
		}
		r = kb_kex_client_input(client, kb_buf_ptr(s2c), kb_buf_len(s2c), c2s, &cdone);
		kb_buf_reset(s2c);
		if (r != 0)
			goto out;
	}
	assert_true(sdone);
	assert_true(cdone);

	ch = kb_kex_client_hash(client, &chlen);
	sh = kb_kex_server_hash(server, &shlen);
	assert_non_null(ch);
	assert_non_null(sh);
	assert_int_equal(chlen, shlen);
	assert_memory_equal(ch, sh, chlen);

	for (i = 0; i < 2; i++) {
		assert_int_equal(kb_kex_client_derive(client, ch, chlen, i == 0,
		    &test_aes256_ctr, &test_hmac_sha512, &ck), 0);
		assert_int_equal(kb_kex_server_derive(server, sh, shlen, i == 0,
		    &test_aes256_ctr, &test_hmac_sha512, &sk), 0);
		assert_memory_equal(ck.key, sk.key, sizeof(ck.key));
		assert_memory_equal(ck.iv, sk.iv, sizeof(ck.iv));
		assert_memory_equal(ck.mac_key, sk.mac_key, sizeof(ck.mac_key));
		assert_ptr_equal(sk.cipher, &test_aes256_ctr);
		assert_ptr_equal(sk.mac, &test_hmac_sha512);
	}
	r = 0;
out:
	kb_kex_client_free(client);
	kb_kex_server_free(server);
	kb_buf_free(c2s);
	kb_buf_free(s2c);
	return r;
}

static void
kex_names_all_found(void **state)
{
	char *names = strdup(kb_kex_names()), *save = NULL, *tok;
	int count = 0;

	(void)state;
	assert_string_equal(names, "curve25519-sha256,curve25519-sha256@libssh.org,"
	    "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
	    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
	    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256");
	for (tok = strtok_r(names, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		assert_non_null(kb_kex_lookup(tok));
		assert_string_equal(kb_kex_lookup(tok)->name, tok);
		count++;
	}
	assert_int_equal(count, 9);
	assert_null(kb_kex_lookup("diffie-hellman-group1-sha1"));
	assert_null(kb_kex_lookup(NULL));
	free(names);
}

/* RFC 7748 section 6.1. */
static void
x25519_rfc7748_vector(void **state)
{
	uint8_t alice[32], bob_pub[32], k[32];
	uint8_t expect[36] = { 0, 0, 0, 32 };
	struct kb_buf *shared = kb_buf_new(1024);
	EVP_PKEY *key;

	(void)state;
	hex_decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	    alice, sizeof(alice));
	hex_decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
	    bob_pub, sizeof(bob_pub));
	hex_decode("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
	    k, sizeof(k));
	memcpy(expect + 4, k, sizeof(k));
	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, alice, sizeof(alice));
	assert_non_null(key);
	assert_int_equal(kex_ecdh_agree(kb_kex_lookup("curve25519-sha256"), key, bob_pub,
	    sizeof(bob_pub), shared), 0);
	/* K is the mpint of the 32 bytes read as a big-endian number. */
	assert_int_equal(kb_buf_len(shared), sizeof(expect));
	assert_memory_equal(kb_buf_ptr(shared), expect, sizeof(expect));
	EVP_PKEY_free(key);
	kb_buf_free(shared);
}

/*
 * Expected keys made by tests/unit/gen/kex_derive.py (Python hashlib):
 * K = mpint(0x80 0x01 .. 0x1f), H = 32 x 0x11, session_id = 32 x 0x22.
 */
static void
derive_matches_python_hashlib(void **state)
{
	static const char *const expect[2][3] = {
		{ "96783d174b5a03c0a2f4ca8b301ad8e3",
		  "0577db51500e0d45ca71afcdd646d08ca4e1eac59b85a13cc5090a71a10d2813",
		  "3f7e6b5aaa47c71c512fa13a8a8ab3792e7191a8da5b62c95b9035acd8c52b90"
		  "2de61282bc271b35161c74db71dba0a78d4c73a13bf571ee6b3c3ef5258681d6" },
		{ "b69fb978e0a56fd9828982386b817afe",
		  "dfc6e4056c89a641d510bcb915bc85233d7328b688ce45c94dd43e070b65f383",
		  "62b784b7557042fa4c90cc6cd5b6fd8daee8c74dbe9f1c4467105104da4e93bc"
		  "c7157be487e71a1b85c235d639645f22d947a545714cc47efa1b069fba92a8b7" },
	};
	uint8_t mag[32], h[32], sid[32], want[64];
	struct kb_buf *k = kb_buf_new(1024);
	struct kb_newkeys keys;
	size_t i, n;

	(void)state;
	mag[0] = 0x80;
	for (i = 1; i < sizeof(mag); i++)
		mag[i] = (uint8_t)i;
	memset(h, 0x11, sizeof(h));
	memset(sid, 0x22, sizeof(sid));
	assert_int_equal(kb_buf_put_mpint(k, mag, sizeof(mag)), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(kb_kex_derive_keys("SHA256", kb_buf_ptr(k), kb_buf_len(k),
		    h, sizeof(h), sid, sizeof(sid), i == 0, &test_aes256_ctr,
		    &test_hmac_sha512, &keys), 0);
		n = hex_decode(expect[i][0], want, sizeof(want));
		assert_memory_equal(keys.iv, want, n);
		n = hex_decode(expect[i][1], want, sizeof(want));
		assert_memory_equal(keys.key, want, n);
		n = hex_decode(expect[i][2], want, sizeof(want));
		assert_memory_equal(keys.mac_key, want, n);
	}
	kb_buf_free(k);
}

static void
exchange_every_method_and_hostkey(void **state)
{
	static const char *const methods[] = {
		"curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
		"ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
		"diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512",
		"diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256",
	};
	const struct {
		struct kb_hostkey *key;
		const char *alg;
	} hostkeys[] = {
		{ test_keys.ed25519, "ssh-ed25519" },
		{ test_keys.ecdsa, "ecdsa-sha2-nistp256" },
		{ test_keys.rsa, "rsa-sha2-256" },
		{ test_keys.rsa, "rsa-sha2-512" },
		{ test_keys.rsa, "ssh-rsa" },
	};
	struct kb_kex_params sp;
	struct kb_kex_client_params cp;
	size_t m, h;

	(void)state;
	for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		for (h = 0; h < sizeof(hostkeys) / sizeof(hostkeys[0]); h++) {
			fill_params(&sp, &cp, hostkeys[h].key, hostkeys[h].alg);
			print_message("%s with %s\n", methods[m], hostkeys[h].alg);
			assert_int_equal(run_exchange(methods[m], &sp, &cp, NULL), 0);
		}
	}
}

static int
run_gex(uint32_t min, uint32_t n, uint32_t max, bool old,
    const struct kb_moduli *moduli, unsigned int *bits)
{
	struct kb_kex_params sp;
	struct kb_kex_client_params cp;

	fill_params(&sp, &cp, test_keys.ed25519, "ssh-ed25519");
	sp.moduli = moduli;
	cp.gex_min = min;
	cp.gex_n = n;
	cp.gex_max = max;
	cp.gex_old = old;
	*bits = 0;
	return run_exchange("diffie-hellman-group-exchange-sha256", &sp, &cp, bits);
}

static void
gex_request_edge_cases(void **state)
{
	unsigned int bits;

	(void)state;
	assert_int_equal(run_gex(2048, 2048, 2048, false, NULL, &bits), 0);
	assert_int_equal(bits, 2048);
	/* Below OpenSSH's 2048-bit floor: clamped, still hashed as sent. */
	assert_int_equal(run_gex(1024, 1024, 2048, false, NULL, &bits), 0);
	assert_int_equal(bits, 2048);
	assert_int_equal(run_gex(2048, 3072, 8192, false, NULL, &bits), 0);
	assert_int_equal(bits, 4096);
	/* Above 8192 is clamped to 8192. */
	assert_int_equal(run_gex(2048, 9000, 10000, false, NULL, &bits), 0);
	assert_int_equal(bits, 8192);
	/* n = 3000 with max 3500: no built-in group >= n fits, so 2048. */
	assert_int_equal(run_gex(2048, 3000, 3500, false, NULL, &bits), 0);
	assert_int_equal(bits, 2048);
	assert_int_equal(run_gex(0, 4096, 0, true, NULL, &bits), 0);
	assert_int_equal(bits, 4096);

	assert_int_equal(run_gex(4096, 3072, 8192, false, NULL, &bits), KB_ERR_KEX_FAILED);
	assert_int_equal(run_gex(2048, 8192, 4096, false, NULL, &bits), KB_ERR_KEX_FAILED);
	assert_int_equal(run_gex(4096, 4096, 2048, false, NULL, &bits), KB_ERR_KEX_FAILED);
	assert_int_equal(run_gex(512, 1024, 1024, false, NULL, &bits), KB_ERR_KEX_FAILED);
	/* Nothing built in lies within [2100, 2200]. */
	assert_int_equal(run_gex(2100, 2150, 2200, false, NULL, &bits), KB_ERR_KEX_FAILED);
}

static void
gex_uses_system_moduli(void **state)
{
	struct kb_moduli *moduli = NULL;
	unsigned int bits;

	(void)state;
	if (kb_moduli_load("/etc/ssh/moduli", &moduli) != 0)
		skip();
	assert_true(kb_moduli_count(moduli) > 0);
	assert_int_equal(run_gex(2048, 3072, 8192, false, moduli, &bits), 0);
	assert_int_equal(bits, 3072);
	assert_int_equal(run_gex(2048, 7000, 8192, false, moduli, &bits), 0);
	assert_int_equal(bits, 7680);
	/*
	 * OpenSSH 9.2's request with a cipher or MAC that needs a 256-bit
	 * key (aes256-ctr, hmac-sha2-256): sshd picks an 8192-bit group.
	 */
	assert_int_equal(run_gex(2048, 8192, 8192, false, moduli, &bits), 0);
	assert_int_equal(bits, 8192);
	kb_moduli_free(moduli);
}

static void
moduli_load_skips_malformed_lines(void **state)
{
	char path[] = "/tmp/kb-moduli-XXXXXX";
	struct kb_moduli *moduli = NULL;
	FILE *f;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "# Time Type Tests Tries Size Generator Modulus\n\n");
	/* The RFC 3526 prime is used as the modulus of a line: size 2047, g 2. */
	fprintf(f, "20240101000000 2 6 100 2047 2 %s\n", rfc3526_p2048);
	fprintf(f, "20240101000000 2 6 100 2047 2\n");			/* no modulus */
	fprintf(f, "20240101000000 4 6 100 2047 2 %s\n", rfc3526_p2048);	/* not safe */
	fprintf(f, "20240101000000 2 1 100 2047 2 %s\n", rfc3526_p2048);	/* composite */
	fprintf(f, "20240101000000 2 6 100 3071 2 %s\n", rfc3526_p2048);	/* size */
	fprintf(f, "20240101000000 2 6 100 2047 2 %sZZ\n", rfc3526_p2048);	/* hex */
	fclose(f);
	assert_int_equal(kb_moduli_load(path, &moduli), 0);
	assert_int_equal(kb_moduli_count(moduli), 1);
	assert_int_equal(kb_moduli_skipped(moduli), 5);
	kb_moduli_free(moduli);
	unlink(path);
	assert_int_equal(kb_moduli_load("/nonexistent/moduli", &moduli), KB_ERR_NOT_FOUND);
}

static void
dh_group14_matches_rfc3526(void **state)
{
	struct kex_dh_group *group = NULL;
	BIGNUM *p = NULL;

	(void)state;
	assert_int_equal(kex_dh_group_fixed(2048, &group), 0);
	assert_true(BN_hex2bn(&p, rfc3526_p2048) > 0);
	assert_int_equal(BN_cmp(group->p, p), 0);
	assert_true(BN_is_word(group->g, 2));
	BN_free(p);
	kex_dh_group_free(group);
}

/* Sends one KEXDH_INIT / ECDH_INIT with the given value to a fresh server. */
static int
server_init_with(const char *method, const uint8_t *value, size_t len, bool mpint)
{
	struct kb_kex_params sp;
	struct kb_kex_client_params cp;
	struct kb_kex_server *server = NULL;
	struct kb_buf *msg = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	struct kb_buf *reply = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	bool done = true;
	int r;

	fill_params(&sp, &cp, test_keys.ed25519, "ssh-ed25519");
	assert_int_equal(kb_kex_server_new(kb_kex_lookup(method), &sp, &server), 0);
	assert_int_equal(kb_buf_put_u8(msg, SSH_MSG_KEXDH_INIT), 0);
	if (mpint)
		assert_int_equal(kb_buf_put_mpint(msg, value, len), 0);
	else
		assert_int_equal(kb_buf_put_string(msg, value, len), 0);
	r = kb_kex_server_input(server, kb_buf_ptr(msg), kb_buf_len(msg), reply, &done);
	if (r != 0) {
		assert_false(done);
		assert_int_equal(kb_buf_len(reply), 0);
	}
	kb_kex_server_free(server);
	kb_buf_free(msg);
	kb_buf_free(reply);
	return r;
}

/*
 * Checks one fixed-group method's handling of e: 0, 1, p-1, p and values
 * with fewer than 4 bits set are rejected, 0x0f is accepted.
 */
static void
check_dh_method_public_values(const char *method, unsigned int bits)
{
	struct kex_dh_group *group = NULL;
	uint8_t p[1024], v[1024];
	size_t plen;

	assert_int_equal(kex_dh_group_fixed(bits, &group), 0);
	plen = (size_t)BN_num_bytes(group->p);
	assert_true(plen <= sizeof(p));
	BN_bn2bin(group->p, p);
	kex_dh_group_free(group);

	assert_int_equal(server_init_with(method, v, 0, true), KB_ERR_KEX_FAILED);
	v[0] = 1;
	assert_int_equal(server_init_with(method, v, 1, true), KB_ERR_KEX_FAILED);
	memcpy(v, p, plen);
	v[plen - 1] -= 1;	/* p - 1; p ends in 0xff */
	assert_int_equal(server_init_with(method, v, plen, true), KB_ERR_KEX_FAILED);
	assert_int_equal(server_init_with(method, p, plen, true), KB_ERR_KEX_FAILED);
	/* 2 = g^1 and 7: fewer than 4 bits set, rejected like OpenSSH does. */
	v[0] = 2;
	assert_int_equal(server_init_with(method, v, 1, true), KB_ERR_KEX_FAILED);
	v[0] = 0x07;
	assert_int_equal(server_init_with(method, v, 1, true), KB_ERR_KEX_FAILED);
	/* 2^(8 * (plen - 1)): one bit set, near the size of p. */
	memset(v, 0, plen);
	v[0] = 1;
	assert_int_equal(server_init_with(method, v, plen, true), KB_ERR_KEX_FAILED);
	v[0] = 0x0f;
	assert_int_equal(server_init_with(method, v, 1, true), 0);
}

static void
dh_rejects_invalid_e(void **state)
{
	(void)state;
	check_dh_method_public_values("diffie-hellman-group14-sha256", 2048);
	check_dh_method_public_values("diffie-hellman-group16-sha512", 4096);
	check_dh_method_public_values("diffie-hellman-group18-sha512", 8192);
}

/*
 * A 2048-bit safe prime that is not one of OpenSSL's named groups, made
 * with `openssl prime -generate -bits 2048 -safe -hex`, so that a group
 * with it has no q.
 */
static const char safe_p2048[] =
    "DFE76D84BAF199BD098220E4B2248470CEE1A7A73C983F84BBB4A59A5C9B02D0"
    "62A17D738582B7787019B0FAC71E181F43200E45C3AE7193C5DDCC589A0A4A21"
    "DF744E81FCBFC66D17E8F296B361D6A7E5E629A912A6EEFC42BFA3A367590949"
    "5E88469BEBA1BDF4BA062978A8726DD73BEB117757C8524248CF3F7484B6C690"
    "884F7F30D0AEB0219C2BE180DE8755C8DD63122A23CB453A9140C266C82138CA"
    "BEEA61442CE2FB7F5F0C4CE0A849195E5DFB6F199F19D27A0B6BE07ADC1D18C2"
    "F8FA2B22694F3B1CF4F4EBAC1C45B96EB869F78BD5C143DD8DFA6AEF7D359BF0"
    "1012C429D2E076C4747A6806CD1A036C2FEE4A5D9409FE15A7A57D26C79CAFE7";

/* A group exchange group with the prime safe_p2048 and g = 2. */
static struct kex_dh_group *
explicit_group_unnamed(void)
{
	struct kex_dh_group *group = NULL;
	uint8_t p[256], g = 2;
	size_t plen;

	plen = hex_decode(safe_p2048, p, sizeof(p));
	assert_int_equal(kex_dh_group_explicit(p, plen, &g, 1, &group), 0);
	assert_int_equal(group->bits, 2048);
	return group;
}

/*
 * A group exchange group with the prime of a built-in group, as a server
 * without a moduli file sends it. OpenSSL recognises the prime and adds q.
 */
static struct kex_dh_group *
explicit_group_of(unsigned int bits)
{
	struct kex_dh_group *fixed = NULL, *group = NULL;
	uint8_t p[1024], g[8];
	int plen, glen;

	assert_int_equal(kex_dh_group_fixed(bits, &fixed), 0);
	assert_true(BN_num_bytes(fixed->p) <= (int)sizeof(p));
	assert_true(BN_num_bytes(fixed->g) <= (int)sizeof(g));
	plen = BN_bn2bin(fixed->p, p);
	glen = BN_bn2bin(fixed->g, g);
	assert_int_equal(kex_dh_group_explicit(p, (size_t)plen, g, (size_t)glen, &group), 0);
	assert_null(group->name);
	kex_dh_group_free(fixed);
	return group;
}

/* Generates a key pair in group and returns the private exponent's bit length. */
static int
private_exponent_bits(const struct kex_dh_group *group)
{
	struct kb_buf *pub = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	EVP_PKEY *key = NULL;
	BIGNUM *priv = NULL;
	int bits;

	assert_non_null(pub);
	assert_int_equal(kex_dh_keygen(group, &key, pub), 0);
	assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv), 1);
	bits = BN_num_bits(priv);
	BN_clear_free(priv);
	EVP_PKEY_free(key);
	kb_buf_free(pub);
	return bits;
}

/*
 * The private exponent is about twice the group's security strength, not
 * as long as p. A group without q gets the length kex_dh.c sets (224 bits
 * for 2048, 384 for 8192). Named groups, and explicit groups with their
 * prime, get the length OpenSSL picks: at most 225, 325 and 400 bits with
 * OpenSSL 3.0. Each bound leaves 64 bits for a random exponent's leading zeros.
 */
static void
dh_private_exponent_is_short(void **state)
{
	static const unsigned int named_bits[] = { 2048, 4096, 8192 };
	struct kb_moduli *moduli = NULL;
	struct kex_dh_group *group;
	size_t i;

	(void)state;
	group = explicit_group_unnamed();
	assert_in_range(private_exponent_bits(group), 224 - 64, 224);
	kex_dh_group_free(group);

	for (i = 0; i < sizeof(named_bits) / sizeof(named_bits[0]); i++) {
		assert_int_equal(kex_dh_group_fixed(named_bits[i], &group), 0);
		assert_in_range(private_exponent_bits(group), 225 - 64, 400);
		kex_dh_group_free(group);

		group = explicit_group_of(named_bits[i]);
		assert_in_range(private_exponent_bits(group), 225 - 64, 400);
		kex_dh_group_free(group);
	}

	/* An 8192-bit moduli group, as sshd picks for OpenSSH 9.2's request. */
	if (kb_moduli_load("/etc/ssh/moduli", &moduli) != 0)
		return;
	if (kex_dh_group_choose(moduli, 8192, 8192, 8192, &group) == 0) {
		assert_int_equal(group->bits, 8192);
		assert_in_range(private_exponent_bits(group), 384 - 64, 384);
		kex_dh_group_free(group);
	}
	kb_moduli_free(moduli);
}

/* kex_dh_agree() with a group exchange group, which has no q. */
static void
dh_explicit_group_checks_peer(void **state)
{
	struct kex_dh_group *group = explicit_group_unnamed();
	struct kb_buf *pub = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	struct kb_buf *shared = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	EVP_PKEY *key = NULL;
	uint8_t v[256];
	size_t plen;

	(void)state;
	assert_non_null(pub);
	assert_non_null(shared);
	assert_int_equal(kex_dh_keygen(group, &key, pub), 0);
	plen = (size_t)BN_num_bytes(group->p);
	assert_true(plen <= sizeof(v));
	BN_bn2bin(group->p, v);
	v[plen - 1] -= 1;	/* p - 1 */
	assert_int_equal(kex_dh_agree(group, key, v, plen, shared), KB_ERR_KEX_FAILED);
	v[plen - 1] += 1;	/* p */
	assert_int_equal(kex_dh_agree(group, key, v, plen, shared), KB_ERR_KEX_FAILED);
	v[0] = 0x07;
	assert_int_equal(kex_dh_agree(group, key, v, 1, shared), KB_ERR_KEX_FAILED);
	assert_int_equal(kb_buf_len(shared), 0);
	v[0] = 0x0f;
	assert_int_equal(kex_dh_agree(group, key, v, 1, shared), 0);
	assert_true(kb_buf_len(shared) > 4);
	EVP_PKEY_free(key);
	kb_buf_free(pub);
	kb_buf_free(shared);
	kex_dh_group_free(group);
}

static void
ecdh_rejects_invalid_points(void **state)
{
	uint8_t zero[65] = { 0 }, bad[65];

	(void)state;
	assert_int_equal(server_init_with("curve25519-sha256", zero, 32, false),
	    KB_ERR_KEX_FAILED);
	assert_int_equal(server_init_with("curve25519-sha256", zero, 31, false),
	    KB_ERR_KEX_FAILED);
	/* 0x04 || (1, 1) is not on P-256. */
	memset(bad, 0, sizeof(bad));
	bad[0] = 0x04;
	bad[32] = 1;
	bad[64] = 1;
	assert_int_equal(server_init_with("ecdh-sha2-nistp256", bad, 65, false),
	    KB_ERR_KEX_FAILED);
	assert_int_equal(server_init_with("ecdh-sha2-nistp256", zero, 1, false),
	    KB_ERR_KEX_FAILED);
}

static void
server_rejects_unexpected_message(void **state)
{
	struct kb_kex_params sp;
	struct kb_kex_client_params cp;
	struct kb_kex_server *server = NULL;
	struct kb_buf *reply = kb_buf_new(1024);
	const uint8_t gex_init[] = { SSH_MSG_KEX_DH_GEX_INIT, 0, 0, 0, 1, 2 };
	bool done;

	(void)state;
	fill_params(&sp, &cp, test_keys.ed25519, "ssh-ed25519");
	assert_int_equal(kb_kex_server_new(kb_kex_lookup("curve25519-sha256"), &sp,
	    &server), 0);
	assert_int_equal(kb_kex_server_input(server, gex_init, sizeof(gex_init), reply,
	    &done), KB_ERR_UNEXPECTED_MESSAGE);
	assert_null(kb_kex_server_hash(server, NULL));
	kb_kex_server_free(server);

	assert_int_equal(kb_kex_server_new(kb_kex_lookup(
	    "diffie-hellman-group-exchange-sha256"), &sp, &server), 0);
	assert_int_equal(kb_kex_server_input(server, gex_init, sizeof(gex_init), reply,
	    &done), KB_ERR_UNEXPECTED_MESSAGE);
	kb_kex_server_free(server);
	kb_buf_free(reply);
}

static void
client_rejects_bad_signature(void **state)
{
	struct kb_kex_params sp;
	struct kb_kex_client_params cp;
	struct kb_kex_server *server = NULL;
	struct kb_kex_client *client = NULL;
	struct kb_buf *c2s = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	struct kb_buf *s2c = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	uint8_t *copy;
	size_t len;
	bool done;

	(void)state;
	fill_params(&sp, &cp, test_keys.ecdsa, "ecdsa-sha2-nistp256");
	assert_int_equal(kb_kex_server_new(kb_kex_lookup("curve25519-sha256"), &sp,
	    &server), 0);
	assert_int_equal(kb_kex_client_new(kb_kex_lookup("curve25519-sha256"), &cp,
	    &client), 0);
	assert_int_equal(kb_kex_client_start(client, c2s), 0);
	assert_int_equal(kb_kex_server_input(server, kb_buf_ptr(c2s), kb_buf_len(c2s),
	    s2c, &done), 0);
	assert_true(done);
	len = kb_buf_len(s2c);
	copy = malloc(len);
	memcpy(copy, kb_buf_ptr(s2c), len);
	copy[len - 1] ^= 0x01;	/* last byte of s */
	kb_buf_reset(c2s);
	assert_int_equal(kb_kex_client_input(client, copy, len, c2s, &done),
	    KB_ERR_SIGNATURE_INVALID);
	assert_false(done);
	free(copy);
	kb_kex_client_free(client);
	kb_kex_server_free(server);
	kb_buf_free(c2s);
	kb_buf_free(s2c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kex_names_all_found),
		cmocka_unit_test(x25519_rfc7748_vector),
		cmocka_unit_test(derive_matches_python_hashlib),
		cmocka_unit_test(dh_group14_matches_rfc3526),
		cmocka_unit_test(moduli_load_skips_malformed_lines),
		cmocka_unit_test(exchange_every_method_and_hostkey),
		cmocka_unit_test(gex_request_edge_cases),
		cmocka_unit_test(gex_uses_system_moduli),
		cmocka_unit_test(dh_rejects_invalid_e),
		cmocka_unit_test(dh_private_exponent_is_short),
		cmocka_unit_test(dh_explicit_group_checks_peer),
		cmocka_unit_test(ecdh_rejects_invalid_points),
		cmocka_unit_test(server_rejects_unexpected_message),
		cmocka_unit_test(client_rejects_bad_signature),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
