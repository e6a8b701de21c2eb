/* Unit tests for KEXINIT and name-lists (kexbridge/kexinit.h). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/packet.h"

/* Lists as sent by OpenSSH 9.6 as a server, shortened. */
static const char *const openssh_lists[KB_CAT_COUNT] = {
	"sntrup761x25519-sha512@openssh.com,curve25519-sha256,ecdh-sha2-nistp256,"
	    "diffie-hellman-group14-sha256,ext-info-s,kex-strict-s-v00@openssh.com",
	"rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519",
	"chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
	"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
	"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
	"none,zlib@openssh.com",
	"none,zlib@openssh.com",
	"",
	"",
};

static void
fill_kexinit(struct kb_kexinit *k)
{
	int i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < 16; i++)
		k->cookie[i] = (uint8_t)(0xa0 + i);
	for (i = 0; i < KB_CAT_COUNT; i++)
		assert_int_equal(kb_kexinit_set_list(k, i, openssh_lists[i]), KB_OK);
}

/* Returns a buffer holding the KEXINIT payload of fill_kexinit(). */
static struct kb_buf *
make_payload(void)
{
	struct kb_kexinit k;
	struct kb_buf *buf = kb_buf_new(KB_BUF_SIZE_DEFAULT);

	assert_non_null(buf);
	fill_kexinit(&k);
	assert_int_equal(kb_kexinit_write(&k, buf), KB_OK);
	kb_kexinit_free(&k);
	return buf;
}

static void
kexinit_write_parse_round_trip(void **state)
{
	struct kb_kexinit in, out;
	struct kb_buf *buf = kb_buf_new(KB_BUF_SIZE_DEFAULT), *again;
	int i;

	(void)state;
	fill_kexinit(&in);
	in.first_kex_follows = true;
	assert_int_equal(kb_kexinit_write(&in, buf), KB_OK);
	assert_int_equal(kb_kexinit_parse(&out, kb_buf_ptr(buf), kb_buf_len(buf)), KB_OK);

	assert_memory_equal(out.cookie, in.cookie, 16);
	assert_true(out.first_kex_follows);
	assert_int_equal(out.reserved, 0);
	for (i = 0; i < KB_CAT_COUNT; i++) {
		assert_string_equal(out.lists[i].raw, openssh_lists[i]);
		assert_int_equal(out.lists[i].count, in.lists[i].count);
	}
	assert_int_equal(out.lists[KB_CAT_HOSTKEY].count, 4);
	assert_string_equal(out.lists[KB_CAT_HOSTKEY].names[3], "ssh-ed25519");
	assert_int_equal(out.lists[KB_CAT_LANG_C2S].count, 0);
	assert_int_equal(kb_kexinit_flags(&out), 0);

	/* Writing the parsed message gives back the same bytes. */
	again = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	assert_int_equal(kb_kexinit_write(&out, again), KB_OK);
	assert_int_equal(kb_buf_len(again), kb_buf_len(buf));
	assert_memory_equal(kb_buf_ptr(again), kb_buf_ptr(buf), kb_buf_len(buf));

	kb_buf_free(again);
	kb_buf_free(buf);
	kb_kexinit_free(&in);
	kb_kexinit_free(&out);
}

static void
kexinit_parse_rejects_truncated(void **state)
{
	struct kb_buf *buf = make_payload();
	struct kb_kexinit k;
	size_t cut;
	int r;

	(void)state;
	for (cut = 0; cut < kb_buf_len(buf); cut++) {
		r = kb_kexinit_parse(&k, kb_buf_ptr(buf), cut);
		if (r != KB_ERR_MESSAGE_TRUNCATED)
			fail_msg("cut at %zu: got %d, expected truncated", cut, r);
	}
	assert_int_equal(kb_kexinit_parse(&k, kb_buf_ptr(buf), kb_buf_len(buf)), KB_OK);
	kb_kexinit_free(&k);
	kb_buf_free(buf);
}

static void
kexinit_parse_rejects_trailing_byte(void **state)
{
	struct kb_buf *buf = make_payload();
	struct kb_kexinit k;

	(void)state;
	assert_int_equal(kb_buf_put_u8(buf, 0), KB_OK);
	assert_int_equal(kb_kexinit_parse(&k, kb_buf_ptr(buf), kb_buf_len(buf)),
	    KB_ERR_TRAILING_DATA);
	kb_buf_free(buf);
}

static void
kexinit_parse_rejects_other_message(void **state)
{
	struct kb_buf *buf = make_payload();
	struct kb_kexinit k;
	uint8_t *copy = malloc(kb_buf_len(buf));

	(void)state;
	assert_non_null(copy);
	memcpy(copy, kb_buf_ptr(buf), kb_buf_len(buf));
	copy[0] = SSH_MSG_NEWKEYS;
	assert_int_equal(kb_kexinit_parse(&k, copy, kb_buf_len(buf)),
	    KB_ERR_UNEXPECTED_MESSAGE);
	free(copy);
	kb_buf_free(buf);
}

