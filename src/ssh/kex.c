/*
 * Key exchange: the method table, the exchange hash H (RFC 4253 section 8,
 * RFC 4419 section 3, RFC 5656 section 4, RFC 8731 section 3), key
 * derivation (RFC 4253 section 7.2), and the server and client message
 * steps.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/kex.h"
#include "kex_internal.h"

/* Default GEX request of the client side, as OpenSSH 9.x sends it. */
#define KEX_GEX_N_DEFAULT	3072

static const struct kb_kex_info kex_methods[] = {
	{ "curve25519-sha256", KB_KEX_CURVE25519, "SHA256", 0, 0 },
	{ "curve25519-sha256@libssh.org", KB_KEX_CURVE25519, "SHA256", 0, 0 },
	{ "ecdh-sha2-nistp256", KB_KEX_ECDH_NIST, "SHA256", NID_X9_62_prime256v1, 0 },
	{ "ecdh-sha2-nistp384", KB_KEX_ECDH_NIST, "SHA384", NID_secp384r1, 0 },
	{ "ecdh-sha2-nistp521", KB_KEX_ECDH_NIST, "SHA512", NID_secp521r1, 0 },
	{ "diffie-hellman-group-exchange-sha256", KB_KEX_DH_GEX, "SHA256", 0, 0 },
	{ "diffie-hellman-group16-sha512", KB_KEX_DH_GROUP, "SHA512", 0, 4096 },
	{ "diffie-hellman-group18-sha512", KB_KEX_DH_GROUP, "SHA512", 0, 8192 },
	{ "diffie-hellman-group14-sha256", KB_KEX_DH_GROUP, "SHA256", 0, 2048 },
};
#define KEX_METHOD_COUNT	(sizeof(kex_methods) / sizeof(kex_methods[0]))

const struct kb_kex_info *
kb_kex_lookup(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < KEX_METHOD_COUNT; i++) {
		if (strcmp(kex_methods[i].name, name) == 0)
			return &kex_methods[i];
	}
	return NULL;
}

const char *
kb_kex_names(void)
{
	return "curve25519-sha256,curve25519-sha256@libssh.org,"
	    "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
	    "diffie-hellman-group-exchange-sha256,"
	    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
	    "diffie-hellman-group14-sha256";
}

/* State both sides share: what goes into H, the ephemeral key, K and H. */
struct kex_core {
	const struct kb_kex_info *info;
	struct kb_buf *transcript;	/* string V_C, V_S, I_C, I_S */
	struct kb_buf *gex;		/* GEX request numbers, then p and g */
	struct kex_dh_group *group;	/* DH and GEX */
	EVP_PKEY *eph;
	struct kb_buf *our_pub;		/* raw, see kex_internal.h */
	struct kb_buf *shared;		/* K as mpint */
	uint8_t hash[EVP_MAX_MD_SIZE];
	size_t hash_len;
};

static bool
kex_is_dh(const struct kb_kex_info *info)
{
	return info->type == KB_KEX_DH_GROUP || info->type == KB_KEX_DH_GEX;
}

static int
kex_core_init(struct kex_core *core, const struct kb_kex_info *info,
    const char *v_c, const char *v_s, const uint8_t *i_c, size_t i_c_len,
    const uint8_t *i_s, size_t i_s_len)
{
	int r;

	core->info = info;
	if ((core->transcript = kb_buf_new(KB_BUF_SIZE_MAX)) == NULL ||
	    (core->gex = kb_buf_new(4096)) == NULL ||
	    (core->our_pub = kb_buf_new(4096)) == NULL ||
	    (core->shared = kb_buf_new(4096)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_put_cstring(core->transcript, v_c)) != 0 ||
	    (r = kb_buf_put_cstring(core->transcript, v_s)) != 0 ||
	    (r = kb_buf_put_string(core->transcript, i_c, i_c_len)) != 0 ||
	    (r = kb_buf_put_string(core->transcript, i_s, i_s_len)) != 0)
		return r;
	if (info->type == KB_KEX_DH_GROUP)
		return kex_dh_group_fixed(info->group_bits, &core->group);
	return KB_OK;
}

