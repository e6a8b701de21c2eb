/*
 * The layer above the server transport: dispatch of user authentication
 * (RFC 4252) and connection protocol (RFC 4254) messages, with an explicit
 * rule per state for which messages may arrive. A message number that no
 * RFC assigns gets SSH_MSG_UNIMPLEMENTED (RFC 4253 section 11.4), as
 * OpenSSH's dispatch_protocol_error() sends, and the connection goes on.
 * An assigned message outside the rule ends the connection with
 * SSH_MSG_DISCONNECT PROTOCOL_ERROR.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kexbridge/buf.h"
#include "kexbridge/connection.h"
#include "kexbridge/err.h"
#include "kexbridge/transport.h"

#include "connection_internal.h"

typedef int (*conn_handler)(struct kb_conn *, struct kb_buf *, struct kb_conn_event *);

/*
 * RFC 4252 section 5.1: requests after USERAUTH_SUCCESS should be ignored
 * silently, because a client may have sent one before it saw the success.
 */
static int
conn_recv_ignore(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	(void)conn;
	(void)msg;
	(void)ev;
	return 0;
}

/*
 * Once authenticated, the client may send the connection protocol messages
 * 80..100. REQUEST_SUCCESS/FAILURE, OPEN_CONFIRMATION/FAILURE and
 * CHANNEL_SUCCESS/FAILURE are replies to requests of ours. We send no request
 * that expects a reply, so those have no handler and end the connection.
 */
static conn_handler
conn_handler_authenticated(uint8_t type)
{
	switch (type) {
	case SSH_MSG_USERAUTH_REQUEST:
		return conn_recv_ignore;
	case SSH_MSG_GLOBAL_REQUEST:
		return conn_global_recv_request;
	case SSH_MSG_CHANNEL_OPEN:
		return conn_channel_recv_open;
	case SSH_MSG_CHANNEL_WINDOW_ADJUST:
		return conn_channel_recv_window_adjust;
	case SSH_MSG_CHANNEL_DATA:
		return conn_channel_recv_data;
	case SSH_MSG_CHANNEL_EXTENDED_DATA:
		return conn_channel_recv_extended_data;
	case SSH_MSG_CHANNEL_EOF:
		return conn_channel_recv_eof;
	case SSH_MSG_CHANNEL_CLOSE:
		return conn_channel_recv_close;
	case SSH_MSG_CHANNEL_REQUEST:
		return conn_channel_recv_request;
	default:
		return NULL;
	}
}

/*
 * Tells whether no RFC assigns message number type (50..127). User
 * authentication (RFC 4252) uses 50..53, and 60..79 per method. Of those,
 * publickey, password and keyboard-interactive (RFC 4256) use 60, and
 * keyboard-interactive also 61. gssapi-with-mic (RFC 4462) uses 60, 61 and
 * 63..66. The connection protocol (RFC 4254) uses 80..82 and 90..100. These
 * are the numbers OpenSSH's ssh2.h and ssh-gss.h define.
 */
static bool
conn_type_unassigned(uint8_t type)
{
	if (type >= 54 && type <= 59)
		return true;
	if (type == 62 || (type >= 67 && type <= 79))
		return true;
	if (type >= 83 && type <= 89)
		return true;
	return type >= 101 && type <= 127;
}

/* The allowed-message rule: the handler for type in this state, or NULL. */
static conn_handler
conn_handler_for(const struct kb_conn *conn, uint8_t type)
{
	switch (conn->state) {
	case CONN_USERAUTH:
		return type == SSH_MSG_USERAUTH_REQUEST ? conn_userauth_recv_request : NULL;
	case CONN_KBDINT:
		/* RFC 4256 section 3.4: a new request abandons the exchange. */
		if (type == SSH_MSG_USERAUTH_REQUEST)
			return conn_userauth_recv_request;
		return type == SSH_MSG_USERAUTH_INFO_RESPONSE ?
		    conn_userauth_recv_info_response : NULL;
	case CONN_AUTHENTICATED:
		return conn_handler_authenticated(type);
	case CONN_CLOSED:
	default:
		return NULL;
	}
}

/* Replies UNIMPLEMENTED to the message kb_transport_next() moved last. */
static int
conn_send_unimplemented(struct kb_conn *conn)
{
	uint32_t seqnr = kb_transport_next_seqnr(conn->transport);
	int r;

	if ((r = kb_transport_send_unimplemented(conn->transport, seqnr)) != 0)
		return conn_disconnect(conn, CONN_DISCONNECT_BY_APPLICATION,
		    "internal error", r);
	return 0;
}

/*
 * kb_conn_auth_success() moves to CONN_AUTHENTICATED. The transport learns
 * it before the next message is read or sent, so that its rekey limits
 * apply from then on, as in sshd.
 */
static void
conn_sync_authenticated(struct kb_conn *conn)
{
	if (conn->state == CONN_AUTHENTICATED)
		kb_transport_set_authenticated(conn->transport);
}

