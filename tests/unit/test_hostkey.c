/*
 * Unit tests for host keys (kexbridge/hostkey.h). Keys come from the real
 * ssh-keygen, and fingerprints are compared with what ssh-keygen -l prints.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"

#define SSH_KEYGEN	"/usr/bin/ssh-keygen"

static char tmpdir[] = "/tmp/kb-hostkey-XXXXXX";

static int
setup_dir(void **state)
{
	(void)state;
	if (access(SSH_KEYGEN, X_OK) != 0)
		return 0;
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown_dir(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

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

/* Runs ssh-keygen to make tmpdir/name with the further options in extra. */
static void
keygen(const char *name, const char *type, const char *extra)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), SSH_KEYGEN " -q -t %s %s -f '%s/%s' </dev/null",
	    type, extra, tmpdir, name);
	assert_int_equal(system(cmd), 0);
}

/* The "SHA256:..." field of ssh-keygen -l -f path. */
static void
keygen_fingerprint(const char *path, char *out, size_t outlen)
{
	char cmd[512], line[512], *fp, *end;
	FILE *p;

	snprintf(cmd, sizeof(cmd), SSH_KEYGEN " -l -E sha256 -f '%s'", path);
	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	assert_non_null(fp = strstr(line, "SHA256:"));
	end = strchr(fp, ' ');
	assert_non_null(end);
	*end = '\0';
	assert_true(strlen(fp) < outlen);
	strcpy(out, fp);
}

static void
load_keygen_keys_fingerprints_match(void **state)
{
	static const struct {
		const char *type;
		const char *bits;
		enum kb_hostkey_type expect;
	} types[] = {
		{ "ed25519", "", KB_HOSTKEY_ED25519 },
		{ "ecdsa", "-b 256", KB_HOSTKEY_ECDSA_P256 },
		{ "rsa", "-b 2048", KB_HOSTKEY_RSA },
	};
	static const char *const formats[] = { "", "-m PEM" };
	char name[64], extra[64], path[512], want[128], got[128];
	struct kb_hostkey *key;
	size_t t, f;

	(void)state;
	if (access(SSH_KEYGEN, X_OK) != 0)
		skip();
	for (t = 0; t < 3; t++) {
		for (f = 0; f < 2; f++) {
			snprintf(name, sizeof(name), "%s_%zu", types[t].type, f);
			snprintf(extra, sizeof(extra), "-N '' %s %s", types[t].bits, formats[f]);
			keygen(name, types[t].type, extra);
			snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
			print_message("loading %s %s\n", types[t].type, formats[f]);
			assert_int_equal(kb_hostkey_load(path, &key), 0);
			assert_int_equal(kb_hostkey_type(key), types[t].expect);
			assert_int_equal(kb_hostkey_fingerprint(key, got, sizeof(got)), 0);
			strcat(path, ".pub");
			keygen_fingerprint(path, want, sizeof(want));
			assert_string_equal(got, want);
			kb_hostkey_free(key);
		}
	}
}

static void
load_rejects_encrypted_keys(void **state)
{
	char path[512];
	struct kb_hostkey *key = NULL;

	(void)state;
	if (access(SSH_KEYGEN, X_OK) != 0)
		skip();
	keygen("enc_openssh", "ed25519", "-N secret");
	snprintf(path, sizeof(path), "%s/enc_openssh", tmpdir);
	assert_int_equal(kb_hostkey_load(path, &key), KB_ERR_KEY_INVALID);
	assert_null(key);

	keygen("enc_pem", "ecdsa", "-b 256 -N secret -m PEM");
	snprintf(path, sizeof(path), "%s/enc_pem", tmpdir);
	assert_int_equal(kb_hostkey_load(path, &key), KB_ERR_KEY_INVALID);
	assert_null(key);

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(kb_hostkey_load(path, &key), KB_ERR_NOT_FOUND);
}

static void
load_rejects_garbage(void **state)
{
	char path[512];
	struct kb_hostkey *key = NULL;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/garbage", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fputs("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
	    "-----END OPENSSH PRIVATE KEY-----\n", f);
	fclose(f);
	assert_int_equal(kb_hostkey_load(path, &key), KB_ERR_KEY_INVALID);
	assert_null(key);
}

