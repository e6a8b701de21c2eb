/*
 * The INI configuration, the bridge exec policy and address parsing: good
 * files, each kind of bad file with its FILE:LINE message, and the address
 * forms.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/net.h"
#include "../../src/proxy/bridge.h"

struct conf_fixture {
	char path[64];
	struct kb_conf conf;
	char err[KB_CONF_ERR_MAX];
};

static int
conf_setup(void **state)
{
	struct conf_fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	kb_conf_init(&f->conf);
	*state = f;
	return 0;
}

static int
conf_teardown(void **state)
{
	struct conf_fixture *f = *state;

	if (f->path[0] != '\0')
		unlink(f->path);
	kb_conf_free(&f->conf);
	free(f);
	return 0;
}

/* Writes text to a new temporary file and loads it. */
static int
conf_load_text(struct conf_fixture *f, const char *text)
{
	int fd;

	snprintf(f->path, sizeof(f->path), "/tmp/test_conf.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return kb_conf_load_file(&f->conf, f->path, f->err, sizeof(f->err));
}

/* Checks that err starts with "PATH:LINE: " and contains what. */
static void
assert_error_at(const struct conf_fixture *f, unsigned int line, const char *what)
{
	char prefix[128];

	snprintf(prefix, sizeof(prefix), "%s:%u: ", f->path, line);
	if (strncmp(f->err, prefix, strlen(prefix)) != 0)
		fail_msg("expected prefix '%s' in '%s'", prefix, f->err);
	if (strstr(f->err, what) == NULL)
		fail_msg("expected '%s' in '%s'", what, f->err);
}

static void
conf_load_reads_full_file(void **state)
{
	struct conf_fixture *f = *state;
	const struct kb_route *a, *b;

	assert_int_equal(conf_load_text(f,
	    "; a comment\n"
	    "[global]\n"
	    "log_format = json\n"
	    "log_target = syslog\n"
	    "log_level = debug\n"
	    "\n"
	    "[route backup]\n"
	    "listen = 127.0.0.1:2222\n"
	    "upstream = backup.example:22\n"
	    "mode = tap\n"
	    "connect_timeout = 5\n"
	    "handshake_timeout = 2m\n"
	    "idle_timeout = 0\n"
	    "buffer_limit = 1M\n"
	    "max_sessions = 10\n"
	    "\n"
	    "[route v6]\n"
	    "listen = [::1]:2222\n"
	    "upstream = [2001:db8::1]\n"), 0);

	assert_int_equal(f->conf.log_format, KB_LOG_JSON);
	assert_int_equal(f->conf.log_target, KB_LOG_SYSLOG);
	assert_int_equal(f->conf.log_level, KB_LOG_DEBUG);
	assert_int_equal(f->conf.route_count, 2);
	a = &f->conf.routes[0];
	assert_string_equal(a->name, "backup");
	assert_string_equal(a->listen, "127.0.0.1:2222");
	assert_string_equal(a->upstream, "backup.example:22");
	assert_int_equal(a->mode, KB_MODE_TAP);
	assert_int_equal(a->connect_timeout, 5);
	assert_int_equal(a->handshake_timeout, 120);
	assert_int_equal(a->idle_timeout, 0);
	assert_int_equal(a->buffer_limit, 1024 * 1024);
	assert_int_equal(a->max_sessions, 10);
	assert_int_equal(a->line, 7);
	b = &f->conf.routes[1];
	assert_string_equal(b->name, "v6");
	assert_string_equal(b->listen, "[::1]:2222");
	assert_int_equal(b->line, 17);
}

static void
conf_load_applies_defaults(void **state)
{
	struct conf_fixture *f = *state;
	const struct kb_route *r;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 0.0.0.0:2222\nupstream = 127.0.0.1\n"), 0);
	assert_int_equal(f->conf.log_format, KB_LOG_TEXT);
	assert_int_equal(f->conf.log_target, KB_LOG_STDERR);
	assert_int_equal(f->conf.log_level, KB_LOG_INFO);
	r = &f->conf.routes[0];
	assert_int_equal(r->mode, KB_MODE_TAP);
	assert_int_equal(r->connect_timeout, 10);
	assert_int_equal(r->handshake_timeout, 60);
	assert_int_equal(r->idle_timeout, 3600);
	assert_int_equal(r->buffer_limit, 256 * 1024);
	assert_int_equal(r->max_sessions, 256);
}

static void
conf_load_rejects_unknown_route_key(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nlisten_port = 22\nupstream = h:22\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 3, "unknown key 'listen_port' in [route a]; valid keys are listen, "
	    "upstream, mode");
}

static void
conf_unknown_key_suggests_closest(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = h:22\nupstream_cipher = aes128-cbc\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 4, "unknown key 'upstream_cipher' in [route a]; did you mean "
	    "'upstream_ciphers'?");
	/* The whole list arrives, up to its last key. */
	assert_non_null(strstr(f->err, "transparent, allow, rekey_limit"));
}

static void
conf_unknown_global_key_suggests_closest(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f, "[global]\nlog_levle = debug\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 2, "unknown key 'log_levle' in [global]; did you mean 'log_level'?");
}

static void
conf_load_rejects_unknown_global_key(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f, "[global]\nverbose = yes\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 2, "unknown key 'verbose' in [global]; valid keys are log_format");
}

static void
conf_load_rejects_bad_values(void **state)
{
	static const struct {
		const char *line;
		const char *expected;
	} cases[] = {
		{ "connect_timeout = 0", "invalid connect_timeout '0' in [route a]; expected seconds" },
		{ "connect_timeout = 10x", "invalid connect_timeout '10x'" },
		{ "handshake_timeout = -1", "invalid handshake_timeout '-1'" },
		{ "idle_timeout = soon", "invalid idle_timeout 'soon'" },
		{ "buffer_limit = 100", "invalid buffer_limit '100' in [route a]; expected bytes" },
		{ "buffer_limit = 1G", "invalid buffer_limit '1G'" },
		{ "max_sessions = 0", "invalid max_sessions '0' in [route a]; expected a number" },
		{ "max_sessions = 99999999999999999999", "invalid max_sessions" },
		{ "mode = relay", "invalid mode 'relay' in [route a]; expected tap, bridge or auto" },
	};
	struct conf_fixture *f = *state;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kb_conf_free(&f->conf);
		kb_conf_init(&f->conf);
		unlink(f->path);
		snprintf(text, sizeof(text),
		    "[route a]\nlisten = 127.0.0.1:2222\nupstream = h:22\n%s\n", cases[i].line);
		assert_int_equal(conf_load_text(f, text), KB_ERR_CONFIG_INVALID);
		assert_error_at(f, 4, cases[i].expected);
	}
}