static int
conn_dispatch(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	conn_handler handler;
	uint8_t type;
	int r;

	if (kb_buf_get_u8(msg, &type) != 0)
		return conn_disconnect(conn, CONN_DISCONNECT_PROTOCOL_ERROR,
		    "empty message", KB_ERR_MESSAGE_TRUNCATED);
	if ((handler = conn_handler_for(conn, type)) == NULL) {
		if (conn_type_unassigned(type))
			return conn_send_unimplemented(conn);
		return conn_disconnect(conn, CONN_DISCONNECT_PROTOCOL_ERROR,
		    "unexpected message", KB_ERR_UNEXPECTED_MESSAGE);
	}

	r = handler(conn, msg, ev);
	if (r == 0 || conn->state == CONN_CLOSED)
		return r;
	/* Our own failures are not the client's protocol errors. */
	if (r == KB_ERR_ALLOC_FAIL || r == KB_ERR_INTERNAL || r == KB_ERR_BUFFER_LIMIT)
		return conn_disconnect(conn, CONN_DISCONNECT_BY_APPLICATION,
		    "internal error", r);
	return conn_disconnect(conn, CONN_DISCONNECT_PROTOCOL_ERROR,
	    "invalid message", r);
}

int
kb_conn_next(struct kb_conn *conn, struct kb_conn_event *ev)
{
	int r;

	if (conn == NULL || ev == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	memset(ev, 0, sizeof(*ev));

	/* The caller is done with the last event, so its secrets and text go now. */
	conn_wipe_secrets(conn);
	free(conn->event_text);
	conn->event_text = NULL;
	kb_buf_reset(conn->payload);

	if (conn->state == CONN_CLOSED)
		return KB_ERR_CONNECTION_CLOSED;
	conn_sync_authenticated(conn);
	while (conn->pending == CONN_PENDING_NONE) {
		kb_buf_reset(conn->payload);
		if ((r = kb_transport_next(conn->transport, conn->payload)) != 0)
			return r;
		if ((r = conn_dispatch(conn, conn->payload, ev)) != 0)
			return r;
		if (ev->type != KB_CONN_EV_NONE)
			return 0;
		if (conn->state == CONN_CLOSED)
			return KB_ERR_CONNECTION_CLOSED;
	}
	return KB_ERR_INCOMPLETE;
}

int
conn_disconnect(struct kb_conn *conn, uint32_t reason, const char *description, int err)
{
	if (conn->state != CONN_CLOSED) {
		conn->state = CONN_CLOSED;
		conn->pending = CONN_PENDING_NONE;
		(void)kb_transport_disconnect(conn->transport, reason, description);
	}
	return err;
}

int
conn_send(struct kb_conn *conn, const struct kb_buf *msg)
{
	if (conn->state == CONN_CLOSED)
		return KB_ERR_CONNECTION_CLOSED;
	conn_sync_authenticated(conn);
	return kb_transport_send(conn->transport, kb_buf_ptr(msg), kb_buf_len(msg));
}

int
conn_set_event_text(struct kb_conn *conn, struct kb_conn_event *ev,
    const char *prefix, const uint8_t *text, size_t len)
{
	size_t plen = prefix == NULL ? 0 : strlen(prefix);
	char *copy;

	if (len > SIZE_MAX - plen - 1)
		return KB_ERR_STRING_TOO_LARGE;
	if ((copy = malloc(plen + len + 1)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if (plen != 0)
		memcpy(copy, prefix, plen);
	if (len != 0)
		memcpy(copy + plen, text, len);
	copy[plen + len] = '\0';

	free(conn->event_text);
	conn->event_text = copy;
	ev->text = copy;
	return 0;
}

void
conn_wipe_secrets(struct kb_conn *conn)
{
	kb_buf_reset(conn->secret);
	memset(conn->responses, 0, sizeof(conn->responses));
}

static int
conn_check_config(const struct kb_conn_config *config)
{
	if (!config->allow_password && !config->allow_kbdint)
		return KB_ERR_INVALID_ARGUMENT;
	if (config->max_auth_tries == 0 || config->window_size == 0 ||
	    config->max_packet == 0)
		return KB_ERR_INVALID_ARGUMENT;
	if (config->max_channels == 0 || config->max_channels > CONN_CHANNELS_MAX)
		return KB_ERR_INVALID_ARGUMENT;
	return 0;
}

int
kb_conn_new(struct kb_transport *t, const struct kb_conn_config *config,
    struct kb_conn **connp)
{
	struct kb_conn *conn = NULL;
	int r;

	if (connp != NULL)
		*connp = NULL;
	if (t == NULL || config == NULL || connp == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = conn_check_config(config)) != 0)
		return r;

	if ((conn = calloc(1, sizeof(*conn))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	conn->transport = t;
	conn->config = *config;
	conn->state = CONN_USERAUTH;
	conn->channel_count = config->max_channels;
	conn->payload = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	conn->secret = kb_buf_new(KB_BUF_SIZE_DEFAULT);
	conn->channels = calloc(conn->channel_count, sizeof(*conn->channels));
	if (conn->payload == NULL || conn->secret == NULL || conn->channels == NULL) {
		kb_conn_free(conn);
		return KB_ERR_ALLOC_FAIL;
	}
	*connp = conn;
	return 0;
}

void
kb_conn_free(struct kb_conn *conn)
{
	if (conn == NULL)
		return;
	/* kb_buf_free wipes, so the last password or responses go with it. */
	kb_buf_free(conn->secret);
	kb_buf_free(conn->payload);
	free(conn->event_text);
	free(conn->user);
	free(conn->channels);
	OPENSSL_cleanse(conn, sizeof(*conn));
	free(conn);
}

bool
kb_conn_authenticated(const struct kb_conn *conn)
{
	return conn != NULL && conn->state == CONN_AUTHENTICATED;
}

const char *
kb_conn_user(const struct kb_conn *conn)
{
	return conn == NULL ? NULL : conn->user;
}
