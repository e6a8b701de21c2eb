/*
 * chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305) over
 * the OpenSSL 3 "ChaCha20" cipher and "POLY1305" MAC.
 *
 * The 64-byte key is two ChaCha20 keys. K_2 (bytes 0..31) encrypts the
 * packet body and yields the Poly1305 key. K_1 (bytes 32..63) encrypts only
 * the 4-byte packet length, so the length can be read before the rest of
 * the packet arrives. The nonce of both is the sequence number. Per packet:
 *
 *	poly_key = first 32 bytes of ChaCha20(K_2, seqnr, block 0)
 *	length   = ChaCha20(K_1, seqnr, block 0) XOR packet_length
 *	body     = ChaCha20(K_2, seqnr, from block 1) XOR packet
 *	tag      = Poly1305(poly_key, encrypted length || encrypted body)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "kexbridge/err.h"
#include "chachapoly.h"

#define CHACHA_KEY_LEN		32
#define CHACHA_IV_LEN		16
#define POLY1305_KEY_LEN	32

struct kb_chachapoly {
	EVP_CIPHER_CTX *body;	/* K_2 */
	EVP_CIPHER_CTX *header;	/* K_1 */
	EVP_MAC_CTX *poly;
};

static int
chachapoly_ctx_new(const uint8_t *key, EVP_CIPHER_CTX **ctxp)
{
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx = NULL;
	int r = KB_ERR_CRYPTO;

	if ((cipher = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL)) == NULL)
		return KB_ERR_CRYPTO;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	if (EVP_CipherInit_ex2(ctx, cipher, key, NULL, 1, NULL) != 1)
		goto out;
	*ctxp = ctx;
	ctx = NULL;
	r = KB_OK;
 out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return r;
}

static int
chachapoly_mac_new(EVP_MAC_CTX **ctxp)
{
	EVP_MAC *mac;

	if ((mac = EVP_MAC_fetch(NULL, "POLY1305", NULL)) == NULL)
		return KB_ERR_CRYPTO;
	*ctxp = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	return *ctxp == NULL ? KB_ERR_ALLOC_FAIL : KB_OK;
}

int
kb_chachapoly_new(const uint8_t *key, struct kb_chachapoly **cpp)
{
	struct kb_chachapoly *cp;
	int r;

	if (key == NULL || cpp == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = chachapoly_ctx_new(key, &cp->body)) != 0 ||
	    (r = chachapoly_ctx_new(key + CHACHA_KEY_LEN, &cp->header)) != 0 ||
	    (r = chachapoly_mac_new(&cp->poly)) != 0) {
		kb_chachapoly_free(cp);
		return r;
	}
	*cpp = cp;
	return KB_OK;
}

void
kb_chachapoly_free(struct kb_chachapoly *cp)
{
	if (cp == NULL)
		return;
	/* The EVP free functions wipe the key schedules they hold. */
	EVP_CIPHER_CTX_free(cp->body);
	EVP_CIPHER_CTX_free(cp->header);
	EVP_MAC_CTX_free(cp->poly);
	free(cp);
}

/*
 * Runs the keystream of ctx, starting at block counter, over len bytes.
 *
 * OpenSSH uses the original ChaCha20 with a 64-bit block counter and a
 * 64-bit nonce. OpenSSL's "ChaCha20" takes a 16-byte IV that it loads as
 * state words 12..15 in little-endian order: the RFC 8439 layout of a 32-bit
 * counter and a 96-bit nonce. Loading the same four words with the counter
 * as 8 little-endian bytes followed by the nonce as 8 bytes gives the
 * original layout, and the nonce bytes are the sequence number as a 64-bit
 * big-endian integer. A packet of at most 256 KiB uses about 4100 blocks
 * from counter 1, so word 12 never overflows into word 13.
 */
