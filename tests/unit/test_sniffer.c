/* Unit tests for the stream sniffer (kexbridge/sniffer.h). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/packet.h"
#include "kexbridge/sniffer.h"

#define SERVER_LINE	"SSH-2.0-OpenSSH_9.6 test\r\n"

/* What a test stream holds, for checking the sniffer's findings. */
struct stream {
	struct kb_buf *bytes;
	struct kb_buf *kexinit_payload;
	size_t kexinit_start;
	size_t kexinit_end;
};

static void
put_packet(struct kb_buf *out, const uint8_t *payload, size_t len)
{
	assert_int_equal(kb_packet_write(out, payload, len), KB_OK);
}

static struct kb_buf *
make_kexinit_payload(void)
{
	struct kb_buf *buf = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	struct kb_kexinit k;

	memset(&k, 0, sizeof(k));
	memset(k.cookie, 0x5a, sizeof(k.cookie));
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_KEX,
	    "curve25519-sha256,diffie-hellman-group14-sha256,ext-info-s"), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_HOSTKEY, "ssh-ed25519,rsa-sha2-512"), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_CIPHER_C2S, "aes128-ctr"), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_CIPHER_S2C, "aes128-ctr"), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_MAC_C2S, "hmac-sha2-256"), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_MAC_S2C, "hmac-sha2-256"), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_COMP_C2S, "none"), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_COMP_S2C, "none"), KB_OK);
	assert_int_equal(kb_kexinit_write(&k, buf), KB_OK);
	kb_kexinit_free(&k);
	return buf;
}

/*
 * A server stream: pre-banner line, identification line, IGNORE, DEBUG,
 * KEXINIT, then bytes that look like nothing in particular.
 */
static void
make_stream(struct stream *s)
{
	const uint8_t ignore[] = { SSH_MSG_IGNORE, 0, 0, 0, 3, 'a', 'b', 'c' };
	const uint8_t debug[] = { SSH_MSG_DEBUG, 1, 0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0 };
	const uint8_t after[] = { 0xff, 0xff, 0xff, 0xff, 0, 1, 2 };

	s->bytes = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	s->kexinit_payload = make_kexinit_payload();
	assert_int_equal(kb_buf_put(s->bytes, "Hello\r\n" SERVER_LINE,
	    strlen("Hello\r\n" SERVER_LINE)), KB_OK);
	put_packet(s->bytes, ignore, sizeof(ignore));
	put_packet(s->bytes, debug, sizeof(debug));
	s->kexinit_start = kb_buf_len(s->bytes);
	put_packet(s->bytes, kb_buf_ptr(s->kexinit_payload), kb_buf_len(s->kexinit_payload));
	s->kexinit_end = kb_buf_len(s->bytes);
	assert_int_equal(kb_buf_put(s->bytes, after, sizeof(after)), KB_OK);
}

static void
free_stream(struct stream *s)
{
	kb_buf_free(s->bytes);
	kb_buf_free(s->kexinit_payload);
}

static void
check_done(const struct kb_sniffer *sn, const struct stream *s)
{
	const struct kb_kexinit *k;
	const uint8_t *payload;
	uint64_t start, end;
	size_t len;

	assert_int_equal(kb_sniffer_state(sn), KB_SNIFF_DONE);
	assert_int_equal(kb_sniffer_error(sn), KB_OK);
	assert_non_null(kb_sniffer_version(sn));
	assert_string_equal(kb_sniffer_version(sn)->software, "OpenSSH_9.6");
	assert_int_equal(kb_sniffer_version(sn)->prebanner_lines, 1);
	assert_non_null(k = kb_sniffer_kexinit(sn));
	assert_string_equal(k->lists[KB_CAT_HOSTKEY].raw, "ssh-ed25519,rsa-sha2-512");
	assert_int_equal(k->lists[KB_CAT_KEX].count, 3);
	payload = kb_sniffer_kexinit_payload(sn, &len);
	assert_int_equal(len, kb_buf_len(s->kexinit_payload));
	assert_memory_equal(payload, kb_buf_ptr(s->kexinit_payload), len);
	kb_sniffer_kexinit_span(sn, &start, &end);
	assert_int_equal(start, s->kexinit_start);
	assert_int_equal(end, s->kexinit_end);
	assert_int_equal(kb_sniffer_offset(sn), kb_buf_len(s->bytes));
}

