/* Unit tests for the JSON-lines writer. */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kexbridge/json.h"

/*
 * A minimal RFC 8259 validator: returns the end of the value at p, or NULL.
 * Strings must be valid UTF-8 with no raw control characters.
 */
static const char *json_value(const char *p, int depth);

static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *
json_string(const char *p)
{
	const unsigned char *s = (const unsigned char *)p + 1;
	int i, more;

	if (*p != '"')
		return NULL;
	while (*s != '"') {
		if (*s < 0x20)
			return NULL;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				for (i = 1; i <= 4; i++) {
					if (strchr("0123456789abcdefABCDEF", s[i]) == NULL ||
					    s[i] == '\0')
						return NULL;
				}
				s += 5;
			} else if (*s != '\0' && strchr("\"\\/bfnrt", *s) != NULL) {
				s++;
			} else
				return NULL;
			continue;
		}
		/* Continuation bytes expected after this lead byte. */
		if (*s < 0x80)
			more = 0;
		else if (*s >= 0xf0 && *s <= 0xf4)
			more = 3;
		else if (*s >= 0xe0 && *s < 0xf0)
			more = 2;
		else if (*s >= 0xc2 && *s < 0xe0)
			more = 1;
		else
			return NULL;
		for (s++; more > 0; more--, s++) {
			if ((*s & 0xc0) != 0x80)
				return NULL;
		}
	}
	return (const char *)s + 1;
}

static const char *
json_container(const char *p, int depth, char close, bool object)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if ((p = json_string(p)) == NULL)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if ((p = json_value(json_ws(p), depth + 1)) == NULL)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = json_ws(p);
	}
}

static const char *
json_value(const char *p, int depth)
{
	if (depth > 100)
		return NULL;
	if (*p == '{')
		return json_container(p, depth, '}', true);
	if (*p == '[')
		return json_container(p, depth, ']', false);
	if (*p == '"')
		return json_string(p);
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		char *end;

		(void)strtod(p, &end);
		return end > p ? end : NULL;
	}
	return NULL;
}

static bool
json_valid(const char *text)
{
	const char *end;

	if (text == NULL || *text != '{')
		return false;
	end = json_value(text, 0);
	return end != NULL && *json_ws(end) == '\0';
}

static void
json_writes_members(void **state)
{
	struct kb_json *json = kb_json_new();

	(void)state;
	assert_non_null(json);
	kb_json_str(json, "s", "a\"b\\c\n");
	kb_json_int(json, "i", -42);
	kb_json_uint(json, "u", UINT64_MAX);
	kb_json_bool(json, "t", true);
	kb_json_null(json, "n");
	kb_json_str(json, "missing", NULL);
	kb_json_array_begin(json, "a");
	kb_json_int(json, NULL, 1);
	kb_json_str(json, "ignored-key", "x");
	kb_json_object_begin(json, NULL);
	kb_json_object_end(json);
	kb_json_array_end(json);
	assert_string_equal(kb_json_finish(json),
	    "{\"s\":\"a\\\"b\\\\c\\u000a\",\"i\":-42,\"u\":18446744073709551615,"
	    "\"t\":true,\"n\":null,\"missing\":null,\"a\":[1,\"x\",{}]}");
	kb_json_free(json);
}

static void
json_escapes_invalid_utf8(void **state)
{
	struct kb_json *json = kb_json_new();
	/* Valid é and €, then a lone continuation, an overlong '/', a surrogate, a cut sequence. */
	static const char bytes[] = "\xc3\xa9\xe2\x82\xac\x80\xc0\xaf\xed\xa0\x80\xe2\x82";

	(void)state;
	kb_json_strn(json, "v", bytes, sizeof(bytes) - 1);
	kb_json_strn(json, "nul", "a\0b", 3);
	assert_string_equal(kb_json_finish(json),
	    "{\"v\":\"\xc3\xa9\xe2\x82\xac\\u0080\\u00c0\\u00af\\u00ed\\u00a0\\u0080"
	    "\\u00e2\\u0082\",\"nul\":\"a\\u0000b\"}");
	assert_true(json_valid(kb_json_finish(json)));
	kb_json_free(json);
}

