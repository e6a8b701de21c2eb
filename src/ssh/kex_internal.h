/*
 * Shared by kex.c, kex_ecdh.c, kex_dh.c and moduli.c: the ephemeral key
 * agreement of each kex family and the Diffie-Hellman groups.
 *
 * Public values travel as raw big-endian bytes: the 32-byte X25519 key, the
 * uncompressed NIST point, or the magnitude of a DH value. The shared
 * secret K is appended to a buffer in its mpint wire encoding, which is the
 * form both the exchange hash and key derivation take (RFC 4253 section 8,
 * RFC 8731 section 3.1).
 */
#ifndef KEXBRIDGE_KEX_INTERNAL_H
#define KEXBRIDGE_KEX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "kexbridge/kex.h"

/* OpenSSH 9.x server limits for group exchange (DH_GRP_MIN, DH_GRP_MAX). */
#define KEX_GEX_MIN_BITS	2048
#define KEX_GEX_MAX_BITS	8192

/* One safe-prime group from a moduli(5) file. */
struct kex_modulus {
	unsigned int bits;
	BIGNUM *p;
	BIGNUM *g;
};

struct kb_moduli {
	struct kex_modulus *groups;
	size_t count;
	size_t skipped;		/* malformed or unusable lines */
};

/* A DH group: an OpenSSL named group ("modp_2048") or an explicit p and g. */
struct kex_dh_group {
	const char *name;	/* NULL for explicit p and g */
	BIGNUM *p;
	BIGNUM *g;
	unsigned int bits;
};

/* X25519 and NIST ECDH (kex_ecdh.c). */
int kex_ecdh_keygen(const struct kb_kex_info *info, EVP_PKEY **keyp,
    struct kb_buf *pub);
int kex_ecdh_agree(const struct kb_kex_info *info, EVP_PKEY *key,
    const uint8_t *peer, size_t peer_len, struct kb_buf *shared);

/* Finite-field DH (kex_dh.c). */
int kex_dh_group_fixed(unsigned int bits, struct kex_dh_group **groupp);
int kex_dh_group_explicit(const uint8_t *p, size_t plen, const uint8_t *g,
    size_t glen, struct kex_dh_group **groupp);
int kex_dh_group_choose(const struct kb_moduli *moduli, uint32_t min,
    uint32_t n, uint32_t max, struct kex_dh_group **groupp);
void kex_dh_group_free(struct kex_dh_group *group);
/* Appends mpint p and mpint g, as SSH_MSG_KEX_DH_GEX_GROUP carries them. */
int kex_dh_group_put(const struct kex_dh_group *group, struct kb_buf *out);
int kex_dh_keygen(const struct kex_dh_group *group, EVP_PKEY **keyp,
    struct kb_buf *pub);
int kex_dh_agree(const struct kex_dh_group *group, EVP_PKEY *key,
    const uint8_t *peer, size_t peer_len, struct kb_buf *shared);

/* Appends a BIGNUM as an mpint. */
int kex_put_bignum(struct kb_buf *out, const BIGNUM *bn);

#endif
