/*
 * Host keys: public blobs (RFC 4253 section 6.6), signatures for
 * ssh-ed25519 (RFC 8709), ecdsa-sha2-nistp256 (RFC 5656 section 3.1),
 * rsa-sha2-256/512 (RFC 8332) and ssh-rsa (RFC 4253, SHA-1), and SHA256
 * fingerprints as ssh-keygen -l prints them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "hostkey_internal.h"

/* OpenSSH refuses RSA keys below 1024 bits (SSH_RSA_MINIMUM_MODULUS_SIZE). */
#define HOSTKEY_RSA_MIN_BITS	1024
#define HOSTKEY_RSA_MAX_BITS	16384
#define HOSTKEY_RSA_DEFAULT_BITS	3072
#define ED25519_LEN		32
#define ED25519_SIG_LEN		64
#define P256_LEN		32
#define P256_POINT_LEN		(1 + 2 * P256_LEN)

struct kb_hostkey {
	enum kb_hostkey_type type;
	EVP_PKEY *pkey;
	bool has_private;
};

int
hostkey_wrap_pkey(EVP_PKEY *pkey, bool has_private, struct kb_hostkey **keyp)
{
	struct kb_hostkey *key;
	char group[64];
	enum kb_hostkey_type type;

	*keyp = NULL;
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		type = KB_HOSTKEY_ED25519;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
		    group, sizeof(group), NULL) != 1 ||
		    (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))
			return KB_ERR_KEY_INVALID;
		type = KB_HOSTKEY_ECDSA_P256;
	} else if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (EVP_PKEY_get_bits(pkey) < HOSTKEY_RSA_MIN_BITS ||
		    EVP_PKEY_get_bits(pkey) > HOSTKEY_RSA_MAX_BITS)
			return KB_ERR_KEY_INVALID;
		type = KB_HOSTKEY_RSA;
	} else
		return KB_ERR_KEY_INVALID;

	if ((key = calloc(1, sizeof(*key))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	key->type = type;
	key->pkey = pkey;
	key->has_private = has_private;
	*keyp = key;
	return KB_OK;
}

const EVP_PKEY *
hostkey_get_pkey(const struct kb_hostkey *key)
{
	return key->pkey;
}

bool
hostkey_has_private(const struct kb_hostkey *key)
{
	return key->has_private;
}

const char *
hostkey_type_name(const struct kb_hostkey *key)
{
	switch (key->type) {
	case KB_HOSTKEY_ED25519:
		return "ssh-ed25519";
	case KB_HOSTKEY_ECDSA_P256:
		return "ecdsa-sha2-nistp256";
	default:
		return "ssh-rsa";
	}
}

int
kb_hostkey_generate(enum kb_hostkey_type type, unsigned int bits,
    struct kb_hostkey **keyp)
{
	EVP_PKEY *pkey = NULL;
	int r;

	if (keyp == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*keyp = NULL;
	switch (type) {
	case KB_HOSTKEY_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case KB_HOSTKEY_ECDSA_P256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case KB_HOSTKEY_RSA:
		if (bits == 0)
			bits = HOSTKEY_RSA_DEFAULT_BITS;
		if (bits < 2048 || bits > HOSTKEY_RSA_MAX_BITS)
			return KB_ERR_INVALID_ARGUMENT;
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		break;
	default:
		return KB_ERR_INVALID_ARGUMENT;
	}
	if (pkey == NULL)
		return KB_ERR_CRYPTO;
	if ((r = hostkey_wrap_pkey(pkey, true, keyp)) != 0)
		EVP_PKEY_free(pkey);
	return r;
}

void
kb_hostkey_free(struct kb_hostkey *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

enum kb_hostkey_type
kb_hostkey_type(const struct kb_hostkey *key)
{
	return key->type;
}

const char *
kb_hostkey_algorithms(const struct kb_hostkey *key)
{
	if (key == NULL)
		return "";
	switch (key->type) {
	case KB_HOSTKEY_ED25519:
		return "ssh-ed25519";
	case KB_HOSTKEY_ECDSA_P256:
		return "ecdsa-sha2-nistp256";
	default:
		return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
	}
}

/* The digest of an RSA signature algorithm, or NULL for anything else. */
static const char *
hostkey_rsa_digest(const char *alg)
{
	if (strcmp(alg, "rsa-sha2-512") == 0)
		return "SHA512";
	if (strcmp(alg, "rsa-sha2-256") == 0)
		return "SHA256";
	if (strcmp(alg, "ssh-rsa") == 0)
		return "SHA1";
	return NULL;
}

bool
kb_hostkey_supports(const struct kb_hostkey *key, const char *alg)
{
	if (key == NULL || alg == NULL)
		return false;
	if (key->type == KB_HOSTKEY_RSA)
		return hostkey_rsa_digest(alg) != NULL;
	return strcmp(alg, kb_hostkey_algorithms(key)) == 0;
}

static int
hostkey_put_bn_param(const EVP_PKEY *pkey, const char *name, struct kb_buf *out)
{
	BIGNUM *bn = NULL;
	uint8_t *bytes = NULL;
	int len, r = KB_ERR_CRYPTO;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		goto out;
	len = BN_num_bytes(bn);
	if ((bytes = malloc((size_t)len + 1)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	BN_bn2bin(bn, bytes);
	r = kb_buf_put_mpint(out, bytes, (size_t)len);
out:
	free(bytes);
	BN_free(bn);
	return r;
}

/* Q as an uncompressed point, whatever form the key was stored in. */
static int
hostkey_ec_point(const EVP_PKEY *pkey, uint8_t point[P256_POINT_LEN])
{
	BIGNUM *x = NULL, *y = NULL;
	int r = KB_ERR_CRYPTO;

	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
		goto out;
	point[0] = 0x04;
	if (BN_bn2binpad(x, point + 1, P256_LEN) != P256_LEN ||
	    BN_bn2binpad(y, point + 1 + P256_LEN, P256_LEN) != P256_LEN)
		goto out;
	r = KB_OK;
out:
	BN_free(x);
	BN_free(y);
	return r;
}

int
kb_hostkey_put_public(const struct kb_hostkey *key, struct kb_buf *out)
{
	uint8_t raw[P256_POINT_LEN];
	size_t len = ED25519_LEN;
	int r;

	if (key == NULL || out == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = kb_buf_put_cstring(out, hostkey_type_name(key))) != 0)
		return r;
	switch (key->type) {
	case KB_HOSTKEY_ED25519:
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &len) != 1 ||
		    len != ED25519_LEN)
			return KB_ERR_CRYPTO;
		return kb_buf_put_string(out, raw, len);
	case KB_HOSTKEY_ECDSA_P256:
		if ((r = hostkey_ec_point(key->pkey, raw)) != 0 ||
		    (r = kb_buf_put_cstring(out, "nistp256")) != 0)
			return r;
		return kb_buf_put_string(out, raw, sizeof(raw));
	default:
		/* RFC 4253 section 6.6: e before n. */
		if ((r = hostkey_put_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, out)) != 0)
			return r;
		return hostkey_put_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, out);
	}
}

