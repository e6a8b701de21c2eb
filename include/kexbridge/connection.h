/*
 * The server side of user authentication (RFC 4252, RFC 4256) and of the
 * connection protocol (RFC 4254) for the bridge, sans-I/O over a
 * kb_transport. It raises events for what the bridge must decide
 * (credentials to try upstream, a command to run) and takes the decisions
 * back as calls. Only session channels exist; exec of an allowed command and
 * the sftp subsystem are passed on; shells, PTYs, X11, agent and port
 * forwarding are refused here.
 *
 * Flow control: the client may send on a channel only as much as our window
 * allows. The window is reopened only when the bridge reports, with
 * kb_conn_channel_consumed(), that the other side took the data, so memory
 * per channel stays bounded by the window.
 */
#ifndef KEXBRIDGE_CONNECTION_H
#define KEXBRIDGE_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kb_transport;

/* Message numbers (RFC 4250 section 4.1.2). */
#define SSH_MSG_USERAUTH_REQUEST		50
#define SSH_MSG_USERAUTH_FAILURE		51
#define SSH_MSG_USERAUTH_SUCCESS		52
#define SSH_MSG_USERAUTH_BANNER			53
#define SSH_MSG_USERAUTH_INFO_REQUEST		60
#define SSH_MSG_USERAUTH_INFO_RESPONSE		61
#define SSH_MSG_GLOBAL_REQUEST			80
#define SSH_MSG_REQUEST_SUCCESS			81
#define SSH_MSG_REQUEST_FAILURE			82
#define SSH_MSG_CHANNEL_OPEN			90
#define SSH_MSG_CHANNEL_OPEN_CONFIRMATION	91
#define SSH_MSG_CHANNEL_OPEN_FAILURE		92
#define SSH_MSG_CHANNEL_WINDOW_ADJUST		93
#define SSH_MSG_CHANNEL_DATA			94
#define SSH_MSG_CHANNEL_EXTENDED_DATA		95
#define SSH_MSG_CHANNEL_EOF			96
#define SSH_MSG_CHANNEL_CLOSE			97
#define SSH_MSG_CHANNEL_REQUEST			98
#define SSH_MSG_CHANNEL_SUCCESS			99
#define SSH_MSG_CHANNEL_FAILURE			100

struct kb_conn_config {
	/* Methods offered: any of "password", "keyboard-interactive". */
	bool allow_password;
	bool allow_kbdint;
	/* Authentication attempts before DISCONNECT (like sshd MaxAuthTries). */
	unsigned int max_auth_tries;
	/*
	 * Commands allowed for exec, as shell-style patterns matched against
	 * the whole command, e.g. "scp -t *", "scp -f *". NULL-terminated.
	 */
	const char *const *exec_allow;
	bool allow_sftp;
	/* Our receive window and maximum packet per channel, in bytes. */
	uint32_t window_size;
	uint32_t max_packet;
	/* Channels a client may have open at once. */
	unsigned int max_channels;
};

enum kb_conn_event_type {
	KB_CONN_EV_NONE,
	/* The client asks to log in: try the credentials upstream. */
	KB_CONN_EV_AUTH_PASSWORD,	/* user, secret */
	KB_CONN_EV_AUTH_KBDINT,		/* user: start keyboard-interactive */
	KB_CONN_EV_AUTH_KBDINT_RESPONSE,	/* responses, response_count */
	/* A session channel was opened and confirmed. */
	KB_CONN_EV_CHANNEL_OPEN,	/* channel */
	/* exec or subsystem allowed by the policy: start it upstream, then reply. */
	KB_CONN_EV_CHANNEL_EXEC,	/* channel, text = command */
	KB_CONN_EV_CHANNEL_SUBSYSTEM,	/* channel, text = name */
	KB_CONN_EV_CHANNEL_DATA,	/* channel, data, len, ext (0 = normal data) */
	KB_CONN_EV_CHANNEL_EOF,		/* channel */
	KB_CONN_EV_CHANNEL_CLOSE,	/* channel: the client closed it */
	/* The client's window grew: more may be sent with kb_conn_channel_send. */
	KB_CONN_EV_CHANNEL_WINDOW,	/* channel */
	/* A request was refused by policy; text names it, for the log. */
	KB_CONN_EV_REFUSED,		/* channel (or UINT32_MAX), text */
};

