/*
 * Times kexbridge's finite-field Diffie-Hellman steps in process: key
 * generation (kex_dh_keygen) and agreement with a peer value (kex_dh_agree)
 * for the built-in groups and for moduli(5) groups picked as for a group
 * exchange request, and prints the private exponent's bit length.
 * kex_cost.sh builds and runs it against a build tree.
 *
 * Usage: kex_cost [ITERATIONS [MODULI_FILE]]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kex_internal.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Prints the mean ms of keygen and agree over iterations, or fails. */
static int
time_group(const char *label, const struct kex_dh_group *group, int iterations)
{
	double keygen_ms = 0, agree_ms = 0, t0;
	int i, priv_bits = 0, r = -1;

	for (i = 0; i < iterations; i++) {
		struct kb_buf *ours = kb_buf_new(KB_BUF_SIZE_DEFAULT);
		struct kb_buf *peer = kb_buf_new(KB_BUF_SIZE_DEFAULT);
		struct kb_buf *shared = kb_buf_new(KB_BUF_SIZE_DEFAULT);
		EVP_PKEY *key = NULL, *peer_key = NULL;
		BIGNUM *priv = NULL;

		if (ours == NULL || peer == NULL || shared == NULL)
			goto next;
		t0 = now_ms();
		if (kex_dh_keygen(group, &key, ours) != 0)
			goto next;
		keygen_ms += now_ms() - t0;
		if (kex_dh_keygen(group, &peer_key, peer) != 0 ||
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1)
			goto next;
		priv_bits = BN_num_bits(priv);
		t0 = now_ms();
		if (kex_dh_agree(group, key, kb_buf_ptr(peer), kb_buf_len(peer), shared) != 0)
			goto next;
		agree_ms += now_ms() - t0;
		r = 0;
next:
		BN_clear_free(priv);
		EVP_PKEY_free(key);
		EVP_PKEY_free(peer_key);
		kb_buf_free(ours);
		kb_buf_free(peer);
		kb_buf_free(shared);
		if (r != 0) {
			fprintf(stderr, "%s: key generation or agreement failed\n", label);
			return -1;
		}
		r = -1;
	}
	printf("%-26s %5u %10d %10.2f %10.2f\n", label, group->bits, priv_bits,
	    keygen_ms / iterations, agree_ms / iterations);
	return 0;
}

int
main(int argc, char **argv)
{
	static const unsigned int fixed_bits[] = { 2048, 4096, 8192 };
	static const uint32_t gex_n[] = { 2048, 3072, 4096, 8192 };
	struct kb_moduli *moduli = NULL;
	struct kex_dh_group *group;
	char label[64];
	size_t i;
	int iterations = argc > 1 ? atoi(argv[1]) : 5, status = 0, r;

	if (iterations < 1) {
		fprintf(stderr, "usage: kex_cost [ITERATIONS [MODULI_FILE]]\n");
		return 2;
	}
	printf("%-26s %5s %10s %10s %10s\n", "group", "bits", "priv bits",
	    "keygen ms", "agree ms");
	for (i = 0; i < sizeof(fixed_bits) / sizeof(fixed_bits[0]); i++) {
		if (kex_dh_group_fixed(fixed_bits[i], &group) != 0)
			return 1;
		snprintf(label, sizeof(label), "built-in %s", group->name);
		status |= time_group(label, group, iterations);
		kex_dh_group_free(group);
	}
	if (argc > 2) {
		if ((r = kb_moduli_load(argv[2], &moduli)) != 0) {
			fprintf(stderr, "failed to load moduli file %s: %s\n", argv[2],
			    kb_err_str(r));
			return 1;
		}
		/* The request OpenSSH 9.2 sends is min 2048, n, max 8192. */
		for (i = 0; i < sizeof(gex_n) / sizeof(gex_n[0]); i++) {
			if (kex_dh_group_choose(moduli, 2048, gex_n[i], 8192, &group) != 0)
				return 1;
			snprintf(label, sizeof(label), "moduli, request n=%u",
			    (unsigned int)gex_n[i]);
			status |= time_group(label, group, iterations);
			kex_dh_group_free(group);
		}
		kb_moduli_free(moduli);
	}
	return status == 0 ? 0 : 1;
}
