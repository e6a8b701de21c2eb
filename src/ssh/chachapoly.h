/*
 * chacha20-poly1305@openssh.com, as OpenSSH's PROTOCOL.chacha20poly1305
 * defines it. Private to the packet codec.
 */
#ifndef KEXBRIDGE_CHACHAPOLY_H
#define KEXBRIDGE_CHACHAPOLY_H

#include <stddef.h>
#include <stdint.h>

#define KB_CHACHAPOLY_KEY_LEN	64
#define KB_CHACHAPOLY_TAG_LEN	16

struct kb_chachapoly;

/* Allocates a context for the 64-byte key: K_2 first, then K_1. */
int kb_chachapoly_new(const uint8_t *key, struct kb_chachapoly **cpp);
/* Wipes and frees; NULL is accepted. */
void kb_chachapoly_free(struct kb_chachapoly *cp);

/* Decrypts the 4-byte packet length at enc without touching the packet. */
int kb_chachapoly_get_length(struct kb_chachapoly *cp, uint32_t seqnr,
    const uint8_t *enc, uint32_t *lenp);

/*
 * Encrypts the 4-byte length and the len bytes that follow it at src into
 * dest, then writes the 16-byte tag at dest + 4 + len. dest may equal src.
 */
int kb_chachapoly_encrypt(struct kb_chachapoly *cp, uint32_t seqnr,
    uint8_t *dest, const uint8_t *src, size_t len);

/*
 * Checks the tag at src + 4 + len over the encrypted length and body, and
 * only then decrypts the len body bytes at src + 4 into dest. Returns
 * KB_ERR_MAC_INVALID, writing nothing, when the tag does not match.
 */
int kb_chachapoly_decrypt(struct kb_chachapoly *cp, uint32_t seqnr,
    uint8_t *dest, const uint8_t *src, size_t len);

#endif