static void
generate_save_load_round_trip(void **state)
{
	static const enum kb_hostkey_type types[] = {
		KB_HOSTKEY_ED25519, KB_HOSTKEY_ECDSA_P256, KB_HOSTKEY_RSA,
	};
	struct kb_hostkey *key, *loaded;
	char path[512], pub[520], fp1[128], fp2[128], fp3[128];
	struct stat st;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(kb_hostkey_generate(types[i], 2048, &key), 0);
		snprintf(path, sizeof(path), "%s/gen_%zu", tmpdir, i);
		assert_int_equal(kb_hostkey_save(key, path), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		/* Created exclusively: a second save must not overwrite. */
		assert_int_not_equal(kb_hostkey_save(key, path), 0);

		assert_int_equal(kb_hostkey_load(path, &loaded), 0);
		assert_int_equal(kb_hostkey_type(loaded), types[i]);
		assert_int_equal(kb_hostkey_fingerprint(key, fp1, sizeof(fp1)), 0);
		assert_int_equal(kb_hostkey_fingerprint(loaded, fp2, sizeof(fp2)), 0);
		assert_string_equal(fp1, fp2);
		if (access(SSH_KEYGEN, X_OK) == 0) {
			snprintf(pub, sizeof(pub), "%s.pub", path);
			keygen_fingerprint(pub, fp3, sizeof(fp3));
			assert_string_equal(fp1, fp3);
		}
		kb_hostkey_free(loaded);
		kb_hostkey_free(key);
	}
}

static void
sign_verify_every_algorithm(void **state)
{
	static const struct {
		enum kb_hostkey_type type;
		const char *alg;
	} cases[] = {
		{ KB_HOSTKEY_ED25519, "ssh-ed25519" },
		{ KB_HOSTKEY_ECDSA_P256, "ecdsa-sha2-nistp256" },
		{ KB_HOSTKEY_RSA, "rsa-sha2-256" },
		{ KB_HOSTKEY_RSA, "rsa-sha2-512" },
		{ KB_HOSTKEY_RSA, "ssh-rsa" },
	};
	const uint8_t data[] = "exchange hash stand-in";
	struct kb_hostkey *key = NULL, *pub;
	struct kb_buf *sig, *blob;
	uint8_t *copy;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (i == 0 || cases[i].type != cases[i - 1].type) {
			kb_hostkey_free(key);
			assert_int_equal(kb_hostkey_generate(cases[i].type, 2048, &key), 0);
		}
		assert_true(kb_hostkey_supports(key, cases[i].alg));
		sig = kb_buf_new(KB_BUF_SIZE_DEFAULT);
		blob = kb_buf_new(KB_BUF_SIZE_DEFAULT);
		assert_int_equal(kb_hostkey_sign(key, cases[i].alg, data, sizeof(data), sig), 0);
		assert_int_equal(kb_hostkey_verify(key, cases[i].alg, data, sizeof(data),
		    kb_buf_ptr(sig), kb_buf_len(sig)), 0);

		/* The public half parsed back from its blob verifies as well. */
		assert_int_equal(kb_hostkey_put_public(key, blob), 0);
		assert_int_equal(kb_hostkey_from_blob(kb_buf_ptr(blob), kb_buf_len(blob),
		    &pub), 0);
		assert_int_equal(kb_hostkey_verify(pub, cases[i].alg, data, sizeof(data),
		    kb_buf_ptr(sig), kb_buf_len(sig)), 0);
		assert_int_not_equal(kb_hostkey_sign(pub, cases[i].alg, data,
		    sizeof(data), sig), 0);

		assert_int_equal(kb_hostkey_verify(key, cases[i].alg, data, sizeof(data) - 1,
		    kb_buf_ptr(sig), kb_buf_len(sig)), KB_ERR_SIGNATURE_INVALID);
		copy = malloc(kb_buf_len(sig));
		memcpy(copy, kb_buf_ptr(sig), kb_buf_len(sig));
		copy[kb_buf_len(sig) - 1] ^= 0x40;
		assert_int_equal(kb_hostkey_verify(key, cases[i].alg, data, sizeof(data),
		    copy, kb_buf_len(sig)), KB_ERR_SIGNATURE_INVALID);
		free(copy);
		kb_hostkey_free(pub);
		kb_buf_free(sig);
		kb_buf_free(blob);
	}
	/* An rsa-sha2-512 signature does not pass as rsa-sha2-256. */
	sig = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	assert_int_equal(kb_hostkey_sign(key, "rsa-sha2-512", data, sizeof(data), sig), 0);
	assert_int_equal(kb_hostkey_verify(key, "rsa-sha2-256", data, sizeof(data),
	    kb_buf_ptr(sig), kb_buf_len(sig)), KB_ERR_SIGNATURE_INVALID);
	assert_false(kb_hostkey_supports(key, "ssh-ed25519"));
	assert_string_equal(kb_hostkey_algorithms(key), "rsa-sha2-512,rsa-sha2-256,ssh-rsa");
	kb_buf_free(sig);
	kb_hostkey_free(key);
}

