/*
 * libFuzzer harness for the sniffer: the input is fed whole and then in
 * pieces whose sizes come from the input itself, once as a server stream and
 * once as a client stream. Both feeds must end in the same state.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/sniffer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kb_sniffer *
feed_pieces(enum kb_role sender, const uint8_t *data, size_t size, int whole)
{
	struct kb_sniffer *sn = kb_sniffer_new(sender);
	size_t off, n, step = 0;

	if (sn == NULL)
		abort();
	for (off = 0; off < size; off += n) {
		/* Piece sizes 1..16 cycle through the input bytes. */
		n = whole ? size : (size_t)(data[step++ % size] % 16) + 1;
		if (n > size - off)
			n = size - off;
		(void)kb_sniffer_feed(sn, data + off, n);
	}
	return sn;
}

static void
check_same(const struct kb_sniffer *a, const struct kb_sniffer *b)
{
	const uint8_t *pa, *pb;
	uint64_t sa, ea, sb, eb;
	size_t la, lb;

	if (kb_sniffer_state(a) != kb_sniffer_state(b) ||
	    kb_sniffer_error(a) != kb_sniffer_error(b) ||
	    kb_sniffer_offset(a) != kb_sniffer_offset(b))
		abort();
	if (kb_sniffer_state(a) == KB_SNIFF_DONE) {
		pa = kb_sniffer_kexinit_payload(a, &la);
		pb = kb_sniffer_kexinit_payload(b, &lb);
		if (la != lb || memcmp(pa, pb, la) != 0)
			abort();
		kb_sniffer_kexinit_span(a, &sa, &ea);
		kb_sniffer_kexinit_span(b, &sb, &eb);
		if (sa != sb || ea != eb || ea - sa < la || ea > kb_sniffer_offset(a))
			abort();
	}
	if (kb_sniffer_state(a) == KB_SNIFF_DISCONNECTED &&
	    (kb_sniffer_disconnect_reason(a) != kb_sniffer_disconnect_reason(b) ||
	    strcmp(kb_sniffer_disconnect_text(a), kb_sniffer_disconnect_text(b)) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_sniffer *whole, *pieces;
	enum kb_role roles[] = { KB_ROLE_SERVER, KB_ROLE_CLIENT };
	size_t i;

	for (i = 0; i < 2; i++) {
		whole = feed_pieces(roles[i], data, size, 1);
		pieces = feed_pieces(roles[i], data, size, 0);
		check_same(whole, pieces);
		kb_sniffer_free(whole);
		kb_sniffer_free(pieces);
	}
	return 0;
}
