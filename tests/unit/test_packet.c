/* Unit tests for unencrypted packet framing (kexbridge/packet.h). */
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

static void
packet_write_parse_round_trip(void **state)
{
	uint8_t payload[300];
	struct kb_buf *buf;
	const uint8_t *got;
	size_t len, size, got_len;

	(void)state;
	for (len = 1; len < sizeof(payload); len++) {
		memset(payload, (int)len, len);
		buf = kb_buf_new(KB_BUF_SIZE_DEFAULT);
		assert_int_equal(kb_packet_write(buf, payload, len), KB_OK);
		assert_int_equal(kb_buf_len(buf) % KB_PACKET_BLOCK, 0);
		/* padding_length is at least 4 and under 4 + one block. */
		assert_true(kb_buf_ptr(buf)[4] >= 4);
		assert_true(kb_buf_ptr(buf)[4] < 4 + KB_PACKET_BLOCK);
		assert_int_equal(kb_packet_parse(kb_buf_ptr(buf), kb_buf_len(buf),
		    &size, &got, &got_len), KB_OK);
		assert_int_equal(size, kb_buf_len(buf));
		assert_int_equal(got_len, len);
		assert_memory_equal(got, payload, len);
		kb_buf_free(buf);
	}
}

static void
packet_padding_is_random(void **state)
{
	const uint8_t payload[] = { SSH_MSG_IGNORE, 0, 0, 0, 0 };
	struct kb_buf *a = kb_buf_new(64), *b = kb_buf_new(64);
	size_t pad;

	(void)state;
	assert_int_equal(kb_packet_write(a, payload, sizeof(payload)), KB_OK);
	assert_int_equal(kb_packet_write(b, payload, sizeof(payload)), KB_OK);
	pad = kb_buf_ptr(a)[4];
	/* 4 + 1 + 5 + 6 = 16; six random bytes match by chance with probability 2^-48. */
	assert_int_equal(pad, 6);
	assert_memory_not_equal(kb_buf_ptr(a) + 5 + sizeof(payload),
	    kb_buf_ptr(b) + 5 + sizeof(payload), pad);
	kb_buf_free(a);
	kb_buf_free(b);
}

static void
packet_parse_incomplete(void **state)
{
	const uint8_t payload[] = { SSH_MSG_KEXINIT, 1, 2, 3 };
	struct kb_buf *buf = kb_buf_new(64);
	size_t i, size;

	(void)state;
	assert_int_equal(kb_packet_write(buf, payload, sizeof(payload)), KB_OK);
	for (i = 0; i < kb_buf_len(buf); i++)
		assert_int_equal(kb_packet_parse(kb_buf_ptr(buf), i, &size, NULL, NULL),
		    KB_ERR_INCOMPLETE);
	kb_buf_free(buf);
}

/* 2^31 is rejected from the four length bytes alone. */
static void
packet_rejects_length_2_31(void **state)
{
	const uint8_t data[] = { 0x80, 0x00, 0x00, 0x00 };
	size_t size;

	(void)state;
	assert_int_equal(kb_packet_parse(data, sizeof(data), &size, NULL, NULL),
	    KB_ERR_PACKET_TOO_LARGE);
}

