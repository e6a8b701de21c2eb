/*
 * The server side of user authentication (RFC 4252) with the methods
 * "password" and "keyboard-interactive" (RFC 4256). The credentials are not
 * checked here: the bridge tries them upstream and reports the result with
 * kb_conn_auth_success() or kb_conn_auth_failure().
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "kexbridge/buf.h"
#include "kexbridge/connection.h"
#include "kexbridge/err.h"
#include "kexbridge/transport.h"

#include "connection_internal.h"

#define USERAUTH_SERVICE	"ssh-connection"

static bool
userauth_name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* RFC 4252 section 5.1: the methods that can continue, partial success FALSE. */
static int
userauth_send_failure(struct kb_conn *conn)
{
	struct kb_buf *msg;
	const char *methods;
	int r;

	if (conn->config.allow_password && conn->config.allow_kbdint)
		methods = "password,keyboard-interactive";
	else if (conn->config.allow_password)
		methods = "password";
	else
		methods = "keyboard-interactive";

	if ((msg = kb_buf_new(256)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_put_u8(msg, SSH_MSG_USERAUTH_FAILURE)) != 0 ||
	    (r = kb_buf_put_cstring(msg, methods)) != 0 ||
	    (r = kb_buf_put_u8(msg, 0)) != 0)
		goto out;
	r = conn_send(conn, msg);
out:
	kb_buf_free(msg);
	return r;
}

/*
 * Rejects an attempt. Like sshd, every failure counts except a first "none"
 * request, and the failure that reaches max_auth_tries disconnects instead
 * of sending USERAUTH_FAILURE.
 */
static int
userauth_fail(struct kb_conn *conn, bool counted)
{
	conn->pending = CONN_PENDING_NONE;
	conn->state = CONN_USERAUTH;
	conn->prompt_count = 0;
	if (counted && ++conn->auth_failures >= conn->config.max_auth_tries)
		return conn_disconnect(conn, CONN_DISCONNECT_NO_MORE_AUTH_METHODS,
		    "too many authentication failures", KB_ERR_CONNECTION_CLOSED);
	return userauth_send_failure(conn);
}

/*
 * RFC 4252 section 5: the service must be "ssh-connection". The first
 * request fixes the user name. OpenSSH's sshd (auth2.c) disconnects when it
 * changes, and so do we, because the bridge has already used it upstream.
 */
static int
userauth_check_user(struct kb_conn *conn, const uint8_t *user, size_t user_len,
    const uint8_t *service, size_t service_len)
{
	if (!userauth_name_is(service, service_len, USERAUTH_SERVICE))
		return conn_disconnect(conn, CONN_DISCONNECT_SERVICE_NOT_AVAILABLE,
		    "service not available", KB_ERR_UNEXPECTED_MESSAGE);
	if (user_len > CONN_USER_MAX || memchr(user, '\0', user_len) != NULL)
		return conn_disconnect(conn, CONN_DISCONNECT_PROTOCOL_ERROR,
		    "invalid user name", KB_ERR_STRING_HAS_NUL);

	if (conn->user == NULL) {
		if ((conn->user = malloc(user_len + 1)) == NULL)
			return KB_ERR_ALLOC_FAIL;
		memcpy(conn->user, user, user_len);
		conn->user[user_len] = '\0';
		return 0;
	}
	if (!userauth_name_is(user, user_len, conn->user))
		return conn_disconnect(conn, CONN_DISCONNECT_PROTOCOL_ERROR,
		    "change of user name or service not allowed",
		    KB_ERR_UNEXPECTED_MESSAGE);
	return 0;
}

/* Appends a NUL-terminated copy of a secret to the wiped-after-use storage. */
static int
userauth_store_secret(struct kb_conn *conn, const uint8_t *value, size_t len)
{
	int r;

	if ((r = kb_buf_put(conn->secret, value, len)) != 0 ||
	    (r = kb_buf_put_u8(conn->secret, 0)) != 0)
		return r;
	return 0;
}

