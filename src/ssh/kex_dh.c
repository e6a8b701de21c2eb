/*
 * Finite-field Diffie-Hellman for diffie-hellman-group14/16/18 (RFC 8268,
 * groups from RFC 3526) and group exchange (RFC 4419) over OpenSSL EVP_PKEY.
 *
 * The fixed groups come from OpenSSL's built-in named groups "modp_2048",
 * "modp_4096" and "modp_8192", which are the RFC 3526 primes with generator
 * 2; the unit tests compare the 2048-bit prime with the RFC value.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kex_internal.h"

static const struct {
	unsigned int bits;
	const char *name;
} dh_fixed_groups[] = {
	{ 2048, "modp_2048" },
	{ 4096, "modp_4096" },
	{ 8192, "modp_8192" },
};
#define DH_FIXED_COUNT	(sizeof(dh_fixed_groups) / sizeof(dh_fixed_groups[0]))

int
kex_put_bignum(struct kb_buf *out, const BIGNUM *bn)
{
	uint8_t *bytes;
	int len, r;

	len = BN_num_bytes(bn);
	if ((bytes = calloc(1, (size_t)len + 1)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	BN_bn2bin(bn, bytes);
	r = kb_buf_put_mpint(out, bytes, (size_t)len);
	OPENSSL_clear_free(bytes, (size_t)len + 1);
	return r;
}

void
kex_dh_group_free(struct kex_dh_group *group)
{
	if (group == NULL)
		return;
	BN_free(group->p);
	BN_free(group->g);
	free(group);
}

/*
 * Private exponent length in bits for a group without q: twice the
 * group's security strength (NIST SP 800-57 part 1 table 2). OpenSSH 9.x
 * uses twice the key size the negotiated cipher and MAC need, at least
 * 512 bits. Full-length exponents would only cost time.
 */
static int
dh_priv_len(unsigned int bits)
{
	if (bits < 3072)
		return 2 * 112;
	if (bits < 7680)
		return 2 * 128;
	if (bits < 15360)
		return 2 * 192;
	return 2 * 256;
}

/* Pushes the group's domain parameters onto a parameter builder. */
static int
dh_push_params(const struct kex_dh_group *group, OSSL_PARAM_BLD *bld)
{
	if (group->name != NULL)
		return OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
		    group->name, 0) == 1 ? KB_OK : KB_ERR_CRYPTO;
	/* The private exponent length is set at key generation instead. */
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, group->p) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, group->g) != 1)
		return KB_ERR_CRYPTO;
	return KB_OK;
}

/* Builds an EVP_PKEY of the group: domain parameters, plus pub when set. */
static int
dh_build_pkey(const struct kex_dh_group *group, const BIGNUM *pub, EVP_PKEY **pkeyp)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int selection, r = KB_ERR_CRYPTO;

	*pkeyp = NULL;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	if ((r = dh_push_params(group, bld)) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if (pub != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, pub) != 1)
		goto out;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	selection = pub != NULL ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEY_PARAMETERS;
	if (EVP_PKEY_fromdata(ctx, pkeyp, selection, params) != 1)
		goto out;
	r = KB_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int
