/*
 * Server host keys over OpenSSL 3 EVP_PKEY: loading the formats sshd
 * operators have, generating, public key blobs (RFC 4253 section 6.6),
 * signatures for ssh-ed25519 (RFC 8709), ecdsa-sha2-nistp256 (RFC 5656),
 * rsa-sha2-256/512 (RFC 8332) and ssh-rsa, and SHA256 fingerprints as
 * OpenSSH prints them.
 */
#ifndef KEXBRIDGE_HOSTKEY_H
#define KEXBRIDGE_HOSTKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kb_buf;
struct kb_hostkey;

enum kb_hostkey_type {
	KB_HOSTKEY_ED25519,
	KB_HOSTKEY_ECDSA_P256,
	KB_HOSTKEY_RSA,
};

/*
 * Loads an unencrypted private key: OpenSSH's "openssh-key-v1" format or PEM
 * (PKCS#1, PKCS#8, SEC1). Fails with KB_ERR_KEY_INVALID, naming nothing of
 * the key's contents in any message.
 */
int kb_hostkey_load(const char *path, struct kb_hostkey **keyp);
/* Generates a key; bits is used for RSA only (3072 by default when 0). */
int kb_hostkey_generate(enum kb_hostkey_type type, unsigned int bits,
    struct kb_hostkey **keyp);
/*
 * Writes the private key to path (mode 0600, created exclusively) in a
 * format kb_hostkey_load reads, and the public key to path.pub in
 * authorized_keys format.
 */
int kb_hostkey_save(const struct kb_hostkey *key, const char *path);
void kb_hostkey_free(struct kb_hostkey *key);
/*
 * Makes a public-only key from a blob as kb_hostkey_put_public writes it,
 * for verifying signatures. Fails with KB_ERR_KEY_INVALID.
 */
int kb_hostkey_from_blob(const uint8_t *blob, size_t len, struct kb_hostkey **keyp);

enum kb_hostkey_type kb_hostkey_type(const struct kb_hostkey *key);
/*
 * Signature algorithms this key can serve, in preference order, e.g.
 * "rsa-sha2-512,rsa-sha2-256,ssh-rsa" for RSA.
 */
const char *kb_hostkey_algorithms(const struct kb_hostkey *key);
/* True when alg is one of kb_hostkey_algorithms(key). */
bool kb_hostkey_supports(const struct kb_hostkey *key, const char *alg);
/* Appends the public key blob K_S (string contents, no outer length). */
int kb_hostkey_put_public(const struct kb_hostkey *key, struct kb_buf *out);
/* Appends a signature blob (string contents) over data with algorithm alg. */
int kb_hostkey_sign(const struct kb_hostkey *key, const char *alg,
    const uint8_t *data, size_t len, struct kb_buf *out);
/* Verifies a signature blob made by kb_hostkey_sign (used by tests). */
int kb_hostkey_verify(const struct kb_hostkey *key, const char *alg,
    const uint8_t *data, size_t len, const uint8_t *sig, size_t siglen);
/* "SHA256:<base64 without padding>" of the public blob, as ssh-keygen -l. */
int kb_hostkey_fingerprint(const struct kb_hostkey *key, char *out, size_t outlen);

#endif
