/*
 * Unit tests for user authentication and the connection protocol
 * (kexbridge/connection.h).
 *
 * The transport functions the connection layer calls (kb_transport_next,
 * kb_transport_next_seqnr, kb_transport_send,
 * kb_transport_send_unimplemented, kb_transport_set_authenticated and
 * kb_transport_disconnect) are defined below. They stand in for the server
 * transport so that each test scripts the exact sequence of messages the
 * client sends and checks every message sent back. The linker takes these
 * definitions, and no member of libkbcore that defines them is pulled in,
 * because the connection layer calls nothing else of the transport.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kexbridge/buf.h"
#include "kexbridge/connection.h"
#include "kexbridge/err.h"
#include "kexbridge/transport.h"

#define SCRIPT_MAX	64
#define SENT_MAX	64
/* Sequence number of the first scripted message; the others follow it. */
#define SEQNR_BASE	1000

/* The transport double: messages to hand out, and messages sent. */
struct kb_transport {
	struct kb_buf *inbound[SCRIPT_MAX];
	size_t in_head;
	size_t in_count;
	struct kb_buf *sent[SENT_MAX];
	size_t sent_head;
	size_t sent_count;
	bool disconnected;
	uint32_t reason;
	char description[128];
	uint32_t next_seqnr;
	bool authenticated;
};

int
kb_transport_next(struct kb_transport *t, struct kb_buf *payload)
{
	struct kb_buf *msg;
	int r;

	if (t->in_head == t->in_count)
		return KB_ERR_INCOMPLETE;
	t->next_seqnr = SEQNR_BASE + (uint32_t)t->in_head;
	msg = t->inbound[t->in_head++];
	kb_buf_reset(payload);
	r = kb_buf_put(payload, kb_buf_ptr(msg), kb_buf_len(msg));
	kb_buf_free(msg);
	return r;
}

int
kb_transport_send(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	struct kb_buf *copy;

	if (t->disconnected)
		return KB_ERR_CONNECTION_CLOSED;
	assert_true(t->sent_count < SENT_MAX);
	copy = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	assert_non_null(copy);
	assert_int_equal(kb_buf_put(copy, payload, len), KB_OK);
	t->sent[t->sent_count++] = copy;
	return KB_OK;
}

uint32_t
kb_transport_next_seqnr(const struct kb_transport *t)
{
	return t->next_seqnr;
}

/* Records the UNIMPLEMENTED like any other message sent. */
int
kb_transport_send_unimplemented(struct kb_transport *t, uint32_t seqnr)
{
	uint8_t msg[5];

	msg[0] = 3;
	msg[1] = (uint8_t)(seqnr >> 24);
	msg[2] = (uint8_t)(seqnr >> 16);
	msg[3] = (uint8_t)(seqnr >> 8);
	msg[4] = (uint8_t)seqnr;
	return kb_transport_send(t, msg, sizeof(msg));
}

void
kb_transport_set_authenticated(struct kb_transport *t)
{
	t->authenticated = true;
}

int
kb_transport_disconnect(struct kb_transport *t, uint32_t reason, const char *description)
{
	/* The connection layer sends at most one DISCONNECT. */
	assert_false(t->disconnected);
	t->disconnected = true;
	t->reason = reason;
	snprintf(t->description, sizeof(t->description), "%s", description);
	return KB_OK;
}

/*
 * Builds a message from a format: 'b' a byte (int), 'u' a uint32 (unsigned),
 * 's' a string (const char *), 'S' a string of given length
 * (const void *, size_t).
 */
static struct kb_buf *
message_build(const char *format, va_list ap)
{
	struct kb_buf *msg = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	const void *data;
	size_t len;

	assert_non_null(msg);
	for (; *format != '\0'; format++) {
		switch (*format) {
		case 'b':
			assert_int_equal(kb_buf_put_u8(msg, (uint8_t)va_arg(ap, int)), KB_OK);
			break;
		case 'u':
			assert_int_equal(kb_buf_put_u32(msg, va_arg(ap, unsigned)), KB_OK);
			break;
		case 's':
			assert_int_equal(kb_buf_put_cstring(msg, va_arg(ap, const char *)), KB_OK);
			break;
		case 'S':
			data = va_arg(ap, const void *);
			len = va_arg(ap, size_t);
			assert_int_equal(kb_buf_put_string(msg, data, len), KB_OK);
			break;
		default:
			fail_msg("bad format character %c", *format);
		}
	}
	return msg;
}

/* Queues a message from the client. */
static void
script(struct kb_transport *t, const char *format, ...)
{
	va_list ap;

	assert_true(t->in_count < SCRIPT_MAX);
	va_start(ap, format);
	t->inbound[t->in_count++] = message_build(format, ap);
	va_end(ap);
}

/* Checks that the next message sent is the one the format builds. */
static void
expect_sent(struct kb_transport *t, const char *format, ...)
{
	struct kb_buf *want, *got;
	va_list ap;

	assert_true(t->sent_head < t->sent_count);
	got = t->sent[t->sent_head++];
	va_start(ap, format);
	want = message_build(format, ap);
	va_end(ap);
	assert_int_equal(kb_buf_len(got), kb_buf_len(want));
	assert_memory_equal(kb_buf_ptr(got), kb_buf_ptr(want), kb_buf_len(want));
	kb_buf_free(want);
}

static void
expect_nothing_sent(const struct kb_transport *t)
{
	assert_int_equal(t->sent_head, t->sent_count);
}