/* RFC 4252 section 8. */
static int
userauth_recv_password(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	const uint8_t *password;
	size_t len;
	uint8_t change;
	int r;

	if ((r = kb_buf_get_u8(msg, &change)) != 0)
		return r;
	/* A password change cannot be relayed upstream. */
	if (change != 0)
		return userauth_fail(conn, true);
	if ((r = kb_buf_get_string_direct(msg, &password, &len)) != 0 ||
	    (r = kb_buf_expect_end(msg)) != 0)
		return r;
	/* libssh2 takes the password as a C string. */
	if (memchr(password, '\0', len) != NULL)
		return userauth_fail(conn, true);

	kb_buf_reset(conn->secret);
	if ((r = userauth_store_secret(conn, password, len)) != 0)
		return r;
	ev->type = KB_CONN_EV_AUTH_PASSWORD;
	ev->user = conn->user;
	ev->secret = (const char *)kb_buf_ptr(conn->secret);
	conn->pending = CONN_PENDING_PASSWORD;
	return 0;
}

/* RFC 4256 section 3.1: the language tag and submethods are ignored hints. */
static int
userauth_recv_kbdint(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	int r;

	if ((r = kb_buf_get_string_direct(msg, NULL, NULL)) != 0 ||
	    (r = kb_buf_get_string_direct(msg, NULL, NULL)) != 0 ||
	    (r = kb_buf_expect_end(msg)) != 0)
		return r;
	ev->type = KB_CONN_EV_AUTH_KBDINT;
	ev->user = conn->user;
	conn->pending = CONN_PENDING_KBDINT_START;
	return 0;
}

int
conn_userauth_recv_request(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	const uint8_t *user, *service, *method;
	size_t user_len, service_len, method_len;
	int r;

	if ((r = kb_buf_get_string_direct(msg, &user, &user_len)) != 0 ||
	    (r = kb_buf_get_string_direct(msg, &service, &service_len)) != 0 ||
	    (r = kb_buf_get_string_direct(msg, &method, &method_len)) != 0)
		return r;
	if ((r = userauth_check_user(conn, user, user_len, service, service_len)) != 0)
		return r;
	conn->auth_attempts++;

	/*
	 * A new request abandons a running keyboard-interactive exchange
	 * (RFC 4256 section 3.4). It counts as a failure, unlike in sshd,
	 * because the bridge has already spent an upstream attempt on it.
	 */
	if (conn->state == CONN_KBDINT) {
		conn->state = CONN_USERAUTH;
		conn->prompt_count = 0;
		if (++conn->auth_failures >= conn->config.max_auth_tries)
			return conn_disconnect(conn, CONN_DISCONNECT_NO_MORE_AUTH_METHODS,
			    "too many authentication failures", KB_ERR_CONNECTION_CLOSED);
	}

	/* RFC 4252 section 5.2: "none" lists the methods, never succeeds. */
	if (userauth_name_is(method, method_len, "none"))
		return userauth_fail(conn, conn->auth_attempts > 1);
	if (conn->config.allow_password && userauth_name_is(method, method_len, "password"))
		return userauth_recv_password(conn, msg, ev);
	if (conn->config.allow_kbdint &&
	    userauth_name_is(method, method_len, "keyboard-interactive"))
		return userauth_recv_kbdint(conn, msg, ev);
	/* publickey, hostbased and anything else. */
	return userauth_fail(conn, true);
}

/* Copies the responses into the secret storage and points the event at them. */
static int
userauth_store_responses(struct kb_conn *conn, const uint8_t *const *values,
    const size_t *lens, size_t count, struct kb_conn_event *ev)
{
	const char *base;
	size_t i, offset = 0;
	int r;

	kb_buf_reset(conn->secret);
	for (i = 0; i < count; i++)
		if ((r = userauth_store_secret(conn, values[i], lens[i])) != 0)
			return r;

	/* Point into the storage only once it has stopped growing. */
	base = (const char *)kb_buf_ptr(conn->secret);
	for (i = 0; i < count; i++) {
		conn->responses[i] = (char *)base + offset;
		offset += lens[i] + 1;
	}
	ev->type = KB_CONN_EV_AUTH_KBDINT_RESPONSE;
	ev->user = conn->user;
	ev->responses = conn->responses;
	ev->response_count = count;
	return 0;
}

/* RFC 4256 section 3.4. */
int
conn_userauth_recv_info_response(struct kb_conn *conn, struct kb_buf *msg,
    struct kb_conn_event *ev)
{
	const uint8_t *values[CONN_KBDINT_MAX_PROMPTS];
	size_t lens[CONN_KBDINT_MAX_PROMPTS];
	uint32_t count, i;
	int r;

