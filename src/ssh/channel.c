/*
 * The server side of the connection protocol (RFC 4254) for the bridge:
 * session channels only, exec of an allowed command or the sftp subsystem,
 * flow control in both directions. Everything a backup does not need is
 * answered with a failure and reported as KB_CONN_EV_REFUSED.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/buf.h"
#include "kexbridge/connection.h"
#include "kexbridge/err.h"
#include "kexbridge/transport.h"

#include "connection_internal.h"

static bool
channel_name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

static bool
channel_name_in(const uint8_t *name, size_t len, const char *const *list)
{
	for (; *list != NULL; list++)
		if (channel_name_is(name, len, *list))
			return true;
	return false;
}

static int
channel_refuse(struct kb_conn *conn, struct kb_conn_event *ev, uint32_t channel,
    const char *prefix, const uint8_t *name, size_t len)
{
	ev->type = KB_CONN_EV_REFUSED;
	ev->channel = channel;
	return conn_set_event_text(conn, ev, prefix, name, len);
}

/* Sends a message made of a type and one uint32. */
static int
channel_send_u32(struct kb_conn *conn, uint8_t type, uint32_t value)
{
	uint8_t msg[5];

	msg[0] = type;
	msg[1] = (uint8_t)(value >> 24);
	msg[2] = (uint8_t)(value >> 16);
	msg[3] = (uint8_t)(value >> 8);
	msg[4] = (uint8_t)value;
	if (conn->state == CONN_CLOSED)
		return KB_ERR_CONNECTION_CLOSED;
	return kb_transport_send(conn->transport, msg, sizeof(msg));
}

static int
channel_send_byte(struct kb_conn *conn, uint8_t type)
{
	if (conn->state == CONN_CLOSED)
		return KB_ERR_CONNECTION_CLOSED;
	return kb_transport_send(conn->transport, &type, 1);
}

/*
 * RFC 4254 section 4. Every global request that wants a reply gets
 * REQUEST_FAILURE. OpenSSH's sshd replies so to keepalive@openssh.com, and
 * its clients take any reply as proof of life.
 */
int
conn_global_recv_request(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	static const char *const forwarding[] = {
		"tcpip-forward", "cancel-tcpip-forward",
		"streamlocal-forward@openssh.com",
		"cancel-streamlocal-forward@openssh.com", NULL,
	};
	const uint8_t *name;
	size_t len;
	uint8_t want_reply;
	int r;

	if ((r = kb_buf_get_string_direct(msg, &name, &len)) != 0 ||
	    (r = kb_buf_get_u8(msg, &want_reply)) != 0)
		return r;
	if (want_reply && (r = channel_send_byte(conn, SSH_MSG_REQUEST_FAILURE)) != 0)
		return r;
	if (channel_name_in(name, len, forwarding))
		return channel_refuse(conn, ev, UINT32_MAX, NULL, name, len);
	return 0;
}

/* The channel a message names; closed channels and unknown numbers are errors. */
static int
channel_recv_lookup(struct kb_conn *conn, struct kb_buf *msg, struct conn_channel **chp,
    uint32_t *numberp)
{
	uint32_t number;
	int r;

	if ((r = kb_buf_get_u32(msg, &number)) != 0)
		return r;
	/* RFC 4254 section 5.3: nothing may follow the client's CLOSE. */
	if (number >= conn->channel_count || !conn->channels[number].in_use ||
	    conn->channels[number].close_received)
		return KB_ERR_UNEXPECTED_MESSAGE;
	*chp = &conn->channels[number];
	*numberp = number;
	return 0;
}

static int
channel_send_open_failure(struct kb_conn *conn, uint32_t remote_id, uint32_t reason,
    const char *description)
{
	struct kb_buf *msg;
	int r;

	if ((msg = kb_buf_new(256)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_put_u8(msg, SSH_MSG_CHANNEL_OPEN_FAILURE)) != 0 ||
	    (r = kb_buf_put_u32(msg, remote_id)) != 0 ||
	    (r = kb_buf_put_u32(msg, reason)) != 0 ||
	    (r = kb_buf_put_cstring(msg, description)) != 0 ||
	    (r = kb_buf_put_cstring(msg, "")) != 0)
		goto out;
	r = conn_send(conn, msg);
out:
	kb_buf_free(msg);
	return r;
}

