/*
 * Ciphers and MACs of the SSH binary packet protocol over OpenSSL 3 EVP
 * (RFC 4253 section 6.3 and 6.4, RFC 4344, RFC 5647 as OpenSSH implements
 * aes*-gcm@openssh.com, PROTOCOL.chacha20poly1305, and OpenSSH's
 * encrypt-then-MAC *-etm@openssh.com forms).
 *
 * "none" is deliberately absent: kexbridge never offers or accepts it.
 */
#ifndef KEXBRIDGE_CIPHER_H
#define KEXBRIDGE_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kb_buf;

#define KB_CIPHER_KEY_MAX	64
#define KB_CIPHER_IV_MAX	16
#define KB_MAC_KEY_MAX		64
#define KB_MAC_LEN_MAX		64

struct kb_cipher_info {
	const char *name;
	size_t block_size;	/* 8 or 16; 8 for chacha20-poly1305 */
	size_t key_len;		/* 64 for chacha20-poly1305 (two keys) */
	size_t iv_len;		/* 0 for chacha20-poly1305 */
	size_t tag_len;		/* AEAD tag, 0 when a MAC is negotiated */
	bool aead;
	/* The packet length is encrypted separately (chacha20-poly1305). */
	bool length_separate;
};

struct kb_mac_info {
	const char *name;
	size_t key_len;
	size_t mac_len;
	bool etm;		/* MAC over the encrypted packet */
};

/* The cipher called name, or NULL when kexbridge does not implement it. */
const struct kb_cipher_info *kb_cipher_lookup(const char *name);
const struct kb_mac_info *kb_mac_lookup(const char *name);
/* Comma-separated names kexbridge implements, strongest first. */
const char *kb_cipher_names(void);
const char *kb_mac_names(void);
/*
 * The OpenSSL 3 cipher and digest names behind an entry returned by the
 * lookups above, for EVP_CIPHER_fetch and the HMAC digest parameter. NULL for
 * a pointer that did not come from a lookup.
 */
const char *kb_cipher_evp_name(const struct kb_cipher_info *cipher);
const char *kb_mac_evp_digest(const struct kb_mac_info *mac);

/* Keys for one direction, derived as RFC 4253 section 7.2 specifies. */
struct kb_newkeys {
	const struct kb_cipher_info *cipher;
	const struct kb_mac_info *mac;	/* NULL under an AEAD cipher */
	uint8_t key[KB_CIPHER_KEY_MAX];
	uint8_t iv[KB_CIPHER_IV_MAX];
	uint8_t mac_key[KB_MAC_KEY_MAX];
};

/*
 * The encrypted packet layer: sequence numbers, framing, padding, cipher and
 * MAC for both directions. Before keys are set, packets are unencrypted.
 */
struct kb_packet_codec;

enum kb_direction {
	KB_DIR_IN,	/* packets we receive */
	KB_DIR_OUT,	/* packets we send */
};

struct kb_packet_codec *kb_packet_codec_new(void);
/* Wipes every key and frees; NULL is accepted. */
void kb_packet_codec_free(struct kb_packet_codec *codec);

/*
 * Switches one direction to new keys (after NEWKEYS in that direction). The
 * keys are copied; the caller wipes its copy.
 */
int kb_packet_codec_set_keys(struct kb_packet_codec *codec, enum kb_direction dir,
    const struct kb_newkeys *keys);
/* Strict kex resets sequence numbers to 0 after NEWKEYS (OpenSSH PROTOCOL). */
void kb_packet_codec_reset_seqnr(struct kb_packet_codec *codec, enum kb_direction dir);
uint32_t kb_packet_codec_seqnr(const struct kb_packet_codec *codec, enum kb_direction dir);

/*
 * Encrypts payload as one packet and appends it to out. Padding is random,
 * at least 4 bytes, to the cipher's block size.
 */
int kb_packet_codec_send(struct kb_packet_codec *codec, const uint8_t *payload,
    size_t len, struct kb_buf *out);

/*
 * Takes one packet from the front of in when it is complete: checks the MAC
 * or tag first (KB_ERR_MAC_INVALID), then the framing, and appends the
 * payload to payload. Only the packet length is judged earlier, as soon as
 * it can be read, so an invalid one is not waited for. Returns KB_ERR_INCOMPLETE, consuming nothing, while the
 * packet is incomplete. Every received packet advances the sequence number.
 * After any other error the direction is unusable, and later calls return
 * the same error again.
 */
int kb_packet_codec_recv(struct kb_packet_codec *codec, struct kb_buf *in,
    struct kb_buf *payload);

/* Bytes sent or received under the current keys, for rekey limits. */
uint64_t kb_packet_codec_bytes(const struct kb_packet_codec *codec, enum kb_direction dir);

/*
 * For tests only: fills the padding of every packet sent afterwards with
 * the byte fill instead of random bytes, so a packet can be compared with a
 * known answer. A negative fill restores random padding.
 */
void kb_packet_codec_set_padding_fill(struct kb_packet_codec *codec, int fill);
/* For tests only: sets a sequence number, to test the wrap at 2^32. */
void kb_packet_codec_set_seqnr(struct kb_packet_codec *codec, enum kb_direction dir,
    uint32_t seqnr);

#endif
