/*
 * The transparent-route allow-list: entry parsing, matching by address,
 * prefix and port, and the listener loop check.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kexbridge/err.h"
#include "kexbridge/net.h"
#include "kexbridge/origdst.h"

/* Builds a socket address from a numeric "ADDR" and a port. */
static struct kb_net_addr
make_addr(const char *addr, uint16_t port)
{
	struct kb_net_addr out;
	struct sockaddr_in *sin = (struct sockaddr_in *)&out.ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out.ss;

	memset(&out, 0, sizeof(out));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out.len = sizeof(*sin);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out.len = sizeof(*sin6);
	}
	return out;
}

static struct kb_origdst_allow
parse_ok(const char *str)
{
	struct kb_origdst_allow entry;
	char err[256] = "";

	if (kb_origdst_parse_allow(str, strlen(str), &entry, err, sizeof(err)) != 0)
		fail_msg("'%s' rejected: %s", str, err);
	return entry;
}

static bool
matches(const char *entry_str, const char *addr, uint16_t port)
{
	struct kb_origdst_allow entry = parse_ok(entry_str);
	struct kb_net_addr a = make_addr(addr, port);

	return kb_origdst_allow_match(&entry, (struct sockaddr *)&a.ss, a.len);
}

static void
allow_parse_reads_ipv4_forms(void **state)
{
	struct kb_origdst_allow e;

	(void)state;
	e = parse_ok("10.203.2.7");
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.prefix, 32);
	assert_int_equal(e.port, 0);
	assert_int_equal(e.addr[3], 7);

	e = parse_ok("10.203.2.0/24:22");
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.prefix, 24);
	assert_int_equal(e.port, 22);

	e = parse_ok("10.203.2.7:2222");
	assert_int_equal(e.prefix, 32);
	assert_int_equal(e.port, 2222);

	e = parse_ok("0.0.0.0/0");
	assert_int_equal(e.prefix, 0);
}

static void
allow_parse_reads_ipv6_forms(void **state)
{
	struct kb_origdst_allow e;

	(void)state;
	e = parse_ok("[fd00:203:2::7]:22");
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.prefix, 128);
	assert_int_equal(e.port, 22);
	assert_int_equal(e.addr[15], 7);

	e = parse_ok("[fd00:203:2::]/64:22");
	assert_int_equal(e.prefix, 64);
	assert_int_equal(e.port, 22);

	e = parse_ok("fd00:203:2::/64");
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.prefix, 64);
	assert_int_equal(e.port, 0);

	e = parse_ok("[::1]");
	assert_int_equal(e.prefix, 128);
	assert_int_equal(e.port, 0);
}

static void
allow_parse_rejects_bad_entries(void **state)
{
	static const char *const bad[] = {
		"", "backup.example", "10.203.2", "10.203.2.7/33", "10.203.2.7:0",
		"10.203.2.7:65536", "10.203.2.7:", "10.203.2.7/", "10.203.2.7/24x",
		"[10.203.2.7]:22", "[fd00::1", "[fd00::1]x", "[fd00::1]:22:1",
		"fd00::1/129", "10.203.2.7:-1", "10.203.2.7:22 ",
	};
	struct kb_origdst_allow e;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (kb_origdst_parse_allow(bad[i], strlen(bad[i]), &e, err, sizeof(err)) !=
		    KB_ERR_INVALID_ARGUMENT)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(err[0] != '\0');
	}
}

static void
allow_parse_rejects_host_bits(void **state)
{
	struct kb_origdst_allow e;
	char err[256] = "";

	(void)state;
	assert_int_equal(kb_origdst_parse_allow("10.203.2.7/24", 13, &e, err, sizeof(err)),
	    KB_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(err, "/24"));
	assert_int_equal(kb_origdst_parse_allow("fd00::1/64", 10, &e, err, sizeof(err)),
	    KB_ERR_INVALID_ARGUMENT);
	/* 10.203.3.0/23 has the low bit of the third byte set after the prefix. */
	assert_int_equal(kb_origdst_parse_allow("10.203.3.0/23", 13, &e, err, sizeof(err)),
	    KB_ERR_INVALID_ARGUMENT);
	parse_ok("10.203.2.0/23");
}

static void
allow_parse_uses_only_len_bytes(void **state)
{
	const char *list = "10.203.2.7:22,10.0.0.0/8";
	struct kb_origdst_allow e;
	char err[256];

	(void)state;
	assert_int_equal(kb_origdst_parse_allow(list, 13, &e, err, sizeof(err)), 0);
	assert_int_equal(e.port, 22);
	assert_int_equal(e.prefix, 32);
}

static void
allow_match_checks_address_and_port(void **state)
{
	(void)state;
	assert_true(matches("10.203.2.7", "10.203.2.7", 22));
	assert_true(matches("10.203.2.7", "10.203.2.7", 2222));
	assert_false(matches("10.203.2.7", "10.203.2.8", 22));
	assert_true(matches("10.203.2.7:22", "10.203.2.7", 22));
	assert_false(matches("10.203.2.7:22", "10.203.2.7", 2222));
}

