/*
 * libFuzzer harness for the KEXINIT parser. A payload that parses is written
 * back and must come out the same, except that a NUL in a name-list becomes
 * '?' and a non-zero boolean becomes 1.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/kexinit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Byte i of the output must match the input, allowing for what parsing normalises. */
static int
same_byte(const uint8_t *in, const uint8_t *out, size_t i, size_t size)
{
	/* first_kex_packet_follows: any non-zero byte is written back as 1. */
	if (i == size - 5)
		return (in[i] != 0) == (out[i] != 0);
	/* A NUL inside a name-list is kept as '?'. */
	return in[i] == out[i] || (in[i] == '\0' && out[i] == '?');
}

static void
check_round_trip(const struct kb_kexinit *k, const uint8_t *data, size_t size)
{
	struct kb_buf *out = kb_buf_new(KB_BUF_SIZE_MAX);
	struct kb_kexinit copy;
	char flags[256];
	size_t i;

	if (out == NULL || kb_kexinit_write(k, out) != KB_OK)
		abort();
	if (kb_buf_len(out) != size)
		abort();
	for (i = 0; i < size; i++) {
		if (!same_byte(data, kb_buf_ptr(out), i, size))
			abort();
	}

	if (kb_kexinit_copy(&copy, k) != KB_OK)
		abort();
	if (kb_kexinit_flags(&copy) != kb_kexinit_flags(k))
		abort();
	kb_namelist_flags_str(kb_kexinit_flags(k), flags, sizeof(flags));
	kb_kexinit_free(&copy);
	kb_buf_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_kexinit k;
	struct kb_namelist list;

	if (kb_kexinit_parse(&k, data, size) == KB_OK) {
		check_round_trip(&k, data, size);
		kb_kexinit_free(&k);
	}

	/* The name-list splitter on the raw input. */
	if (kb_namelist_parse(&list, data, size) == KB_OK) {
		(void)kb_namelist_contains(&list, "curve25519-sha256");
		kb_namelist_free(&list);
	}
	return 0;
}