static void
expect_disconnect(const struct kb_transport *t, uint32_t reason)
{
	assert_true(t->disconnected);
	assert_int_equal(t->reason, reason);
}

struct fixture {
	struct kb_transport t;
	struct kb_conn_config config;
	struct kb_conn *conn;
	struct kb_conn_event ev;
};

static const char *const exec_allow[] = { "scp -t *", "scp -f *", NULL };

#define WINDOW		4096
#define MAX_PACKET	1024
#define METHODS		"password,keyboard-interactive"

static int
fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->config.allow_password = true;
	f->config.allow_kbdint = true;
	f->config.max_auth_tries = 3;
	f->config.exec_allow = exec_allow;
	f->config.allow_sftp = true;
	f->config.window_size = WINDOW;
	f->config.max_packet = MAX_PACKET;
	f->config.max_channels = 2;
	assert_int_equal(kb_conn_new(&f->t, &f->config, &f->conn), KB_OK);
	*state = f;
	return 0;
}

static int
fixture_teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	kb_conn_free(f->conn);
	for (i = f->t.in_head; i < f->t.in_count; i++)
		kb_buf_free(f->t.inbound[i]);
	for (i = 0; i < f->t.sent_count; i++)
		kb_buf_free(f->t.sent[i]);
	free(f);
	return 0;
}

static int
next(struct fixture *f)
{
	return kb_conn_next(f->conn, &f->ev);
}

static void
script_password(struct kb_transport *t, const char *user, const char *password)
{
	script(t, "bsssbs", SSH_MSG_USERAUTH_REQUEST, user, "ssh-connection",
	    "password", 0, password);
}

static void
login(struct fixture *f)
{
	script_password(&f->t, "backup", "hunter2");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_AUTH_PASSWORD);
	assert_int_equal(kb_conn_auth_success(f->conn), KB_OK);
	expect_sent(&f->t, "b", SSH_MSG_USERAUTH_SUCCESS);
}

/* Opens a session channel with the client's id, window and maximum packet. */
static uint32_t
open_session(struct fixture *f, uint32_t remote_id, uint32_t window, uint32_t max_packet)
{
	script(&f->t, "bsuuu", SSH_MSG_CHANNEL_OPEN, "session", remote_id, window, max_packet);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_OPEN);
	expect_sent(&f->t, "buuuu", SSH_MSG_CHANNEL_OPEN_CONFIRMATION, remote_id,
	    f->ev.channel, WINDOW, MAX_PACKET);
	return f->ev.channel;
}

/* Opens a session channel and starts "scp -t /backup" on it. */
static uint32_t
start_scp(struct fixture *f, uint32_t remote_id)
{
	uint32_t channel = open_session(f, remote_id, WINDOW, MAX_PACKET);

	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, channel, "exec", 1, "scp -t /backup");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_EXEC);
	assert_int_equal(kb_conn_channel_request_reply(f->conn, channel, true), KB_OK);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_SUCCESS, remote_id);
	return channel;
}

/* User authentication. */

static void
userauth_none_lists_methods(void **state)
{
	struct fixture *f = *state;

	script(&f->t, "bsss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection", "none");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);
	assert_false(kb_conn_authenticated(f->conn));
	assert_false(f->t.disconnected);
}

static void
userauth_methods_follow_config(void **state)
{
	struct fixture *f = *state;

	kb_conn_free(f->conn);
	f->config.allow_kbdint = false;
	assert_int_equal(kb_conn_new(&f->t, &f->config, &f->conn), KB_OK);
	script(&f->t, "bsss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection", "none");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, "password", 0);

	/* keyboard-interactive is not offered, so it fails like publickey. */
	script(&f->t, "bsssss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection",
	    "keyboard-interactive", "", "");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, "password", 0);
}

static void
userauth_password_success(void **state)
{
	struct fixture *f = *state;

	script_password(&f->t, "backup", "hunter2");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_AUTH_PASSWORD);
	assert_string_equal(f->ev.user, "backup");
	assert_string_equal(f->ev.secret, "hunter2");
	assert_string_equal(kb_conn_user(f->conn), "backup");
	expect_nothing_sent(&f->t);

	assert_int_equal(kb_conn_auth_success(f->conn), KB_OK);
	expect_sent(&f->t, "b", SSH_MSG_USERAUTH_SUCCESS);
	assert_true(kb_conn_authenticated(f->conn));
	/* No decision is owed any more. */
	assert_int_equal(kb_conn_auth_success(f->conn), KB_ERR_INVALID_ARGUMENT);
}

static void
userauth_pending_decision_holds_messages(void **state)
{
	struct fixture *f = *state;

	script_password(&f->t, "backup", "hunter2");
	script_password(&f->t, "backup", "second");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_AUTH_PASSWORD);

	/* The second request stays with the transport until the decision. */
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	assert_int_equal(f->ev.type, KB_CONN_EV_NONE);
	assert_int_equal(f->t.in_head, 1);
	expect_nothing_sent(&f->t);

	assert_int_equal(kb_conn_auth_failure(f->conn), KB_OK);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);
	assert_int_equal(next(f), KB_OK);
	assert_string_equal(f->ev.secret, "second");
}

/*
 * The secret must be wiped by the next kb_conn_next call. The storage it
 * lives in stays allocated until kb_conn_free (it is wiped, not freed), so
 * the test keeps the pointer from the event and reads the same bytes after
 * the next call without touching freed memory.
 */