static void
conf_load_rejects_bad_global_values(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f, "[global]\nlog_format = xml\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 2, "invalid log_format 'xml'; expected text or json");
}

#define CONF_ONE_ROUTE "[route a]\nlisten = 127.0.0.1:2222\nupstream = h\n"

static void
conf_load_applies_daemon_defaults(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f, CONF_ONE_ROUTE), 0);
	assert_int_equal(f->conf.drain_timeout, KB_DRAIN_TIMEOUT_DEFAULT);
	assert_int_equal(f->conf.drain_timeout, 30);
	assert_null(f->conf.user);
}

static void
conf_load_reads_daemon_keys(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[global]\ndrain_timeout = 2m\nuser = root\n" CONF_ONE_ROUTE), 0);
	assert_int_equal(f->conf.drain_timeout, 120);
	assert_non_null(f->conf.user);
	assert_string_equal(f->conf.user, "root");
}

static void
conf_load_accepts_zero_drain_timeout(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f, "[global]\ndrain_timeout = 0\n" CONF_ONE_ROUTE), 0);
	assert_int_equal(f->conf.drain_timeout, 0);
}

static void
conf_load_rejects_bad_drain_timeout(void **state)
{
	static const char *const values[] = { "-1", "abc", "10x", "8d", "604801", "" };
	struct conf_fixture *f = *state;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		kb_conf_free(&f->conf);
		kb_conf_init(&f->conf);
		unlink(f->path);
		snprintf(text, sizeof(text), "[global]\nlog_level = info\ndrain_timeout = %s\n"
		    CONF_ONE_ROUTE, values[i]);
		assert_int_equal(conf_load_text(f, text), KB_ERR_CONFIG_INVALID);
		assert_error_at(f, 3, "invalid drain_timeout");
	}
}

static void
conf_load_rejects_unknown_user(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[global]\n\nuser = kb-no-such-user-7f3a\n" CONF_ONE_ROUTE),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 3, "unknown user 'kb-no-such-user-7f3a' in [global]");
	assert_null(f->conf.user);
}

static void
conf_global_set_sets_user_without_prefix(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(kb_conf_global_set(&f->conf, "user", "root", f->err,
	    sizeof(f->err)), 0);
	assert_string_equal(f->conf.user, "root");
	assert_int_equal(kb_conf_global_set(&f->conf, "user", "kb-no-such-user-7f3a", f->err,
	    sizeof(f->err)), KB_ERR_CONFIG_INVALID);
	assert_string_equal(f->err, "unknown user 'kb-no-such-user-7f3a' in [global]; "
	    "expected an account name from the passwd database");
	assert_null(f->conf.user);
}

static void
conf_print_shows_daemon_keys(void **state)
{
	struct conf_fixture *f = *state;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	assert_int_equal(conf_load_text(f,
	    "[global]\ndrain_timeout = 5\nuser = root\n" CONF_ONE_ROUTE), 0);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	kb_conf_print(out, &f->conf);
	fclose(out);
	assert_non_null(strstr(text, "drain_timeout = 5\n"));
	assert_non_null(strstr(text, "user = root\n"));
	free(text);
}

static void
conf_load_rejects_missing_listen(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route ok]\nlisten = 127.0.0.1:1\nupstream = h\n\n[route empty]\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 5, "[route empty] has no listen address");
}

static void
conf_load_rejects_missing_upstream(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f, "[route a]\nlisten = 127.0.0.1:2222\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 1, "[route a] has no upstream");
}

static void
conf_load_rejects_duplicate_listen(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = h\n"
	    "[route b]\nlisten = 127.0.0.1:02222\nupstream = h\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 5, "duplicate listen address 127.0.0.1:2222 in [route b]; "
	    "[route a] already listens there (line 2)");
}

static void
conf_load_rejects_bad_listen_address(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = localhost:2222\nupstream = h\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 2, "invalid listen address 'localhost:2222' in [route a]");
}

/* Checks that the message gives at most one "expected ..." hint. */
static void
assert_one_hint(const struct conf_fixture *f)
{
	const char *first = strstr(f->err, "expected");

	if (first != NULL && strstr(first + 1, "expected") != NULL)
		fail_msg("more than one hint in '%s'", f->err);
}

static void
conf_load_blames_line_of_bad_address(void **state)
{
	static const struct {
		const char *listen;
		const char *upstream;
		unsigned int line;
		const char *expected;
	} cases[] = {
		{ "127.0.0.1:99999", "h:22", 3,
		    "invalid port '99999' in '127.0.0.1:99999'; expected 1 to 65535" },
		{ "127.0.0.1", "h:22", 3, "missing port in listen address '127.0.0.1' in "
		    "[route a]; expected ADDR:PORT or [IPv6]:PORT" },
		{ "localhost:2222", "h:22", 3, "'localhost' is not a numeric IPv4 or IPv6 "
		    "address; expected ADDR:PORT or [IPv6]:PORT" },
		{ "::1:2222", "h:22", 3, "needs brackets, e.g. [::1]:22" },
		{ "[::1:2222", "h:22", 3, "missing ']'" },
		{ "127.0.0.1:2222", "h:0", 5, "invalid upstream 'h:0' in [route a]: invalid "
		    "port '0' in 'h:0'; expected 1 to 65535" },
		{ "127.0.0.1:2222", "2001:db8::1", 5, "invalid upstream '2001:db8::1'" },
	};
	struct conf_fixture *f = *state;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kb_conf_free(&f->conf);
		kb_conf_init(&f->conf);
		unlink(f->path);
		snprintf(text, sizeof(text), "[route a]\nmode = tap\nlisten = %s\n"
		    "connect_timeout = 5\nupstream = %s\n", cases[i].listen, cases[i].upstream);
		assert_int_equal(conf_load_text(f, text), KB_ERR_CONFIG_INVALID);
		assert_error_at(f, cases[i].line, cases[i].expected);
		assert_one_hint(f);
	}
}

