/*
 * The encrypted binary packet protocol (RFC 4253 section 6), one state per
 * direction. Three layouts exist, by where the 4-byte packet_length sits:
 *
 * - aes*-ctr with hmac-sha2-*: the length is encrypted with the rest, and
 *   packet_length + 4 is a multiple of the block size. The MAC covers
 *   seqnr || unencrypted packet (RFC 4253 section 6.4).
 * - aes*-ctr with hmac-sha2-*-etm@openssh.com, and aes*-gcm@openssh.com:
 *   the length is sent in clear and packet_length alone is a multiple of the
 *   block size. The etm MAC covers seqnr || length || ciphertext; GCM
 *   authenticates the length as additional data (RFC 5647 section 7.3).
 * - chacha20-poly1305@openssh.com: the length has its own key and the
 *   framing is as for etm (see chachapoly.c).
 *
 * Before the first NEWKEYS a direction sends unencrypted packets framed to
 * 8 bytes, but they still count for the sequence number.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "kexbridge/buf.h"
#include "kexbridge/cipher.h"
#include "kexbridge/err.h"
#include "kexbridge/packet.h"
#include "chachapoly.h"

#define CODEC_MIN_PADDING	4
#define CODEC_BLOCK_MAX		16
#define GCM_IV_LEN		12
#define GCM_TAG_LEN		16

struct codec_dir {
	const struct kb_cipher_info *cipher;	/* NULL before the first keys */
	const struct kb_mac_info *mac;		/* NULL under an AEAD cipher */
	EVP_CIPHER_CTX *evp;			/* aes*-ctr, aes*-gcm */
	EVP_MAC_CTX *hmac;
	struct kb_chachapoly *chachapoly;
	uint8_t gcm_iv[GCM_IV_LEN];		/* fixed field || invocation counter */
	uint32_t seqnr;
	uint64_t bytes;
	/*
	 * Receive side of aes*-ctr with a non-etm MAC: the first block is
	 * decrypted once to read the length, which advances the CTR counter,
	 * so it is kept here until the rest of the packet arrives.
	 */
	uint8_t first_block[CODEC_BLOCK_MAX];
	bool have_first_block;
	int error;	/* first failure; the direction is unusable after it */
};

struct kb_packet_codec {
	struct codec_dir dirs[2];
	int padding_fill;	/* below 0: random padding */
};

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
peek_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static struct codec_dir *
codec_dir(struct kb_packet_codec *codec, enum kb_direction dir)
{
	return &codec->dirs[dir == KB_DIR_OUT ? 1 : 0];
}

static const struct codec_dir *
codec_dir_const(const struct kb_packet_codec *codec, enum kb_direction dir)
{
	return &codec->dirs[dir == KB_DIR_OUT ? 1 : 0];
}

/* Frees the cipher and MAC state of d; the sequence number stays. */
static void
dir_clear_keys(struct codec_dir *d)
{
	EVP_CIPHER_CTX_free(d->evp);
	EVP_MAC_CTX_free(d->hmac);
	kb_chachapoly_free(d->chachapoly);
	d->evp = NULL;
	d->hmac = NULL;
	d->chachapoly = NULL;
	d->cipher = NULL;
	d->mac = NULL;
	OPENSSL_cleanse(d->gcm_iv, sizeof(d->gcm_iv));
	OPENSSL_cleanse(d->first_block, sizeof(d->first_block));
	d->have_first_block = false;
}

static size_t
dir_block_size(const struct codec_dir *d)
{
	if (d->cipher == NULL || d->cipher->block_size < KB_PACKET_BLOCK)
		return KB_PACKET_BLOCK;
	return d->cipher->block_size;
}

/* Bytes after the packet: the AEAD tag or the MAC. */
static size_t
dir_auth_len(const struct codec_dir *d)
{
	if (d->cipher == NULL)
		return 0;
	if (d->cipher->aead)
		return d->cipher->tag_len;
	return d->mac->mac_len;
}

/* True when packet_length is not encrypted with the packet body. */
static bool
dir_length_outside(const struct codec_dir *d)
{
	return d->cipher != NULL &&
	    (d->cipher->aead || (d->mac != NULL && d->mac->etm));
}

struct kb_packet_codec *
kb_packet_codec_new(void)
{
	struct kb_packet_codec *codec;

	if ((codec = calloc(1, sizeof(*codec))) == NULL)
		return NULL;
	codec->padding_fill = -1;
	return codec;
}