static void
sniffer_finds_kexinit_in_one_feed(void **state)
{
	struct kb_sniffer *sn = kb_sniffer_new(KB_ROLE_SERVER);
	struct stream s;

	(void)state;
	make_stream(&s);
	assert_int_equal(kb_sniffer_state(sn), KB_SNIFF_VERSION);
	assert_null(kb_sniffer_version(sn));
	assert_null(kb_sniffer_kexinit(sn));
	assert_int_equal(kb_sniffer_feed(sn, kb_buf_ptr(s.bytes), kb_buf_len(s.bytes)),
	    KB_OK);
	check_done(sn, &s);
	kb_sniffer_free(sn);
	free_stream(&s);
}

static void
sniffer_one_byte_at_a_time(void **state)
{
	struct kb_sniffer *sn = kb_sniffer_new(KB_ROLE_SERVER);
	struct stream s;
	size_t i;

	(void)state;
	make_stream(&s);
	for (i = 0; i < kb_buf_len(s.bytes); i++) {
		assert_int_equal(kb_sniffer_feed(sn, kb_buf_ptr(s.bytes) + i, 1), KB_OK);
		/* The state moves on with the byte that completes KEXINIT. */
		if (i + 1 < s.kexinit_end)
			assert_int_not_equal(kb_sniffer_state(sn), KB_SNIFF_DONE);
	}
	check_done(sn, &s);
	kb_sniffer_free(sn);
	free_stream(&s);
}

static void
sniffer_random_splits(void **state)
{
	struct kb_sniffer *sn;
	struct stream s;
	size_t off, n;
	int round;

	(void)state;
	make_stream(&s);
	srand(4253);
	for (round = 0; round < 200; round++) {
		sn = kb_sniffer_new(KB_ROLE_SERVER);
		for (off = 0; off < kb_buf_len(s.bytes); off += n) {
			n = (size_t)rand() % 64;
			if (n > kb_buf_len(s.bytes) - off)
				n = kb_buf_len(s.bytes) - off;
			assert_int_equal(kb_sniffer_feed(sn, kb_buf_ptr(s.bytes) + off, n),
			    KB_OK);
		}
		check_done(sn, &s);
		kb_sniffer_free(sn);
	}
	free_stream(&s);
}

static void
sniffer_counts_after_done(void **state)
{
	struct kb_sniffer *sn = kb_sniffer_new(KB_ROLE_SERVER);
	static uint8_t junk[65536];
	struct stream s;
	int i;

	(void)state;
	make_stream(&s);
	assert_int_equal(kb_sniffer_feed(sn, kb_buf_ptr(s.bytes), kb_buf_len(s.bytes)),
	    KB_OK);
	memset(junk, 0xee, sizeof(junk));
	for (i = 0; i < 100; i++)
		assert_int_equal(kb_sniffer_feed(sn, junk, sizeof(junk)), KB_OK);
	assert_int_equal(kb_sniffer_offset(sn), kb_buf_len(s.bytes) + 100 * sizeof(junk));
	assert_int_equal(kb_sniffer_state(sn), KB_SNIFF_DONE);
	kb_sniffer_free(sn);
	free_stream(&s);
}

static void
sniffer_reports_disconnect(void **state)
{
	struct kb_sniffer *sn = kb_sniffer_new(KB_ROLE_SERVER);
	struct kb_buf *stream = kb_buf_new(1024), *payload = kb_buf_new(256);

	(void)state;
	assert_int_equal(kb_buf_put(stream, SERVER_LINE, strlen(SERVER_LINE)), KB_OK);
	assert_int_equal(kb_packet_put_disconnect(payload, SSH_DISCONNECT_BY_APPLICATION,
	    "Too many\nconnections\x1b[2J"), KB_OK);
	put_packet(stream, kb_buf_ptr(payload), kb_buf_len(payload));
	assert_int_equal(kb_sniffer_feed(sn, kb_buf_ptr(stream), kb_buf_len(stream)), KB_OK);
	assert_int_equal(kb_sniffer_state(sn), KB_SNIFF_DISCONNECTED);
	assert_int_equal(kb_sniffer_disconnect_reason(sn), SSH_DISCONNECT_BY_APPLICATION);
	/* Control bytes from the peer are escaped. */
	assert_string_equal(kb_sniffer_disconnect_text(sn),
	    "Too many\\x0aconnections\\x1b[2J");
	assert_null(kb_sniffer_kexinit(sn));
	kb_sniffer_free(sn);
	kb_buf_free(stream);
	kb_buf_free(payload);
}