static void
conf_load_accepts_indented_keys(void **state)
{
	struct conf_fixture *f = *state;
	const struct kb_route *r;

	assert_int_equal(conf_load_text(f,
	    "[global]\n"
	    "  log_level = debug\n"
	    "\n"
	    "  [route a]\n"
	    "  listen = 127.0.0.1:2222\n"
	    "\tupstream = 127.0.0.1:22\n"
	    " \t mode = tap\n"
	    "    ; an indented comment\n"
	    "  max_sessions = 7\n"), 0);
	assert_int_equal(f->conf.log_level, KB_LOG_DEBUG);
	assert_int_equal(f->conf.route_count, 1);
	r = &f->conf.routes[0];
	assert_string_equal(r->name, "a");
	assert_int_equal(r->line, 4);
	assert_string_equal(r->listen, "127.0.0.1:2222");
	assert_int_equal(r->listen_line, 5);
	assert_string_equal(r->upstream, "127.0.0.1:22");
	assert_int_equal(r->upstream_line, 6);
	assert_int_equal(r->mode, KB_MODE_TAP);
	assert_int_equal(r->max_sessions, 7);
}

static void
conf_load_rejects_continuation_line(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\n  more text\nupstream = h\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 3, "syntax error");
}

static void
conf_resolve_blames_upstream_line(void **state)
{
	struct conf_fixture *f = *state;

	/*
	 * A 64-character label is longer than RFC 1035 allows, so the resolver
	 * rejects the name without sending a query.
	 */
	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\n\nupstream = "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.invalid\n"), 0);
	assert_int_not_equal(kb_conf_resolve_upstreams(&f->conf, f->path, f->err,
	    sizeof(f->err)), 0);
	assert_error_at(f, 4, "invalid upstream 'aaaa");
	assert_non_null(strstr(f->err, "cannot resolve"));
	assert_null(f->conf.routes[0].upstream_addr);
}

/* Loads text, resolves its upstreams and returns what kb_conf_print() writes. */
static char *
conf_print_text(struct conf_fixture *f, const char *text)
{
	char *out = NULL;
	size_t len = 0;
	FILE *stream;

	assert_int_equal(conf_load_text(f, text), 0);
	assert_int_equal(kb_conf_resolve_upstreams(&f->conf, f->path, f->err,
	    sizeof(f->err)), 0);
	stream = open_memstream(&out, &len);
	assert_non_null(stream);
	kb_conf_print(stream, &f->conf);
	fclose(stream);
	return out;
}

static void
conf_print_shows_upstream_port_and_address(void **state)
{
	struct conf_fixture *f = *state;
	char *out;

	out = conf_print_text(f, "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\n"
	    "[route b]\nlisten = 127.0.0.1:2223\nupstream = [::1]:2022\n"
	    "[route c]\nlisten = 127.0.0.1:2224\nupstream = localhost\n");
	if (strstr(out, "\nupstream = 127.0.0.1:22 (127.0.0.1:22)\n") == NULL)
		fail_msg("no IPv4 upstream with port and address in:\n%s", out);
	if (strstr(out, "\nupstream = [::1]:2022 ([::1]:2022)\n") == NULL)
		fail_msg("no IPv6 upstream with port and address in:\n%s", out);
	if (strstr(out, "\nupstream = localhost:22 (") == NULL)
		fail_msg("no named upstream with port and address in:\n%s", out);
	free(out);
}

static void
conf_load_rejects_structure_errors(void **state)
{
	static const struct {
		const char *text;
		unsigned int line;
		const char *expected;
	} cases[] = {
		{ "[routes]\n", 1, "unknown section [routes]" },
		{ "[route a]\nlisten = 127.0.0.1:1\nupstream = h\n[route a]\n", 4,
		    "duplicate section [route a]" },
		{ "[route a/b]\n", 1, "invalid route name 'a/b'" },
		{ "listen = 127.0.0.1:1\n", 1, "key 'listen' outside a section" },
		{ "[route a]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n", 3,
		    "'listen' is set twice in [route a]" },
		{ "[route a]\nthis is not ini\n", 2, "syntax error" },
	};
	struct conf_fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kb_conf_free(&f->conf);
		kb_conf_init(&f->conf);
		unlink(f->path);
		assert_int_equal(conf_load_text(f, cases[i].text), KB_ERR_CONFIG_INVALID);
		assert_error_at(f, cases[i].line, cases[i].expected);
	}
}

static void
conf_load_rejects_file_without_routes(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f, "[global]\nlog_level = warn\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_non_null(strstr(f->err, "no route configured"));
}

static void
conf_load_reports_missing_file(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(kb_conf_load_file(&f->conf, "/nonexistent/kexbridge.conf",
	    f->err, sizeof(f->err)), KB_ERR_NOT_FOUND);
	assert_non_null(strstr(f->err, "/nonexistent/kexbridge.conf"));
}