static int
channel_send_open_confirmation(struct kb_conn *conn, uint32_t number)
{
	const struct conn_channel *ch = &conn->channels[number];
	struct kb_buf *msg;
	int r;

	if ((msg = kb_buf_new(64)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_put_u8(msg, SSH_MSG_CHANNEL_OPEN_CONFIRMATION)) != 0 ||
	    (r = kb_buf_put_u32(msg, ch->remote_id)) != 0 ||
	    (r = kb_buf_put_u32(msg, number)) != 0 ||
	    (r = kb_buf_put_u32(msg, conn->config.window_size)) != 0 ||
	    (r = kb_buf_put_u32(msg, conn->config.max_packet)) != 0)
		goto out;
	r = conn_send(conn, msg);
out:
	kb_buf_free(msg);
	return r;
}

/* RFC 4254 section 5.1: only "session", up to max_channels at once. */
int
conn_channel_recv_open(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	const uint8_t *type;
	size_t type_len;
	uint32_t remote_id, window, max_packet, number;
	struct conn_channel *ch;
	int r;

	if ((r = kb_buf_get_string_direct(msg, &type, &type_len)) != 0 ||
	    (r = kb_buf_get_u32(msg, &remote_id)) != 0 ||
	    (r = kb_buf_get_u32(msg, &window)) != 0 ||
	    (r = kb_buf_get_u32(msg, &max_packet)) != 0)
		return r;

	if (!channel_name_is(type, type_len, "session")) {
		if ((r = channel_send_open_failure(conn, remote_id,
		    CONN_OPEN_ADMINISTRATIVELY_PROHIBITED, "channel type not allowed")) != 0)
			return r;
		return channel_refuse(conn, ev, UINT32_MAX, "channel open ", type, type_len);
	}
	if ((r = kb_buf_expect_end(msg)) != 0)
		return r;
	for (number = 0; number < conn->channel_count; number++)
		if (!conn->channels[number].in_use)
			break;
	if (number == conn->channel_count) {
		if ((r = channel_send_open_failure(conn, remote_id,
		    CONN_OPEN_RESOURCE_SHORTAGE, "too many channels")) != 0)
			return r;
		return channel_refuse(conn, ev, UINT32_MAX,
		    "channel open over the limit: ", type, type_len);
	}

	ch = &conn->channels[number];
	memset(ch, 0, sizeof(*ch));
	ch->in_use = true;
	ch->remote_id = remote_id;
	ch->remote_window = window;
	ch->remote_max_packet = max_packet;
	ch->local_window = conn->config.window_size;
	if ((r = channel_send_open_confirmation(conn, number)) != 0)
		return r;
	ev->type = KB_CONN_EV_CHANNEL_OPEN;
	ev->channel = number;
	return 0;
}

int
conn_channel_recv_window_adjust(struct kb_conn *conn, struct kb_buf *msg,
    struct kb_conn_event *ev)
{
	struct conn_channel *ch;
	uint32_t number, bytes;
	int r;

	if ((r = channel_recv_lookup(conn, msg, &ch, &number)) != 0 ||
	    (r = kb_buf_get_u32(msg, &bytes)) != 0 ||
	    (r = kb_buf_expect_end(msg)) != 0)
		return r;
	/* RFC 4254 section 5.2: the window may not grow past 2^32 - 1. */
	if (ch->remote_window > UINT32_MAX - bytes)
		return KB_ERR_UNEXPECTED_MESSAGE;
	ch->remote_window += bytes;
	if (bytes == 0 || ch->eof_sent || ch->close_sent)
		return 0;
	ev->type = KB_CONN_EV_CHANNEL_WINDOW;
	ev->channel = number;
	return 0;
}