static const struct {
	const char *name;
	uint8_t data[24];
	size_t len;
	int expected;
} malformed[] = {
	{ "length 2^32-1", { 0xff, 0xff, 0xff, 0xff }, 4, KB_ERR_PACKET_TOO_LARGE },
	{ "length max+4", { 0x00, 0x04, 0x00, 0x04 }, 4, KB_ERR_PACKET_TOO_LARGE },
	{ "length 0", { 0, 0, 0, 0 }, 4, KB_ERR_PACKET_TOO_SMALL },
	{ "length 4", { 0, 0, 0, 4, 4 }, 5, KB_ERR_PACKET_TOO_SMALL },
	{ "unaligned length", { 0, 0, 0, 13 }, 4, KB_ERR_PADDING_INVALID },
	{ "padding 3", { 0, 0, 0, 12, 3, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 16,
	    KB_ERR_PADDING_INVALID },
	{ "padding equals length", { 0, 0, 0, 12, 12, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 },
	    16, KB_ERR_PADDING_INVALID },
	{ "padding 255", { 0, 0, 0, 12, 255, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 16,
	    KB_ERR_PADDING_INVALID },
	{ "empty payload", { 0, 0, 0, 12, 11, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 16,
	    KB_ERR_PACKET_TOO_SMALL },
};

static void
packet_rejects_malformed(void **state)
{
	size_t i, size;
	int r;

	(void)state;
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		r = kb_packet_parse(malformed[i].data, malformed[i].len, &size, NULL, NULL);
		if (r != malformed[i].expected)
			fail_msg("case \"%s\": got %d, expected %d", malformed[i].name, r,
			    malformed[i].expected);
	}
}

/* The largest block-aligned packet_length under KB_PACKET_MAX is accepted. */
static void
packet_accepts_max_length(void **state)
{
	size_t packet_len = KB_PACKET_MAX - 4, size, len;
	uint8_t *data = calloc(1, packet_len + 4);
	const uint8_t *payload;

	(void)state;
	assert_non_null(data);
	data[1] = (uint8_t)(packet_len >> 16);
	data[2] = (uint8_t)(packet_len >> 8);
	data[3] = (uint8_t)packet_len;
	data[4] = 4;
	data[5] = SSH_MSG_IGNORE;
	assert_int_equal(kb_packet_parse(data, packet_len + 4, &size, &payload, &len),
	    KB_OK);
	assert_int_equal(size, packet_len + 4);
	assert_int_equal(len, packet_len - 5);
	free(data);
}

static void
packet_write_rejects_empty(void **state)
{
	struct kb_buf *buf = kb_buf_new(64);

	(void)state;
	assert_int_equal(kb_packet_write(buf, (const uint8_t *)"", 0),
	    KB_ERR_INVALID_ARGUMENT);
	assert_int_equal(kb_buf_len(buf), 0);
	kb_buf_free(buf);
}

static void
packet_disconnect_round_trip(void **state)
{
	struct kb_buf *buf = kb_buf_new(256);
	const uint8_t *desc;
	size_t desc_len;
	uint32_t reason;

	(void)state;
	assert_int_equal(kb_packet_put_disconnect(buf, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
	    "no matching cipher"), KB_OK);
	assert_int_equal(kb_buf_ptr(buf)[0], SSH_MSG_DISCONNECT);
	assert_int_equal(kb_packet_parse_disconnect(kb_buf_ptr(buf), kb_buf_len(buf),
	    &reason, &desc, &desc_len), KB_OK);
	assert_int_equal(reason, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
	assert_int_equal(desc_len, strlen("no matching cipher"));
	assert_memory_equal(desc, "no matching cipher", desc_len);
	/* reason + description + empty language tag */
	assert_int_equal(kb_buf_len(buf), 1 + 4 + 4 + desc_len + 4);
	kb_buf_free(buf);
}

static void
packet_disconnect_rejects_malformed(void **state)
{
	const uint8_t not_disconnect[] = { SSH_MSG_IGNORE, 0, 0, 0, 2, 0, 0, 0, 0 };
	const uint8_t short_reason[] = { SSH_MSG_DISCONNECT, 0, 0 };
	const uint8_t short_desc[] = { SSH_MSG_DISCONNECT, 0, 0, 0, 2, 0, 0, 0, 9, 'a' };
	const uint8_t no_language[] = { SSH_MSG_DISCONNECT, 0, 0, 0, 2, 0, 0, 0, 1, 'a' };
	const uint8_t *desc;
	size_t desc_len;
	uint32_t reason;

	(void)state;
	assert_int_equal(kb_packet_parse_disconnect(not_disconnect, sizeof(not_disconnect),
	    &reason, &desc, &desc_len), KB_ERR_UNEXPECTED_MESSAGE);
	assert_int_equal(kb_packet_parse_disconnect(short_reason, sizeof(short_reason),
	    &reason, &desc, &desc_len), KB_ERR_MESSAGE_TRUNCATED);
	assert_int_equal(kb_packet_parse_disconnect(short_desc, sizeof(short_desc),
	    &reason, &desc, &desc_len), KB_ERR_MESSAGE_TRUNCATED);
	/* Some peers omit the language tag; OpenSSH accepts that too. */
	assert_int_equal(kb_packet_parse_disconnect(no_language, sizeof(no_language),
	    &reason, &desc, &desc_len), KB_OK);
	assert_int_equal(reason, 2);
	assert_int_equal(desc_len, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(packet_write_parse_round_trip),
		cmocka_unit_test(packet_padding_is_random),
		cmocka_unit_test(packet_parse_incomplete),
		cmocka_unit_test(packet_rejects_length_2_31),
		cmocka_unit_test(packet_rejects_malformed),
		cmocka_unit_test(packet_accepts_max_length),
		cmocka_unit_test(packet_write_rejects_empty),
		cmocka_unit_test(packet_disconnect_round_trip),
		cmocka_unit_test(packet_disconnect_rejects_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
