/*
 * libFuzzer harness for the server transport before authentication: the
 * input is everything a client sends, from its identification line on. A
 * new transport with a fixed ed25519 host key consumes it in chunks no
 * larger than kb_transport_input_space(), drains the messages it passes up,
 * and discards what it would send. Any crash, leak or sanitizer report is a
 * bug; a DISCONNECT is a normal outcome.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Generated once per process: key generation would dominate every run. */
static struct kb_hostkey *fuzz_hostkey;

static void
drain(struct kb_transport *t, struct kb_buf *payload)
{
	struct kb_buf *out = kb_transport_output(t);

	while (kb_transport_next(t, payload) == KB_OK)
		kb_buf_reset(payload);
	kb_buf_consume(out, kb_buf_len(out));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_hostkey *keys[1];
	struct kb_transport_config config = { 0 };
	struct kb_transport *t = NULL;
	struct kb_buf *payload;
	size_t off = 0, chunk;

	if (fuzz_hostkey == NULL &&
	    kb_hostkey_generate(KB_HOSTKEY_ED25519, 0, &fuzz_hostkey) != KB_OK)
		abort();
	keys[0] = fuzz_hostkey;
	config.hostkeys = keys;
	config.hostkey_count = 1;
	if (kb_transport_new(&config, &t) != KB_OK)
		abort();
	if ((payload = kb_buf_new(KB_BUF_SIZE_MAX)) == NULL)
		abort();

	while (off < size && kb_transport_state(t) != KB_TRANSPORT_CLOSED) {
		chunk = kb_transport_input_space(t);
		if (chunk > size - off)
			chunk = size - off;
		if (chunk == 0)
			break;
		(void)kb_transport_feed(t, data + off, chunk);
		off += chunk;
		drain(t, payload);
	}

	/* Whatever state it ended in, the getters must be safe to call. */
	(void)kb_transport_error(t);
	(void)kb_transport_error_text(t);
	(void)kb_transport_client_version(t);
	(void)kb_transport_strict_kex(t);
	(void)kb_transport_kex_count(t);
	kb_buf_free(payload);
	kb_transport_free(t);
	return 0;
}
