/* Unit tests for the wire buffer (kexbridge/buf.h). */
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

static void
buf_put_get_round_trip(void **state)
{
	struct kb_buf *buf = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	uint8_t u8, raw[3];
	uint32_t u32;
	char *str;
	size_t len;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(kb_buf_put_u8(buf, 0xab), KB_OK);
	assert_int_equal(kb_buf_put_u32(buf, 0x01020304), KB_OK);
	assert_int_equal(kb_buf_put_cstring(buf, "ssh-ed25519"), KB_OK);
	assert_int_equal(kb_buf_put(buf, "xyz", 3), KB_OK);
	assert_int_equal(kb_buf_len(buf), 1 + 4 + 4 + 11 + 3);

	assert_int_equal(kb_buf_get_u8(buf, &u8), KB_OK);
	assert_int_equal(u8, 0xab);
	assert_int_equal(kb_buf_get_u32(buf, &u32), KB_OK);
	assert_int_equal(u32, 0x01020304);
	assert_int_equal(kb_buf_get_cstring(buf, &str, &len), KB_OK);
	assert_string_equal(str, "ssh-ed25519");
	assert_int_equal(len, 11);
	free(str);
	assert_int_equal(kb_buf_get_bytes(buf, raw, 3), KB_OK);
	assert_memory_equal(raw, "xyz", 3);
	assert_int_equal(kb_buf_expect_end(buf), KB_OK);
	kb_buf_free(buf);
}

static void
buf_u32_is_big_endian(void **state)
{
	struct kb_buf *buf = kb_buf_new(64);
	const uint8_t want[] = { 0xde, 0xad, 0xbe, 0xef };

	(void)state;
	assert_int_equal(kb_buf_put_u32(buf, 0xdeadbeef), KB_OK);
	assert_memory_equal(kb_buf_ptr(buf), want, 4);
	kb_buf_free(buf);
}

static void
buf_get_rejects_truncated(void **state)
{
	const uint8_t short_u32[] = { 1, 2, 3 };
	const uint8_t short_str[] = { 0, 0, 0, 5, 'a', 'b' };
	struct kb_buf *buf;
	uint32_t u32;
	const uint8_t *p;
	size_t len;

	(void)state;
	buf = kb_buf_from(short_u32, sizeof(short_u32));
	assert_int_equal(kb_buf_get_u32(buf, &u32), KB_ERR_MESSAGE_TRUNCATED);
	/* A failed getter leaves the buffer as it was. */
	assert_int_equal(kb_buf_len(buf), 3);
	kb_buf_free(buf);

	buf = kb_buf_from(short_str, sizeof(short_str));
	assert_int_equal(kb_buf_get_string_direct(buf, &p, &len),
	    KB_ERR_MESSAGE_TRUNCATED);
	assert_int_equal(kb_buf_len(buf), sizeof(short_str));
	kb_buf_free(buf);
}

static void
buf_get_string_rejects_huge_length(void **state)
{
	const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 'a' };
	struct kb_buf *buf = kb_buf_from(huge, sizeof(huge));
	uint8_t *val = (uint8_t *)"unchanged";

	(void)state;
	assert_int_equal(kb_buf_get_string(buf, &val, NULL), KB_ERR_STRING_TOO_LARGE);
	assert_null(val);
	kb_buf_free(buf);
}