/* RFC 4254 section 5.2: DATA and EXTENDED_DATA, within our window. */
static int
channel_recv_payload(struct kb_conn *conn, struct kb_buf *msg, bool extended,
    struct kb_conn_event *ev)
{
	struct conn_channel *ch;
	uint32_t number, ext = 0;
	const uint8_t *data;
	size_t len;
	int r;

	if ((r = channel_recv_lookup(conn, msg, &ch, &number)) != 0 ||
	    (extended && (r = kb_buf_get_u32(msg, &ext)) != 0) ||
	    (r = kb_buf_get_string_direct(msg, &data, &len)) != 0 ||
	    (r = kb_buf_expect_end(msg)) != 0)
		return r;
	/* Data sent before the client saw our CLOSE is dropped. */
	if (ch->close_sent)
		return 0;
	if (ch->eof_received || len > conn->config.max_packet || len > ch->local_window)
		return KB_ERR_UNEXPECTED_MESSAGE;
	ch->local_window -= (uint32_t)len;
	if (len == 0)
		return 0;

	ev->type = KB_CONN_EV_CHANNEL_DATA;
	ev->channel = number;
	ev->data = data;
	ev->len = len;
	ev->ext = ext;
	return 0;
}

int
conn_channel_recv_data(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	return channel_recv_payload(conn, msg, false, ev);
}

int
conn_channel_recv_extended_data(struct kb_conn *conn, struct kb_buf *msg,
    struct kb_conn_event *ev)
{
	return channel_recv_payload(conn, msg, true, ev);
}

int
conn_channel_recv_eof(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	struct conn_channel *ch;
	uint32_t number;
	int r;

	if ((r = channel_recv_lookup(conn, msg, &ch, &number)) != 0 ||
	    (r = kb_buf_expect_end(msg)) != 0)
		return r;
	if (ch->close_sent || ch->eof_received)
		return 0;
	ch->eof_received = true;
	ev->type = KB_CONN_EV_CHANNEL_EOF;
	ev->channel = number;
	return 0;
}

/* RFC 4254 section 5.3: answer CLOSE with CLOSE unless ours went first. */
int
conn_channel_recv_close(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	struct conn_channel *ch;
	uint32_t number;
	int r;

	if ((r = channel_recv_lookup(conn, msg, &ch, &number)) != 0 ||
	    (r = kb_buf_expect_end(msg)) != 0)
		return r;
	ch->close_received = true;
	if (!ch->close_sent) {
		if ((r = channel_send_u32(conn, SSH_MSG_CHANNEL_CLOSE, ch->remote_id)) != 0)
			return r;
		ch->close_sent = true;
	}
	/* CLOSE went both ways: the number is free again. */
	memset(ch, 0, sizeof(*ch));
	ev->type = KB_CONN_EV_CHANNEL_CLOSE;
	ev->channel = number;
	return 0;
}

/*
 * Replies go out in request order (RFC 4254 section 5.4), so a FAILURE for a
 * request that came after an exec still waiting for the bridge is held back.
 */
static int
channel_reply_failure(struct kb_conn *conn, struct conn_channel *ch)
{
	if (ch->reply_pending && ch->reply_wanted) {
		if (ch->deferred_failures == UINT32_MAX)
			return KB_ERR_UNEXPECTED_MESSAGE;
		ch->deferred_failures++;
		return 0;
	}
	return channel_send_u32(conn, SSH_MSG_CHANNEL_FAILURE, ch->remote_id);
}

/* Whether command matches one of the exec_allow patterns. */
static bool
channel_exec_allowed(const struct kb_conn *conn, const char *command)
{
	const char *const *pattern = conn->config.exec_allow;

	if (pattern == NULL)
		return false;
	for (; *pattern != NULL; pattern++)
		if (fnmatch(*pattern, command, 0) == 0)
			return true;
	return false;
}

/*
 * exec and subsystem: the first allowed one becomes an event, and the bridge
 * answers it with kb_conn_channel_request_reply().
 */