static void
kex_core_clear(struct kex_core *core)
{
	kb_buf_free(core->transcript);
	kb_buf_free(core->gex);
	kb_buf_free(core->our_pub);
	kb_buf_free(core->shared);
	kex_dh_group_free(core->group);
	EVP_PKEY_free(core->eph);
	OPENSSL_cleanse(core, sizeof(*core));
}

static int
kex_core_keygen(struct kex_core *core)
{
	if (kex_is_dh(core->info))
		return kex_dh_keygen(core->group, &core->eph, core->our_pub);
	return kex_ecdh_keygen(core->info, &core->eph, core->our_pub);
}

static int
kex_core_agree(struct kex_core *core, const uint8_t *peer, size_t len)
{
	if (kex_is_dh(core->info))
		return kex_dh_agree(core->group, core->eph, peer, len, core->shared);
	return kex_ecdh_agree(core->info, core->eph, peer, len, core->shared);
}

/* e and f are mpints (RFC 4253 section 8); Q_C and Q_S strings (RFC 5656). */
static int
kex_put_public(const struct kb_kex_info *info, struct kb_buf *out,
    const uint8_t *pub, size_t len)
{
	if (kex_is_dh(info))
		return kb_buf_put_mpint(out, pub, len);
	return kb_buf_put_string(out, pub, len);
}

static int
kex_get_public(const struct kb_kex_info *info, struct kb_buf *in,
    const uint8_t **pubp, size_t *lenp)
{
	if (kex_is_dh(info))
		return kb_buf_get_mpint_direct(in, pubp, lenp);
	return kb_buf_get_string_direct(in, pubp, lenp);
}

/*
 * H = HASH(V_C || V_S || I_C || I_S || K_S || [GEX request || p || g] ||
 * client value || server value || K), each field in its wire encoding.
 */
