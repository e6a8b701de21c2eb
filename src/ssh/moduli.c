/*
 * OpenSSH moduli(5) files: one group per line,
 *
 *	time type tests tries size generator modulus
 *
 * where size is the modulus size in bits minus one and modulus is hex.
 * Only safe primes (type 2) that passed a primality test are kept, with
 * the same checks OpenSSH's parse_prime() applies.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include "kexbridge/err.h"
#include "kexbridge/kex.h"
#include "kex_internal.h"

#define MODULI_TYPE_SAFE	2
#define MODULI_TESTS_COMPOSITE	0x01
/* Larger groups than group exchange may use are of no interest. */
#define MODULI_BITS_MAX		KEX_GEX_MAX_BITS
#define MODULI_GROUPS_MAX	4096
#define MODULI_LINE_MAX		(64 * 1024)

static void
moduli_clear(struct kex_modulus *mod)
{
	BN_free(mod->p);
	BN_free(mod->g);
	memset(mod, 0, sizeof(*mod));
}

/* Parses one data line; KB_ERR_CONFIG_INVALID for a line to skip. */
static int
moduli_parse_line(char *line, struct kex_modulus *mod)
{
	char *fields[7], *save = NULL, *tok, *end;
	unsigned long type, tests, size, gen;
	int n = 0;

	memset(mod, 0, sizeof(*mod));
	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL && n < 7;
	    tok = strtok_r(NULL, " \t\r\n", &save))
		fields[n++] = tok;
	if (n != 7 || tok != NULL)
		return KB_ERR_CONFIG_INVALID;

	errno = 0;
	type = strtoul(fields[1], &end, 10);
	if (*end != '\0' || type != MODULI_TYPE_SAFE)
		return KB_ERR_CONFIG_INVALID;
	tests = strtoul(fields[2], &end, 10);
	/* A composite mark, or no test beyond it, disqualifies the prime. */
	if (*end != '\0' || (tests & MODULI_TESTS_COMPOSITE) != 0 ||
	    (tests & ~(unsigned long)MODULI_TESTS_COMPOSITE) == 0)
		return KB_ERR_CONFIG_INVALID;
	size = strtoul(fields[4], &end, 10);
	if (*end != '\0' || errno != 0 || size == 0 || size >= MODULI_BITS_MAX)
		return KB_ERR_CONFIG_INVALID;
	gen = strtoul(fields[5], &end, 16);
	if (*end != '\0' || errno != 0 || gen < 2)
		return KB_ERR_CONFIG_INVALID;

	mod->bits = (unsigned int)size + 1;
	if ((mod->g = BN_new()) == NULL || BN_set_word(mod->g, gen) != 1 ||
	    BN_hex2bn(&mod->p, fields[6]) != (int)strlen(fields[6]) ||
	    (unsigned int)BN_num_bits(mod->p) != mod->bits || !BN_is_odd(mod->p) ||
	    BN_cmp(mod->g, mod->p) >= 0) {
		moduli_clear(mod);
		return KB_ERR_CONFIG_INVALID;
	}
	return KB_OK;
}

static int
moduli_append(struct kb_moduli *moduli, struct kex_modulus *mod)
{
	struct kex_modulus *groups;

	if (moduli->count == MODULI_GROUPS_MAX)
		return KB_ERR_CONFIG_INVALID;
	groups = realloc(moduli->groups, (moduli->count + 1) * sizeof(*groups));
	if (groups == NULL)
		return KB_ERR_ALLOC_FAIL;
	moduli->groups = groups;
	moduli->groups[moduli->count++] = *mod;
	memset(mod, 0, sizeof(*mod));
	return KB_OK;
}

static int
moduli_read(FILE *f, struct kb_moduli *moduli)
{
	struct kex_modulus mod;
	char *line = NULL, *p;
	size_t cap = 0;
	ssize_t len;
	int r = KB_OK;

	while ((len = getline(&line, &cap, f)) != -1) {
		p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (len > MODULI_LINE_MAX || moduli_parse_line(p, &mod) != 0) {
			moduli->skipped++;
			continue;
		}
		if ((r = moduli_append(moduli, &mod)) != 0) {
			moduli_clear(&mod);
			if (r != KB_ERR_CONFIG_INVALID)
				break;
			moduli->skipped++;
			r = KB_OK;
		}
	}
	if (r == KB_OK && ferror(f))
		r = KB_ERR_SYSTEM;
	free(line);
	return r;
}

int
kb_moduli_load(const char *path, struct kb_moduli **modulip)
{
	struct kb_moduli *moduli = NULL;
	FILE *f;
	int r;

	if (path == NULL || modulip == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*modulip = NULL;
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? KB_ERR_NOT_FOUND : KB_ERR_SYSTEM;
	if ((moduli = calloc(1, sizeof(*moduli))) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	if ((r = moduli_read(f, moduli)) != 0)
		goto out;
	*modulip = moduli;
	moduli = NULL;
out:
	fclose(f);
	kb_moduli_free(moduli);
	return r;
}

void
kb_moduli_free(struct kb_moduli *moduli)
{
	size_t i;

	if (moduli == NULL)
		return;
	for (i = 0; i < moduli->count; i++)
		moduli_clear(&moduli->groups[i]);
	free(moduli->groups);
	free(moduli);
}

size_t
kb_moduli_count(const struct kb_moduli *moduli)
{
	return moduli != NULL ? moduli->count : 0;
}

size_t
kb_moduli_skipped(const struct kb_moduli *moduli)
{
	return moduli != NULL ? moduli->skipped : 0;
}