void
kb_packet_codec_free(struct kb_packet_codec *codec)
{
	if (codec == NULL)
		return;
	dir_clear_keys(&codec->dirs[0]);
	dir_clear_keys(&codec->dirs[1]);
	OPENSSL_clear_free(codec, sizeof(*codec));
}

static int
dir_init_evp(struct codec_dir *d, const struct kb_newkeys *keys, int encrypt)
{
	EVP_CIPHER *cipher;
	int r = KB_ERR_CRYPTO;

	if ((cipher = EVP_CIPHER_fetch(NULL,
	    kb_cipher_evp_name(keys->cipher), NULL)) == NULL)
		return KB_ERR_CRYPTO;
	if ((d->evp = EVP_CIPHER_CTX_new()) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	if (EVP_CIPHER_get_key_length(cipher) != (int)keys->cipher->key_len ||
	    EVP_CIPHER_get_iv_length(cipher) != (int)keys->cipher->iv_len)
		goto out;
	/* GCM takes its IV per packet; CTR runs on from this one. */
	if (EVP_CipherInit_ex2(d->evp, cipher, keys->key,
	    keys->cipher->aead ? NULL : keys->iv, encrypt, NULL) != 1)
		goto out;
	if (keys->cipher->aead)
		memcpy(d->gcm_iv, keys->iv, GCM_IV_LEN);
	r = KB_OK;
 out:
	EVP_CIPHER_free(cipher);
	return r;
}

static int
dir_init_hmac(struct codec_dir *d, const struct kb_newkeys *keys)
{
	OSSL_PARAM params[2];
	EVP_MAC *mac;

	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return KB_ERR_CRYPTO;
	d->hmac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (d->hmac == NULL)
		return KB_ERR_ALLOC_FAIL;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)kb_mac_evp_digest(keys->mac), 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(d->hmac, keys->mac_key, keys->mac->key_len,
	    params) != 1 || EVP_MAC_CTX_get_mac_size(d->hmac) != keys->mac->mac_len)
		return KB_ERR_CRYPTO;
	return KB_OK;
}