kex_dh_group_fixed(unsigned int bits, struct kex_dh_group **groupp)
{
	struct kex_dh_group *group = NULL;
	EVP_PKEY *domain = NULL;
	size_t i;
	int r = KB_ERR_INVALID_ARGUMENT;

	*groupp = NULL;
	for (i = 0; i < DH_FIXED_COUNT; i++) {
		if (dh_fixed_groups[i].bits == bits)
			break;
	}
	if (i == DH_FIXED_COUNT)
		return KB_ERR_INVALID_ARGUMENT;
	if ((group = calloc(1, sizeof(*group))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	group->name = dh_fixed_groups[i].name;
	group->bits = bits;

	/* p and g are read back for GEX_GROUP and for checking e. */
	if ((r = dh_build_pkey(group, NULL, &domain)) != 0)
		goto out;
	if (EVP_PKEY_get_bn_param(domain, OSSL_PKEY_PARAM_FFC_P, &group->p) != 1 ||
	    EVP_PKEY_get_bn_param(domain, OSSL_PKEY_PARAM_FFC_G, &group->g) != 1) {
		r = KB_ERR_CRYPTO;
		goto out;
	}
	*groupp = group;
	group = NULL;
	r = KB_OK;
out:
	EVP_PKEY_free(domain);
	kex_dh_group_free(group);
	return r;
}

int
kex_dh_group_explicit(const uint8_t *p, size_t plen, const uint8_t *g, size_t glen,
    struct kex_dh_group **groupp)
{
	struct kex_dh_group *group = NULL;
	BIGNUM *limit = NULL;
	int r = KB_ERR_KEX_FAILED;

	*groupp = NULL;
	if ((group = calloc(1, sizeof(*group))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((group->p = BN_bin2bn(p, (int)plen, NULL)) == NULL ||
	    (group->g = BN_bin2bn(g, (int)glen, NULL)) == NULL ||
	    (limit = BN_dup(group->p)) == NULL || BN_sub_word(limit, 1) != 1) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	group->bits = (unsigned int)BN_num_bits(group->p);

	/* An odd modulus, and 1 < g < p - 1, or the group is useless. */
	if (!BN_is_odd(group->p) || BN_cmp(group->g, BN_value_one()) <= 0 ||
	    BN_cmp(group->g, limit) >= 0)
		goto out;
	*groupp = group;
	group = NULL;
	r = KB_OK;
out:
	BN_free(limit);
	kex_dh_group_free(group);
	return r;
}

static int
dh_group_from_modulus(const struct kex_modulus *mod, struct kex_dh_group **groupp)
{
	struct kex_dh_group *group;

	if ((group = calloc(1, sizeof(*group))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	group->bits = mod->bits;
	if ((group->p = BN_dup(mod->p)) == NULL || (group->g = BN_dup(mod->g)) == NULL) {
		kex_dh_group_free(group);
		return KB_ERR_ALLOC_FAIL;
	}
	*groupp = group;
	return KB_OK;
}

/*
 * Picks a moduli file group as OpenSSH's choose_dh() does: the smallest
 * size above n, or failing that the largest below it, within [min, max];
 * among groups of that size one at random.
 */
static int
dh_choose_modulus(const struct kb_moduli *moduli, uint32_t min, uint32_t n,
    uint32_t max, struct kex_dh_group **groupp)
{
	unsigned int best = 0, count = 0, pick, bits;
	uint32_t rnd;
	size_t i;

	for (i = 0; i < moduli->count; i++) {
		bits = moduli->groups[i].bits;
		if (bits < min || bits > max)
			continue;
		if ((bits > n && bits < best) || (bits > best && best < n)) {
			best = bits;
			count = 0;
		}
		if (bits == best)
			count++;
	}
	if (count == 0)
		return KB_ERR_NOT_FOUND;

	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		return KB_ERR_CRYPTO;
	pick = rnd % count;	/* the bias is irrelevant for choosing a group */
	for (i = 0; i < moduli->count; i++) {
		if (moduli->groups[i].bits != best)
			continue;
		if (pick-- == 0)
			return dh_group_from_modulus(&moduli->groups[i], groupp);
	}
	return KB_ERR_INTERNAL;
}

int
kex_dh_group_choose(const struct kb_moduli *moduli, uint32_t min, uint32_t n,
    uint32_t max, struct kex_dh_group **groupp)
{
	unsigned int bits, fallback = 0;
	size_t i;
	int r;

	*groupp = NULL;
	if (moduli != NULL && moduli->count > 0) {
		r = dh_choose_modulus(moduli, min, n, max, groupp);
		if (r != KB_ERR_NOT_FOUND)
			return r;
	}

	/*
	 * Without a fitting moduli group, the smallest RFC 3526 group of at
	 * least n bits, else the largest one below n, within [min, max].
	 * NOTE: sshd 9.x picks its fallback by max alone (2048 bits below
	 * 3072, 4096 below 6144, else 8192), so for n < max the two differ.
	 */
	for (i = 0; i < DH_FIXED_COUNT; i++) {
		bits = dh_fixed_groups[i].bits;
		if (bits < min || bits > max)
			continue;
		if (bits >= n)
			return kex_dh_group_fixed(bits, groupp);
		fallback = bits;
	}
	if (fallback == 0)
		return KB_ERR_KEX_FAILED;
	return kex_dh_group_fixed(fallback, groupp);
}

int
kex_dh_group_put(const struct kex_dh_group *group, struct kb_buf *out)
{
	int r;

	if ((r = kex_put_bignum(out, group->p)) != 0)
		return r;
	return kex_put_bignum(out, group->g);
}

/*
 * Sets the private exponent length on a key generation context for the
 * domain parameters. OpenSSL 3.0 does not carry the DH_PRIV_LEN of the
 * parameters into a key generated from them. Without a q it then draws an
 * exponent one bit shorter than p, so key generation and agreement are
 * full-length modular exponentiations. With an 8192-bit group they took
 * about 230 ms per exchange (contrib/bench/kex_cost.c on a 2-core VM).
 *
 * Parameters with a q are left alone. OpenSSL sets q when p and g are
 * those of one of its named groups (an RFC 3526 prime in a moduli file,
 * or the fallback group a server sent). It then picks a short exponent
 * itself, and fails key generation when a length set here is below twice
 * its own strength estimate (4096 and 8192 bits).
 */
static int
dh_set_priv_len(const EVP_PKEY *domain, EVP_PKEY_CTX *ctx, unsigned int bits)
{
	OSSL_PARAM params[2];
	BIGNUM *q = NULL;
	int priv_len = dh_priv_len(bits);

	if (EVP_PKEY_get_bn_param(domain, OSSL_PKEY_PARAM_FFC_Q, &q) == 1) {
		BN_free(q);
		return KB_OK;
	}
	params[0] = OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_DH_PRIV_LEN, &priv_len);
	params[1] = OSSL_PARAM_construct_end();
	return EVP_PKEY_CTX_set_params(ctx, params) == 1 ? KB_OK : KB_ERR_CRYPTO;
}

int
kex_dh_keygen(const struct kex_dh_group *group, EVP_PKEY **keyp, struct kb_buf *pub)
{
	EVP_PKEY *domain = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *y = NULL;
	uint8_t *bytes = NULL;
	int len = 0, r;

	*keyp = NULL;
	if ((r = dh_build_pkey(group, NULL, &domain)) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, domain, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1)
		goto out;
	if ((r = dh_set_priv_len(domain, ctx, group->bits)) != 0)
		goto out;
	r = KB_ERR_CRYPTO;
	if (EVP_PKEY_generate(ctx, keyp) != 1 ||
	    EVP_PKEY_get_bn_param(*keyp, OSSL_PKEY_PARAM_PUB_KEY, &y) != 1)
		goto out;
	len = BN_num_bytes(y);
	if ((bytes = malloc((size_t)len + 1)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	BN_bn2bin(y, bytes);
	r = kb_buf_put(pub, bytes, (size_t)len);
out:
	free(bytes);
	BN_free(y);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(domain);
	return r;
}

/* OpenSSH's dh_pub_is_valid() rejects a public value with fewer bits set. */
#define DH_PUBLIC_BITS_SET_MIN	4

/*
 * RFC 4253 section 8 rejects e and f outside [1, p-1]. The values 1 and
 * p-1 are rejected too because they confine K to {1, p-1}. Like OpenSSH
 * 9.x, a value with fewer than 4 bits set is rejected as well, because
 * with g = 2 its discrete logarithm is easy to find.
 *
 * kex_dh_agree() skips OpenSSL's own peer key validation, which also
 * tests y^q mod p = 1 for groups with a q. OpenSSH's dh_pub_is_valid()
 * does not make that test either.
 */
static int
dh_check_public(const struct kex_dh_group *group, const BIGNUM *y)
{
	BIGNUM *limit;
	int i, nbits, bits_set = 0, ok;

	if ((limit = BN_dup(group->p)) == NULL || BN_sub_word(limit, 1) != 1) {
		BN_free(limit);
		return KB_ERR_ALLOC_FAIL;
	}
	ok = BN_cmp(y, BN_value_one()) > 0 && BN_cmp(y, limit) < 0;
	BN_free(limit);
	if (!ok)
		return KB_ERR_KEX_FAILED;

	nbits = BN_num_bits(y);
	for (i = 0; i < nbits && bits_set < DH_PUBLIC_BITS_SET_MIN; i++) {
		if (BN_is_bit_set(y, i))
			bits_set++;
	}
	return bits_set >= DH_PUBLIC_BITS_SET_MIN ? KB_OK : KB_ERR_KEX_FAILED;
}

int
kex_dh_agree(const struct kex_dh_group *group, EVP_PKEY *key, const uint8_t *peer,
    size_t peer_len, struct kb_buf *shared)
{
	EVP_PKEY *peer_key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *y = NULL;
	uint8_t *secret = NULL;
	size_t len = 0, alloc = 0;
	int r = KB_ERR_ALLOC_FAIL;

	if (group == NULL || key == NULL || (peer == NULL && peer_len != 0) || shared == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (peer_len > (size_t)BN_num_bytes(group->p))
		return KB_ERR_KEX_FAILED;
	if ((y = BN_bin2bn(peer, (int)peer_len, NULL)) == NULL)
		goto out;
	if ((r = dh_check_public(group, y)) != 0)
		goto out;
	if ((r = dh_build_pkey(group, y, &peer_key)) != 0) {
		r = KB_ERR_KEX_FAILED;
		goto out;
	}

	alloc = len = (size_t)BN_num_bytes(group->p);
	if ((secret = malloc(alloc)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	r = KB_ERR_CRYPTO;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1)
		goto out;
	/*
	 * 0: no validation by OpenSSL, because dh_check_public() did it.
	 * OpenSSL 3.0 would test y^q mod p = 1 for groups with a q, a
	 * modular exponentiation with a full-length q: about 130 ms of the
	 * 8192-bit group18 exchange (contrib/bench/kex_cost.c on a 2-core
	 * VM).
	 */
	if (EVP_PKEY_derive_set_peer_ex(ctx, peer_key, 0) != 1 ||
	    EVP_PKEY_derive(ctx, secret, &len) != 1) {
		r = KB_ERR_KEX_FAILED;
		goto out;
	}
	r = kb_buf_put_mpint(shared, secret, len);
out:
	if (secret != NULL)
		OPENSSL_clear_free(secret, alloc);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer_key);
	BN_free(y);
	return r;
}