static void
userauth_password_wiped_after_next(void **state)
{
	struct fixture *f = *state;
	const char *seen;
	size_t i, len;

	script_password(&f->t, "backup", "correct horse battery");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_AUTH_PASSWORD);
	seen = f->ev.secret;
	len = strlen(seen);
	assert_int_equal(len, strlen("correct horse battery"));

	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	assert_null(f->ev.secret);
	for (i = 0; i < len; i++)
		assert_int_equal(seen[i], 0);
}

static void
userauth_failures_reach_max_tries(void **state)
{
	struct fixture *f = *state;
	int i;

	/* A first "none" does not count, as in sshd. */
	script(&f->t, "bsss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection", "none");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);

	for (i = 0; i < 2; i++) {
		script_password(&f->t, "backup", "wrong");
		assert_int_equal(next(f), KB_OK);
		assert_int_equal(kb_conn_auth_failure(f->conn), KB_OK);
		expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);
	}
	assert_false(f->t.disconnected);

	/* The third failure reaches max_auth_tries: DISCONNECT, no FAILURE. */
	script_password(&f->t, "backup", "wrong");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(kb_conn_auth_failure(f->conn), KB_ERR_CONNECTION_CLOSED);
	expect_nothing_sent(&f->t);
	expect_disconnect(&f->t, 14);
	assert_int_equal(next(f), KB_ERR_CONNECTION_CLOSED);
}

static void
userauth_rejected_methods_count(void **state)
{
	struct fixture *f = *state;

	/* A password change cannot be relayed: failure, no event. */
	script(&f->t, "bsssbss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection",
	    "password", 1, "old", "new");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);

	script(&f->t, "bsssbss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection",
	    "publickey", 0, "ssh-ed25519", "key");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);
	assert_false(f->t.disconnected);

	script(&f->t, "bsss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection",
	    "hostbased");
	assert_int_equal(next(f), KB_ERR_CONNECTION_CLOSED);
	expect_nothing_sent(&f->t);
	expect_disconnect(&f->t, 14);
}

static void
userauth_user_change_disconnects(void **state)
{
	struct fixture *f = *state;

	script(&f->t, "bsss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection", "none");
	script(&f->t, "bsss", SSH_MSG_USERAUTH_REQUEST, "root", "ssh-connection", "none");
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);
	expect_disconnect(&f->t, 2);
	assert_string_equal(kb_conn_user(f->conn), "backup");
}

static void
userauth_wrong_service_disconnects(void **state)
{
	struct fixture *f = *state;

	script(&f->t, "bsss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-userauth", "none");
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_nothing_sent(&f->t);
	expect_disconnect(&f->t, 7);
}

static void
userauth_kbdint_round_trip(void **state)
{
	struct fixture *f = *state;
	const char *prompts[] = { "Password: ", "Token: " };
	const bool echo[] = { false, true };
	const size_t seen_len[] = { 7, 6 };
	const char *seen[2];
	size_t i, j;

	script(&f->t, "bsssss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection",
	    "keyboard-interactive", "", "");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_AUTH_KBDINT);
	assert_string_equal(f->ev.user, "backup");

	assert_int_equal(kb_conn_auth_kbdint_prompts(f->conn, "upstream", "Log in",
	    prompts, echo, 2), KB_OK);
	expect_sent(&f->t, "bsssusbsb", SSH_MSG_USERAUTH_INFO_REQUEST, "upstream",
	    "Log in", "", 2, "Password: ", 0, "Token: ", 1);

	script(&f->t, "buss", SSH_MSG_USERAUTH_INFO_RESPONSE, 2, "hunter2", "123456");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_AUTH_KBDINT_RESPONSE);
	assert_int_equal(f->ev.response_count, 2);
	assert_string_equal(f->ev.responses[0], "hunter2");
	assert_string_equal(f->ev.responses[1], "123456");
	seen[0] = f->ev.responses[0];
	seen[1] = f->ev.responses[1];

	assert_int_equal(kb_conn_auth_success(f->conn), KB_OK);
	expect_sent(&f->t, "b", SSH_MSG_USERAUTH_SUCCESS);
	assert_true(kb_conn_authenticated(f->conn));

	/* As for passwords, the storage is wiped, not freed, by the next call. */
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	for (i = 0; i < 2; i++)
		for (j = 0; j < seen_len[i]; j++)
			assert_int_equal(seen[i][j], 0);
}

static void
userauth_kbdint_count_mismatch_fails(void **state)
{
	struct fixture *f = *state;
	const char *prompts[] = { "Password: " };

	script(&f->t, "bsssss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection",
	    "keyboard-interactive", "", "");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(kb_conn_auth_kbdint_prompts(f->conn, NULL, NULL, prompts,
	    NULL, 1), KB_OK);
	expect_sent(&f->t, "bsssusb", SSH_MSG_USERAUTH_INFO_REQUEST, "", "", "", 1,
	    "Password: ", 0);

	/* RFC 4256 section 3.4: a count that does not match gets a failure. */
	script(&f->t, "buss", SSH_MSG_USERAUTH_INFO_RESPONSE, 2, "a", "b");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);
	assert_false(f->t.disconnected);

	/* The exchange is over, so another INFO_RESPONSE is unexpected. */
	script(&f->t, "bus", SSH_MSG_USERAUTH_INFO_RESPONSE, 1, "a");
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_disconnect(&f->t, 2);
}