static void
json_any_bytes_stay_valid(void **state)
{
	unsigned char buf[512];
	char key[65];
	struct kb_json *json;
	unsigned int seed = 1;
	size_t i;
	int round;

	(void)state;
	for (round = 0; round < 200; round++) {
		for (i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (unsigned char)(seed >> 16);
		}
		/* Keys get the same escaping: use the first bytes as one. */
		memcpy(key, buf, sizeof(key) - 1);
		key[sizeof(key) - 1] = '\0';
		json = kb_json_new();
		kb_json_strn(json, key, (const char *)buf, sizeof(buf));
		assert_true(json_valid(kb_json_finish(json)));
		kb_json_free(json);
	}
}

static void
json_double_non_finite_is_null(void **state)
{
	struct kb_json *json = kb_json_new();

	(void)state;
	kb_json_double(json, "x", 0.5);
	kb_json_double(json, "nan", NAN);
	assert_string_equal(kb_json_finish(json), "{\"x\":0.5,\"nan\":null}");
	kb_json_free(json);
}

static void
json_double_fixed_notation(void **state)
{
	struct kb_json *json = kb_json_new();

	(void)state;
	kb_json_double(json, "small", 7.1636e-05);
	kb_json_double(json, "noisy", 0.011400000000000001);
	kb_json_double(json, "whole", 42.0);
	kb_json_double(json, "zero", 0.0);
	kb_json_double(json, "tiny_negative", -1e-9);
	kb_json_double(json, "huge", 2e20);
	assert_string_equal(kb_json_finish(json), "{\"small\":0.000072,"
	    "\"noisy\":0.0114,\"whole\":42,\"zero\":0,\"tiny_negative\":0,"
	    "\"huge\":2e+20}");
	kb_json_free(json);
}

static void
json_depth_is_bounded(void **state)
{
	struct kb_json *json = kb_json_new();
	const char *text;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		kb_json_array_begin(json, "deep");
	kb_json_str(json, NULL, "inside");
	for (i = 0; i < 1000; i++)
		kb_json_array_end(json);
	kb_json_bool(json, "after", true);
	text = kb_json_finish(json);
	assert_true(json_valid(text));
	/* The level past the limit is dropped with its contents; later members stay. */
	assert_null(strstr(text, "inside"));
	assert_non_null(strstr(text, "\"after\":true}"));
	kb_json_free(json);
}

static void
json_finish_closes_open_levels(void **state)
{
	struct kb_json *json = kb_json_new();

	(void)state;
	kb_json_object_begin(json, "o");
	kb_json_array_begin(json, "a");
	kb_json_str(json, NULL, "x");
	/* Unbalanced ends never close the top-level object early. */
	kb_json_object_end(json);
	assert_string_equal(kb_json_finish(json), "{\"o\":{\"a\":[\"x\"]}}");
	kb_json_str(json, "late", "dropped");
	assert_string_equal(kb_json_finish(json), "{\"o\":{\"a\":[\"x\"]}}");
	kb_json_free(json);
}

static void
json_validator_rejects_bad_text(void **state)
{
	(void)state;
	/* The checks above are only as good as this validator. */
	assert_false(json_valid("{\"a\":}"));
	assert_false(json_valid("{\"a\":\"\x01\"}"));
	assert_false(json_valid("{\"a\":\"\xff\"}"));
	assert_false(json_valid("{\"a\":[1,]}"));
	assert_true(json_valid("{\"a\":[1,{\"b\":null}]}"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_writes_members),
		cmocka_unit_test(json_escapes_invalid_utf8),
		cmocka_unit_test(json_any_bytes_stay_valid),
		cmocka_unit_test(json_double_non_finite_is_null),
		cmocka_unit_test(json_double_fixed_notation),
		cmocka_unit_test(json_depth_is_bounded),
		cmocka_unit_test(json_finish_closes_open_levels),
		cmocka_unit_test(json_validator_rejects_bad_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