	if ((r = kb_buf_get_u32(msg, &count)) != 0)
		return r;
	/* A count that does not match the prompts must get a failure. */
	if (count != conn->prompt_count)
		return userauth_fail(conn, true);
	for (i = 0; i < count; i++)
		if ((r = kb_buf_get_string_direct(msg, &values[i], &lens[i])) != 0)
			return r;
	if ((r = kb_buf_expect_end(msg)) != 0)
		return r;
	for (i = 0; i < count; i++)
		if (memchr(values[i], '\0', lens[i]) != NULL)
			return userauth_fail(conn, true);

	if ((r = userauth_store_responses(conn, values, lens, count, ev)) != 0)
		return r;
	conn->state = CONN_USERAUTH;
	conn->prompt_count = 0;
	conn->pending = CONN_PENDING_KBDINT_RESPONSE;
	return 0;
}

int
kb_conn_auth_success(struct kb_conn *conn)
{
	uint8_t type = SSH_MSG_USERAUTH_SUCCESS;
	int r;

	if (conn == NULL || conn->pending == CONN_PENDING_NONE)
		return KB_ERR_INVALID_ARGUMENT;
	if (conn->state == CONN_CLOSED)
		return KB_ERR_CONNECTION_CLOSED;
	if ((r = kb_transport_send(conn->transport, &type, 1)) != 0)
		return r;
	conn->pending = CONN_PENDING_NONE;
	conn->prompt_count = 0;
	conn->state = CONN_AUTHENTICATED;
	return 0;
}

int
kb_conn_auth_failure(struct kb_conn *conn)
{
	if (conn == NULL || conn->pending == CONN_PENDING_NONE)
		return KB_ERR_INVALID_ARGUMENT;
	if (conn->state == CONN_CLOSED)
		return KB_ERR_CONNECTION_CLOSED;
	return userauth_fail(conn, true);
}

static int
userauth_put_prompts(struct kb_buf *msg, const char *name, const char *instruction,
    const char *const *prompts, const bool *echo, size_t count)
{
	size_t i;
	int r;

	if ((r = kb_buf_put_u8(msg, SSH_MSG_USERAUTH_INFO_REQUEST)) != 0 ||
	    (r = kb_buf_put_cstring(msg, name == NULL ? "" : name)) != 0 ||
	    (r = kb_buf_put_cstring(msg, instruction == NULL ? "" : instruction)) != 0 ||
	    (r = kb_buf_put_cstring(msg, "")) != 0 ||
	    (r = kb_buf_put_u32(msg, (uint32_t)count)) != 0)
		return r;
	for (i = 0; i < count; i++) {
		if (prompts[i] == NULL)
			return KB_ERR_INVALID_ARGUMENT;
		if ((r = kb_buf_put_cstring(msg, prompts[i])) != 0 ||
		    (r = kb_buf_put_u8(msg, echo != NULL && echo[i])) != 0)
			return r;
	}
	return 0;
}

/* RFC 4256 section 3.2. */
int
kb_conn_auth_kbdint_prompts(struct kb_conn *conn, const char *name,
    const char *instruction, const char *const *prompts, const bool *echo, size_t count)
{
	struct kb_buf *msg;
	int r;

	if (conn == NULL || (count != 0 && prompts == NULL) ||
	    count > CONN_KBDINT_MAX_PROMPTS)
		return KB_ERR_INVALID_ARGUMENT;
	if (conn->pending != CONN_PENDING_KBDINT_START &&
	    conn->pending != CONN_PENDING_KBDINT_RESPONSE)
		return KB_ERR_INVALID_ARGUMENT;
	if (conn->state == CONN_CLOSED)
		return KB_ERR_CONNECTION_CLOSED;

	if ((msg = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = userauth_put_prompts(msg, name, instruction, prompts, echo, count)) != 0 ||
	    (r = conn_send(conn, msg)) != 0)
		goto out;
	conn->pending = CONN_PENDING_NONE;
	conn->state = CONN_KBDINT;
	conn->prompt_count = count;
out:
	kb_buf_free(msg);
	return r;
}