static int
channel_recv_command(struct kb_conn *conn, struct conn_channel *ch, uint32_t number,
    bool exec, bool want_reply, struct kb_buf *msg, struct kb_conn_event *ev)
{
	const uint8_t *value;
	size_t len;
	bool allowed;
	int r;

	if ((r = kb_buf_get_string_direct(msg, &value, &len)) != 0 ||
	    (r = kb_buf_expect_end(msg)) != 0)
		return r;
	if ((r = conn_set_event_text(conn, ev, NULL, value, len)) != 0)
		return r;

	if (strlen(ev->text) != len || ch->command_seen)
		allowed = false;
	else if (exec)
		allowed = channel_exec_allowed(conn, ev->text);
	else
		allowed = conn->config.allow_sftp && strcmp(ev->text, "sftp") == 0;
	if (!allowed) {
		if (want_reply && (r = channel_reply_failure(conn, ch)) != 0)
			return r;
		return channel_refuse(conn, ev, number, exec ? "exec " : "subsystem ",
		    value, len);
	}

	ch->command_seen = true;
	ch->reply_pending = true;
	ch->reply_wanted = want_reply;
	ev->type = exec ? KB_CONN_EV_CHANNEL_EXEC : KB_CONN_EV_CHANNEL_SUBSYSTEM;
	ev->channel = number;
	return 0;
}

/* RFC 4254 sections 6.2 to 6.10, and what OpenSSH clients send besides. */
int
conn_channel_recv_request(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev)
{
	/* Requests answered with a failure and not worth a log line. */
	static const char *const quiet[] = {
		"env", "keepalive@openssh.com", "eow@openssh.com",
		"winadj@putty.projects.tartarus.org", NULL,
	};
	struct conn_channel *ch;
	const uint8_t *name;
	size_t len;
	uint32_t number;
	uint8_t want_reply;
	int r;

	if ((r = channel_recv_lookup(conn, msg, &ch, &number)) != 0 ||
	    (r = kb_buf_get_string_direct(msg, &name, &len)) != 0 ||
	    (r = kb_buf_get_u8(msg, &want_reply)) != 0)
		return r;
	if (ch->close_sent)
		return 0;

	if (channel_name_is(name, len, "exec"))
		return channel_recv_command(conn, ch, number, true, want_reply != 0, msg, ev);
	if (channel_name_is(name, len, "subsystem"))
		return channel_recv_command(conn, ch, number, false, want_reply != 0, msg, ev);
	if (want_reply && (r = channel_reply_failure(conn, ch)) != 0)
		return r;
	if (channel_name_in(name, len, quiet))
		return 0;
	/* pty-req, shell, x11-req, auth-agent-req@openssh.com, signal, ... */
	return channel_refuse(conn, ev, number, NULL, name, len);
}

/* The open channel a call names, or NULL. */
static struct conn_channel *
channel_get(struct kb_conn *conn, uint32_t channel)
{
	if (conn == NULL || channel >= conn->channel_count ||
	    !conn->channels[channel].in_use)
		return NULL;
	return &conn->channels[channel];
}

int
kb_conn_channel_request_reply(struct kb_conn *conn, uint32_t channel, bool ok)
{
	struct conn_channel *ch = channel_get(conn, channel);
	bool reply_wanted;
	int r;

	if (ch == NULL || !ch->reply_pending)
		return KB_ERR_INVALID_ARGUMENT;
	reply_wanted = ch->reply_wanted;
	ch->reply_pending = false;
	ch->reply_wanted = false;
	if (ch->close_sent)
		return 0;

	if (reply_wanted && (r = channel_send_u32(conn, ok ? SSH_MSG_CHANNEL_SUCCESS :
	    SSH_MSG_CHANNEL_FAILURE, ch->remote_id)) != 0)
		return r;
	for (; ch->deferred_failures > 0; ch->deferred_failures--)
		if ((r = channel_send_u32(conn, SSH_MSG_CHANNEL_FAILURE, ch->remote_id)) != 0)
			return r;
	return 0;
}