static const struct {
	const char *name;
	uint8_t payload[16];
	size_t len;
	int expected;
} unexpected[] = {
	{ "newkeys", { SSH_MSG_NEWKEYS }, 1, KB_ERR_UNEXPECTED_MESSAGE },
	{ "service request", { SSH_MSG_SERVICE_REQUEST, 0, 0, 0, 0 }, 5,
	    KB_ERR_UNEXPECTED_MESSAGE },
	{ "userauth", { 50, 0, 0, 0, 0 }, 5, KB_ERR_UNEXPECTED_MESSAGE },
	{ "truncated kexinit", { SSH_MSG_KEXINIT, 1, 2, 3 }, 4, KB_ERR_MESSAGE_TRUNCATED },
	{ "truncated disconnect", { SSH_MSG_DISCONNECT, 0, 0 }, 3, KB_ERR_MESSAGE_TRUNCATED },
};

static void
sniffer_rejects_unexpected_message(void **state)
{
	struct kb_sniffer *sn;
	struct kb_buf *stream;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(unexpected) / sizeof(unexpected[0]); i++) {
		sn = kb_sniffer_new(KB_ROLE_CLIENT);
		stream = kb_buf_new(1024);
		assert_int_equal(kb_buf_put(stream, "SSH-2.0-x\r\n", 11), KB_OK);
		put_packet(stream, unexpected[i].payload, unexpected[i].len);
		r = kb_sniffer_feed(sn, kb_buf_ptr(stream), kb_buf_len(stream));
		if (r != unexpected[i].expected)
			fail_msg("case \"%s\": got %d, expected %d", unexpected[i].name, r,
			    unexpected[i].expected);
		assert_int_equal(kb_sniffer_state(sn), KB_SNIFF_FAILED);
		assert_int_equal(kb_sniffer_error(sn), unexpected[i].expected);
		/* Later bytes are counted and the error is repeated. */
		assert_int_equal(kb_sniffer_feed(sn, (const uint8_t *)"zz", 2), r);
		assert_int_equal(kb_sniffer_offset(sn), kb_buf_len(stream) + 2);
		kb_buf_free(stream);
		kb_sniffer_free(sn);
	}
}

static void
sniffer_rejects_bad_framing(void **state)
{
	const char *huge = "SSH-2.0-x\r\n\x80\x00\x00\x00";
	const char *tls = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03";
	struct kb_sniffer *sn;

	(void)state;
	sn = kb_sniffer_new(KB_ROLE_SERVER);
	assert_int_equal(kb_sniffer_feed(sn, (const uint8_t *)huge, 15),
	    KB_ERR_PACKET_TOO_LARGE);
	assert_int_equal(kb_sniffer_state(sn), KB_SNIFF_FAILED);
	assert_non_null(kb_sniffer_version(sn));
	kb_sniffer_free(sn);

	sn = kb_sniffer_new(KB_ROLE_CLIENT);
	assert_int_equal(kb_sniffer_feed(sn, (const uint8_t *)tls, 11), KB_ERR_NOT_SSH);
	assert_null(kb_sniffer_version(sn));
	kb_sniffer_free(sn);
}

/* A packet that never completes is buffered up to its declared size only. */
static void
sniffer_waits_for_large_packet(void **state)
{
	const uint8_t header[] = { 0x00, 0x03, 0xff, 0xfc, 4, SSH_MSG_IGNORE };
	struct kb_sniffer *sn = kb_sniffer_new(KB_ROLE_CLIENT);
	static uint8_t filler[4096];
	int i;

	(void)state;
	assert_int_equal(kb_sniffer_feed(sn, (const uint8_t *)"SSH-2.0-x\r\n", 11), KB_OK);
	assert_int_equal(kb_sniffer_feed(sn, header, sizeof(header)), KB_OK);
	for (i = 0; i < 60; i++)
		assert_int_equal(kb_sniffer_feed(sn, filler, sizeof(filler)), KB_OK);
	assert_int_equal(kb_sniffer_state(sn), KB_SNIFF_KEXINIT);
	assert_int_equal(kb_sniffer_offset(sn), 11 + sizeof(header) + 60 * sizeof(filler));
	kb_sniffer_free(sn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sniffer_finds_kexinit_in_one_feed),
		cmocka_unit_test(sniffer_one_byte_at_a_time),
		cmocka_unit_test(sniffer_random_splits),
		cmocka_unit_test(sniffer_counts_after_done),
		cmocka_unit_test(sniffer_reports_disconnect),
		cmocka_unit_test(sniffer_rejects_unexpected_message),
		cmocka_unit_test(sniffer_rejects_bad_framing),
		cmocka_unit_test(sniffer_waits_for_large_packet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