static void
userauth_kbdint_abandon_counts(void **state)
{
	struct fixture *f = *state;
	const char *prompts[] = { "Password: " };

	script(&f->t, "bsssss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection",
	    "keyboard-interactive", "", "");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(kb_conn_auth_kbdint_prompts(f->conn, NULL, NULL, prompts,
	    NULL, 1), KB_OK);
	expect_sent(&f->t, "bsssusb", SSH_MSG_USERAUTH_INFO_REQUEST, "", "", "", 1,
	    "Password: ", 0);

	/* A new request abandons the exchange, which counts as the first failure. */
	script_password(&f->t, "backup", "wrong");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_AUTH_PASSWORD);
	assert_int_equal(kb_conn_auth_failure(f->conn), KB_OK);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);

	script_password(&f->t, "backup", "wrong");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(kb_conn_auth_failure(f->conn), KB_ERR_CONNECTION_CLOSED);
	expect_disconnect(&f->t, 14);
}

/* Channels. */

static void
channel_open_session_confirmed(void **state)
{
	struct fixture *f = *state;
	uint32_t a, b;

	login(f);
	a = open_session(f, 7, WINDOW, MAX_PACKET);
	b = open_session(f, 8, WINDOW, MAX_PACKET);
	assert_int_not_equal(a, b);
	assert_false(kb_conn_channel_closed(f->conn, a));

	/* max_channels is 2: the third gets RESOURCE_SHORTAGE. */
	script(&f->t, "bsuuu", SSH_MSG_CHANNEL_OPEN, "session", 9, WINDOW, MAX_PACKET);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
	assert_int_equal(f->ev.channel, UINT32_MAX);
	expect_sent(&f->t, "buuss", SSH_MSG_CHANNEL_OPEN_FAILURE, 9, 4,
	    "too many channels", "");
}

static void
channel_open_other_types_prohibited(void **state)
{
	struct fixture *f = *state;
	static const char *const types[] = {
		"direct-tcpip", "x11", "auth-agent@openssh.com", "forwarded-tcpip",
		"direct-streamlocal@openssh.com",
	};
	char want[64];
	size_t i;

	login(f);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		script(&f->t, "bsuuuss", SSH_MSG_CHANNEL_OPEN, types[i], 3, WINDOW,
		    MAX_PACKET, "127.0.0.1", "22");
		assert_int_equal(next(f), KB_OK);
		assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
		snprintf(want, sizeof(want), "channel open %s", types[i]);
		assert_string_equal(f->ev.text, want);
		expect_sent(&f->t, "buuss", SSH_MSG_CHANNEL_OPEN_FAILURE, 3, 1,
		    "channel type not allowed", "");
	}
	assert_false(f->t.disconnected);
}

static void
channel_exec_allowed_then_reply(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	login(f);
	channel = open_session(f, 5, WINDOW, MAX_PACKET);
	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, channel, "exec", 1,
	    "scp -f /backup/config.xml");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_EXEC);
	assert_int_equal(f->ev.channel, channel);
	assert_string_equal(f->ev.text, "scp -f /backup/config.xml");
	/* The reply waits for the bridge. */
	expect_nothing_sent(&f->t);
	assert_int_equal(kb_conn_channel_request_reply(f->conn, channel, true), KB_OK);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_SUCCESS, 5);
	assert_int_equal(kb_conn_channel_request_reply(f->conn, channel, true),
	    KB_ERR_INVALID_ARGUMENT);

	/* Only one exec or subsystem per channel. */
	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, channel, "subsystem", 1, "sftp");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
	assert_string_equal(f->ev.text, "subsystem sftp");
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);
}

static void
channel_exec_upstream_failure_replied(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	login(f);
	channel = open_session(f, 5, WINDOW, MAX_PACKET);
	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, channel, "exec", 1, "scp -t /x");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(kb_conn_channel_request_reply(f->conn, channel, false), KB_OK);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);
}

static void
channel_exec_not_allowed_refused(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	login(f);
	channel = open_session(f, 5, WINDOW, MAX_PACKET);
	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, channel, "exec", 1, "rm -rf /");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
	assert_int_equal(f->ev.channel, channel);
	assert_string_equal(f->ev.text, "exec rm -rf /");
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);

	/* An embedded NUL cannot smuggle a command past the pattern. */
	script(&f->t, "busbS", SSH_MSG_CHANNEL_REQUEST, channel, "exec", 1,
	    "scp -t /x\0; sh", (size_t)14);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);
}

static void
channel_subsystem_sftp_only(void **state)
{
	struct fixture *f = *state;
	uint32_t a, b;

	login(f);
	a = open_session(f, 5, WINDOW, MAX_PACKET);
	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, a, "subsystem", 1, "netconf");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
	assert_string_equal(f->ev.text, "subsystem netconf");
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);

	b = open_session(f, 6, WINDOW, MAX_PACKET);
	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, b, "subsystem", 1, "sftp");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_SUBSYSTEM);
	assert_int_equal(f->ev.channel, b);
	assert_string_equal(f->ev.text, "sftp");
}

static void
channel_sftp_refused_when_disabled(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	kb_conn_free(f->conn);
	f->config.allow_sftp = false;
	assert_int_equal(kb_conn_new(&f->t, &f->config, &f->conn), KB_OK);
	login(f);
	channel = open_session(f, 5, WINDOW, MAX_PACKET);
	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, channel, "subsystem", 1, "sftp");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);
}