/* Reads the two strings of a signature blob: the name and the raw signature. */
static void
split_sig(struct kb_buf *sig, char **namep, const uint8_t **rawp, size_t *lenp)
{
	assert_int_equal(kb_buf_get_cstring(sig, namep, NULL), 0);
	assert_int_equal(kb_buf_get_string_direct(sig, rawp, lenp), 0);
	assert_int_equal(kb_buf_expect_end(sig), 0);
}

/* RFC 8032 section 7.1, TEST 1: empty message. */
static void
ed25519_rfc8032_test1(void **state)
{
	uint8_t secret[32], pk[32], want[64];
	char path[512], *name = NULL;
	struct kb_hostkey *key;
	struct kb_buf *sig = kb_buf_new(1024), *blob = kb_buf_new(1024);
	const uint8_t *raw, *blob_pk;
	size_t len;
	EVP_PKEY *pkey;
	FILE *f;

	(void)state;
	hex_decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	    secret, sizeof(secret));
	hex_decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	    pk, sizeof(pk));
	hex_decode("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
	    want, sizeof(want));
	assert_non_null(pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    secret, sizeof(secret)));
	snprintf(path, sizeof(path), "%s/rfc8032.pem", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(pkey);

	assert_int_equal(kb_hostkey_load(path, &key), 0);
	assert_int_equal(kb_hostkey_put_public(key, blob), 0);
	assert_int_equal(kb_buf_get_cstring(blob, &name, NULL), 0);
	assert_string_equal(name, "ssh-ed25519");
	free(name);
	assert_int_equal(kb_buf_get_string_direct(blob, &blob_pk, &len), 0);
	assert_int_equal(len, 32);
	assert_memory_equal(blob_pk, pk, 32);

	assert_int_equal(kb_hostkey_sign(key, "ssh-ed25519", (const uint8_t *)"", 0, sig), 0);
	split_sig(sig, &name, &raw, &len);
	assert_string_equal(name, "ssh-ed25519");
	assert_int_equal(len, 64);
	assert_memory_equal(raw, want, 64);
	free(name);
	kb_hostkey_free(key);
	kb_buf_free(sig);
	kb_buf_free(blob);
}

/* An rsa-sha2-256 signature checked by OpenSSL directly, key from the saved PEM. */
static void
rsa_signature_verifies_with_openssl(void **state)
{
	const uint8_t data[] = "independent check";
	struct kb_hostkey *key;
	struct kb_buf *sig = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	char path[512], *name = NULL;
	const uint8_t *raw;
	size_t len;
	EVP_PKEY *pkey;
	EVP_MD_CTX *ctx;
	FILE *f;

	(void)state;
	assert_int_equal(kb_hostkey_generate(KB_HOSTKEY_RSA, 2048, &key), 0);
	snprintf(path, sizeof(path), "%s/rsa_openssl", tmpdir);
	assert_int_equal(kb_hostkey_save(key, path), 0);
	assert_int_equal(kb_hostkey_sign(key, "rsa-sha2-256", data, sizeof(data), sig), 0);
	split_sig(sig, &name, &raw, &len);
	assert_string_equal(name, "rsa-sha2-256");
	assert_int_equal(len, 256);

	assert_non_null(f = fopen(path, "r"));
	assert_non_null(pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_non_null(ctx = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, pkey,
	    NULL), 1);
	assert_int_equal(EVP_DigestVerify(ctx, raw, len, data, sizeof(data)), 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	free(name);
	kb_buf_free(sig);
	kb_hostkey_free(key);
}

static void
from_blob_rejects_malformed(void **state)
{
	struct kb_hostkey *key = NULL;
	struct kb_buf *blob = kb_buf_new(1024);
	uint8_t pk[31] = { 0 };

	(void)state;
	assert_int_equal(kb_buf_put_cstring(blob, "ssh-ed25519"), 0);
	assert_int_equal(kb_buf_put_string(blob, pk, sizeof(pk)), 0);
	assert_int_equal(kb_hostkey_from_blob(kb_buf_ptr(blob), kb_buf_len(blob), &key),
	    KB_ERR_KEY_INVALID);
	kb_buf_reset(blob);
	assert_int_equal(kb_buf_put_cstring(blob, "ssh-dss"), 0);
	assert_int_equal(kb_hostkey_from_blob(kb_buf_ptr(blob), kb_buf_len(blob), &key),
	    KB_ERR_KEY_INVALID);
	assert_null(key);
	kb_buf_free(blob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(load_keygen_keys_fingerprints_match),
		cmocka_unit_test(load_rejects_encrypted_keys),
		cmocka_unit_test(load_rejects_garbage),
		cmocka_unit_test(generate_save_load_round_trip),
		cmocka_unit_test(sign_verify_every_algorithm),
		cmocka_unit_test(ed25519_rfc8032_test1),
		cmocka_unit_test(rsa_signature_verifies_with_openssl),
		cmocka_unit_test(from_blob_rejects_malformed),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
