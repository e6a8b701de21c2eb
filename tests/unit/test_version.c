/* Unit tests for the version exchange reader (kexbridge/version.h). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kexbridge/err.h"
#include "kexbridge/version.h"

/* Feeds all of data at once; returns the reader's result. */
static int
feed_all(enum kb_role sender, const void *data, size_t len, struct kb_version *out,
    size_t *consumed)
{
	struct kb_version_reader reader;
	size_t used;
	int r;

	kb_version_reader_init(&reader, sender);
	r = kb_version_reader_feed(&reader, data, len, &used, out);
	if (consumed != NULL)
		*consumed = used;
	return r;
}

static int
feed_str(enum kb_role sender, const char *str, struct kb_version *out)
{
	return feed_all(sender, str, strlen(str), out, NULL);
}

static void
version_accepts_openssh(void **state)
{
	const char *line = "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\nrest";
	struct kb_version v;
	size_t used;

	(void)state;
	assert_int_equal(feed_all(KB_ROLE_SERVER, line, strlen(line), &v, &used), KB_OK);
	/* The bytes after the line feed belong to the binary packets. */
	assert_int_equal(used, strlen(line) - 4);
	assert_string_equal(v.line, "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13");
	assert_string_equal(v.software, "OpenSSH_9.6p1");
	assert_string_equal(v.comments, "Ubuntu-3ubuntu13");
	assert_int_equal(v.proto_major, 2);
	assert_int_equal(v.proto_minor, 0);
	assert_false(v.bare_lf);
	assert_int_equal(v.prebanner_lines, 0);
}

static void
version_accepts_bare_lf(void **state)
{
	struct kb_version v;

	(void)state;
	assert_int_equal(feed_str(KB_ROLE_CLIENT, "SSH-2.0-Go\n", &v), KB_OK);
	assert_true(v.bare_lf);
	assert_string_equal(v.software, "Go");
	assert_string_equal(v.comments, "");
}

static void
version_accepts_1_99(void **state)
{
	struct kb_version v;

	(void)state;
	assert_int_equal(feed_str(KB_ROLE_SERVER, "SSH-1.99-Cisco-1.25\r\n", &v), KB_OK);
	assert_int_equal(v.proto_major, 1);
	assert_int_equal(v.proto_minor, 99);
	/* A '-' inside softwareversion is tolerated, as OpenSSH does. */
	assert_string_equal(v.software, "Cisco-1.25");
}

static void
version_accepts_prebanner_from_server(void **state)
{
	const char *data = "Welcome\r\n\r\nauthorised use only\r\nSSH-2.0-dropbear_2022.83\r\n";
	struct kb_version v;

	(void)state;
	assert_int_equal(feed_str(KB_ROLE_SERVER, data, &v), KB_OK);
	assert_int_equal(v.prebanner_lines, 3);
	assert_string_equal(v.software, "dropbear_2022.83");
}

/* Builds "SSH-2.0-" padded with 'x' so that the line plus eol is total bytes. */
static char *
make_line(size_t total, const char *eol)
{
	size_t eol_len = strlen(eol), i;
	char *line = malloc(total + 1);

	assert_non_null(line);
	memcpy(line, "SSH-2.0-", 8);
	for (i = 8; i < total - eol_len; i++)
		line[i] = 'x';
	memcpy(line + total - eol_len, eol, eol_len);
	line[total] = '\0';
	return line;
}

static void
version_line_limit_is_255(void **state)
{
	struct kb_version v;
	char *line;

	(void)state;
	line = make_line(255, "\r\n");
	assert_int_equal(feed_str(KB_ROLE_SERVER, line, &v), KB_OK);
	assert_int_equal(strlen(v.line), 253);
	free(line);

	line = make_line(256, "\r\n");
	assert_int_equal(feed_str(KB_ROLE_SERVER, line, &v), KB_ERR_VERSION_TOO_LONG);
	free(line);

	line = make_line(255, "\n");
	assert_int_equal(feed_str(KB_ROLE_CLIENT, line, &v), KB_ERR_VERSION_TOO_LONG);
	free(line);
	line = make_line(254, "\n");
	assert_int_equal(feed_str(KB_ROLE_CLIENT, line, &v), KB_OK);
	free(line);
}