static int
channel_send_chunk(struct kb_conn *conn, struct conn_channel *ch, uint32_t ext,
    const uint8_t *data, size_t len, struct kb_buf *msg)
{
	int r;

	kb_buf_reset(msg);
	if ((r = kb_buf_put_u8(msg, ext == 0 ? SSH_MSG_CHANNEL_DATA :
	    SSH_MSG_CHANNEL_EXTENDED_DATA)) != 0 ||
	    (r = kb_buf_put_u32(msg, ch->remote_id)) != 0 ||
	    (ext != 0 && (r = kb_buf_put_u32(msg, ext)) != 0) ||
	    (r = kb_buf_put_string(msg, data, len)) != 0)
		return r;
	return conn_send(conn, msg);
}

int
kb_conn_channel_send(struct kb_conn *conn, uint32_t channel, uint32_t ext,
    const uint8_t *data, size_t len, size_t *taken)
{
	struct conn_channel *ch = channel_get(conn, channel);
	struct kb_buf *msg;
	size_t chunk, done = 0;
	int r = 0;

	if (taken != NULL)
		*taken = 0;
	if (ch == NULL || taken == NULL || (data == NULL && len != 0) ||
	    ext > CONN_EXTENDED_DATA_STDERR || ch->eof_sent || ch->close_sent)
		return KB_ERR_INVALID_ARGUMENT;
	if ((msg = kb_buf_new(CONN_SEND_PACKET_MAX + 64)) == NULL)
		return KB_ERR_ALLOC_FAIL;

	/* RFC 4254 section 5.2: within the client's window and maximum packet. */
	while (done < len) {
		chunk = len - done;
		if (chunk > ch->remote_window)
			chunk = ch->remote_window;
		if (chunk > ch->remote_max_packet)
			chunk = ch->remote_max_packet;
		if (chunk > CONN_SEND_PACKET_MAX)
			chunk = CONN_SEND_PACKET_MAX;
		if (chunk == 0)
			break;
		if ((r = channel_send_chunk(conn, ch, ext, data + done, chunk, msg)) != 0)
			break;
		ch->remote_window -= (uint32_t)chunk;
		done += chunk;
	}
	*taken = done;
	kb_buf_free(msg);
	return r;
}

size_t
kb_conn_channel_send_window(const struct kb_conn *conn, uint32_t channel)
{
	const struct conn_channel *ch;

	if (conn == NULL || channel >= conn->channel_count)
		return 0;
	ch = &conn->channels[channel];
	if (!ch->in_use || ch->eof_sent || ch->close_sent)
		return 0;
	return ch->remote_window;
}

static int
channel_send_window_adjust(struct kb_conn *conn, struct conn_channel *ch)
{
	struct kb_buf *msg;
	int r;

	if ((msg = kb_buf_new(16)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_put_u8(msg, SSH_MSG_CHANNEL_WINDOW_ADJUST)) != 0 ||
	    (r = kb_buf_put_u32(msg, ch->remote_id)) != 0 ||
	    (r = kb_buf_put_u32(msg, ch->local_consumed)) != 0 ||
	    (r = conn_send(conn, msg)) != 0)
		goto out;
	ch->local_window += ch->local_consumed;
	ch->local_consumed = 0;
out:
	kb_buf_free(msg);
	return r;
}

/*
 * Reopens our window once half of it was delivered, as OpenSSH does, so
 * WINDOW_ADJUST messages stay few and the client rarely stalls.
 */