int
kb_packet_codec_set_keys(struct kb_packet_codec *codec, enum kb_direction dir,
    const struct kb_newkeys *keys)
{
	struct codec_dir *d;
	int r;

	if (codec == NULL || keys == NULL ||
	    kb_cipher_evp_name(keys->cipher) == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	/* Under an AEAD cipher no MAC is negotiated (RFC 5647 section 5.1). */
	if (!keys->cipher->aead && kb_mac_evp_digest(keys->mac) == NULL)
		return KB_ERR_INVALID_ARGUMENT;

	d = codec_dir(codec, dir);
	dir_clear_keys(d);
	d->bytes = 0;
	d->cipher = keys->cipher;
	d->mac = keys->cipher->aead ? NULL : keys->mac;

	if (keys->cipher->length_separate)
		r = kb_chachapoly_new(keys->key, &d->chachapoly);
	else
		r = dir_init_evp(d, keys, dir == KB_DIR_OUT);
	if (r == 0 && d->mac != NULL)
		r = dir_init_hmac(d, keys);
	if (r != 0) {
		dir_clear_keys(d);
		d->error = r;
	}
	return r;
}

void
kb_packet_codec_reset_seqnr(struct kb_packet_codec *codec, enum kb_direction dir)
{
	if (codec != NULL)
		codec_dir(codec, dir)->seqnr = 0;
}

uint32_t
kb_packet_codec_seqnr(const struct kb_packet_codec *codec, enum kb_direction dir)
{
	return codec == NULL ? 0 : codec_dir_const(codec, dir)->seqnr;
}

uint64_t
kb_packet_codec_bytes(const struct kb_packet_codec *codec, enum kb_direction dir)
{
	return codec == NULL ? 0 : codec_dir_const(codec, dir)->bytes;
}

void
kb_packet_codec_set_seqnr(struct kb_packet_codec *codec, enum kb_direction dir,
    uint32_t seqnr)
{
	if (codec != NULL)
		codec_dir(codec, dir)->seqnr = seqnr;
}

void
kb_packet_codec_set_padding_fill(struct kb_packet_codec *codec, int fill)
{
	if (codec != NULL)
		codec->padding_fill = fill < 0 ? -1 : (fill & 0xff);
}

/* Runs CTR over len bytes; the counter carries on from the last call. */
static int
dir_ctr(struct codec_dir *d, uint8_t *dest, const uint8_t *src, size_t len)
{
	int outl;

	if (EVP_CipherUpdate(d->evp, dest, &outl, src, (int)len) != 1 ||
	    (size_t)outl != len)
		return KB_ERR_CRYPTO;
	return KB_OK;
}

/* Computes HMAC(key, seqnr || data) into mac. */
static int
dir_hmac(struct codec_dir *d, const uint8_t *data, size_t len, uint8_t *mac)
{
	uint8_t seqbuf[4];
	size_t outl;

	put_u32(seqbuf, d->seqnr);
	/* A NULL key restarts HMAC with the key given in dir_init_hmac. */
	if (EVP_MAC_init(d->hmac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(d->hmac, seqbuf, sizeof(seqbuf)) != 1 ||
	    EVP_MAC_update(d->hmac, data, len) != 1 ||
	    EVP_MAC_final(d->hmac, mac, &outl, KB_MAC_LEN_MAX) != 1 ||
	    outl != d->mac->mac_len)
		return KB_ERR_CRYPTO;
	return KB_OK;
}

/* Increments the 64-bit big-endian invocation counter (RFC 5647 section 7.1). */
static void
dir_gcm_next_iv(struct codec_dir *d)
{
	size_t i;

	for (i = GCM_IV_LEN; i > GCM_IV_LEN - 8; i--) {
		if (++d->gcm_iv[i - 1] != 0)
			break;
	}
}

/*
 * Runs AES-GCM over the len bytes after the 4-byte length at src, with the
 * length as additional data (RFC 5647 section 7.3). Encrypting writes the tag
 * to tag; decrypting checks it, so a mismatch is KB_ERR_MAC_INVALID.
 */
static int
dir_gcm(struct codec_dir *d, int encrypt, uint8_t *dest, const uint8_t *src,
    size_t len, uint8_t *tag)
{
	int outl, finl;

	if (EVP_CipherInit_ex2(d->evp, NULL, NULL, d->gcm_iv, -1, NULL) != 1 ||
	    EVP_CipherUpdate(d->evp, NULL, &outl, src, 4) != 1 ||
	    EVP_CipherUpdate(d->evp, dest, &outl, src + 4, (int)len) != 1 ||
	    (size_t)outl != len)
		return KB_ERR_CRYPTO;
	dir_gcm_next_iv(d);

	if (!encrypt) {
		if (EVP_CIPHER_CTX_ctrl(d->evp, EVP_CTRL_AEAD_SET_TAG,
		    GCM_TAG_LEN, tag) != 1)
			return KB_ERR_CRYPTO;
		if (EVP_CipherFinal_ex(d->evp, dest + len, &finl) != 1)
			return KB_ERR_MAC_INVALID;
		return KB_OK;
	}
	if (EVP_CipherFinal_ex(d->evp, dest + len, &finl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(d->evp, EVP_CTRL_AEAD_GET_TAG,
	    GCM_TAG_LEN, tag) != 1)
		return KB_ERR_CRYPTO;
	return KB_OK;
}

/*
 * Encrypts and authenticates in place the packet at p: the length field,
 * packet_len bytes, then room for the tag or MAC.
 */
static int
send_protect(struct codec_dir *d, uint8_t *p, size_t packet_len)
{
	uint8_t *auth = p + 4 + packet_len;
	int r;

	if (d->cipher == NULL)
		return KB_OK;
	if (d->chachapoly != NULL)
		return kb_chachapoly_encrypt(d->chachapoly, d->seqnr, p, p,
		    packet_len);
	if (d->cipher->aead)
		return dir_gcm(d, 1, p + 4, p, packet_len, auth);
	if (d->mac->etm) {
		if ((r = dir_ctr(d, p + 4, p + 4, packet_len)) != 0)
			return r;
		return dir_hmac(d, p, 4 + packet_len, auth);
	}
	if ((r = dir_hmac(d, p, 4 + packet_len, auth)) != 0)
		return r;
	return dir_ctr(d, p, p, 4 + packet_len);
}

/* Padding length for len payload bytes: at least 4, to the block size. */
static size_t
send_padding_len(const struct codec_dir *d, size_t len)
{
	size_t block = dir_block_size(d), framed, padding;

	/* Where the length is outside the encryption it is not aligned. */
	framed = (dir_length_outside(d) ? 0 : 4) + 1 + len;
	padding = block - framed % block;
	if (padding < CODEC_MIN_PADDING)
		padding += block;
	return padding;
}

static int
send_packet(struct kb_packet_codec *codec, struct codec_dir *d,
    const uint8_t *payload, size_t len, struct kb_buf *out)
{
	size_t padding_len, packet_len, wire_len;
	uint8_t *p;
	int r;

	padding_len = send_padding_len(d, len);
	packet_len = 1 + len + padding_len;
	if (packet_len > KB_PACKET_MAX)
		return KB_ERR_PACKET_TOO_LARGE;
	wire_len = 4 + packet_len + dir_auth_len(d);

	if ((r = kb_buf_reserve(out, wire_len, &p)) != 0)
		return r;
	put_u32(p, (uint32_t)packet_len);
	p[4] = (uint8_t)padding_len;
	memcpy(p + 5, payload, len);
	if (codec->padding_fill >= 0)
		memset(p + 5 + len, codec->padding_fill, padding_len);
	else if (RAND_bytes(p + 5 + len, (int)padding_len) != 1)
		return KB_ERR_CRYPTO;

	/* NOTE: on failure here out keeps the partial packet; the caller drops the connection. */
	if ((r = send_protect(d, p, packet_len)) != 0)
		return r;
	d->seqnr++;
	d->bytes += wire_len;
	return KB_OK;
}

int
kb_packet_codec_send(struct kb_packet_codec *codec, const uint8_t *payload,
    size_t len, struct kb_buf *out)
{
	struct codec_dir *d;
	int r;

	if (codec == NULL || payload == NULL || len == 0 || out == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	d = codec_dir(codec, KB_DIR_OUT);
	if (d->error != 0)
		return d->error;
	if (len > KB_PACKET_MAX)
		return KB_ERR_PACKET_TOO_LARGE;

	if ((r = send_packet(codec, d, payload, len, out)) != 0 &&
	    r != KB_ERR_PACKET_TOO_LARGE && r != KB_ERR_BUFFER_LIMIT)
		d->error = r;
	return r;
}

/*
 * Reads packet_length from the front of data. For aes*-ctr with a non-etm
 * MAC this decrypts the first block, once per packet.
 */
static int
recv_length(struct codec_dir *d, const uint8_t *data, size_t avail,
    uint32_t *lenp)
{
	size_t block = dir_block_size(d);
	int r;

	if (d->cipher == NULL || (dir_length_outside(d) && d->chachapoly == NULL)) {
		if (avail < 4)
			return KB_ERR_INCOMPLETE;
		*lenp = peek_u32(data);
		return KB_OK;
	}
	if (d->chachapoly != NULL) {
		/* Stateless, so it is cheaper to redo than to keep. */
		if (avail < 4)
			return KB_ERR_INCOMPLETE;
		return kb_chachapoly_get_length(d->chachapoly, d->seqnr, data, lenp);
	}
	if (!d->have_first_block) {
		if (avail < block)
			return KB_ERR_INCOMPLETE;
		if ((r = dir_ctr(d, d->first_block, data, block)) != 0)
			return r;
		d->have_first_block = true;
	}
	*lenp = peek_u32(d->first_block);
	return KB_OK;
}

/* Judges packet_length before waiting for the rest (RFC 4253 section 6.1). */
static int
recv_check_length(const struct codec_dir *d, uint32_t packet_len)
{
	size_t aligned = packet_len + (dir_length_outside(d) ? 0 : 4);

	if (packet_len > KB_PACKET_MAX)
		return KB_ERR_PACKET_TOO_LARGE;
	if (packet_len < 1 + CODEC_MIN_PADDING + 1)
		return KB_ERR_PACKET_TOO_SMALL;
	if (aligned % dir_block_size(d) != 0)
		return KB_ERR_PADDING_INVALID;
	return KB_OK;
}

/* etm: the MAC over the ciphertext is checked before anything is decrypted. */
static int
recv_open_etm(struct codec_dir *d, const uint8_t *data, size_t packet_len,
    uint8_t *plain)
{
	uint8_t mac[KB_MAC_LEN_MAX];
	int r;

	if ((r = dir_hmac(d, data, 4 + packet_len, mac)) != 0)
		return r;
	if (CRYPTO_memcmp(mac, data + 4 + packet_len, d->mac->mac_len) != 0)
		return KB_ERR_MAC_INVALID;
	memcpy(plain, data, 4);
	return dir_ctr(d, plain + 4, data + 4, packet_len);
}

/* Encrypt-and-MAC: the MAC is over the plaintext, so decrypting comes first. */
static int
recv_open_mac(struct codec_dir *d, const uint8_t *data, size_t packet_len,
    uint8_t *plain)
{
	uint8_t mac[KB_MAC_LEN_MAX];
	size_t block = dir_block_size(d);
	int r;

	memcpy(plain, d->first_block, block);
	if ((r = dir_ctr(d, plain + block, data + block,
	    4 + packet_len - block)) != 0 ||
	    (r = dir_hmac(d, plain, 4 + packet_len, mac)) != 0)
		return r;
	if (CRYPTO_memcmp(mac, data + 4 + packet_len, d->mac->mac_len) != 0)
		return KB_ERR_MAC_INVALID;
	return KB_OK;
}

/*
 * Authenticates and decrypts the complete packet at data into plain, which
 * has room for 4 + packet_len bytes. plain is private, so with GCM, where
 * OpenSSL decrypts before it checks the tag, a forged packet's bytes are
 * wiped by the caller and never returned.
 */
static int
recv_open(struct codec_dir *d, const uint8_t *data, uint32_t packet_len,
    uint8_t *plain)
{
	uint8_t tag[GCM_TAG_LEN];

	if (d->cipher == NULL) {
		memcpy(plain, data, 4 + (size_t)packet_len);
		return KB_OK;
	}
	if (d->chachapoly != NULL) {
		put_u32(plain, packet_len);
		return kb_chachapoly_decrypt(d->chachapoly, d->seqnr, plain + 4,
		    data, packet_len);
	}
	if (d->cipher->aead) {
		memcpy(plain, data, 4);
		memcpy(tag, data + 4 + packet_len, GCM_TAG_LEN);
		return dir_gcm(d, 0, plain + 4, data, packet_len, tag);
	}
	if (d->mac->etm)
		return recv_open_etm(d, data, packet_len, plain);
	return recv_open_mac(d, data, packet_len, plain);
}

/* Checks the padding of the decrypted packet and appends its payload. */
static int
recv_payload(const uint8_t *plain, uint32_t packet_len, struct kb_buf *payload)
{
	uint8_t padding_len = plain[4];

	if (padding_len < CODEC_MIN_PADDING || padding_len >= packet_len)
		return KB_ERR_PADDING_INVALID;
	/* Every message starts with its number, so the payload is never empty. */
	if (packet_len - padding_len - 1 == 0)
		return KB_ERR_PACKET_TOO_SMALL;
	return kb_buf_put(payload, plain + 5, packet_len - padding_len - 1);
}

static int
recv_packet(struct codec_dir *d, struct kb_buf *in, struct kb_buf *payload)
{
	const uint8_t *data = kb_buf_ptr(in);
	size_t avail = kb_buf_len(in), wire_len, plain_len = 0;
	uint8_t *plain = NULL;
	uint32_t packet_len;
	int r;

	if ((r = recv_length(d, data, avail, &packet_len)) != 0 ||
	    (r = recv_check_length(d, packet_len)) != 0)
		return r;
	wire_len = 4 + (size_t)packet_len + dir_auth_len(d);
	if (avail < wire_len)
		return KB_ERR_INCOMPLETE;

	plain_len = 4 + (size_t)packet_len;
	if ((plain = malloc(plain_len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = recv_open(d, data, packet_len, plain)) != 0 ||
	    (r = recv_payload(plain, packet_len, payload)) != 0 ||
	    (r = kb_buf_consume(in, wire_len)) != 0)
		goto out;

	d->have_first_block = false;
	OPENSSL_cleanse(d->first_block, sizeof(d->first_block));
	d->seqnr++;
	d->bytes += wire_len;
	r = KB_OK;
 out:
	OPENSSL_clear_free(plain, plain_len);
	return r;
}

int
kb_packet_codec_recv(struct kb_packet_codec *codec, struct kb_buf *in,
    struct kb_buf *payload)
{
	struct codec_dir *d;
	int r;

	if (codec == NULL || in == NULL || payload == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	d = codec_dir(codec, KB_DIR_IN);
	if (d->error != 0)
		return d->error;

	if ((r = recv_packet(d, in, payload)) != 0 && r != KB_ERR_INCOMPLETE)
		d->error = r;
	return r;
}
