/*
 * The ciphers and MACs of the server side, strongest first. Each entry also
 * names the OpenSSL 3 algorithm behind it, which the packet codec fetches.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "kexbridge/cipher.h"

struct cipher_entry {
	struct kb_cipher_info info;
	const char *evp_name;
};

struct mac_entry {
	struct kb_mac_info info;
	const char *evp_digest;
};

/*
 * aes*-gcm@openssh.com takes a 12-byte IV (RFC 5647 section 7.1) and
 * chacha20-poly1305@openssh.com derives its nonce from the sequence number.
 */
static const struct cipher_entry ciphers[] = {
	{ { "chacha20-poly1305@openssh.com", 8, 64, 0, 16, true, true },
	    "ChaCha20" },
	{ { "aes128-gcm@openssh.com", 16, 16, 12, 16, true, false },
	    "AES-128-GCM" },
	{ { "aes256-gcm@openssh.com", 16, 32, 12, 16, true, false },
	    "AES-256-GCM" },
	{ { "aes128-ctr", 16, 16, 16, 0, false, false }, "AES-128-CTR" },
	{ { "aes192-ctr", 16, 24, 16, 0, false, false }, "AES-192-CTR" },
	{ { "aes256-ctr", 16, 32, 16, 0, false, false }, "AES-256-CTR" },
};

/* RFC 6668 section 2: the HMAC key is as long as the digest. */
static const struct mac_entry macs[] = {
	{ { "hmac-sha2-256-etm@openssh.com", 32, 32, true }, "SHA2-256" },
	{ { "hmac-sha2-512-etm@openssh.com", 64, 64, true }, "SHA2-512" },
	{ { "hmac-sha2-256", 32, 32, false }, "SHA2-256" },
	{ { "hmac-sha2-512", 64, 64, false }, "SHA2-512" },
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

const struct kb_cipher_info *
kb_cipher_lookup(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < NITEMS(ciphers); i++) {
		if (strcmp(ciphers[i].info.name, name) == 0)
			return &ciphers[i].info;
	}
	return NULL;
}

const struct kb_mac_info *
kb_mac_lookup(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < NITEMS(macs); i++) {
		if (strcmp(macs[i].info.name, name) == 0)
			return &macs[i].info;
	}
	return NULL;
}

const char *
kb_cipher_names(void)
{
	return "chacha20-poly1305@openssh.com,"
	    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
	    "aes128-ctr,aes192-ctr,aes256-ctr";
}

const char *
kb_mac_names(void)
{
	return "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
	    "hmac-sha2-256,hmac-sha2-512";
}

const char *
kb_cipher_evp_name(const struct kb_cipher_info *cipher)
{
	size_t i;

	for (i = 0; i < NITEMS(ciphers); i++) {
		if (cipher == &ciphers[i].info)
			return ciphers[i].evp_name;
	}
	return NULL;
}

const char *
kb_mac_evp_digest(const struct kb_mac_info *mac)
{
	size_t i;

	for (i = 0; i < NITEMS(macs); i++) {
		if (mac == &macs[i].info)
			return macs[i].evp_digest;
	}
	return NULL;
}