static void
conf_add_route_builds_tap_route(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(kb_conf_add_route(&f->conf, "cli", "[::1]:2200", "127.0.0.1:22",
	    "tap", f->err, sizeof(f->err)), 0);
	assert_int_equal(kb_conf_check(&f->conf, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(f->conf.routes[0].mode, KB_MODE_TAP);
	assert_int_equal(f->conf.routes[0].idle_timeout, 3600);
}

static void
conf_add_route_accepts_auto_mode(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(kb_conf_add_route(&f->conf, "cli", "127.0.0.1:2200", "h:22",
	    "auto", f->err, sizeof(f->err)), 0);
	assert_int_equal(f->conf.route_count, 1);
	assert_int_equal(f->conf.routes[0].mode, KB_MODE_AUTO);
}

/* Creates an empty readable file for keys that must name one. */
static void
make_file(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/test_conf_key.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

static void
conf_load_reads_bridge_route(void **state)
{
	struct conf_fixture *f = *state;
	const struct kb_route *r;
	char key1[64], key2[64], text[2048];

	make_file(key1, sizeof(key1));
	make_file(key2, sizeof(key2));
	snprintf(text, sizeof(text),
	    "[global]\n"
	    "state_dir = /srv/kexbridge\n"
	    "[route fi]\n"
	    "listen = 127.0.0.1:2222\n"
	    "upstream = 127.0.0.1:22\n"
	    "mode = bridge\n"
	    "hostkey = %s, %s\n"
	    "hostkey_policy = strict\n"
	    "upstream_kex = diffie-hellman-group14-sha1,diffie-hellman-group1-sha1\n"
	    "upstream_ciphers = aes128-cbc,3des-cbc\n"
	    "upstream_macs = hmac-sha1\n"
	    "kex = diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512\n"
	    "ciphers = aes128-ctr,aes256-ctr\n"
	    "macs = hmac-sha2-256\n"
	    "auth_methods = password\n"
	    "max_auth_tries = 3\n"
	    "auth_failure_delay = 0\n"
	    "exec_allow = /usr/bin/true, scp -v -t *\n"
	    "sftp = no\n"
	    "window_size = 1M\n"
	    "session_memory_limit = 8M\n"
	    "upstream_handshake_timeout = 20\n"
	    "upstream_auth_timeout = 1m\n", key1, key2);
	assert_int_equal(conf_load_text(f, text), 0);
	unlink(key1);
	unlink(key2);

	assert_string_equal(kb_conf_state_dir(&f->conf), "/srv/kexbridge");
	r = &f->conf.routes[0];
	assert_int_equal(r->mode, KB_MODE_BRIDGE);
	assert_int_equal(r->hostkey_count, 2);
	assert_string_equal(r->hostkeys[0], key1);
	assert_string_equal(r->hostkeys[1], key2);
	assert_null(r->hostkeys[2]);
	assert_int_equal(r->hostkey_policy, KB_UP_HOSTKEY_STRICT);
	assert_string_equal(r->known_hosts, "/srv/kexbridge/known_hosts");
	assert_string_equal(r->upstream_algs.list[KB_UP_ALG_KEX],
	    "diffie-hellman-group14-sha1,diffie-hellman-group1-sha1");
	assert_string_equal(r->upstream_algs.list[KB_UP_ALG_CIPHER], "aes128-cbc,3des-cbc");
	assert_string_equal(r->upstream_algs.list[KB_UP_ALG_MAC], "hmac-sha1");
	assert_non_null(r->upstream_algs.list[KB_UP_ALG_HOSTKEY]);
	assert_string_equal(r->kex,
	    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512");
	assert_string_equal(r->ciphers, "aes128-ctr,aes256-ctr");
	assert_string_equal(r->macs, "hmac-sha2-256");
	assert_true(r->auth_password);
	assert_false(r->auth_kbdint);
	assert_int_equal(r->max_auth_tries, 3);
	assert_int_equal(r->auth_failure_delay, 0);
	assert_string_equal(r->exec_allow[0], "/usr/bin/true");
	assert_string_equal(r->exec_allow[1], "scp -v -t *");
	assert_null(r->exec_allow[2]);
	assert_false(r->sftp);
	assert_int_equal(r->window_size, 1024 * 1024);
	assert_int_equal(r->session_memory_limit, 8 * 1024 * 1024);
	assert_int_equal(r->upstream_handshake_timeout, 20);
	assert_int_equal(r->upstream_auth_timeout, 60);
}

static void
conf_load_applies_bridge_defaults(void **state)
{
	struct conf_fixture *f = *state;
	const struct kb_route *r;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\nmode = bridge\n"), 0);
	r = &f->conf.routes[0];
	assert_int_equal(r->hostkey_count, 0);
	assert_int_equal(r->hostkey_policy, KB_UP_HOSTKEY_ACCEPT_NEW);
	assert_string_equal(r->known_hosts, "/var/lib/kexbridge/known_hosts");
	assert_null(r->kex);
	assert_null(r->ciphers);
	assert_null(r->macs);
	assert_true(r->auth_password);
	assert_true(r->auth_kbdint);
	assert_int_equal(r->max_auth_tries, 6);
	assert_int_equal(r->auth_failure_delay, 2);
	assert_null(r->exec_allow);
	assert_true(r->sftp);
	assert_int_equal(r->window_size, 2 * 1024 * 1024);
	assert_int_equal(r->session_memory_limit, 4 * 1024 * 1024);
	assert_int_equal(r->rekey_bytes, 0);
	assert_int_equal(r->rekey_seconds, 0);
	/* Every supported upstream method that needs no legacy provider. */
	assert_non_null(r->upstream_algs.list[KB_UP_ALG_KEX]);
	assert_non_null(strstr(r->upstream_algs.list[KB_UP_ALG_CIPHER], "aes128-ctr"));
	if (access("/etc/ssh/moduli", R_OK) == 0)
		assert_string_equal(r->moduli, "/etc/ssh/moduli");
	else
		assert_null(r->moduli);
}

static void
conf_load_rejects_bad_bridge_values(void **state)
{
	static const struct {
		const char *line;
		const char *expected;
	} cases[] = {
		{ "hostkey_policy = maybe", "invalid hostkey_policy 'maybe' in [route a]; "
		    "expected strict, accept-new or off" },
		{ "hostkey = /nonexistent/key", "cannot read host key /nonexistent/key" },
		{ "hostkey = ,", "empty entry in hostkey" },
		{ "kex = diffie-hellman-group1-sha1", "kex 'diffie-hellman-group1-sha1' in "
		    "[route a] is not implemented; choose from" },
		{ "ciphers = aes128-ctr,3des-cbc", "ciphers '3des-cbc' in [route a] is not "
		    "implemented" },
		{ "ciphers = none", "ciphers 'none' in [route a] is not implemented" },
		{ "macs = hmac-md5", "macs 'hmac-md5' in [route a] is not implemented" },
		{ "moduli = /nonexistent/moduli", "cannot read moduli file /nonexistent/moduli" },
		{ "auth_methods = publickey", "invalid auth_methods entry 'publickey'" },
		{ "max_auth_tries = 0", "invalid max_auth_tries '0'" },
		{ "auth_failure_delay = 2m", "auth_failure_delay '2m' in [route a] is too long" },
		{ "sftp = perhaps", "invalid sftp 'perhaps' in [route a]; expected yes or no" },
		{ "window_size = 1K", "invalid window_size '1K' in [route a]; expected bytes" },
		{ "session_memory_limit = 2G", "invalid session_memory_limit '2G'" },
		{ "upstream_auth_timeout = 0", "invalid upstream_auth_timeout '0'" },
		{ "rekey_limit = 15", "invalid rekey_limit size '15' in [route a]; expected "
		    "default or at least 16 bytes" },
		{ "rekey_limit = 1T", "invalid rekey_limit size '1T'" },
		{ "rekey_limit = -1", "invalid rekey_limit size '-1'" },
		{ "rekey_limit = 1M soon", "invalid rekey_limit time 'soon' in [route a]; "
		    "expected none or seconds" },
		{ "rekey_limit = 1M 8d", "invalid rekey_limit time '8d'" },
		{ "rekey_limit = 1M 1h more", "invalid rekey_limit '1M 1h more' in [route a]; "
		    "expected SIZE [SECONDS]" },
		{ "rekey_limit =", "invalid rekey_limit '' in [route a]" },
	};
	struct conf_fixture *f = *state;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kb_conf_free(&f->conf);
		kb_conf_init(&f->conf);
		unlink(f->path);
		snprintf(text, sizeof(text), "[route a]\nlisten = 127.0.0.1:2222\n"
		    "upstream = h:22\nmode = bridge\n%s\n", cases[i].line);
		assert_int_equal(conf_load_text(f, text), KB_ERR_CONFIG_INVALID);
		assert_error_at(f, 5, cases[i].expected);
	}
}

static void
conf_load_reads_rekey_limit(void **state)
{
	static const struct {
		const char *value;
		uint64_t bytes;
		uint32_t seconds;
	} cases[] = {
		{ "default", 0, 0 },
		{ "default none", 0, 0 },
		{ "0 0", 0, 0 },
		{ "16", 16, 0 },
		{ "1M", 1024 * 1024, 0 },
		{ "512k none", 512 * 1024, 0 },
		{ "1G 3600", 1024ull * 1024 * 1024, 3600 },
		{ "4G\t1h", 4ull * 1024 * 1024 * 1024, 3600 },
		{ "default 90", 0, 90 },
	};
	struct conf_fixture *f = *state;
	const struct kb_route *r;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kb_conf_free(&f->conf);
		kb_conf_init(&f->conf);
		unlink(f->path);
		snprintf(text, sizeof(text), "[route a]\nlisten = 127.0.0.1:2222\n"
		    "upstream = h:22\nmode = bridge\nrekey_limit = %s\n", cases[i].value);
		if (conf_load_text(f, text) != 0)
			fail_msg("rekey_limit = %s: %s", cases[i].value, f->err);
		r = &f->conf.routes[0];
		assert_int_equal(r->rekey_bytes, cases[i].bytes);
		assert_int_equal(r->rekey_seconds, cases[i].seconds);
	}
}

static void
conf_print_shows_rekey_limit(void **state)
{
	struct conf_fixture *f = *state;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	assert_int_equal(conf_load_text(f, "[route a]\nlisten = 127.0.0.1:2222\n"
	    "upstream = h:22\nmode = bridge\nrekey_limit = 1M 2m\n"
	    "[route b]\nlisten = 127.0.0.1:2223\nupstream = h:22\nmode = bridge\n"), 0);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	kb_conf_print(out, &f->conf);
	fclose(out);
	assert_non_null(strstr(text, "rekey_limit = 1048576 120\n"));
	assert_non_null(strstr(text, "rekey_limit = default none\n"));
	free(text);
}

static void
conf_load_blames_line_of_bad_upstream_list(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\n"
	    "listen = 127.0.0.1:2222\n"
	    "upstream = 127.0.0.1\n"
	    "mode = bridge\n"
	    "upstream_kex = diffie-hellman-group14-sha1\n"
	    "upstream_ciphers = aes128-cbc,rot13-cbc\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 6, "invalid upstream algorithm list in [route a]: ");
	assert_non_null(strstr(f->err, "rot13-cbc"));
}

static void
conf_load_rejects_window_over_memory_limit(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\nmode = bridge\n"
	    "window_size = 4M\nsession_memory_limit = 4M\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 1, "window_size (4194304) in [route a] must be at most half of "
	    "session_memory_limit (4194304)");
}

static void
conf_route_set_builds_cli_bridge_route(void **state)
{
	struct conf_fixture *f = *state;
	struct kb_route *r;
	char key1[64], key2[64];

	make_file(key1, sizeof(key1));
	make_file(key2, sizeof(key2));
	assert_int_equal(kb_conf_global_set(&f->conf, "state_dir", "/tmp/kb-state",
	    f->err, sizeof(f->err)), 0);
	assert_int_equal(kb_conf_add_route(&f->conf, "cli", "127.0.0.1:2200", "127.0.0.1:22",
	    "bridge", f->err, sizeof(f->err)), 0);
	r = &f->conf.routes[0];
	/* --hostkey repeats append, as the file's comma list does. */
	assert_int_equal(kb_conf_route_set(&f->conf, r, "hostkey", key1, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(kb_conf_route_set(&f->conf, r, "hostkey", key2, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(kb_conf_route_set(&f->conf, r, "hostkey_policy", "off", f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(kb_conf_route_set(&f->conf, r, "upstream_macs", "hmac-md5", f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(kb_conf_finish(&f->conf, NULL, f->err, sizeof(f->err)), 0);
	unlink(key1);
	unlink(key2);

	assert_int_equal(r->mode, KB_MODE_BRIDGE);
	assert_int_equal(r->hostkey_count, 2);
	assert_int_equal(r->hostkey_policy, KB_UP_HOSTKEY_OFF);
	assert_string_equal(r->known_hosts, "/tmp/kb-state/known_hosts");
	assert_string_equal(r->upstream_algs.list[KB_UP_ALG_MAC], "hmac-md5");

	/* A second finish after a new state directory derives known_hosts again. */
	assert_int_equal(kb_conf_global_set(&f->conf, "state_dir", "/tmp/kb-other",
	    f->err, sizeof(f->err)), 0);
	assert_int_equal(kb_conf_finish(&f->conf, NULL, f->err, sizeof(f->err)), 0);
	assert_string_equal(r->known_hosts, "/tmp/kb-other/known_hosts");
}

static void
conf_route_set_reports_without_file_prefix(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(kb_conf_add_route(&f->conf, "cli", "127.0.0.1:2200", "127.0.0.1:22",
	    "bridge", f->err, sizeof(f->err)), 0);
	assert_int_equal(kb_conf_route_set(&f->conf, &f->conf.routes[0], "hostkey_policy",
	    "lenient", f->err, sizeof(f->err)), KB_ERR_CONFIG_INVALID);
	assert_true(strncmp(f->err, "invalid hostkey_policy 'lenient' in [route cli]", 47) == 0);
	assert_int_equal(kb_conf_route_set(&f->conf, &f->conf.routes[0], "upstream_kex",
	    "diffie-hellman-group1-sha1,nonsense-kex", f->err, sizeof(f->err)), 0);
	assert_int_equal(kb_conf_finish(&f->conf, NULL, f->err, sizeof(f->err)),
	    KB_ERR_CONFIG_INVALID);
	assert_non_null(strstr(f->err, "nonsense-kex"));
	assert_int_equal(kb_conf_global_set(&f->conf, "state_dir", "relative/dir", f->err,
	    sizeof(f->err)), KB_ERR_CONFIG_INVALID);
	assert_non_null(strstr(f->err, "expected an absolute path"));
}

static void
conf_check_rejects_bad_cli_upstream(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(kb_conf_add_route(&f->conf, "cli", "127.0.0.1:2200", "h:99999",
	    NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(kb_conf_check(&f->conf, NULL, f->err, sizeof(f->err)),
	    KB_ERR_CONFIG_INVALID);
	assert_non_null(strstr(f->err, "invalid upstream 'h:99999' in [route cli]"));
}

static void
conf_load_reads_transparent_route(void **state)
{
	struct conf_fixture *f = *state;
	const struct kb_route *r;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	assert_int_equal(conf_load_text(f,
	    "[route intercept]\n"
	    "listen = 0.0.0.0:2222\n"
	    "transparent = redirect\n"
	    "allow = 10.203.2.0/24:22, [fd00:203:2::7]:22\n"), 0);
	r = &f->conf.routes[0];
	assert_null(r->upstream);
	assert_int_equal(r->transparent, KB_TRANSPARENT_REDIRECT);
	assert_int_equal(r->allow_count, 2);
	assert_int_equal(r->allow[0].family, AF_INET);
	assert_int_equal(r->allow[0].prefix, 24);
	assert_int_equal(r->allow[0].port, 22);
	assert_int_equal(r->allow[1].family, AF_INET6);
	assert_int_equal(r->allow_line, 4);

	/* A transparent route has no upstream to resolve, and prints its list. */
	assert_int_equal(kb_conf_resolve_upstreams(&f->conf, f->path, f->err,
	    sizeof(f->err)), 0);
	assert_null(r->upstream_addr);
	assert_non_null(out = open_memstream(&text, &len));
	kb_conf_print(out, &f->conf);
	fclose(out);
	assert_non_null(strstr(text, "transparent = redirect\n"));
	assert_non_null(strstr(text, "allow = 10.203.2.0/24:22, [fd00:203:2::7]:22\n"));
	assert_null(strstr(text, "upstream ="));
	free(text);
}

static void
conf_load_defaults_transparent_to_no(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\n"), 0);
	assert_int_equal(f->conf.routes[0].transparent, KB_TRANSPARENT_NO);
	assert_int_equal(f->conf.routes[0].allow_count, 0);
}

static void
conf_load_rejects_transparent_with_upstream(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\n"
	    "listen = 127.0.0.1:2222\n"
	    "upstream = 127.0.0.1:22\n"
	    "transparent = tproxy\n"
	    "allow = 127.0.0.1:22\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 3, "remove upstream");
}

static void
conf_load_rejects_transparent_without_allow(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\ntransparent = redirect\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 1, "no allow list");
}

static void
conf_load_rejects_allow_without_transparent(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\n"
	    "allow = 127.0.0.1:22\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 4, "applies only to transparent routes");
}

static void
conf_load_rejects_bad_transparent_values(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\ntransparent = yes\n"),
	    KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 3, "invalid transparent 'yes'");
	kb_conf_free(&f->conf);
	kb_conf_init(&f->conf);
	unlink(f->path);

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\ntransparent = redirect\n"
	    "allow = 10.203.2.0/24:22, backup.example:22\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 4, "invalid allow entry 'backup.example:22'");
	kb_conf_free(&f->conf);
	kb_conf_init(&f->conf);
	unlink(f->path);

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\ntransparent = redirect\n"
	    "allow = 10.203.2.0/24:22,\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 4, "empty entry in allow");
}

static void
conf_route_set_builds_transparent_route(void **state)
{
	struct conf_fixture *f = *state;
	struct kb_route *r;

	assert_int_equal(kb_conf_add_route(&f->conf, "cli", "127.0.0.1:2200", NULL,
	    "bridge", f->err, sizeof(f->err)), 0);
	r = &f->conf.routes[0];
	assert_int_equal(kb_conf_route_set(&f->conf, r, "transparent", "tproxy", f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(kb_conf_route_set(&f->conf, r, "allow", "10.0.0.0/8", f->err,
	    sizeof(f->err)), 0);
	/* Setting allow again replaces the list. */
	assert_int_equal(kb_conf_route_set(&f->conf, r, "allow", "10.203.2.7:22", f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(r->allow_count, 1);
	assert_int_equal(r->allow[0].port, 22);
	assert_int_equal(kb_conf_check(&f->conf, NULL, f->err, sizeof(f->err)), 0);
}

static void
exec_policy_accepts_scp_as_scp_sends_it(void **state)
{
	static const struct {
		const char *command;
		bool download;
	} cases[] = {
		{ "scp -t /tmp/x", false },
		{ "scp -f /backup/fi-a.tgz", true },
		{ "scp -v -r -p -t -- /tmp/dir", false },
		{ "scp -prt /tmp", false },
		{ "scp -d -t /tmp/dir/", false },
		{ "scp -T -q -f -- /x", true },
		{ "scp -t '/tmp/a b'", false },
		{ "scp -t ~/backup:1,2@x+y%z=w", false },
		/* As OpenSSH scp -O sends names with spaces and UTF-8 names. */
		{ "scp -f \xe3\x83\xaa\xe3\x83\xa2\\ file.txt", true },
		{ "scp -t /tmp/\xe6\x97\xa5\xe6\x9c\xac.txt", false },
		{ "scp -t \"/tmp/a b\"", false },
		{ "scp -f /backup/*.tgz", true },
	};
	bool download;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		download = !cases[i].download;
		if (!bridge_exec_is_scp(cases[i].command, &download))
			fail_msg("rejected '%s'", cases[i].command);
		assert_int_equal(download, cases[i].download);
	}
}

static void
exec_policy_rejects_other_commands(void **state)
{
	static const char *const bad[] = {
		"scp /tmp/x",			/* neither -t nor -f */
		"scp -t -f /x",			/* both */
		"scp -tt /x",			/* -t twice */
		"scp -t",			/* no path */
		"scp -t /a /b",			/* two paths */
		"scp -x -t /a",			/* flag scp does not pass */
		"scp -t /tmp/x;id",		/* shell metacharacters */
		"scp -t $(id)",
		"scp -t /a|b",
		"scp -t '/a'b'",		/* unbalanced quoting */
		"scp -t '/a",
		"scp -t -- -rf",		/* path that reads as an option */
		"scp -t /a\nid",		/* control character */
		"scp -t \"$(id)\"",		/* substitution inside double quotes */
		"scp -t \"`id`\"",
		"scp -t /a&",
		"scp -t /a>b",
		"scp -t a\\ b c",		/* two words */
		"scp -t \\-rf",		/* escaped, still an option */
		"scp -t '-rf'",
		"scp -t #x",			/* a comment, no path */
		"/usr/bin/scp -t /a",		/* only the plain name */
		"rsync --server -e.Lsfx . /tmp",
		"sh -c 'scp -t /a'",
		"",
	};
	bool download;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bridge_exec_is_scp(bad[i], &download))
			fail_msg("accepted '%s'", bad[i]);
	}
}

static void
exec_policy_adds_configured_patterns(void **state)
{
	char *patterns[] = { "/usr/bin/true", "rsync --server *", NULL };
	struct kb_route route;
	struct kb_bridge_route br;
	bool is_scp, download;

	(void)state;
	memset(&route, 0, sizeof(route));
	memset(&br, 0, sizeof(br));
	br.route = &route;
	assert_true(bridge_exec_allowed(&br, "scp -f /x", &is_scp, &download));
	assert_true(is_scp);
	assert_true(download);
	assert_false(bridge_exec_allowed(&br, "/usr/bin/true", &is_scp, &download));

	route.exec_allow = patterns;
	assert_true(bridge_exec_allowed(&br, "/usr/bin/true", &is_scp, &download));
	assert_false(is_scp);
	assert_true(bridge_exec_allowed(&br, "rsync --server -e.Lsfx . /tmp", &is_scp,
	    &download));
	assert_false(bridge_exec_allowed(&br, "/usr/bin/true; id", &is_scp, &download));
	assert_false(bridge_exec_allowed(&br, "id", &is_scp, &download));
}

static void
net_split_accepts_address_forms(void **state)
{
	static const struct {
		const char *in;
		const char *host;
		const char *port;
	} cases[] = {
		{ "127.0.0.1:2222", "127.0.0.1", "2222" },
		{ "[::1]:2222", "::1", "2222" },
		{ "[fe80::1%eth0]:22", "fe80::1%eth0", "22" },
		{ "backup.example:65535", "backup.example", "65535" },
		{ "backup.example", "backup.example", "22" },
		{ "[2001:db8::1]", "2001:db8::1", "22" },
	};
	char host[KB_NET_HOST_MAX], port[KB_NET_PORT_MAX], err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(kb_net_split(cases[i].in, "22", host, port, err, sizeof(err)), 0);
		assert_string_equal(host, cases[i].host);
		assert_string_equal(port, cases[i].port);
	}
}

static void
net_split_rejects_bad_forms(void **state)
{
	static const struct {
		const char *in;
		const char *expected;
	} cases[] = {
		{ "", "empty address" },
		{ "::1:22", "needs brackets" },
		{ "[::1:22", "missing ']'" },
		{ "[::1]x22", "unexpected text after ']'" },
		{ ":22", "missing host" },
		{ "[]:22", "missing host" },
		{ "host:", "invalid port ''" },
		{ "host:0", "invalid port '0'" },
		{ "host:65536", "invalid port '65536'" },
		{ "host:ssh", "invalid port 'ssh'" },
		{ "host:+22", "invalid port '+22'" },
		{ "host", "missing port" },
	};
	char host[KB_NET_HOST_MAX], port[KB_NET_PORT_MAX], err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(kb_net_split(cases[i].in, NULL, host, port, err, sizeof(err)),
		    KB_ERR_INVALID_ARGUMENT);
		if (strstr(err, cases[i].expected) == NULL)
			fail_msg("'%s': expected '%s' in '%s'", cases[i].in, cases[i].expected, err);
	}
}

static void
net_parse_numeric_rejects_names(void **state)
{
	struct kb_net_addr addr;
	char err[256];

	assert_int_equal(kb_net_parse("localhost:22", NULL, true, &addr, err, sizeof(err)),
	    KB_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(err, "not a numeric IPv4 or IPv6 address"));
}

static void
net_format_prints_both_families(void **state)
{
	struct kb_net_addr addr;
	char err[256], out[KB_NET_ADDRSTR_MAX];

	assert_int_equal(kb_net_parse("127.0.0.1:2222", NULL, true, &addr, err, sizeof(err)), 0);
	assert_int_equal(addr.ss.ss_family, AF_INET);
	assert_string_equal(kb_net_format((struct sockaddr *)&addr.ss, addr.len, out,
	    sizeof(out)), "127.0.0.1:2222");
	assert_int_equal(kb_net_parse("[::1]:2222", NULL, true, &addr, err, sizeof(err)), 0);
	assert_int_equal(addr.ss.ss_family, AF_INET6);
	assert_string_equal(kb_net_format((struct sockaddr *)&addr.ss, addr.len, out,
	    sizeof(out)), "[::1]:2222");
}

static void
conf_load_reads_limit_keys(void **state)
{
	struct conf_fixture *f = *state;
	const struct kb_route *r;

	assert_int_equal(conf_load_text(f,
	    "[global]\nmax_sessions = 10\n"
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = h:22\n"
	    "max_per_source = 3\nmax_startups = 5\n"
	    "[route b]\nlisten = 127.0.0.1:2223\nupstream = h:22\n"), 0);
	assert_int_equal(f->conf.max_sessions, 10);
	r = &f->conf.routes[0];
	assert_int_equal(r->max_per_source, 3);
	assert_int_equal(r->max_startups, 5);
	r = &f->conf.routes[1];
	assert_int_equal(r->max_per_source, 32);
	assert_int_equal(r->max_startups, 64);
}

static void
conf_init_sets_global_session_limit(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(f->conf.max_sessions, 1024);
}

static void
conf_load_rejects_bad_limit_values(void **state)
{
	static const struct {
		const char *text;
		unsigned int line;
		const char *expected;
	} cases[] = {
		{ "[route a]\nlisten = 127.0.0.1:2222\nupstream = h:22\nmax_per_source = 0\n", 4,
		    "invalid max_per_source '0' in [route a]; expected a number from 1" },
		{ "[route a]\nlisten = 127.0.0.1:2222\nupstream = h:22\nmax_startups = many\n", 4,
		    "invalid max_startups 'many' in [route a]" },
		{ "[route a]\nlisten = 127.0.0.1:2222\nupstream = h:22\nmax_startups = 99999999\n", 4,
		    "invalid max_startups '99999999'" },
		{ "[global]\nmax_sessions = 0\n", 2,
		    "invalid max_sessions '0' in [global]; expected a number from 1" },
		{ "[route a]\nlisten = 127.0.0.1:2222\nupstream = h:22\nmax_startups = 2\n"
		    "max_startups = 3\n", 5, "'max_startups' is set twice in [route a]" },
	};
	struct conf_fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kb_conf_free(&f->conf);
		kb_conf_init(&f->conf);
		unlink(f->path);
		assert_int_equal(conf_load_text(f, cases[i].text), KB_ERR_CONFIG_INVALID);
		assert_error_at(f, cases[i].line, cases[i].expected);
	}
}

/* Writes a new ssh-ed25519 host key to path. */
static void
make_ed25519_key(char *path, size_t len)
{
	struct kb_hostkey *key = NULL;

	snprintf(path, len, "/tmp/test_conf_ed25519.%d", (int)getpid());
	unlink(path);
	assert_int_equal(kb_hostkey_generate(KB_HOSTKEY_ED25519, 0, &key), 0);
	assert_int_equal(kb_hostkey_save(key, path), 0);
	kb_hostkey_free(key);
}

static void
remove_key(const char *path)
{
	char pub[128];

	snprintf(pub, sizeof(pub), "%s.pub", path);
	unlink(path);
	unlink(pub);
}

static void
conf_check_rejects_unserved_hostkey_algorithm(void **state)
{
	struct conf_fixture *f = *state;
	char key[64], text[512];
	int rc;

	make_ed25519_key(key, sizeof(key));
	snprintf(text, sizeof(text),
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\nmode = bridge\n"
	    "hostkey = %s\nhostkey_algorithms = ssh-ed25519,rsa-sha2-256\n", key);
	rc = conf_load_text(f, text);
	remove_key(key);
	assert_int_equal(rc, KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 6, "hostkey_algorithms 'rsa-sha2-256' in [route a] is not served "
	    "by any of the route's host keys; they serve ssh-ed25519");
}

static void
conf_check_accepts_served_hostkey_algorithm(void **state)
{
	struct conf_fixture *f = *state;
	char key[64], text[512];
	int rc;

	make_ed25519_key(key, sizeof(key));
	snprintf(text, sizeof(text),
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\nmode = bridge\n"
	    "hostkey = %s\nhostkey_algorithms = ssh-ed25519\n", key);
	rc = conf_load_text(f, text);
	remove_key(key);
	assert_int_equal(rc, 0);
	assert_string_equal(f->conf.routes[0].hostkey_algorithms, "ssh-ed25519");
}

static void
conf_check_rejects_algorithm_default_keys_lack(void **state)
{
	struct conf_fixture *f = *state;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\nmode = bridge\n"
	    "hostkey_algorithms = ecdsa-sha2-nistp256\n"), KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 5, "hostkey_algorithms 'ecdsa-sha2-nistp256' in [route a] is not "
	    "served by any of the route's host keys; they serve ssh-ed25519,rsa-sha2-512");
}

static void
conf_check_blames_line_of_unloadable_host_key(void **state)
{
	struct conf_fixture *f = *state;
	char key[64], text[512];
	int rc;

	make_file(key, sizeof(key));
	snprintf(text, sizeof(text),
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\nmode = bridge\n"
	    "hostkey = %s\nhostkey_algorithms = ssh-ed25519\n", key);
	rc = conf_load_text(f, text);
	unlink(key);
	assert_int_equal(rc, KB_ERR_CONFIG_INVALID);
	assert_error_at(f, 5, "cannot load host key");
}

static void
conf_check_accepts_usable_client_lists(void **state)
{
	struct conf_fixture *f = *state;
	const struct kb_route *r;

	assert_int_equal(conf_load_text(f,
	    "[route a]\nlisten = 127.0.0.1:2222\nupstream = 127.0.0.1\nmode = bridge\n"
	    "kex = curve25519-sha256,diffie-hellman-group16-sha512\n"
	    "ciphers = aes256-ctr,chacha20-poly1305@openssh.com\n"
	    "macs = hmac-sha2-512\n"), 0);
	r = &f->conf.routes[0];
	assert_int_equal(r->kex_line, 5);
	assert_int_equal(r->ciphers_line, 6);
	assert_int_equal(r->macs_line, 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(conf_load_reads_limit_keys, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_init_sets_global_session_limit, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_bad_limit_values, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_check_rejects_unserved_hostkey_algorithm,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_check_accepts_served_hostkey_algorithm,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_check_rejects_algorithm_default_keys_lack,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_check_blames_line_of_unloadable_host_key,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_check_accepts_usable_client_lists,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_reads_full_file, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_applies_defaults, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_unknown_route_key, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_unknown_key_suggests_closest, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_unknown_global_key_suggests_closest, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_unknown_global_key, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_bad_values, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_bad_global_values, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_applies_daemon_defaults, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_reads_daemon_keys, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_accepts_zero_drain_timeout, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_bad_drain_timeout, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_unknown_user, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_global_set_sets_user_without_prefix,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_print_shows_daemon_keys, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_missing_listen, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_missing_upstream, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_duplicate_listen, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_bad_listen_address, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_blames_line_of_bad_address, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_accepts_indented_keys, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_continuation_line, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_resolve_blames_upstream_line, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_print_shows_upstream_port_and_address,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_structure_errors, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_file_without_routes, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_reports_missing_file, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_add_route_builds_tap_route, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_reads_bridge_route, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_applies_bridge_defaults, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_bad_bridge_values, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_reads_rekey_limit,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_print_shows_rekey_limit,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_blames_line_of_bad_upstream_list,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_window_over_memory_limit,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_route_set_builds_cli_bridge_route, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_route_set_reports_without_file_prefix,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(conf_add_route_accepts_auto_mode, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_check_rejects_bad_cli_upstream, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_reads_transparent_route, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_defaults_transparent_to_no, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_transparent_with_upstream, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_transparent_without_allow, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_allow_without_transparent, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_load_rejects_bad_transparent_values, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(conf_route_set_builds_transparent_route, conf_setup,
		    conf_teardown),
		cmocka_unit_test(exec_policy_accepts_scp_as_scp_sends_it),
		cmocka_unit_test(exec_policy_rejects_other_commands),
		cmocka_unit_test(exec_policy_adds_configured_patterns),
		cmocka_unit_test(net_split_accepts_address_forms),
		cmocka_unit_test(net_split_rejects_bad_forms),
		cmocka_unit_test(net_parse_numeric_rejects_names),
		cmocka_unit_test(net_format_prints_both_families),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