static void
channel_interactive_requests_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {
		"pty-req", "shell", "x11-req", "auth-agent-req@openssh.com",
		"signal", "window-change",
	};
	uint32_t channel;
	size_t i;

	login(f);
	channel = open_session(f, 5, WINDOW, MAX_PACKET);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		script(&f->t, "busb", SSH_MSG_CHANNEL_REQUEST, channel, names[i], 1);
		assert_int_equal(next(f), KB_OK);
		assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
		assert_int_equal(f->ev.channel, channel);
		assert_string_equal(f->ev.text, names[i]);
		expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);
	}

	/* Without want_reply the refusal is only logged. */
	script(&f->t, "busb", SSH_MSG_CHANNEL_REQUEST, channel, "shell", 0);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
	expect_nothing_sent(&f->t);
	assert_false(f->t.disconnected);
}

static void
channel_env_ignored(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	login(f);
	channel = open_session(f, 5, WINDOW, MAX_PACKET);
	script(&f->t, "busbss", SSH_MSG_CHANNEL_REQUEST, channel, "env", 0, "LANG", "C");
	script(&f->t, "busbss", SSH_MSG_CHANNEL_REQUEST, channel, "env", 1, "LC_ALL", "C");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	assert_int_equal(f->ev.type, KB_CONN_EV_NONE);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);
	expect_nothing_sent(&f->t);
}

static void
channel_replies_keep_request_order(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	login(f);
	channel = open_session(f, 5, WINDOW, MAX_PACKET);
	script(&f->t, "busbs", SSH_MSG_CHANNEL_REQUEST, channel, "exec", 1, "scp -t /x");
	script(&f->t, "busbss", SSH_MSG_CHANNEL_REQUEST, channel, "env", 1, "A", "b");
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_EXEC);
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	/* The env FAILURE waits behind the exec reply. */
	expect_nothing_sent(&f->t);

	assert_int_equal(kb_conn_channel_request_reply(f->conn, channel, true), KB_OK);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_SUCCESS, 5);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_FAILURE, 5);
	expect_nothing_sent(&f->t);
}

static void
channel_data_within_window(void **state)
{
	struct fixture *f = *state;
	uint8_t block[MAX_PACKET];
	uint32_t channel;
	int i;

	memset(block, 'x', sizeof(block));
	login(f);
	channel = start_scp(f, 5);
	script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, "C0644 3 a\n", (size_t)10);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_DATA);
	assert_int_equal(f->ev.channel, channel);
	assert_int_equal(f->ev.ext, 0);
	assert_int_equal(f->ev.len, 10);
	assert_memory_equal(f->ev.data, "C0644 3 a\n", 10);

	script(&f->t, "buuS", SSH_MSG_CHANNEL_EXTENDED_DATA, channel, 1, "err", (size_t)3);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_DATA);
	assert_int_equal(f->ev.ext, 1);
	assert_int_equal(f->ev.len, 3);

	/* Fill the rest of the window exactly: 4096 - 13 bytes. */
	for (i = 0; i < 3; i++) {
		script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, block, sizeof(block));
		assert_int_equal(next(f), KB_OK);
		assert_int_equal(f->ev.len, MAX_PACKET);
	}
	script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, block, (size_t)(WINDOW - 13 - 3 * MAX_PACKET));
	assert_int_equal(next(f), KB_OK);
	assert_false(f->t.disconnected);
}

static void
channel_data_beyond_window_rejected(void **state)
{
	struct fixture *f = *state;
	uint8_t block[MAX_PACKET];
	uint32_t channel;
	int i;

	memset(block, 'x', sizeof(block));
	login(f);
	channel = start_scp(f, 5);
	for (i = 0; i < WINDOW / MAX_PACKET; i++) {
		script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, block, sizeof(block));
		assert_int_equal(next(f), KB_OK);
	}
	script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, "y", (size_t)1);
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_disconnect(&f->t, 2);
}

static void
channel_data_over_max_packet_rejected(void **state)
{
	struct fixture *f = *state;
	uint8_t block[MAX_PACKET + 1];
	uint32_t channel;

	memset(block, 'x', sizeof(block));
	login(f);
	channel = start_scp(f, 5);
	script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, block, sizeof(block));
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_disconnect(&f->t, 2);
}

static void
channel_window_adjust_after_consumed(void **state)
{
	struct fixture *f = *state;
	uint8_t block[MAX_PACKET];
	uint32_t channel;
	int i;

	memset(block, 'x', sizeof(block));
	login(f);
	channel = start_scp(f, 5);
	for (i = 0; i < 3; i++) {
		script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, block, sizeof(block));
		assert_int_equal(next(f), KB_OK);
	}
	/* Only what was received can be consumed. */
	assert_int_equal(kb_conn_channel_consumed(f->conn, channel, 3 * MAX_PACKET + 1),
	    KB_ERR_INVALID_ARGUMENT);

	/* Below half the window: no WINDOW_ADJUST yet. */
	assert_int_equal(kb_conn_channel_consumed(f->conn, channel, MAX_PACKET), KB_OK);
	expect_nothing_sent(&f->t);
	assert_int_equal(kb_conn_channel_consumed(f->conn, channel, MAX_PACKET), KB_OK);
	expect_sent(&f->t, "buu", SSH_MSG_CHANNEL_WINDOW_ADJUST, 5, 2 * MAX_PACKET);

	/* The reopened window takes 1024 + 2048 more bytes, not one more. */
	for (i = 0; i < 3; i++) {
		script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, block, sizeof(block));
		assert_int_equal(next(f), KB_OK);
	}
	script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, "y", (size_t)1);
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_disconnect(&f->t, 2);
}

