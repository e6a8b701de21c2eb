/*
 * Ephemeral ECDH for curve25519-sha256 (RFC 8731) and ecdh-sha2-nistp*
 * (RFC 5656 section 4) over OpenSSL EVP_PKEY.
 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kex_internal.h"

#define X25519_LEN	32
/* Largest shared secret: the x coordinate on P-521. */
#define ECDH_SECRET_MAX	66

/* Length of an uncompressed point on the curve: 0x04 || x || y. */
static size_t
ecdh_point_len(int nid)
{
	switch (nid) {
	case NID_X9_62_prime256v1:
		return 1 + 2 * 32;
	case NID_secp384r1:
		return 1 + 2 * 48;
	case NID_secp521r1:
		return 1 + 2 * 66;
	default:
		return 0;
	}
}

static int
ecdh_keygen_x25519(EVP_PKEY **keyp, struct kb_buf *pub)
{
	uint8_t raw[X25519_LEN];
	size_t len = sizeof(raw);

	if ((*keyp = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL)
		return KB_ERR_CRYPTO;
	if (EVP_PKEY_get_raw_public_key(*keyp, raw, &len) != 1 || len != sizeof(raw))
		return KB_ERR_CRYPTO;
	return kb_buf_put(pub, raw, len);
}

static int
ecdh_keygen_nist(int nid, EVP_PKEY **keyp, struct kb_buf *pub)
{
	uint8_t point[1 + 2 * 66];
	size_t len = 0;

	if (ecdh_point_len(nid) == 0)
		return KB_ERR_INVALID_ARGUMENT;
	if ((*keyp = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nid))) == NULL)
		return KB_ERR_CRYPTO;
	/* Freshly generated keys use the uncompressed form RFC 5656 requires. */
	if (EVP_PKEY_get_octet_string_param(*keyp, OSSL_PKEY_PARAM_PUB_KEY, point,
	    sizeof(point), &len) != 1 || len != ecdh_point_len(nid))
		return KB_ERR_CRYPTO;
	return kb_buf_put(pub, point, len);
}

int
kex_ecdh_keygen(const struct kb_kex_info *info, EVP_PKEY **keyp, struct kb_buf *pub)
{
	if (info == NULL || keyp == NULL || pub == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*keyp = NULL;
	if (info->type == KB_KEX_CURVE25519)
		return ecdh_keygen_x25519(keyp, pub);
	if (info->type == KB_KEX_ECDH_NIST)
		return ecdh_keygen_nist(info->curve_nid, keyp, pub);
	return KB_ERR_INVALID_ARGUMENT;
}

/* Builds the peer's key, rejecting anything but a point on our curve. */
static int
ecdh_peer_key(const struct kb_kex_info *info, const uint8_t *peer, size_t len,
    EVP_PKEY **peerp)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = KB_ERR_KEX_FAILED;

	*peerp = NULL;
	if (info->type == KB_KEX_CURVE25519) {
		if (len != X25519_LEN)
			return KB_ERR_KEX_FAILED;
		*peerp = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, len);
		return *peerp != NULL ? KB_OK : KB_ERR_KEX_FAILED;
	}

	/* RFC 5656 section 4: Q_C is an uncompressed point, never infinity. */
	if (len != ecdh_point_len(info->curve_nid) || peer[0] != 0x04)
		return KB_ERR_KEX_FAILED;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    OBJ_nid2sn(info->curve_nid), 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, peer, len) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	/* Decoding the point fails unless it lies on the curve. */
	if (EVP_PKEY_fromdata(ctx, peerp, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	r = KB_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

static bool
ecdh_all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

int
kex_ecdh_agree(const struct kb_kex_info *info, EVP_PKEY *key, const uint8_t *peer,
    size_t peer_len, struct kb_buf *shared)
{
	EVP_PKEY *peer_key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t secret[ECDH_SECRET_MAX];
	size_t len = sizeof(secret);
	int r;

	if (info == NULL || key == NULL || (peer == NULL && peer_len != 0) || shared == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = ecdh_peer_key(info, peer, peer_len, &peer_key)) != 0)
		goto out;

	/* Setting the peer checks its public key; derive fails on a weak one. */
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	if (EVP_PKEY_derive_set_peer(ctx, peer_key) != 1 ||
	    EVP_PKEY_derive(ctx, secret, &len) != 1) {
		r = KB_ERR_KEX_FAILED;
		goto out;
	}

	/*
	 * RFC 7748 section 6.1 and RFC 8731 section 3: an all-zero X25519
	 * output means a low-order peer point and must abort the exchange.
	 */
	if (ecdh_all_zero(secret, len)) {
		r = KB_ERR_KEX_FAILED;
		goto out;
	}
	/* The secret is a big-endian unsigned number, sent as an mpint. */
	r = kb_buf_put_mpint(shared, secret, len);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer_key);
	return r;
}