static void
version_rejects_1mib_line(void **state)
{
	size_t len = 1024 * 1024, used;
	struct kb_version v;
	char *data = malloc(len);

	(void)state;
	assert_non_null(data);
	memcpy(data, "SSH-2.0-", 8);
	memset(data + 8, 'A', len - 8);
	assert_int_equal(feed_all(KB_ROLE_SERVER, data, len, &v, &used),
	    KB_ERR_VERSION_TOO_LONG);
	/* Rejected as soon as the limit was passed. */
	assert_int_equal(used, 255);

	memset(data, 'A', len);
	assert_int_equal(feed_all(KB_ROLE_SERVER, data, len, &v, &used),
	    KB_ERR_PREBANNER_LINE_TOO_LONG);
	assert_int_equal(used, KB_PREBANNER_LINE_MAX + 1);
	free(data);
}

static void
version_rejects_10000_prebanner_lines(void **state)
{
	size_t n = 10000, used;
	struct kb_version v;
	char *data = malloc(n * 2);
	size_t i;

	(void)state;
	assert_non_null(data);
	for (i = 0; i < n; i++) {
		data[2 * i] = 'x';
		data[2 * i + 1] = '\n';
	}
	assert_int_equal(feed_all(KB_ROLE_SERVER, data, n * 2, &v, &used),
	    KB_ERR_TOO_MANY_PREBANNER_LINES);
	assert_int_equal(used, (KB_PREBANNER_MAX_LINES + 1) * 2);
	free(data);
}

static void
version_accepts_max_prebanner_lines(void **state)
{
	size_t n = KB_PREBANNER_MAX_LINES, i;
	const char *ident = "SSH-2.0-x\r\n";
	struct kb_version v;
	char *data = malloc(n * 2 + strlen(ident));

	(void)state;
	assert_non_null(data);
	for (i = 0; i < n; i++) {
		data[2 * i] = 'x';
		data[2 * i + 1] = '\n';
	}
	memcpy(data + n * 2, ident, strlen(ident));
	assert_int_equal(feed_all(KB_ROLE_SERVER, data, n * 2 + strlen(ident), &v, NULL),
	    KB_OK);
	assert_int_equal(v.prebanner_lines, KB_PREBANNER_MAX_LINES);
	free(data);
}

static const struct {
	const char *name;
	enum kb_role sender;
	const char *data;
	size_t len;		/* 0: strlen(data) */
	int expected;
} malformed[] = {
	{ "client prebanner", KB_ROLE_CLIENT, "hello\r\nSSH-2.0-x\r\n", 0, KB_ERR_NOT_SSH },
	{ "http request", KB_ROLE_CLIENT, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, KB_ERR_NOT_SSH },
	{ "tls client hello", KB_ROLE_CLIENT, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, KB_ERR_NOT_SSH },
	{ "tls server bytes", KB_ROLE_SERVER, "\x16\x03\x03\x00\x5d\x02\x00\x00", 8, KB_ERR_NOT_SSH },
	{ "nul in prebanner", KB_ROLE_SERVER, "ab\0cd\r\n", 7, KB_ERR_NOT_SSH },
	{ "protocol 1.5", KB_ROLE_SERVER, "SSH-1.5-OldServer\r\n", 0, KB_ERR_PROTOCOL_1 },
	{ "protocol 1.3 client", KB_ROLE_CLIENT, "SSH-1.3-x\r\n", 0, KB_ERR_PROTOCOL_1 },
	{ "protocol 3.0", KB_ROLE_SERVER, "SSH-3.0-x\r\n", 0, KB_ERR_VERSION_INVALID },
	{ "protocol 2.1", KB_ROLE_SERVER, "SSH-2.1-x\r\n", 0, KB_ERR_VERSION_INVALID },
	{ "protocol 2", KB_ROLE_SERVER, "SSH-2-x\r\n", 0, KB_ERR_VERSION_INVALID },
	{ "no softwareversion dash", KB_ROLE_SERVER, "SSH-2.0\r\n", 0, KB_ERR_VERSION_INVALID },
	{ "empty softwareversion", KB_ROLE_SERVER, "SSH-2.0-\r\n", 0, KB_ERR_VERSION_INVALID },
	{ "space for softwareversion", KB_ROLE_SERVER, "SSH-2.0- comment\r\n", 0, KB_ERR_VERSION_INVALID },
	{ "nul in version line", KB_ROLE_SERVER, "SSH-2.0-a\0b\r\n", 13, KB_ERR_VERSION_INVALID },
	{ "client line too short", KB_ROLE_CLIENT, "SSH\r\n", 0, KB_ERR_NOT_SSH },
	{ "binary client", KB_ROLE_CLIENT, "\0\0\0\0", 4, KB_ERR_NOT_SSH },
};