static void
buf_get_cstring_rejects_nul(void **state)
{
	const uint8_t with_nul[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	struct kb_buf *buf = kb_buf_from(with_nul, sizeof(with_nul));
	uint8_t *bin;
	char *str;
	size_t len;

	(void)state;
	assert_int_equal(kb_buf_get_cstring(buf, &str, &len), KB_ERR_STRING_HAS_NUL);
	assert_null(str);
	assert_int_equal(kb_buf_len(buf), sizeof(with_nul));
	/* The binary getter accepts the same bytes. */
	assert_int_equal(kb_buf_get_string(buf, &bin, &len), KB_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(bin, "a\0b", 3);
	assert_int_equal(bin[3], 0);
	free(bin);
	kb_buf_free(buf);
}

static void
buf_limit_rejects_overflow(void **state)
{
	struct kb_buf *buf = kb_buf_new(8);
	uint8_t *p;

	(void)state;
	assert_int_equal(kb_buf_put(buf, "12345678", 8), KB_OK);
	assert_int_equal(kb_buf_put_u8(buf, 9), KB_ERR_BUFFER_LIMIT);
	assert_int_equal(kb_buf_len(buf), 8);
	assert_int_equal(kb_buf_reserve(buf, SIZE_MAX, &p), KB_ERR_BUFFER_LIMIT);
	assert_null(p);
	assert_int_equal(kb_buf_reserve(buf, SIZE_MAX - 4, &p), KB_ERR_BUFFER_LIMIT);
	kb_buf_free(buf);
}

static void
buf_new_rejects_bad_max(void **state)
{
	(void)state;
	assert_null(kb_buf_new(0));
	assert_null(kb_buf_new(KB_BUF_SIZE_MAX + 1));
}

static void
buf_view_is_read_only(void **state)
{
	const uint8_t data[] = { 0, 0, 0, 1 };
	struct kb_buf *buf = kb_buf_from(data, sizeof(data));
	uint8_t *p;

	(void)state;
	assert_int_equal(kb_buf_put_u8(buf, 1), KB_ERR_BUFFER_READ_ONLY);
	assert_int_equal(kb_buf_reserve(buf, 1, &p), KB_ERR_BUFFER_READ_ONLY);
	assert_int_equal(kb_buf_poke_u32(buf, 0, 7), KB_ERR_BUFFER_READ_ONLY);
	assert_ptr_equal(kb_buf_ptr(buf), data);
	kb_buf_free(buf);
}

static void
buf_expect_end_rejects_trailing(void **state)
{
	const uint8_t data[] = { 1, 2 };
	struct kb_buf *buf = kb_buf_from(data, sizeof(data));

	(void)state;
	assert_int_equal(kb_buf_consume(buf, 1), KB_OK);
	assert_int_equal(kb_buf_expect_end(buf), KB_ERR_TRAILING_DATA);
	assert_int_equal(kb_buf_consume(buf, 2), KB_ERR_MESSAGE_TRUNCATED);
	assert_int_equal(kb_buf_consume(buf, 1), KB_OK);
	assert_int_equal(kb_buf_expect_end(buf), KB_OK);
	kb_buf_free(buf);
}

static void
buf_poke_patches_length(void **state)
{
	struct kb_buf *buf = kb_buf_new(64);
	uint32_t val;

	(void)state;
	assert_int_equal(kb_buf_put_u32(buf, 0), KB_OK);
	assert_int_equal(kb_buf_put(buf, "abc", 3), KB_OK);
	assert_int_equal(kb_buf_poke_u32(buf, 0, 3), KB_OK);
	assert_int_equal(kb_buf_poke_u32(buf, 4, 3), KB_ERR_MESSAGE_TRUNCATED);
	assert_int_equal(kb_buf_get_u32(buf, &val), KB_OK);
	assert_int_equal(val, 3);
	kb_buf_free(buf);
}

static void
buf_mpint_round_trip(void **state)
{
	const uint8_t high[] = { 0x00, 0x00, 0x80, 0x01 };
	const uint8_t want_wire[] = { 0, 0, 0, 3, 0x00, 0x80, 0x01 };
	struct kb_buf *buf = kb_buf_new(64);
	const uint8_t *mag;
	size_t len;

	(void)state;
	assert_int_equal(kb_buf_put_mpint(buf, high, sizeof(high)), KB_OK);
	assert_int_equal(kb_buf_len(buf), sizeof(want_wire));
	assert_memory_equal(kb_buf_ptr(buf), want_wire, sizeof(want_wire));
	assert_int_equal(kb_buf_get_mpint_direct(buf, &mag, &len), KB_OK);
	assert_int_equal(len, 2);
	assert_int_equal(mag[0], 0x80);
	assert_int_equal(mag[1], 0x01);
	assert_int_equal(kb_buf_expect_end(buf), KB_OK);

	/* Zero is the empty string. */
	assert_int_equal(kb_buf_put_mpint(buf, high, 2), KB_OK);
	assert_int_equal(kb_buf_len(buf), 4);
	assert_int_equal(kb_buf_get_mpint_direct(buf, &mag, &len), KB_OK);
	assert_int_equal(len, 0);
	kb_buf_free(buf);
}

static void
buf_mpint_rejects_invalid(void **state)
{
	static const struct {
		const char *name;
		uint8_t wire[8];
		size_t len;
	} cases[] = {
		{ "negative", { 0, 0, 0, 1, 0x80 }, 5 },
		{ "needless leading zero", { 0, 0, 0, 2, 0x00, 0x01 }, 6 },
		{ "zero as one byte", { 0, 0, 0, 1, 0x00 }, 5 },
	};
	struct kb_buf *buf;
	const uint8_t *mag;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = kb_buf_from(cases[i].wire, cases[i].len);
		if (kb_buf_get_mpint_direct(buf, &mag, &len) != KB_ERR_MPINT_INVALID)
			fail_msg("mpint case \"%s\" not rejected", cases[i].name);
		assert_int_equal(kb_buf_len(buf), cases[i].len);
		kb_buf_free(buf);
	}
}

/*
 * A buffer filled and drained in turn must reuse its space: a million bytes
 * pass through a 16 KiB buffer, and a few stay unread each round so the
 * read offset keeps moving.
 */
static void
buf_compacts_after_reads(void **state)
{
	struct kb_buf *buf = kb_buf_new(16 * 1024);
	uint8_t chunk[1000], out[997];
	uint32_t next_in = 0, next_out = 0;
	size_t i, j;

	(void)state;
	for (i = 0; i < 1000; i++) {
		for (j = 0; j < sizeof(chunk); j++)
			chunk[j] = (uint8_t)(next_in++ % 251);
		assert_int_equal(kb_buf_put(buf, chunk, sizeof(chunk)), KB_OK);
		assert_int_equal(kb_buf_get_bytes(buf, out, sizeof(out)), KB_OK);
		for (j = 0; j < sizeof(out); j++)
			assert_int_equal(out[j], next_out++ % 251);
	}
	assert_int_equal(kb_buf_len(buf), 3 * 1000);
	kb_buf_free(buf);
}

static void
buf_reset_empties(void **state)
{
	struct kb_buf *buf = kb_buf_new(64);

	(void)state;
	assert_int_equal(kb_buf_put(buf, "secret", 6), KB_OK);
	kb_buf_reset(buf);
	assert_int_equal(kb_buf_len(buf), 0);
	assert_int_equal(kb_buf_put(buf, "ab", 2), KB_OK);
	assert_memory_equal(kb_buf_ptr(buf), "ab", 2);
	kb_buf_free(buf);
	kb_buf_free(NULL);
}

/*
 * Wiping covers every byte that held data: the stale copy left behind by a
 * compaction and everything before a reset. The test reads the storage
 * through a pointer taken before, which stays valid while nothing grows.
 */
static void
buf_wipes_stale_and_reset_bytes(void **state)
{
	struct kb_buf *buf = kb_buf_new(8192);
	uint8_t fill[8192];
	const uint8_t *storage;
	size_t i;

	(void)state;
	memset(fill, 0xaa, sizeof(fill));
	assert_int_equal(kb_buf_put(buf, fill, sizeof(fill)), 0);
	storage = kb_buf_ptr(buf);
	assert_int_equal(kb_buf_consume(buf, 5000), 0);

	/* The next write moves the 3192 unread bytes to the front. */
	assert_int_equal(kb_buf_put_u8(buf, 0x55), 0);
	assert_ptr_equal(kb_buf_ptr(buf), storage);
	assert_int_equal(storage[3191], 0xaa);
	assert_int_equal(storage[3192], 0x55);
	for (i = 3193; i < sizeof(fill); i++) {
		if (storage[i] != 0)
			fail_msg("byte %zu after compaction is 0x%02x, not wiped", i, storage[i]);
	}

	kb_buf_reset(buf);
	for (i = 0; i < sizeof(fill); i++) {
		if (storage[i] != 0)
			fail_msg("byte %zu after reset is 0x%02x, not wiped", i, storage[i]);
	}
	kb_buf_free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_put_get_round_trip),
		cmocka_unit_test(buf_wipes_stale_and_reset_bytes),
		cmocka_unit_test(buf_u32_is_big_endian),
		cmocka_unit_test(buf_get_rejects_truncated),
		cmocka_unit_test(buf_get_string_rejects_huge_length),
		cmocka_unit_test(buf_get_cstring_rejects_nul),
		cmocka_unit_test(buf_limit_rejects_overflow),
		cmocka_unit_test(buf_new_rejects_bad_max),
		cmocka_unit_test(buf_view_is_read_only),
		cmocka_unit_test(buf_expect_end_rejects_trailing),
		cmocka_unit_test(buf_poke_patches_length),
		cmocka_unit_test(buf_mpint_round_trip),
		cmocka_unit_test(buf_mpint_rejects_invalid),
		cmocka_unit_test(buf_compacts_after_reads),
		cmocka_unit_test(buf_reset_empties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
