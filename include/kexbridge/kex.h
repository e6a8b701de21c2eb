/*
 * Key exchange, server side: ECDH over curve25519 (RFC 8731) and NIST curves
 * (RFC 5656), Diffie-Hellman over fixed groups (RFC 8268) and group exchange
 * (RFC 4419), the exchange hash, and key derivation (RFC 4253 section 7.2).
 * Sans-I/O: the transport hands in the client's kex packets and sends the
 * replies this module builds.
 */
#ifndef KEXBRIDGE_KEX_H
#define KEXBRIDGE_KEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kexbridge/cipher.h"

struct kb_buf;
struct kb_hostkey;

/* Kex message numbers (RFC 4253, RFC 4419, RFC 5656). */
#define SSH_MSG_KEXDH_INIT		30
#define SSH_MSG_KEXDH_REPLY		31
#define SSH_MSG_KEX_ECDH_INIT		30
#define SSH_MSG_KEX_ECDH_REPLY		31
#define SSH_MSG_KEX_DH_GEX_REQUEST_OLD	30
#define SSH_MSG_KEX_DH_GEX_GROUP	31
#define SSH_MSG_KEX_DH_GEX_INIT		32
#define SSH_MSG_KEX_DH_GEX_REPLY	33
#define SSH_MSG_KEX_DH_GEX_REQUEST	34

enum kb_kex_type {
	KB_KEX_CURVE25519,
	KB_KEX_ECDH_NIST,
	KB_KEX_DH_GROUP,
	KB_KEX_DH_GEX,
};

struct kb_kex_info {
	const char *name;
	enum kb_kex_type type;
	const char *digest;	/* OpenSSL digest name: "SHA256", "SHA384", "SHA512" */
	int curve_nid;		/* KB_KEX_ECDH_NIST */
	unsigned int group_bits;	/* KB_KEX_DH_GROUP: 2048, 4096, 8192 */
};

/* The kex method called name, or NULL when not implemented. */
const struct kb_kex_info *kb_kex_lookup(const char *name);
/* Comma-separated kex names kexbridge implements, strongest first. */
const char *kb_kex_names(void);

/*
 * Diffie-Hellman groups for group exchange: RFC 3526 groups built in, or the
 * groups of an OpenSSH moduli(5) file.
 */
struct kb_moduli;
int kb_moduli_load(const char *path, struct kb_moduli **modulip);
void kb_moduli_free(struct kb_moduli *moduli);
/* Usable groups loaded, and lines skipped as malformed or unusable. */
size_t kb_moduli_count(const struct kb_moduli *moduli);
size_t kb_moduli_skipped(const struct kb_moduli *moduli);

/* What goes into the exchange hash besides the kex method's own values. */
struct kb_kex_params {
	const char *client_version;	/* V_C without CR LF */
	const char *server_version;	/* V_S without CR LF */
	const uint8_t *client_kexinit;	/* I_C: payload as received */
	size_t client_kexinit_len;
	const uint8_t *server_kexinit;	/* I_S: payload as sent */
	size_t server_kexinit_len;
	const struct kb_hostkey *hostkey;
	const char *hostkey_alg;	/* signature algorithm negotiated */
	const struct kb_moduli *moduli;	/* NULL: built-in groups only */
};

struct kb_kex_server;

int kb_kex_server_new(const struct kb_kex_info *info, const struct kb_kex_params *params,
    struct kb_kex_server **kexp);
/* Wipes the ephemeral key, K and H, and frees. */
void kb_kex_server_free(struct kb_kex_server *kex);

/*
 * Handles one client kex packet (payload, message number first). Appends a
 * reply payload to reply when one is due. Sets *done once the reply with the
 * signature was built: H and K are then available. Fails with
 * KB_ERR_UNEXPECTED_MESSAGE for a message the method does not expect now,
 * KB_ERR_KEX_FAILED for an invalid public value.
 */
int kb_kex_server_input(struct kb_kex_server *kex, const uint8_t *payload, size_t len,
    struct kb_buf *reply, bool *done);

/* The exchange hash H of a finished exchange. */
const uint8_t *kb_kex_server_hash(const struct kb_kex_server *kex, size_t *len);

/*
 * Derives the keys for one direction (RFC 4253 section 7.2): letters 'A'/'C'/
 * 'E' for client to server, 'B'/'D'/'F' for server to client. session_id is
 * the H of the first exchange.
 */
int kb_kex_server_derive(const struct kb_kex_server *kex, const uint8_t *session_id,
    size_t session_id_len, bool client_to_server, const struct kb_cipher_info *cipher,
    const struct kb_mac_info *mac, struct kb_newkeys *keys);

/*
 * Derives the keys for one direction from K (in its mpint wire encoding,
 * length field included) and H with the kex method's digest ("SHA256").
 * kb_kex_server_derive and kb_kex_client_derive use it; it is public for
 * known-answer tests.
 */
int kb_kex_derive_keys(const char *digest, const uint8_t *k, size_t k_len,
    const uint8_t *hash, size_t hash_len, const uint8_t *session_id,
    size_t session_id_len, bool client_to_server, const struct kb_cipher_info *cipher,
    const struct kb_mac_info *mac, struct kb_newkeys *keys);

/*
 * Client side, for unit tests and fuzzers: runs against kb_kex_server in
 * memory. It verifies the server's signature with the host key blob from
 * the reply.
 */
struct kb_kex_client_params {
	const char *client_version;	/* V_C without CR LF */
	const char *server_version;	/* V_S without CR LF */
	const uint8_t *client_kexinit;	/* I_C: payload as sent */
	size_t client_kexinit_len;
	const uint8_t *server_kexinit;	/* I_S: payload as received */
	size_t server_kexinit_len;
	const char *hostkey_alg;	/* signature algorithm negotiated */
	/* Group exchange request; all 0 for min 2048, n 3072, max 8192. */
	uint32_t gex_min;
	uint32_t gex_n;
	uint32_t gex_max;
	bool gex_old;		/* send SSH_MSG_KEX_DH_GEX_REQUEST_OLD with n */
};

struct kb_kex_client;

int kb_kex_client_new(const struct kb_kex_info *info,
    const struct kb_kex_client_params *params, struct kb_kex_client **kexp);
void kb_kex_client_free(struct kb_kex_client *kex);
/* Appends the client's first kex payload: KEXDH_INIT, ECDH_INIT or GEX request. */
int kb_kex_client_start(struct kb_kex_client *kex, struct kb_buf *out);
/*
 * Handles one server kex packet. Appends SSH_MSG_KEX_DH_GEX_INIT to out
 * after a GEX_GROUP. Sets *done once the reply's signature verified, and
 * fails with KB_ERR_SIGNATURE_INVALID when it does not.
 */
int kb_kex_client_input(struct kb_kex_client *kex, const uint8_t *payload, size_t len,
    struct kb_buf *out, bool *done);
const uint8_t *kb_kex_client_hash(const struct kb_kex_client *kex, size_t *len);
/* The host key blob K_S the server sent, once done. */
const uint8_t *kb_kex_client_hostkey(const struct kb_kex_client *kex, size_t *len);
int kb_kex_client_derive(const struct kb_kex_client *kex, const uint8_t *session_id,
    size_t session_id_len, bool client_to_server, const struct kb_cipher_info *cipher,
    const struct kb_mac_info *mac, struct kb_newkeys *keys);

#endif