static int
kex_core_hash(struct kex_core *core, const uint8_t *ks, size_t ks_len,
    const uint8_t *client_pub, size_t client_len, const uint8_t *server_pub,
    size_t server_len)
{
	struct kb_buf *b = NULL;
	EVP_MD *md = NULL;
	unsigned int len = 0;
	int r;

	if ((b = kb_buf_new(KB_BUF_SIZE_MAX)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_put(b, kb_buf_ptr(core->transcript),
	    kb_buf_len(core->transcript))) != 0 ||
	    (r = kb_buf_put_string(b, ks, ks_len)) != 0 ||
	    (r = kb_buf_put(b, kb_buf_ptr(core->gex), kb_buf_len(core->gex))) != 0 ||
	    (r = kex_put_public(core->info, b, client_pub, client_len)) != 0 ||
	    (r = kex_put_public(core->info, b, server_pub, server_len)) != 0 ||
	    (r = kb_buf_put(b, kb_buf_ptr(core->shared), kb_buf_len(core->shared))) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if ((md = EVP_MD_fetch(NULL, core->info->digest, NULL)) == NULL ||
	    EVP_Digest(kb_buf_ptr(b), kb_buf_len(b), core->hash, &len, md, NULL) != 1)
		goto out;
	core->hash_len = len;
	r = KB_OK;
out:
	EVP_MD_free(md);
	kb_buf_free(b);
	return r;
}

/*
 * One key of RFC 4253 section 7.2: K1 = HASH(K || H || letter ||
 * session_id), then K(n+1) = HASH(K || H || K1 || ... || Kn) until need
 * bytes are there.
 */
static int
kex_derive_one(EVP_MD *md, const uint8_t *k, size_t k_len, const uint8_t *hash,
    size_t hash_len, char letter, const uint8_t *session_id, size_t session_id_len,
    uint8_t *out, size_t need)
{
	uint8_t acc[KB_CIPHER_KEY_MAX + EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = NULL;
	size_t have = 0;
	unsigned int len;
	int r = KB_ERR_CRYPTO;

	if (need == 0)
		return KB_OK;
	if (need > KB_CIPHER_KEY_MAX)
		return KB_ERR_INVALID_ARGUMENT;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return KB_ERR_ALLOC_FAIL;
	while (have < need) {
		if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
		    EVP_DigestUpdate(ctx, k, k_len) != 1 ||
		    EVP_DigestUpdate(ctx, hash, hash_len) != 1)
			goto out;
		if (have == 0) {
			if (EVP_DigestUpdate(ctx, &letter, 1) != 1 ||
			    EVP_DigestUpdate(ctx, session_id, session_id_len) != 1)
				goto out;
		} else if (EVP_DigestUpdate(ctx, acc, have) != 1)
			goto out;
		if (EVP_DigestFinal_ex(ctx, acc + have, &len) != 1)
			goto out;
		have += len;
	}
	memcpy(out, acc, need);
	r = KB_OK;
out:
	OPENSSL_cleanse(acc, sizeof(acc));
	EVP_MD_CTX_free(ctx);
	return r;
}

int
kb_kex_derive_keys(const char *digest, const uint8_t *k, size_t k_len,
    const uint8_t *hash, size_t hash_len, const uint8_t *session_id,
    size_t session_id_len, bool client_to_server, const struct kb_cipher_info *cipher,
    const struct kb_mac_info *mac, struct kb_newkeys *keys)
{
	/* Client to server uses A, C, E; server to client B, D, F. */
	char base = client_to_server ? 'A' : 'B';
	EVP_MD *md = NULL;
	int r;

	if (digest == NULL || k == NULL || k_len == 0 || hash == NULL || hash_len == 0 ||
	    session_id == NULL || session_id_len == 0 || cipher == NULL || keys == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (cipher->aead)
		mac = NULL;
	else if (mac == NULL || mac->key_len > KB_MAC_KEY_MAX)
		return KB_ERR_INVALID_ARGUMENT;
	if (cipher->key_len > KB_CIPHER_KEY_MAX || cipher->iv_len > KB_CIPHER_IV_MAX)
		return KB_ERR_INVALID_ARGUMENT;

	memset(keys, 0, sizeof(*keys));
	keys->cipher = cipher;
	keys->mac = mac;
	if ((md = EVP_MD_fetch(NULL, digest, NULL)) == NULL)
		return KB_ERR_CRYPTO;
	if ((r = kex_derive_one(md, k, k_len, hash, hash_len, base, session_id,
	    session_id_len, keys->iv, cipher->iv_len)) != 0 ||
	    (r = kex_derive_one(md, k, k_len, hash, hash_len, (char)(base + 2),
	    session_id, session_id_len, keys->key, cipher->key_len)) != 0)
		goto out;
	if (mac != NULL)
		r = kex_derive_one(md, k, k_len, hash, hash_len, (char)(base + 4),
		    session_id, session_id_len, keys->mac_key, mac->key_len);
out:
	if (r != 0)
		OPENSSL_cleanse(keys, sizeof(*keys));
	EVP_MD_free(md);
	return r;
}

static int
kex_core_derive(const struct kex_core *core, const uint8_t *session_id,
    size_t session_id_len, bool client_to_server, const struct kb_cipher_info *cipher,
    const struct kb_mac_info *mac, struct kb_newkeys *keys)
{
	return kb_kex_derive_keys(core->info->digest, kb_buf_ptr(core->shared),
	    kb_buf_len(core->shared), core->hash, core->hash_len, session_id,
	    session_id_len, client_to_server, cipher, mac, keys);
}

/* Server side. */

enum kex_server_state {
	KEX_SERVER_WAIT_INIT,		/* KEXDH_INIT or KEX_ECDH_INIT */
	KEX_SERVER_WAIT_GEX_REQUEST,
	KEX_SERVER_WAIT_GEX_INIT,
	KEX_SERVER_DONE,
	KEX_SERVER_FAILED,
};

struct kb_kex_server {
	struct kex_core core;
	const struct kb_hostkey *hostkey;
	char *hostkey_alg;
	const struct kb_moduli *moduli;
	enum kex_server_state state;
};

int
kb_kex_server_new(const struct kb_kex_info *info, const struct kb_kex_params *params,
    struct kb_kex_server **kexp)
{
	struct kb_kex_server *kex;
	int r;

	if (kexp == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*kexp = NULL;
	if (info == NULL || params == NULL || params->hostkey == NULL ||
	    params->client_version == NULL || params->server_version == NULL ||
	    params->client_kexinit == NULL || params->server_kexinit == NULL ||
	    !kb_hostkey_supports(params->hostkey, params->hostkey_alg))
		return KB_ERR_INVALID_ARGUMENT;
	if ((kex = calloc(1, sizeof(*kex))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	kex->hostkey = params->hostkey;
	kex->moduli = params->moduli;
	kex->state = info->type == KB_KEX_DH_GEX ?
	    KEX_SERVER_WAIT_GEX_REQUEST : KEX_SERVER_WAIT_INIT;
	if ((kex->hostkey_alg = strdup(params->hostkey_alg)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	r = kex_core_init(&kex->core, info, params->client_version,
	    params->server_version, params->client_kexinit, params->client_kexinit_len,
	    params->server_kexinit, params->server_kexinit_len);
out:
	if (r != 0) {
		kb_kex_server_free(kex);
		return r;
	}
	*kexp = kex;
	return KB_OK;
}

void
kb_kex_server_free(struct kb_kex_server *kex)
{
	if (kex == NULL)
		return;
	kex_core_clear(&kex->core);
	free(kex->hostkey_alg);
	free(kex);
}

/*
 * RFC 4419 section 3 and OpenSSH 9.x: the client's numbers go into H as
 * sent; min and n below 2048 or max above 8192 are clamped for choosing
 * the group, but an inconsistent request is rejected.
 */
static int
kex_server_gex_request(struct kb_kex_server *kex, uint8_t type, struct kb_buf *in,
    struct kb_buf *reply)
{
	uint32_t min = KEX_GEX_MIN_BITS, n, max = KEX_GEX_MAX_BITS;
	int r;

	if (type == SSH_MSG_KEX_DH_GEX_REQUEST) {
		if ((r = kb_buf_get_u32(in, &min)) != 0 ||
		    (r = kb_buf_get_u32(in, &n)) != 0 ||
		    (r = kb_buf_get_u32(in, &max)) != 0 ||
		    (r = kb_buf_expect_end(in)) != 0)
			return r;
		if ((r = kb_buf_put_u32(kex->core.gex, min)) != 0 ||
		    (r = kb_buf_put_u32(kex->core.gex, n)) != 0 ||
		    (r = kb_buf_put_u32(kex->core.gex, max)) != 0)
			return r;
	} else {
		/*
		 * The old request carries n alone, and only n is hashed.
		 * NOTE: OpenSSH 9.x servers no longer accept this message.
		 */
		if ((r = kb_buf_get_u32(in, &n)) != 0 ||
		    (r = kb_buf_expect_end(in)) != 0 ||
		    (r = kb_buf_put_u32(kex->core.gex, n)) != 0)
			return r;
	}
	if (max < min || n < min || max < n || max < KEX_GEX_MIN_BITS)
		return KB_ERR_KEX_FAILED;

	if (min < KEX_GEX_MIN_BITS)
		min = KEX_GEX_MIN_BITS;
	if (max > KEX_GEX_MAX_BITS)
		max = KEX_GEX_MAX_BITS;
	if (n < KEX_GEX_MIN_BITS)
		n = KEX_GEX_MIN_BITS;
	if (n > KEX_GEX_MAX_BITS)
		n = KEX_GEX_MAX_BITS;
	if ((r = kex_dh_group_choose(kex->moduli, min, n, max, &kex->core.group)) != 0 ||
	    (r = kex_dh_group_put(kex->core.group, kex->core.gex)) != 0)
		return r;

	if ((r = kb_buf_put_u8(reply, SSH_MSG_KEX_DH_GEX_GROUP)) != 0 ||
	    (r = kex_dh_group_put(kex->core.group, reply)) != 0)
		return r;
	kex->state = KEX_SERVER_WAIT_GEX_INIT;
	return KB_OK;
}

/*
 * Takes the client's value, computes K and H, and builds the reply:
 * string K_S, the server's value, string signature of H.
 */
static int
kex_server_reply(struct kb_kex_server *kex, uint8_t reply_type, struct kb_buf *in,
    struct kb_buf *reply)
{
	struct kex_core *core = &kex->core;
	struct kb_buf *ks = NULL, *sig = NULL, *msg = NULL;
	const uint8_t *client_pub;
	size_t client_len;
	int r;

	if ((r = kex_get_public(core->info, in, &client_pub, &client_len)) != 0 ||
	    (r = kb_buf_expect_end(in)) != 0)
		return r;
	if ((ks = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL ||
	    (sig = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL ||
	    (msg = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	if ((r = kex_core_keygen(core)) != 0 ||
	    (r = kex_core_agree(core, client_pub, client_len)) != 0 ||
	    (r = kb_hostkey_put_public(kex->hostkey, ks)) != 0 ||
	    (r = kex_core_hash(core, kb_buf_ptr(ks), kb_buf_len(ks), client_pub,
	    client_len, kb_buf_ptr(core->our_pub), kb_buf_len(core->our_pub))) != 0 ||
	    (r = kb_hostkey_sign(kex->hostkey, kex->hostkey_alg, core->hash,
	    core->hash_len, sig)) != 0)
		goto out;

	if ((r = kb_buf_put_u8(msg, reply_type)) != 0 ||
	    (r = kb_buf_put_string(msg, kb_buf_ptr(ks), kb_buf_len(ks))) != 0 ||
	    (r = kex_put_public(core->info, msg, kb_buf_ptr(core->our_pub),
	    kb_buf_len(core->our_pub))) != 0 ||
	    (r = kb_buf_put_string(msg, kb_buf_ptr(sig), kb_buf_len(sig))) != 0 ||
	    (r = kb_buf_put(reply, kb_buf_ptr(msg), kb_buf_len(msg))) != 0)
		goto out;
	kex->state = KEX_SERVER_DONE;
out:
	kb_buf_free(ks);
	kb_buf_free(sig);
	kb_buf_free(msg);
	return r;
}

static int
kex_server_dispatch(struct kb_kex_server *kex, uint8_t type, struct kb_buf *in,
    struct kb_buf *reply)
{
	switch (kex->state) {
	case KEX_SERVER_WAIT_INIT:
		/* KEXDH_INIT and KEX_ECDH_INIT share number 30. */
		if (type != SSH_MSG_KEXDH_INIT)
			return KB_ERR_UNEXPECTED_MESSAGE;
		return kex_server_reply(kex, SSH_MSG_KEXDH_REPLY, in, reply);
	case KEX_SERVER_WAIT_GEX_REQUEST:
		if (type != SSH_MSG_KEX_DH_GEX_REQUEST &&
		    type != SSH_MSG_KEX_DH_GEX_REQUEST_OLD)
			return KB_ERR_UNEXPECTED_MESSAGE;
		return kex_server_gex_request(kex, type, in, reply);
	case KEX_SERVER_WAIT_GEX_INIT:
		if (type != SSH_MSG_KEX_DH_GEX_INIT)
			return KB_ERR_UNEXPECTED_MESSAGE;
		return kex_server_reply(kex, SSH_MSG_KEX_DH_GEX_REPLY, in, reply);
	default:
		return KB_ERR_UNEXPECTED_MESSAGE;
	}
}

int
kb_kex_server_input(struct kb_kex_server *kex, const uint8_t *payload, size_t len,
    struct kb_buf *reply, bool *done)
{
	struct kb_buf *in = NULL;
	uint8_t type;
	int r;

	if (kex == NULL || payload == NULL || reply == NULL || done == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*done = false;
	if ((in = kb_buf_from(payload, len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_get_u8(in, &type)) == 0)
		r = kex_server_dispatch(kex, type, in, reply);
	kb_buf_free(in);
	if (r != 0) {
		kex->state = KEX_SERVER_FAILED;
		return r;
	}
	*done = kex->state == KEX_SERVER_DONE;
	return KB_OK;
}

const uint8_t *
kb_kex_server_hash(const struct kb_kex_server *kex, size_t *len)
{
	if (kex == NULL || kex->state != KEX_SERVER_DONE) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = kex->core.hash_len;
	return kex->core.hash;
}

int
kb_kex_server_derive(const struct kb_kex_server *kex, const uint8_t *session_id,
    size_t session_id_len, bool client_to_server, const struct kb_cipher_info *cipher,
    const struct kb_mac_info *mac, struct kb_newkeys *keys)
{
	if (kex == NULL || kex->state != KEX_SERVER_DONE)
		return KB_ERR_INVALID_ARGUMENT;
	return kex_core_derive(&kex->core, session_id, session_id_len,
	    client_to_server, cipher, mac, keys);
}

/* Client side. */

enum kex_client_state {
	KEX_CLIENT_START,
	KEX_CLIENT_WAIT_REPLY,
	KEX_CLIENT_WAIT_GEX_GROUP,
	KEX_CLIENT_WAIT_GEX_REPLY,
	KEX_CLIENT_DONE,
	KEX_CLIENT_FAILED,
};

struct kb_kex_client {
	struct kex_core core;
	char *hostkey_alg;
	uint32_t gex_min, gex_n, gex_max;
	bool gex_old;
	uint8_t *hostkey_blob;
	size_t hostkey_blob_len;
	enum kex_client_state state;
};

int
kb_kex_client_new(const struct kb_kex_info *info,
    const struct kb_kex_client_params *params, struct kb_kex_client **kexp)
{
	struct kb_kex_client *kex;
	int r;

	if (kexp == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*kexp = NULL;
	if (info == NULL || params == NULL || params->hostkey_alg == NULL ||
	    params->client_version == NULL || params->server_version == NULL ||
	    params->client_kexinit == NULL || params->server_kexinit == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((kex = calloc(1, sizeof(*kex))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	kex->gex_old = params->gex_old;
	if (params->gex_min == 0 && params->gex_n == 0 && params->gex_max == 0) {
		kex->gex_min = KEX_GEX_MIN_BITS;
		kex->gex_n = KEX_GEX_N_DEFAULT;
		kex->gex_max = KEX_GEX_MAX_BITS;
	} else {
		kex->gex_min = params->gex_min;
		kex->gex_n = params->gex_n;
		kex->gex_max = params->gex_max;
	}
	if ((kex->hostkey_alg = strdup(params->hostkey_alg)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	r = kex_core_init(&kex->core, info, params->client_version,
	    params->server_version, params->client_kexinit, params->client_kexinit_len,
	    params->server_kexinit, params->server_kexinit_len);
out:
	if (r != 0) {
		kb_kex_client_free(kex);
		return r;
	}
	*kexp = kex;
	return KB_OK;
}

void
kb_kex_client_free(struct kb_kex_client *kex)
{
	if (kex == NULL)
		return;
	kex_core_clear(&kex->core);
	free(kex->hostkey_alg);
	free(kex->hostkey_blob);
	free(kex);
}

static int
kex_client_send_gex_request(struct kb_kex_client *kex, struct kb_buf *out)
{
	struct kb_buf *gex = kex->core.gex;
	int r;

	if (kex->gex_old) {
		if ((r = kb_buf_put_u8(out, SSH_MSG_KEX_DH_GEX_REQUEST_OLD)) != 0 ||
		    (r = kb_buf_put_u32(out, kex->gex_n)) != 0 ||
		    (r = kb_buf_put_u32(gex, kex->gex_n)) != 0)
			return r;
	} else if ((r = kb_buf_put_u8(out, SSH_MSG_KEX_DH_GEX_REQUEST)) != 0 ||
	    (r = kb_buf_put_u32(out, kex->gex_min)) != 0 ||
	    (r = kb_buf_put_u32(out, kex->gex_n)) != 0 ||
	    (r = kb_buf_put_u32(out, kex->gex_max)) != 0 ||
	    (r = kb_buf_put_u32(gex, kex->gex_min)) != 0 ||
	    (r = kb_buf_put_u32(gex, kex->gex_n)) != 0 ||
	    (r = kb_buf_put_u32(gex, kex->gex_max)) != 0)
		return r;
	kex->state = KEX_CLIENT_WAIT_GEX_GROUP;
	return KB_OK;
}

/* Appends SSH_MSG_KEXDH_INIT / KEX_ECDH_INIT / KEX_DH_GEX_INIT with our value. */
static int
kex_client_send_init(struct kb_kex_client *kex, uint8_t type, struct kb_buf *out)
{
	int r;

	if ((r = kex_core_keygen(&kex->core)) != 0 ||
	    (r = kb_buf_put_u8(out, type)) != 0 ||
	    (r = kex_put_public(kex->core.info, out, kb_buf_ptr(kex->core.our_pub),
	    kb_buf_len(kex->core.our_pub))) != 0)
		return r;
	kex->state = type == SSH_MSG_KEX_DH_GEX_INIT ?
	    KEX_CLIENT_WAIT_GEX_REPLY : KEX_CLIENT_WAIT_REPLY;
	return KB_OK;
}

int
kb_kex_client_start(struct kb_kex_client *kex, struct kb_buf *out)
{
	int r;

	if (kex == NULL || out == NULL || kex->state != KEX_CLIENT_START)
		return KB_ERR_INVALID_ARGUMENT;
	if (kex->core.info->type == KB_KEX_DH_GEX)
		r = kex_client_send_gex_request(kex, out);
	else
		r = kex_client_send_init(kex, SSH_MSG_KEXDH_INIT, out);
	if (r != 0)
		kex->state = KEX_CLIENT_FAILED;
	return r;
}

/* RFC 4419 section 3: the group must lie within what the client asked. */
static int
kex_client_gex_group(struct kb_kex_client *kex, struct kb_buf *in, struct kb_buf *out)
{
	const uint8_t *p, *g;
	size_t plen, glen;
	uint32_t min = kex->gex_old ? KEX_GEX_MIN_BITS : kex->gex_min;
	uint32_t max = kex->gex_old ? KEX_GEX_MAX_BITS : kex->gex_max;
	int r;

	if ((r = kb_buf_get_mpint_direct(in, &p, &plen)) != 0 ||
	    (r = kb_buf_get_mpint_direct(in, &g, &glen)) != 0 ||
	    (r = kb_buf_expect_end(in)) != 0)
		return r;
	if (plen > KEX_GEX_MAX_BITS / 8)
		return KB_ERR_KEX_FAILED;
	if ((r = kex_dh_group_explicit(p, plen, g, glen, &kex->core.group)) != 0)
		return r;
	if (kex->core.group->bits < min || kex->core.group->bits > max)
		return KB_ERR_KEX_FAILED;
	if ((r = kex_dh_group_put(kex->core.group, kex->core.gex)) != 0)
		return r;
	return kex_client_send_init(kex, SSH_MSG_KEX_DH_GEX_INIT, out);
}

/* Checks the server's reply: K_S, its value, and its signature over H. */
static int
kex_client_reply(struct kb_kex_client *kex, struct kb_buf *in)
{
	struct kex_core *core = &kex->core;
	struct kb_hostkey *hostkey = NULL;
	const uint8_t *ks, *server_pub, *sig;
	size_t ks_len, server_len, sig_len;
	int r;

	if ((r = kb_buf_get_string_direct(in, &ks, &ks_len)) != 0 ||
	    (r = kex_get_public(core->info, in, &server_pub, &server_len)) != 0 ||
	    (r = kb_buf_get_string_direct(in, &sig, &sig_len)) != 0 ||
	    (r = kb_buf_expect_end(in)) != 0)
		return r;
	if ((r = kb_hostkey_from_blob(ks, ks_len, &hostkey)) != 0 ||
	    (r = kex_core_agree(core, server_pub, server_len)) != 0 ||
	    (r = kex_core_hash(core, ks, ks_len, kb_buf_ptr(core->our_pub),
	    kb_buf_len(core->our_pub), server_pub, server_len)) != 0 ||
	    (r = kb_hostkey_verify(hostkey, kex->hostkey_alg, core->hash,
	    core->hash_len, sig, sig_len)) != 0)
		goto out;
	if ((kex->hostkey_blob = malloc(ks_len)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	memcpy(kex->hostkey_blob, ks, ks_len);
	kex->hostkey_blob_len = ks_len;
	kex->state = KEX_CLIENT_DONE;
out:
	kb_hostkey_free(hostkey);
	return r;
}

static int
kex_client_dispatch(struct kb_kex_client *kex, uint8_t type, struct kb_buf *in,
    struct kb_buf *out)
{
	switch (kex->state) {
	case KEX_CLIENT_WAIT_REPLY:
		if (type != SSH_MSG_KEXDH_REPLY)
			return KB_ERR_UNEXPECTED_MESSAGE;
		return kex_client_reply(kex, in);
	case KEX_CLIENT_WAIT_GEX_GROUP:
		if (type != SSH_MSG_KEX_DH_GEX_GROUP)
			return KB_ERR_UNEXPECTED_MESSAGE;
		return kex_client_gex_group(kex, in, out);
	case KEX_CLIENT_WAIT_GEX_REPLY:
		if (type != SSH_MSG_KEX_DH_GEX_REPLY)
			return KB_ERR_UNEXPECTED_MESSAGE;
		return kex_client_reply(kex, in);
	default:
		return KB_ERR_UNEXPECTED_MESSAGE;
	}
}

int
kb_kex_client_input(struct kb_kex_client *kex, const uint8_t *payload, size_t len,
    struct kb_buf *out, bool *done)
{
	struct kb_buf *in = NULL;
	uint8_t type;
	int r;

	if (kex == NULL || payload == NULL || out == NULL || done == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*done = false;
	if ((in = kb_buf_from(payload, len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_get_u8(in, &type)) == 0)
		r = kex_client_dispatch(kex, type, in, out);
	kb_buf_free(in);
	if (r != 0) {
		kex->state = KEX_CLIENT_FAILED;
		return r;
	}
	*done = kex->state == KEX_CLIENT_DONE;
	return KB_OK;
}

const uint8_t *
kb_kex_client_hash(const struct kb_kex_client *kex, size_t *len)
{
	if (kex == NULL || kex->state != KEX_CLIENT_DONE) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = kex->core.hash_len;
	return kex->core.hash;
}

const uint8_t *
kb_kex_client_hostkey(const struct kb_kex_client *kex, size_t *len)
{
	if (kex == NULL || kex->state != KEX_CLIENT_DONE) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = kex->hostkey_blob_len;
	return kex->hostkey_blob;
}

int
kb_kex_client_derive(const struct kb_kex_client *kex, const uint8_t *session_id,
    size_t session_id_len, bool client_to_server, const struct kb_cipher_info *cipher,
    const struct kb_mac_info *mac, struct kb_newkeys *keys)
{
	if (kex == NULL || kex->state != KEX_CLIENT_DONE)
		return KB_ERR_INVALID_ARGUMENT;
	return kex_core_derive(&kex->core, session_id, session_id_len,
	    client_to_server, cipher, mac, keys);
}