/* Builds a KEXINIT whose kex list has the given length field and bytes. */
static struct kb_buf *
make_with_kex_list(uint32_t declared, const void *data, size_t len)
{
	struct kb_buf *buf = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	uint8_t cookie[16] = { 0 };
	int i;

	assert_int_equal(kb_buf_put_u8(buf, SSH_MSG_KEXINIT), KB_OK);
	assert_int_equal(kb_buf_put(buf, cookie, 16), KB_OK);
	assert_int_equal(kb_buf_put_u32(buf, declared), KB_OK);
	assert_int_equal(kb_buf_put(buf, data, len), KB_OK);
	for (i = 1; i < KB_CAT_COUNT; i++)
		assert_int_equal(kb_buf_put_cstring(buf, "x"), KB_OK);
	assert_int_equal(kb_buf_put_u8(buf, 0), KB_OK);
	assert_int_equal(kb_buf_put_u32(buf, 0), KB_OK);
	return buf;
}

static void
kexinit_parse_rejects_hard_limits(void **state)
{
	struct kb_buf *buf;
	struct kb_kexinit k;
	char *many;
	size_t i, n = KB_NAMELIST_MAX_NAMES + 1;

	(void)state;
	/* A length past the hard limit fails before the bytes are looked for. */
	buf = make_with_kex_list(0xffffffff, "a", 1);
	assert_int_equal(kb_kexinit_parse(&k, kb_buf_ptr(buf), kb_buf_len(buf)),
	    KB_ERR_NAMELIST_INVALID);
	kb_buf_free(buf);

	/* 1025 names "a,a,...,a" */
	many = malloc(2 * n);
	assert_non_null(many);
	for (i = 0; i < n; i++) {
		many[2 * i] = 'a';
		many[2 * i + 1] = ',';
	}
	buf = make_with_kex_list((uint32_t)(2 * n - 1), many, 2 * n - 1);
	assert_int_equal(kb_kexinit_parse(&k, kb_buf_ptr(buf), kb_buf_len(buf)),
	    KB_ERR_NAMELIST_INVALID);
	kb_buf_free(buf);

	/* 1024 names are within the limit, flagged as duplicates. */
	buf = make_with_kex_list((uint32_t)(2 * n - 3), many, 2 * n - 3);
	assert_int_equal(kb_kexinit_parse(&k, kb_buf_ptr(buf), kb_buf_len(buf)), KB_OK);
	assert_int_equal(k.lists[KB_CAT_KEX].count, KB_NAMELIST_MAX_NAMES);
	assert_true(k.lists[KB_CAT_KEX].flags & KB_NL_DUPLICATE);
	kb_kexinit_free(&k);
	kb_buf_free(buf);
	free(many);
}

static const struct {
	const char *name;
	const char *data;
	size_t len;		/* 0: strlen(data) */
	unsigned int flags;
	size_t count;
} flagged[] = {
	{ "clean", "curve25519-sha256,ext-info-c", 0, 0, 2 },
	{ "double comma", "a,,b", 0, KB_NL_EMPTY_NAME, 3 },
	{ "leading comma", ",a", 0, KB_NL_EMPTY_NAME, 2 },
	{ "trailing comma", "a,", 0, KB_NL_EMPTY_NAME, 2 },
	{ "lone comma", ",", 0, KB_NL_EMPTY_NAME, 2 },
	{ "space", "aes128-ctr, aes256-ctr", 0, KB_NL_SPACE, 2 },
	{ "tab", "aes128-ctr\taes256-ctr", 0, KB_NL_SPACE, 1 },
	{ "duplicate", "ssh-rsa,ssh-dss,ssh-rsa", 0, KB_NL_DUPLICATE, 3 },
	{ "control byte", "hmac\x01sha1", 0, KB_NL_NONPRINTABLE, 1 },
	{ "high byte", "aes\xc3\xa9", 0, KB_NL_NONPRINTABLE, 1 },
	{ "nul byte", "ab\0c,d", 6, KB_NL_NONPRINTABLE, 2 },
	{ "name of 65", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    0, KB_NL_NAME_TOO_LONG, 1 },
	{ "name of 64", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    0, 0, 1 },
	{ "two faults", "a,a,,", 0, KB_NL_EMPTY_NAME | KB_NL_DUPLICATE, 4 },
};

static void
namelist_parse_flags_malformed(void **state)
{
	struct kb_namelist list;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(flagged) / sizeof(flagged[0]); i++) {
		len = flagged[i].len != 0 ? flagged[i].len : strlen(flagged[i].data);
		assert_int_equal(kb_namelist_parse(&list, (const uint8_t *)flagged[i].data,
		    len), KB_OK);
		if (list.flags != flagged[i].flags)
			fail_msg("case \"%s\": flags 0x%x, expected 0x%x", flagged[i].name,
			    list.flags, flagged[i].flags);
		if (list.count != flagged[i].count)
			fail_msg("case \"%s\": %zu names, expected %zu", flagged[i].name,
			    list.count, flagged[i].count);
		assert_int_equal(list.raw_len, len);
		kb_namelist_free(&list);
	}
}