static void
channel_send_respects_client_window(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4000];
	uint32_t channel;
	size_t taken;

	memset(data, 'd', sizeof(data));
	login(f);
	channel = open_session(f, 5, 2500, 1000);
	assert_int_equal(kb_conn_channel_send_window(f->conn, channel), 2500);

	assert_int_equal(kb_conn_channel_send(f->conn, channel, 0, data, sizeof(data),
	    &taken), KB_OK);
	assert_int_equal(taken, 2500);
	expect_sent(&f->t, "buS", SSH_MSG_CHANNEL_DATA, 5, data, (size_t)1000);
	expect_sent(&f->t, "buS", SSH_MSG_CHANNEL_DATA, 5, data, (size_t)1000);
	expect_sent(&f->t, "buS", SSH_MSG_CHANNEL_DATA, 5, data, (size_t)500);
	assert_int_equal(kb_conn_channel_send_window(f->conn, channel), 0);

	/* A full window takes nothing. */
	assert_int_equal(kb_conn_channel_send(f->conn, channel, 0, data, 10, &taken), KB_OK);
	assert_int_equal(taken, 0);
	expect_nothing_sent(&f->t);

	script(&f->t, "buu", SSH_MSG_CHANNEL_WINDOW_ADJUST, channel, 100);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_WINDOW);
	assert_int_equal(f->ev.channel, channel);
	assert_int_equal(kb_conn_channel_send_window(f->conn, channel), 100);

	assert_int_equal(kb_conn_channel_send(f->conn, channel, 1, data, 300, &taken), KB_OK);
	assert_int_equal(taken, 100);
	expect_sent(&f->t, "buuS", SSH_MSG_CHANNEL_EXTENDED_DATA, 5, 1, data, (size_t)100);
}

static void
channel_window_adjust_overflow_rejected(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	login(f);
	channel = open_session(f, 5, 0xfffffff0u, 1000);
	script(&f->t, "buu", SSH_MSG_CHANNEL_WINDOW_ADJUST, channel, 0x0f);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(kb_conn_channel_send_window(f->conn, channel), 0xffffffffu);
	script(&f->t, "buu", SSH_MSG_CHANNEL_WINDOW_ADJUST, channel, 1);
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_disconnect(&f->t, 2);
}

static void
channel_eof_exit_status_close_order(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;
	size_t taken;

	login(f);
	channel = start_scp(f, 5);
	script(&f->t, "bu", SSH_MSG_CHANNEL_EOF, channel);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_EOF);
	assert_int_equal(f->ev.channel, channel);

	assert_int_equal(kb_conn_channel_send_eof(f->conn, channel), KB_OK);
	assert_int_equal(kb_conn_channel_exit_status(f->conn, channel, 0), KB_OK);
	assert_int_equal(kb_conn_channel_close(f->conn, channel), KB_OK);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_EOF, 5);
	expect_sent(&f->t, "busbu", SSH_MSG_CHANNEL_REQUEST, 5, "exit-status", 0, 0);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_CLOSE, 5);

	/* Nothing goes out after our CLOSE. */
	assert_int_equal(kb_conn_channel_send(f->conn, channel, 0, (const uint8_t *)"x", 1,
	    &taken), KB_ERR_INVALID_ARGUMENT);
	assert_int_equal(kb_conn_channel_exit_status(f->conn, channel, 1),
	    KB_ERR_INVALID_ARGUMENT);
	assert_false(kb_conn_channel_closed(f->conn, channel));

	/* The client's CLOSE completes it; ours is not sent twice. */
	script(&f->t, "bu", SSH_MSG_CHANNEL_CLOSE, channel);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_CLOSE);
	expect_nothing_sent(&f->t);
	assert_true(kb_conn_channel_closed(f->conn, channel));
}

static void
channel_exit_signal_sent(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	login(f);
	channel = start_scp(f, 5);
	assert_int_equal(kb_conn_channel_exit_signal(f->conn, channel, "TERM", false,
	    "upstream closed"), KB_OK);
	expect_sent(&f->t, "busbsbss", SSH_MSG_CHANNEL_REQUEST, 5, "exit-signal", 0,
	    "TERM", 0, "upstream closed", "");
	/* One exit-status or exit-signal per channel. */
	assert_int_equal(kb_conn_channel_exit_status(f->conn, channel, 0),
	    KB_ERR_INVALID_ARGUMENT);
}

static void
channel_client_close_answered(void **state)
{
	struct fixture *f = *state;
	uint32_t channel, again;

	login(f);
	channel = start_scp(f, 5);
	script(&f->t, "bu", SSH_MSG_CHANNEL_CLOSE, channel);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_CHANNEL_CLOSE);
	assert_int_equal(f->ev.channel, channel);
	expect_sent(&f->t, "bu", SSH_MSG_CHANNEL_CLOSE, 5);
	assert_true(kb_conn_channel_closed(f->conn, channel));

	/* The number is free again. */
	again = open_session(f, 6, WINDOW, MAX_PACKET);
	assert_int_equal(again, channel);
}

static void
channel_data_after_close_rejected(void **state)
{
	struct fixture *f = *state;
	uint32_t channel;

	login(f);
	channel = start_scp(f, 5);
	script(&f->t, "bu", SSH_MSG_CHANNEL_CLOSE, channel);
	script(&f->t, "buS", SSH_MSG_CHANNEL_DATA, channel, "x", (size_t)1);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_disconnect(&f->t, 2);
}