int
kb_conn_channel_consumed(struct kb_conn *conn, uint32_t channel, size_t len)
{
	struct conn_channel *ch = channel_get(conn, channel);
	uint32_t outstanding;

	if (ch == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	outstanding = conn->config.window_size - ch->local_window - ch->local_consumed;
	if (len > outstanding)
		return KB_ERR_INVALID_ARGUMENT;
	ch->local_consumed += (uint32_t)len;

	/* After EOF or CLOSE the client sends no more data. */
	if (ch->close_sent || ch->eof_received || ch->local_consumed == 0 ||
	    ch->local_consumed < conn->config.window_size / 2)
		return 0;
	return channel_send_window_adjust(conn, ch);
}

/* Checks a channel we may still send on; for data, EOF must not have gone. */
static struct conn_channel *
channel_get_sendable(struct kb_conn *conn, uint32_t channel)
{
	struct conn_channel *ch = channel_get(conn, channel);

	if (ch == NULL || ch->close_sent)
		return NULL;
	return ch;
}

int
kb_conn_channel_send_eof(struct kb_conn *conn, uint32_t channel)
{
	struct conn_channel *ch = channel_get_sendable(conn, channel);
	int r;

	if (ch == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (ch->eof_sent)
		return 0;
	if ((r = channel_send_u32(conn, SSH_MSG_CHANNEL_EOF, ch->remote_id)) != 0)
		return r;
	ch->eof_sent = true;
	return 0;
}

/* Starts a CHANNEL_REQUEST without want_reply (RFC 4254 section 6.10). */
static int
channel_put_exit_request(struct kb_buf *msg, const struct conn_channel *ch,
    const char *name)
{
	int r;

	if ((r = kb_buf_put_u8(msg, SSH_MSG_CHANNEL_REQUEST)) != 0 ||
	    (r = kb_buf_put_u32(msg, ch->remote_id)) != 0 ||
	    (r = kb_buf_put_cstring(msg, name)) != 0 ||
	    (r = kb_buf_put_u8(msg, 0)) != 0)
		return r;
	return 0;
}

int
kb_conn_channel_exit_status(struct kb_conn *conn, uint32_t channel, uint32_t status)
{
	struct conn_channel *ch = channel_get_sendable(conn, channel);
	struct kb_buf *msg;
	int r;

	if (ch == NULL || ch->exit_sent)
		return KB_ERR_INVALID_ARGUMENT;
	if ((msg = kb_buf_new(64)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = channel_put_exit_request(msg, ch, "exit-status")) != 0 ||
	    (r = kb_buf_put_u32(msg, status)) != 0 ||
	    (r = conn_send(conn, msg)) != 0)
		goto out;
	ch->exit_sent = true;
out:
	kb_buf_free(msg);
	return r;
}

/* signal_name without the "SIG" prefix, e.g. "TERM". */
int
kb_conn_channel_exit_signal(struct kb_conn *conn, uint32_t channel,
    const char *signal_name, bool core_dumped, const char *message)
{
	struct conn_channel *ch = channel_get_sendable(conn, channel);
	struct kb_buf *msg;
	int r;

	if (ch == NULL || ch->exit_sent || signal_name == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((msg = kb_buf_new(1024)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = channel_put_exit_request(msg, ch, "exit-signal")) != 0 ||
	    (r = kb_buf_put_cstring(msg, signal_name)) != 0 ||
	    (r = kb_buf_put_u8(msg, core_dumped ? 1 : 0)) != 0 ||
	    (r = kb_buf_put_cstring(msg, message == NULL ? "" : message)) != 0 ||
	    (r = kb_buf_put_cstring(msg, "")) != 0 ||
	    (r = conn_send(conn, msg)) != 0)
		goto out;
	ch->exit_sent = true;
out:
	kb_buf_free(msg);
	return r;
}

int
kb_conn_channel_close(struct kb_conn *conn, uint32_t channel)
{
	struct conn_channel *ch = channel_get(conn, channel);
	int r;

	if (ch == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (ch->close_sent)
		return 0;
	if ((r = channel_send_u32(conn, SSH_MSG_CHANNEL_CLOSE, ch->remote_id)) != 0)
		return r;
	ch->close_sent = true;
	return 0;
}

bool
kb_conn_channel_closed(const struct kb_conn *conn, uint32_t channel)
{
	if (conn == NULL || channel >= conn->channel_count)
		return true;
	return !conn->channels[channel].in_use;
}