struct kb_conn_event {
	enum kb_conn_event_type type;
	uint32_t channel;
	const char *user;
	/* Password: wiped by the next kb_conn_next() call. Never log it. */
	const char *secret;
	char *const *responses;
	size_t response_count;
	const char *text;
	const uint8_t *data;
	size_t len;
	uint32_t ext;
};

struct kb_conn;

/*
 * Creates the layer over t. config is copied, but the exec_allow patterns
 * are not, so they must outlive conn.
 */
int kb_conn_new(struct kb_transport *t, const struct kb_conn_config *config,
    struct kb_conn **connp);
/* Wipes pending credentials and frees; NULL is accepted. */
void kb_conn_free(struct kb_conn *conn);

/*
 * Processes messages from the transport until one raises an event.
 * Returns KB_ERR_INCOMPLETE when the transport has no more messages. A
 * message number that no RFC assigns gets SSH_MSG_UNIMPLEMENTED and raises
 * no event. A protocol error disconnects the transport and returns the
 * error, and later calls return KB_ERR_CONNECTION_CLOSED. While an
 * authentication decision is pending, no further messages are read. The
 * event's pointers stay valid until the next call.
 */
int kb_conn_next(struct kb_conn *conn, struct kb_conn_event *ev);

/* Authentication decisions. */
int kb_conn_auth_success(struct kb_conn *conn);
/*
 * Sends USERAUTH_FAILURE. The failure that reaches max_auth_tries sends
 * DISCONNECT instead and returns KB_ERR_CONNECTION_CLOSED.
 */
int kb_conn_auth_failure(struct kb_conn *conn);
/* Relays keyboard-interactive prompts (RFC 4256 section 3.2). */
int kb_conn_auth_kbdint_prompts(struct kb_conn *conn, const char *name,
    const char *instruction, const char *const *prompts, const bool *echo, size_t count);
bool kb_conn_authenticated(const struct kb_conn *conn);
const char *kb_conn_user(const struct kb_conn *conn);

/*
 * Replies to an exec or subsystem event once the upstream replied. Nothing
 * is sent when the client did not ask for a reply.
 */
int kb_conn_channel_request_reply(struct kb_conn *conn, uint32_t channel, bool ok);
/*
 * Sends channel data (ext 0) or extended data (ext 1, stderr), at most what
 * the client's window allows, in packets no larger than its maximum packet.
 * Returns 0 with the bytes taken (0..len) in *taken, or a negative error.
 */
int kb_conn_channel_send(struct kb_conn *conn, uint32_t channel, uint32_t ext,
    const uint8_t *data, size_t len, size_t *taken);
/* Bytes the client's window accepts now. */
size_t kb_conn_channel_send_window(const struct kb_conn *conn, uint32_t channel);
/* The bridge delivered len bytes of the client's data: reopen the window. */
int kb_conn_channel_consumed(struct kb_conn *conn, uint32_t channel, size_t len);
int kb_conn_channel_send_eof(struct kb_conn *conn, uint32_t channel);
int kb_conn_channel_exit_status(struct kb_conn *conn, uint32_t channel, uint32_t status);
int kb_conn_channel_exit_signal(struct kb_conn *conn, uint32_t channel,
    const char *signal_name, bool core_dumped, const char *message);
int kb_conn_channel_close(struct kb_conn *conn, uint32_t channel);
/* True once CLOSE went both ways; the channel's number may then be reused. */
bool kb_conn_channel_closed(const struct kb_conn *conn, uint32_t channel);

#endif