static void
namelist_nul_shown_as_question_mark(void **state)
{
	struct kb_namelist list;

	(void)state;
	assert_int_equal(kb_namelist_parse(&list, (const uint8_t *)"ab\0c,d", 6), KB_OK);
	assert_string_equal(list.raw, "ab?c,d");
	assert_string_equal(list.names[0], "ab?c");
	kb_namelist_free(&list);
}

static void
namelist_flags_long_list(void **state)
{
	struct kb_namelist list;
	char *data = malloc(KB_NAMELIST_LONG_BYTES + 1);
	size_t i;

	(void)state;
	assert_non_null(data);
	/* Unique names "a0000,a0001,..." so only the length is flagged. */
	for (i = 0; i + 6 <= KB_NAMELIST_LONG_BYTES; i += 6)
		snprintf(data + i, 7, "a%04zu,", i / 6);
	memset(data + i, 'z', KB_NAMELIST_LONG_BYTES + 1 - i);
	assert_int_equal(kb_namelist_parse(&list, (const uint8_t *)data,
	    KB_NAMELIST_LONG_BYTES + 1), KB_OK);
	assert_int_equal(list.flags, KB_NL_LIST_TOO_LONG);
	kb_namelist_free(&list);

	assert_int_equal(kb_namelist_parse(&list, (const uint8_t *)data,
	    KB_NAMELIST_LONG_BYTES), KB_OK);
	assert_int_equal(list.flags, 0);
	kb_namelist_free(&list);
	free(data);
}

static void
namelist_contains_skips_empty(void **state)
{
	struct kb_namelist list;

	(void)state;
	assert_int_equal(kb_namelist_from_str(&list, "a,,b"), KB_OK);
	assert_true(kb_namelist_contains(&list, "a"));
	assert_true(kb_namelist_contains(&list, "b"));
	assert_false(kb_namelist_contains(&list, ""));
	assert_false(kb_namelist_contains(&list, "c"));
	kb_namelist_free(&list);
}

static void
namelist_copy_is_deep(void **state)
{
	struct kb_namelist a, b;

	(void)state;
	assert_int_equal(kb_namelist_from_str(&a, "x,y,x"), KB_OK);
	assert_int_equal(kb_namelist_copy(&b, &a), KB_OK);
	kb_namelist_free(&a);
	assert_int_equal(b.count, 3);
	assert_string_equal(b.names[1], "y");
	assert_string_equal(b.raw, "x,y,x");
	assert_int_equal(b.flags, KB_NL_DUPLICATE);
	kb_namelist_free(&b);
}

static void
namelist_flags_str_names_flags(void **state)
{
	char out[256], tiny[8];

	(void)state;
	kb_namelist_flags_str(KB_NL_EMPTY_NAME | KB_NL_DUPLICATE, out, sizeof(out));
	assert_non_null(strstr(out, "empty name"));
	assert_non_null(strstr(out, "duplicate name"));
	kb_namelist_flags_str(0, out, sizeof(out));
	assert_string_equal(out, "");
	kb_namelist_flags_str(0x3f, tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
}

static void
kexinit_copy_is_deep(void **state)
{
	struct kb_kexinit a, b;

	(void)state;
	fill_kexinit(&a);
	a.unrestricted = 1u << KB_CAT_COMP_C2S;
	assert_int_equal(kb_kexinit_copy(&b, &a), KB_OK);
	kb_kexinit_free(&a);
	assert_string_equal(b.lists[KB_CAT_COMP_S2C].raw, "none,zlib@openssh.com");
	assert_int_equal(b.cookie[0], 0xa0);
	assert_int_equal(b.unrestricted, 1u << KB_CAT_COMP_C2S);
	kb_kexinit_free(&b);
}

static void
category_keys_round_trip(void **state)
{
	int i;

	(void)state;
	assert_string_equal(kb_category_key(KB_CAT_KEX), "kex");
	assert_string_equal(kb_category_key(KB_CAT_MAC_S2C), "mac_s2c");
	assert_string_equal(kb_category_key(KB_CAT_LANG_S2C), "lang_s2c");
	for (i = 0; i < KB_CAT_COUNT; i++)
		assert_int_equal(kb_category_from_key(kb_category_key(i)), i);
	assert_int_equal(kb_category_from_key("ciphers"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kexinit_write_parse_round_trip),
		cmocka_unit_test(kexinit_parse_rejects_truncated),
		cmocka_unit_test(kexinit_parse_rejects_trailing_byte),
		cmocka_unit_test(kexinit_parse_rejects_other_message),
		cmocka_unit_test(kexinit_parse_rejects_hard_limits),
		cmocka_unit_test(namelist_parse_flags_malformed),
		cmocka_unit_test(namelist_nul_shown_as_question_mark),
		cmocka_unit_test(namelist_flags_long_list),
		cmocka_unit_test(namelist_contains_skips_empty),
		cmocka_unit_test(namelist_copy_is_deep),
		cmocka_unit_test(namelist_flags_str_names_flags),
		cmocka_unit_test(kexinit_copy_is_deep),
		cmocka_unit_test(category_keys_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