static int
chachapoly_xor(EVP_CIPHER_CTX *ctx, uint32_t seqnr, uint64_t counter,
    uint8_t *dest, const uint8_t *src, size_t len)
{
	uint8_t iv[CHACHA_IV_LEN];
	int i, outl;

	for (i = 0; i < 8; i++)
		iv[i] = (uint8_t)(counter >> (8 * i));
	memset(iv + 8, 0, 4);
	iv[12] = (uint8_t)(seqnr >> 24);
	iv[13] = (uint8_t)(seqnr >> 16);
	iv[14] = (uint8_t)(seqnr >> 8);
	iv[15] = (uint8_t)seqnr;

	if (len > INT32_MAX)
		return KB_ERR_INVALID_ARGUMENT;
	if (EVP_CipherInit_ex2(ctx, NULL, NULL, iv, 1, NULL) != 1 ||
	    EVP_CipherUpdate(ctx, dest, &outl, src, (int)len) != 1 ||
	    (size_t)outl != len)
		return KB_ERR_CRYPTO;
	return KB_OK;
}

/* Computes the Poly1305 tag of the encrypted length and body at data. */
static int
chachapoly_tag(struct kb_chachapoly *cp, uint32_t seqnr, const uint8_t *data,
    size_t len, uint8_t *tag)
{
	static const uint8_t zero[POLY1305_KEY_LEN];
	uint8_t poly_key[POLY1305_KEY_LEN];
	size_t outl;
	int r = KB_ERR_CRYPTO;

	if ((r = chachapoly_xor(cp->body, seqnr, 0, poly_key, zero,
	    sizeof(poly_key))) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if (EVP_MAC_init(cp->poly, poly_key, sizeof(poly_key), NULL) != 1 ||
	    EVP_MAC_update(cp->poly, data, len) != 1 ||
	    EVP_MAC_final(cp->poly, tag, &outl, KB_CHACHAPOLY_TAG_LEN) != 1 ||
	    outl != KB_CHACHAPOLY_TAG_LEN)
		goto out;
	r = KB_OK;
 out:
	OPENSSL_cleanse(poly_key, sizeof(poly_key));
	return r;
}

int
kb_chachapoly_get_length(struct kb_chachapoly *cp, uint32_t seqnr,
    const uint8_t *enc, uint32_t *lenp)
{
	uint8_t plain[4];
	int r;

	if (cp == NULL || enc == NULL || lenp == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = chachapoly_xor(cp->header, seqnr, 0, plain, enc, 4)) != 0)
		return r;
	*lenp = (uint32_t)plain[0] << 24 | (uint32_t)plain[1] << 16 |
	    (uint32_t)plain[2] << 8 | (uint32_t)plain[3];
	return KB_OK;
}

int
kb_chachapoly_encrypt(struct kb_chachapoly *cp, uint32_t seqnr,
    uint8_t *dest, const uint8_t *src, size_t len)
{
	int r;

	if (cp == NULL || dest == NULL || src == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = chachapoly_xor(cp->header, seqnr, 0, dest, src, 4)) != 0 ||
	    (r = chachapoly_xor(cp->body, seqnr, 1, dest + 4, src + 4, len)) != 0)
		return r;
	return chachapoly_tag(cp, seqnr, dest, 4 + len, dest + 4 + len);
}

int
kb_chachapoly_decrypt(struct kb_chachapoly *cp, uint32_t seqnr,
    uint8_t *dest, const uint8_t *src, size_t len)
{
	uint8_t expected[KB_CHACHAPOLY_TAG_LEN];
	int r;

	if (cp == NULL || dest == NULL || src == NULL)
		return KB_ERR_INVALID_ARGUMENT;

	/* Authenticate first, so no byte of a forged packet is decrypted. */
	if ((r = chachapoly_tag(cp, seqnr, src, 4 + len, expected)) != 0)
		return r;
	if (CRYPTO_memcmp(expected, src + 4 + len, sizeof(expected)) != 0)
		return KB_ERR_MAC_INVALID;
	return chachapoly_xor(cp->body, seqnr, 1, dest, src + 4, len);
}