static void
version_rejects_malformed(void **state)
{
	struct kb_version v;
	size_t i, len;
	int r;

	(void)state;
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		len = malformed[i].len != 0 ? malformed[i].len : strlen(malformed[i].data);
		r = feed_all(malformed[i].sender, malformed[i].data, len, &v, NULL);
		if (r != malformed[i].expected)
			fail_msg("case \"%s\": got %d, expected %d", malformed[i].name,
			    r, malformed[i].expected);
	}
}

/* A client is judged on its first bytes, without waiting for a line feed. */
static void
version_rejects_client_early(void **state)
{
	struct kb_version_reader reader;
	struct kb_version v;
	size_t used;

	(void)state;
	kb_version_reader_init(&reader, KB_ROLE_CLIENT);
	assert_int_equal(kb_version_reader_feed(&reader, (const uint8_t *)"SS", 2, &used, &v),
	    KB_ERR_INCOMPLETE);
	assert_int_equal(used, 2);
	assert_int_equal(kb_version_reader_feed(&reader, (const uint8_t *)"X", 1, &used, &v),
	    KB_ERR_NOT_SSH);

	kb_version_reader_init(&reader, KB_ROLE_CLIENT);
	assert_int_equal(kb_version_reader_feed(&reader, (const uint8_t *)"\x16", 1, &used, &v),
	    KB_ERR_NOT_SSH);
}

static void
version_split_feed_matches(void **state)
{
	const char *data = "banner line\r\nSSH-2.0-PuTTY_Release_0.80\r\nX";
	struct kb_version_reader reader;
	struct kb_version v;
	size_t i, used;
	int r = KB_ERR_INCOMPLETE;

	(void)state;
	kb_version_reader_init(&reader, KB_ROLE_SERVER);
	for (i = 0; i < strlen(data) && r == KB_ERR_INCOMPLETE; i++) {
		r = kb_version_reader_feed(&reader, (const uint8_t *)data + i, 1, &used, &v);
		assert_int_equal(used, 1);
	}
	assert_int_equal(r, KB_OK);
	assert_int_equal(i, strlen(data) - 1);
	assert_int_equal(reader.offset, strlen(data) - 1);
	assert_string_equal(v.software, "PuTTY_Release_0.80");
	assert_int_equal(v.prebanner_lines, 1);
}

static void
version_parse_line_checks_length(void **state)
{
	struct kb_version v;
	char line[KB_VERSION_MAX];

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "SSH-2.0-", 8);
	assert_int_equal(kb_version_parse_line(line, KB_VERSION_MAX - 2, &v), KB_OK);
	assert_int_equal(kb_version_parse_line(line, KB_VERSION_MAX - 1, &v),
	    KB_ERR_VERSION_TOO_LONG);
}

static void
version_ours_is_valid(void **state)
{
	const char *ours = kb_version_ours();
	struct kb_version v;

	(void)state;
	assert_int_equal(strncmp(ours, "SSH-2.0-kexbridge_", 18), 0);
	assert_int_equal(feed_str(KB_ROLE_CLIENT, ours, &v), KB_OK);
	assert_false(v.bare_lf);
	assert_string_equal(v.software, "kexbridge_" PACKAGE_VERSION);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(version_accepts_openssh),
		cmocka_unit_test(version_accepts_bare_lf),
		cmocka_unit_test(version_accepts_1_99),
		cmocka_unit_test(version_accepts_prebanner_from_server),
		cmocka_unit_test(version_line_limit_is_255),
		cmocka_unit_test(version_rejects_1mib_line),
		cmocka_unit_test(version_rejects_10000_prebanner_lines),
		cmocka_unit_test(version_accepts_max_prebanner_lines),
		cmocka_unit_test(version_rejects_malformed),
		cmocka_unit_test(version_rejects_client_early),
		cmocka_unit_test(version_split_feed_matches),
		cmocka_unit_test(version_parse_line_checks_length),
		cmocka_unit_test(version_ours_is_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