/* Builds a public key from OpenSSL parameters. */
static int
hostkey_pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **pkeyp)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = KB_ERR_KEY_INVALID;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pkeyp, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	r = KB_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

static int
hostkey_parse_blob(struct kb_buf *b, EVP_PKEY **pkeyp)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *e = NULL, *n = NULL;
	const uint8_t *d1, *d2;
	size_t l1, l2;
	char *name = NULL;
	int r;

	*pkeyp = NULL;
	if ((r = kb_buf_get_cstring(b, &name, NULL)) != 0)
		goto out;
	r = KB_ERR_KEY_INVALID;
	if (strcmp(name, "ssh-ed25519") == 0) {
		if (kb_buf_get_string_direct(b, &d1, &l1) != 0 || l1 != ED25519_LEN ||
		    kb_buf_expect_end(b) != 0)
			goto out;
		*pkeyp = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, d1, l1);
		r = *pkeyp != NULL ? KB_OK : KB_ERR_KEY_INVALID;
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	if (strcmp(name, "ecdsa-sha2-nistp256") == 0) {
		if (kb_buf_get_string_direct(b, &d1, &l1) != 0 || l1 != 8 ||
		    memcmp(d1, "nistp256", 8) != 0 ||
		    kb_buf_get_string_direct(b, &d2, &l2) != 0 || l2 != P256_POINT_LEN ||
		    d2[0] != 0x04 || kb_buf_expect_end(b) != 0 ||
		    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
		    "prime256v1", 0) != 1 ||
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, d2, l2) != 1)
			goto out;
		r = hostkey_pkey_fromdata("EC", bld, pkeyp);
	} else if (strcmp(name, "ssh-rsa") == 0) {
		if (kb_buf_get_mpint_direct(b, &d1, &l1) != 0 ||
		    kb_buf_get_mpint_direct(b, &d2, &l2) != 0 || kb_buf_expect_end(b) != 0 ||
		    l2 > HOSTKEY_RSA_MAX_BITS / 8 ||
		    (e = BN_bin2bn(d1, (int)l1, NULL)) == NULL ||
		    (n = BN_bin2bn(d2, (int)l2, NULL)) == NULL ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
			goto out;
		r = hostkey_pkey_fromdata("RSA", bld, pkeyp);
	}
out:
	BN_free(e);
	BN_free(n);
	OSSL_PARAM_BLD_free(bld);
	free(name);
	return r;
}