static void
global_keepalive_gets_request_failure(void **state)
{
	struct fixture *f = *state;

	login(f);
	script(&f->t, "bsb", SSH_MSG_GLOBAL_REQUEST, "keepalive@openssh.com", 1);
	script(&f->t, "bsb", SSH_MSG_GLOBAL_REQUEST, "no-more-sessions@openssh.com", 0);
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "b", SSH_MSG_REQUEST_FAILURE);
	expect_nothing_sent(&f->t);
	assert_false(f->t.disconnected);
}

static void
global_port_forwarding_refused(void **state)
{
	struct fixture *f = *state;

	login(f);
	script(&f->t, "bsbsu", SSH_MSG_GLOBAL_REQUEST, "tcpip-forward", 1, "127.0.0.1", 8022);
	assert_int_equal(next(f), KB_OK);
	assert_int_equal(f->ev.type, KB_CONN_EV_REFUSED);
	assert_int_equal(f->ev.channel, UINT32_MAX);
	assert_string_equal(f->ev.text, "tcpip-forward");
	expect_sent(&f->t, "b", SSH_MSG_REQUEST_FAILURE);
}

/* Unassigned message numbers. */

#define MSG_UNIMPLEMENTED	3

/*
 * Numbers that no RFC assigns get UNIMPLEMENTED naming their packet's
 * sequence number, and the messages behind them are still handled.
 */
static void
conn_unassigned_gets_unimplemented(void **state)
{
	struct fixture *f = *state;

	script(&f->t, "bs", 54, "before login");
	script(&f->t, "b", 62);
	script(&f->t, "bsss", SSH_MSG_USERAUTH_REQUEST, "backup", "ssh-connection", "none");
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bu", MSG_UNIMPLEMENTED, SEQNR_BASE);
	expect_sent(&f->t, "bu", MSG_UNIMPLEMENTED, SEQNR_BASE + 1);
	expect_sent(&f->t, "bsb", SSH_MSG_USERAUTH_FAILURE, METHODS, 0);
	assert_false(f->t.disconnected);

	login(f);
	script(&f->t, "bu", 101, 7);
	script(&f->t, "b", 127);
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	expect_sent(&f->t, "bu", MSG_UNIMPLEMENTED, SEQNR_BASE + 4);
	expect_sent(&f->t, "bu", MSG_UNIMPLEMENTED, SEQNR_BASE + 5);
	assert_false(f->t.disconnected);
	open_session(f, 9, WINDOW, MAX_PACKET);
	assert_false(f->t.disconnected);
}

/* A known message where the state does not allow it stays a protocol error. */
static void
conn_known_out_of_place_disconnects(void **state)
{
	struct fixture *f = *state;

	/* INFO_RESPONSE with no keyboard-interactive exchange running. */
	script(&f->t, "bu", SSH_MSG_USERAUTH_INFO_RESPONSE, 0);
	assert_int_equal(next(f), KB_ERR_UNEXPECTED_MESSAGE);
	expect_nothing_sent(&f->t);
	expect_disconnect(&f->t, 2);
}

static void
conn_auth_success_reaches_transport(void **state)
{
	struct fixture *f = *state;

	login(f);
	assert_false(f->t.authenticated);
	assert_int_equal(next(f), KB_ERR_INCOMPLETE);
	assert_true(f->t.authenticated);
}

/* Every message number through every state. */

enum walk_state {
	WALK_PREAUTH,
	WALK_KBDINT,
	WALK_AUTHENTICATED,
};

static bool
walk_accepts(enum walk_state state, unsigned int type)
{
	switch (state) {
	case WALK_PREAUTH:
		return type == SSH_MSG_USERAUTH_REQUEST;
	case WALK_KBDINT:
		return type == SSH_MSG_USERAUTH_REQUEST ||
		    type == SSH_MSG_USERAUTH_INFO_RESPONSE;
	case WALK_AUTHENTICATED:
		/* A late USERAUTH_REQUEST is ignored (RFC 4252 section 5.1). */
		return type == SSH_MSG_USERAUTH_REQUEST ||
		    type == SSH_MSG_GLOBAL_REQUEST ||
		    type == SSH_MSG_CHANNEL_OPEN ||
		    (type >= SSH_MSG_CHANNEL_WINDOW_ADJUST && type <= SSH_MSG_CHANNEL_REQUEST);
	}
	return false;
}

/* Message numbers of RFC 4252, RFC 4254, RFC 4256 and RFC 4462 above 49. */
static bool
walk_assigned(unsigned int type)
{
	static const unsigned int assigned[] = {
		50, 51, 52, 53, 60, 61, 63, 64, 65, 66, 80, 81, 82,
		90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100,
	};
	size_t i;

	for (i = 0; i < sizeof(assigned) / sizeof(assigned[0]); i++) {
		if (assigned[i] == type)
			return true;
	}
	return false;
}

static void
walk_enter(struct fixture *f, enum walk_state state)
{
	const char *prompts[] = { "Password: " };

	switch (state) {
	case WALK_PREAUTH:
		break;
	case WALK_KBDINT:
		script(&f->t, "bsssss", SSH_MSG_USERAUTH_REQUEST, "backup",
		    "ssh-connection", "keyboard-interactive", "", "");
		assert_int_equal(next(f), KB_OK);
		assert_int_equal(kb_conn_auth_kbdint_prompts(f->conn, NULL, NULL,
		    prompts, NULL, 1), KB_OK);
		break;
	case WALK_AUTHENTICATED:
		login(f);
		break;
	}
}

