/*
 * State shared by connection.c (dispatch), userauth.c (RFC 4252, RFC 4256)
 * and channel.c (RFC 4254). Private to the protocol core.
 */
#ifndef KEXBRIDGE_CONNECTION_INTERNAL_H
#define KEXBRIDGE_CONNECTION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kexbridge/connection.h"

struct kb_buf;

/* Disconnect reason codes used here (RFC 4250 section 4.2.2). */
#define CONN_DISCONNECT_PROTOCOL_ERROR		2
#define CONN_DISCONNECT_SERVICE_NOT_AVAILABLE	7
#define CONN_DISCONNECT_BY_APPLICATION		11
#define CONN_DISCONNECT_NO_MORE_AUTH_METHODS	14

/* Channel open failure reason codes (RFC 4254 section 5.1). */
#define CONN_OPEN_ADMINISTRATIVELY_PROHIBITED	1
#define CONN_OPEN_RESOURCE_SHORTAGE		4

/* Extended data type for stderr (RFC 4254 section 5.2). */
#define CONN_EXTENDED_DATA_STDERR		1

/* Maximum prompts per INFO_REQUEST. OpenSSH's sshd accepts up to 100 responses. */
#define CONN_KBDINT_MAX_PROMPTS			16
/* Maximum user name length in bytes. */
#define CONN_USER_MAX				256
/* Maximum data per CHANNEL_DATA we send, the packet size of OpenSSH session channels. */
#define CONN_SEND_PACKET_MAX			32768
/* Channels a configuration may allow. */
#define CONN_CHANNELS_MAX			64

enum conn_state {
	CONN_USERAUTH,		/* USERAUTH_REQUEST may arrive */
	CONN_KBDINT,		/* INFO_REQUEST sent; INFO_RESPONSE may arrive */
	CONN_AUTHENTICATED,	/* USERAUTH_SUCCESS sent; the connection protocol runs */
	CONN_CLOSED,		/* DISCONNECT sent */
};

/* The authentication decision the bridge owes, if any. */
enum conn_pending {
	CONN_PENDING_NONE,
	CONN_PENDING_PASSWORD,		/* after KB_CONN_EV_AUTH_PASSWORD */
	CONN_PENDING_KBDINT_START,	/* after KB_CONN_EV_AUTH_KBDINT */
	CONN_PENDING_KBDINT_RESPONSE,	/* after KB_CONN_EV_AUTH_KBDINT_RESPONSE */
};

struct conn_channel {
	bool in_use;
	uint32_t remote_id;
	/* Bytes the client may still send, and bytes delivered but not re-advertised. */
	uint32_t local_window;
	uint32_t local_consumed;
	/* Bytes we may still send, and the client's maximum data per packet. */
	uint32_t remote_window;
	uint32_t remote_max_packet;
	/*
	 * One exec or subsystem per channel. The bridge owes a decision on it
	 * while reply_pending, and the client waits for that reply if
	 * reply_wanted.
	 */
	bool command_seen;
	bool reply_pending;
	bool reply_wanted;
	/*
	 * FAILURE replies held back because a request that came first still
	 * waits for its reply, and replies go out in request order.
	 */
	uint32_t deferred_failures;
	bool exit_sent;
	bool eof_received;
	bool eof_sent;
	bool close_received;
	bool close_sent;
};

struct kb_conn {
	struct kb_transport *transport;
	struct kb_conn_config config;
	enum conn_state state;
	enum conn_pending pending;

	/* The message being handled; DATA events point into it. */
	struct kb_buf *payload;
	/* Text of the last event (a command, a name), owned here. */
	char *event_text;

	/* User name and service fixed by the first USERAUTH_REQUEST. */
	char *user;
	unsigned int auth_attempts;
	unsigned int auth_failures;

	/*
	 * Password or keyboard-interactive responses of the last event, each
	 * NUL-terminated. The storage is wiped, not freed, before the next
	 * message is read, and freed in kb_conn_free.
	 */
	struct kb_buf *secret;
	char *responses[CONN_KBDINT_MAX_PROMPTS];
	size_t prompt_count;

	struct conn_channel *channels;
	unsigned int channel_count;
};

/* Sends DISCONNECT once, moves to CONN_CLOSED and returns err. */
int conn_disconnect(struct kb_conn *conn, uint32_t reason, const char *description, int err);
/* Sends a message built in msg. */
int conn_send(struct kb_conn *conn, const struct kb_buf *msg);
/* Stores a copy of text as the event's text. */
int conn_set_event_text(struct kb_conn *conn, struct kb_conn_event *ev,
    const char *prefix, const uint8_t *text, size_t len);
/* Wipes the secret storage of the last event. */
void conn_wipe_secrets(struct kb_conn *conn);

/* Handlers: 0 with ev->type NONE when no event, 0 with an event, or an error. */
int conn_userauth_recv_request(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_userauth_recv_info_response(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_global_recv_request(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_channel_recv_open(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_channel_recv_window_adjust(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_channel_recv_data(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_channel_recv_extended_data(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_channel_recv_eof(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_channel_recv_close(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);
int conn_channel_recv_request(struct kb_conn *conn, struct kb_buf *msg, struct kb_conn_event *ev);

#endif