int
kb_hostkey_from_blob(const uint8_t *blob, size_t len, struct kb_hostkey **keyp)
{
	struct kb_buf *b;
	EVP_PKEY *pkey = NULL;
	int r;

	if (keyp == NULL || blob == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*keyp = NULL;
	if ((b = kb_buf_from(blob, len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	r = hostkey_parse_blob(b, &pkey);
	kb_buf_free(b);
	if (r != 0)
		return r == KB_ERR_ALLOC_FAIL ? r : KB_ERR_KEY_INVALID;
	if ((r = hostkey_wrap_pkey(pkey, false, keyp)) != 0)
		EVP_PKEY_free(pkey);
	return r;
}

/* The digest name for EVP_DigestSign, NULL for Ed25519 (PureEdDSA). */
static const char *
hostkey_digest(const struct kb_hostkey *key, const char *alg)
{
	if (key->type == KB_HOSTKEY_ED25519)
		return NULL;
	if (key->type == KB_HOSTKEY_ECDSA_P256)
		return "SHA256";
	return hostkey_rsa_digest(alg);
}

/* Appends r and s of a DER ECDSA signature as two mpints (RFC 5656 3.1.2). */
static int
hostkey_put_ecdsa_sig(const uint8_t *der, size_t len, struct kb_buf *out)
{
	const unsigned char *p = der;
	const BIGNUM *sr, *ss;
	ECDSA_SIG *sig;
	uint8_t num[P256_LEN];
	int r = KB_ERR_CRYPTO;

	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		return KB_ERR_CRYPTO;
	ECDSA_SIG_get0(sig, &sr, &ss);
	if (BN_bn2binpad(sr, num, sizeof(num)) < 0 ||
	    (r = kb_buf_put_mpint(out, num, sizeof(num))) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if (BN_bn2binpad(ss, num, sizeof(num)) < 0)
		goto out;
	r = kb_buf_put_mpint(out, num, sizeof(num));
out:
	ECDSA_SIG_free(sig);
	return r;
}

int
kb_hostkey_sign(const struct kb_hostkey *key, const char *alg, const uint8_t *data,
    size_t len, struct kb_buf *out)
{
	EVP_MD_CTX *ctx = NULL;
	struct kb_buf *inner = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int r = KB_ERR_CRYPTO;

	if (key == NULL || data == NULL || out == NULL || !kb_hostkey_supports(key, alg) ||
	    !key->has_private)
		return KB_ERR_INVALID_ARGUMENT;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    (inner = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	if (EVP_DigestSignInit_ex(ctx, NULL, hostkey_digest(key, alg), NULL, NULL,
	    key->pkey, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1)
		goto out;
	if ((sig = malloc(siglen)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, &siglen, data, len) != 1)
		goto out;

	if (key->type == KB_HOSTKEY_ECDSA_P256) {
		if ((r = hostkey_put_ecdsa_sig(sig, siglen, inner)) != 0)
			goto out;
	} else if ((r = kb_buf_put(inner, sig, siglen)) != 0)
		goto out;
	if ((r = kb_buf_put_cstring(out, alg)) != 0 ||
	    (r = kb_buf_put_string(out, kb_buf_ptr(inner), kb_buf_len(inner))) != 0)
		goto out;
out:
	free(sig);
	kb_buf_free(inner);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* Turns the (mpint r, mpint s) blob into the DER form OpenSSL verifies. */
static int
hostkey_ecdsa_der(const uint8_t *blob, size_t len, uint8_t **derp, size_t *derlenp)
{
	struct kb_buf *b = NULL;
	const uint8_t *rp, *sp;
	size_t rlen, slen;
	BIGNUM *br = NULL, *bs = NULL;
	ECDSA_SIG *sig = NULL;
	unsigned char *der = NULL;
	int derlen, r = KB_ERR_SIGNATURE_INVALID;

	if ((b = kb_buf_from(blob, len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if (kb_buf_get_mpint_direct(b, &rp, &rlen) != 0 ||
	    kb_buf_get_mpint_direct(b, &sp, &slen) != 0 || kb_buf_expect_end(b) != 0 ||
	    rlen > P256_LEN || slen > P256_LEN)
		goto out;
	if ((br = BN_bin2bn(rp, (int)rlen, NULL)) == NULL ||
	    (bs = BN_bin2bn(sp, (int)slen, NULL)) == NULL ||
	    (sig = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(sig, br, bs) != 1) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	br = bs = NULL;
	if ((derlen = i2d_ECDSA_SIG(sig, &der)) <= 0) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	*derp = der;
	*derlenp = (size_t)derlen;
	r = KB_OK;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(sig);
	kb_buf_free(b);
	return r;
}

/* Brings the signature into the form EVP_DigestVerify takes. */
static int
hostkey_sig_for_openssl(const struct kb_hostkey *key, const uint8_t *raw, size_t len,
    uint8_t **sigp, size_t *siglenp)
{
	size_t modlen;

	switch (key->type) {
	case KB_HOSTKEY_ED25519:
		if (len != ED25519_SIG_LEN)
			return KB_ERR_SIGNATURE_INVALID;
		break;
	case KB_HOSTKEY_ECDSA_P256:
		return hostkey_ecdsa_der(raw, len, sigp, siglenp);
	default:
		/*
		 * OpenSSH accepts a signature shorter than the modulus and
		 * pads it with leading zeros, so this code does too.
		 */
		modlen = (size_t)EVP_PKEY_get_size(key->pkey);
		if (len == 0 || len > modlen)
			return KB_ERR_SIGNATURE_INVALID;
		if ((*sigp = OPENSSL_zalloc(modlen)) == NULL)
			return KB_ERR_ALLOC_FAIL;
		memcpy(*sigp + modlen - len, raw, len);
		*siglenp = modlen;
		return KB_OK;
	}
	if ((*sigp = OPENSSL_memdup(raw, len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	*siglenp = len;
	return KB_OK;
}

int
kb_hostkey_verify(const struct kb_hostkey *key, const char *alg, const uint8_t *data,
    size_t len, const uint8_t *sig, size_t siglen)
{
	struct kb_buf *b = NULL;
	EVP_MD_CTX *ctx = NULL;
	const uint8_t *raw;
	uint8_t *osig = NULL;
	size_t rawlen, osiglen = 0;
	char *name = NULL;
	int r = KB_ERR_SIGNATURE_INVALID;

	if (key == NULL || data == NULL || sig == NULL || !kb_hostkey_supports(key, alg))
		return KB_ERR_INVALID_ARGUMENT;
	if ((b = kb_buf_from(sig, siglen)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	/* The blob must name the algorithm that was negotiated. */
	if (kb_buf_get_cstring(b, &name, NULL) != 0 || strcmp(name, alg) != 0 ||
	    kb_buf_get_string_direct(b, &raw, &rawlen) != 0 || kb_buf_expect_end(b) != 0)
		goto out;
	if ((r = hostkey_sig_for_openssl(key, raw, rawlen, &osig, &osiglen)) != 0)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	r = KB_ERR_SIGNATURE_INVALID;
	if (EVP_DigestVerifyInit_ex(ctx, NULL, hostkey_digest(key, alg), NULL, NULL,
	    key->pkey, NULL) != 1) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	if (EVP_DigestVerify(ctx, osig, osiglen, data, len) == 1)
		r = KB_OK;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(osig);
	free(name);
	kb_buf_free(b);
	return r;
}

int
kb_hostkey_fingerprint(const struct kb_hostkey *key, char *out, size_t outlen)
{
	static const char prefix[] = "SHA256:";
	struct kb_buf *blob = NULL;
	uint8_t digest[32];
	unsigned char b64[48];
	unsigned int dlen = 0;
	int n, r;

	if (key == NULL || out == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((blob = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_hostkey_put_public(key, blob)) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if (EVP_Digest(kb_buf_ptr(blob), kb_buf_len(blob), digest, &dlen,
	    EVP_sha256(), NULL) != 1 || dlen != sizeof(digest))
		goto out;
	n = EVP_EncodeBlock(b64, digest, (int)dlen);
	/* ssh-keygen prints the base64 without its '=' padding. */
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	r = KB_ERR_BUFFER_LIMIT;
	if (outlen < sizeof(prefix) + (size_t)n)
		goto out;
	memcpy(out, prefix, sizeof(prefix) - 1);
	memcpy(out + sizeof(prefix) - 1, b64, (size_t)n + 1);
	r = KB_OK;
out:
	kb_buf_free(blob);
	return r;
}