/*
 * Sends a one-byte message of each number. A number the state accepts
 * reaches its handler, which fails it as truncated or ignores it. An
 * unassigned number from 50 to 127 gets UNIMPLEMENTED. Any other number is
 * rejected as unexpected with a PROTOCOL_ERROR disconnect.
 */
static void
conn_message_rule_walks_all_types(void **state)
{
	enum walk_state ws;
	unsigned int type;
	void *fs;
	struct fixture *f;
	int rc;

	(void)state;
	for (ws = WALK_PREAUTH; ws <= WALK_AUTHENTICATED; ws++) {
		for (type = 0; type < 256; type++) {
			assert_int_equal(fixture_setup(&fs), 0);
			f = fs;
			walk_enter(f, ws);
			/* Only what this message causes is checked. */
			f->t.sent_head = f->t.sent_count;
			script(&f->t, "b", (int)type);
			rc = next(f);
			if (walk_accepts(ws, type)) {
				if (rc == KB_ERR_UNEXPECTED_MESSAGE)
					fail_msg("state %d rejected message %u", (int)ws, type);
				assert_true(rc == KB_ERR_MESSAGE_TRUNCATED ||
				    rc == KB_ERR_INCOMPLETE);
			} else if (type >= 50 && type <= 127 && !walk_assigned(type)) {
				if (rc != KB_ERR_INCOMPLETE)
					fail_msg("state %d: message %u returned %d", (int)ws,
					    type, rc);
				expect_sent(&f->t, "bu", MSG_UNIMPLEMENTED,
				    (unsigned int)f->t.next_seqnr);
				assert_int_equal(f->t.next_seqnr, SEQNR_BASE + f->t.in_head - 1);
				assert_false(f->t.disconnected);
			} else {
				if (rc != KB_ERR_UNEXPECTED_MESSAGE)
					fail_msg("state %d accepted message %u (%d)", (int)ws,
					    type, rc);
				expect_disconnect(&f->t, 2);
			}
			assert_int_equal(fixture_teardown(&fs), 0);
		}
	}
}

static void
conn_new_rejects_bad_config(void **state)
{
	struct fixture *f = *state;
	struct kb_conn_config config = f->config;
	struct kb_conn *conn = (struct kb_conn *)1;

	config.allow_password = false;
	config.allow_kbdint = false;
	assert_int_equal(kb_conn_new(&f->t, &config, &conn), KB_ERR_INVALID_ARGUMENT);
	assert_null(conn);

	config = f->config;
	config.window_size = 0;
	assert_int_equal(kb_conn_new(&f->t, &config, &conn), KB_ERR_INVALID_ARGUMENT);
	config = f->config;
	config.max_channels = 0;
	assert_int_equal(kb_conn_new(&f->t, &config, &conn), KB_ERR_INVALID_ARGUMENT);
	kb_conn_free(NULL);
}

#define FIXTURE_TEST(name) \
	cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(userauth_none_lists_methods),
		FIXTURE_TEST(userauth_methods_follow_config),
		FIXTURE_TEST(userauth_password_success),
		FIXTURE_TEST(userauth_pending_decision_holds_messages),
		FIXTURE_TEST(userauth_password_wiped_after_next),
		FIXTURE_TEST(userauth_failures_reach_max_tries),
		FIXTURE_TEST(userauth_rejected_methods_count),
		FIXTURE_TEST(userauth_user_change_disconnects),
		FIXTURE_TEST(userauth_wrong_service_disconnects),
		FIXTURE_TEST(userauth_kbdint_round_trip),
		FIXTURE_TEST(userauth_kbdint_count_mismatch_fails),
		FIXTURE_TEST(userauth_kbdint_abandon_counts),
		FIXTURE_TEST(channel_open_session_confirmed),
		FIXTURE_TEST(channel_open_other_types_prohibited),
		FIXTURE_TEST(channel_exec_allowed_then_reply),
		FIXTURE_TEST(channel_exec_upstream_failure_replied),
		FIXTURE_TEST(channel_exec_not_allowed_refused),
		FIXTURE_TEST(channel_subsystem_sftp_only),
		FIXTURE_TEST(channel_sftp_refused_when_disabled),
		FIXTURE_TEST(channel_interactive_requests_refused),
		FIXTURE_TEST(channel_env_ignored),
		FIXTURE_TEST(channel_replies_keep_request_order),
		FIXTURE_TEST(channel_data_within_window),
		FIXTURE_TEST(channel_data_beyond_window_rejected),
		FIXTURE_TEST(channel_data_over_max_packet_rejected),
		FIXTURE_TEST(channel_window_adjust_after_consumed),
		FIXTURE_TEST(channel_send_respects_client_window),
		FIXTURE_TEST(channel_window_adjust_overflow_rejected),
		FIXTURE_TEST(channel_eof_exit_status_close_order),
		FIXTURE_TEST(channel_exit_signal_sent),
		FIXTURE_TEST(channel_client_close_answered),
		FIXTURE_TEST(channel_data_after_close_rejected),
		FIXTURE_TEST(global_keepalive_gets_request_failure),
		FIXTURE_TEST(global_port_forwarding_refused),
		FIXTURE_TEST(conn_unassigned_gets_unimplemented),
		FIXTURE_TEST(conn_known_out_of_place_disconnects),
		FIXTURE_TEST(conn_auth_success_reaches_transport),
		cmocka_unit_test(conn_message_rule_walks_all_types),
		FIXTURE_TEST(conn_new_rejects_bad_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