static void
allow_match_checks_prefix_bits(void **state)
{
	(void)state;
	assert_true(matches("10.203.2.0/24:22", "10.203.2.255", 22));
	assert_false(matches("10.203.2.0/24:22", "10.203.3.1", 22));
	assert_true(matches("10.203.2.0/23", "10.203.3.1", 22));
	assert_false(matches("10.203.2.0/23", "10.203.4.1", 22));
	assert_true(matches("10.203.2.128/25", "10.203.2.200", 22));
	assert_false(matches("10.203.2.128/25", "10.203.2.127", 22));
	assert_true(matches("0.0.0.0/0", "192.0.2.1", 1));
	assert_true(matches("[fd00:203:2::]/64:22", "fd00:203:2::9", 22));
	assert_false(matches("[fd00:203:2::]/64:22", "fd00:203:3::9", 22));
	assert_true(matches("fd00:203:2::/47", "fd00:203:3::9", 22));
	assert_false(matches("fd00:203:2::/48", "fd00:203:3::9", 22));
	assert_false(matches("[fd00:203:2::7]:22", "fd00:203:2::8", 22));
}

static void
allow_match_keeps_families_apart(void **state)
{
	(void)state;
	assert_false(matches("0.0.0.0/0", "fd00:203:2::7", 22));
	assert_false(matches("::/0", "10.203.2.7", 22));
	/* An IPv4-mapped IPv6 address is the IPv4 address. */
	assert_true(matches("10.203.2.7:22", "::ffff:10.203.2.7", 22));
	assert_false(matches("10.203.2.7:22", "::ffff:10.203.2.8", 22));
}

static void
allowed_searches_whole_list(void **state)
{
	struct kb_origdst_allow list[2];
	struct kb_net_addr a;

	(void)state;
	list[0] = parse_ok("10.203.2.7:22");
	list[1] = parse_ok("[fd00:203:2::7]:22");
	a = make_addr("fd00:203:2::7", 22);
	assert_true(kb_origdst_allowed(list, 2, (struct sockaddr *)&a.ss, a.len));
	assert_false(kb_origdst_allowed(list, 1, (struct sockaddr *)&a.ss, a.len));
	a = make_addr("10.203.2.7", 23);
	assert_false(kb_origdst_allowed(list, 2, (struct sockaddr *)&a.ss, a.len));
	assert_false(kb_origdst_allowed(list, 0, (struct sockaddr *)&a.ss, a.len));
}

static void
is_listener_compares_address_and_port(void **state)
{
	struct kb_net_addr listen = make_addr("10.203.1.1", 2222);
	struct kb_net_addr dst;

	(void)state;
	dst = make_addr("10.203.1.1", 2222);
	assert_true(kb_origdst_is_listener(&dst, &listen));
	dst = make_addr("10.203.1.1", 22);
	assert_false(kb_origdst_is_listener(&dst, &listen));
	dst = make_addr("10.203.2.2", 2222);
	assert_false(kb_origdst_is_listener(&dst, &listen));
}

static void
is_listener_treats_local_address_as_wildcard_match(void **state)
{
	struct kb_net_addr listen = make_addr("0.0.0.0", 2222);
	struct kb_net_addr dst;

	(void)state;
	/* 127.0.0.1 belongs to every host; 192.0.2.1 (TEST-NET-1) to none here. */
	dst = make_addr("127.0.0.1", 2222);
	assert_true(kb_origdst_is_listener(&dst, &listen));
	dst = make_addr("127.0.0.1", 22);
	assert_false(kb_origdst_is_listener(&dst, &listen));
	dst = make_addr("192.0.2.1", 2222);
	assert_false(kb_origdst_is_listener(&dst, &listen));
}

static void
transparent_names_round_trip(void **state)
{
	(void)state;
	assert_int_equal(kb_transparent_from_str("no"), KB_TRANSPARENT_NO);
	assert_int_equal(kb_transparent_from_str("redirect"), KB_TRANSPARENT_REDIRECT);
	assert_int_equal(kb_transparent_from_str("tproxy"), KB_TRANSPARENT_TPROXY);
	assert_int_equal(kb_transparent_from_str("yes"), -1);
	assert_int_equal(kb_transparent_from_str(NULL), -1);
	assert_string_equal(kb_transparent_str(KB_TRANSPARENT_TPROXY), "tproxy");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(allow_parse_reads_ipv4_forms),
		cmocka_unit_test(allow_parse_reads_ipv6_forms),
		cmocka_unit_test(allow_parse_rejects_bad_entries),
		cmocka_unit_test(allow_parse_rejects_host_bits),
		cmocka_unit_test(allow_parse_uses_only_len_bytes),
		cmocka_unit_test(allow_match_checks_address_and_port),
		cmocka_unit_test(allow_match_checks_prefix_bits),
		cmocka_unit_test(allow_match_keeps_families_apart),
		cmocka_unit_test(allowed_searches_whole_list),
		cmocka_unit_test(is_listener_compares_address_and_port),
		cmocka_unit_test(is_listener_treats_local_address_as_wildcard_match),
		cmocka_unit_test(transparent_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
