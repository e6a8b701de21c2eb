/*
 * Bridge mode (private to src/proxy): kexbridge is the SSH server for the
 * client (kb_transport + kb_conn, sans-I/O, over a bufferevent) and an SSH
 * client of the upstream (kb_upstream over libssh2). One session channel is
 * relayed between the two: exec of scp, or the sftp subsystem.
 *
 *   bridge.c       routes, session life cycle, client socket, timers, record
 *   bridge_auth.c  user authentication relayed upstream, exec policy
 *   bridge_pump.c  channel data both ways with back-pressure, EOF, exit
 *   hostkeys.c     host keys: loaded, or created in the state directory
 */
#ifndef KEXBRIDGE_BRIDGE_H
#define KEXBRIDGE_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/util.h>

#include "kexbridge/connection.h"
#include "kexbridge/net.h"
#include "kexbridge/transport.h"
#include "kexbridge/upstream.h"
#include "session.h"

struct bufferevent;
struct evbuffer;
struct event;
struct kb_conf;
struct kb_hostkey;
struct kb_moduli;
struct kb_route;
struct kb_scpwatch;
struct kb_sftpwatch;

/* Upper bound of host keys per route. */
#define KB_BRIDGE_HOSTKEYS_MAX	8
/* Maximum channel data packet accepted from the client, as in OpenSSH. */
#define KB_BRIDGE_MAX_PACKET	32768
/* Bytes read from the upstream per step. */
#define KB_BRIDGE_CHUNK		32768

/* State a bridge route shares between its sessions. */
struct kb_bridge_route {
	const struct kb_route *route;
	struct kb_hostkey *hostkeys[KB_BRIDGE_HOSTKEYS_MAX];
	size_t hostkey_count;
	struct kb_moduli *moduli;
	struct kb_transport_config transport_config;
	struct kb_conn_config conn_config;
	/* "scp *" and the route's exec_allow patterns, NULL-terminated. */
	const char **exec_patterns;
	char upstream_host[KB_NET_HOST_MAX];
	unsigned int upstream_port;
	uint32_t upstream_window;	/* our receive window on the upstream channel */
	size_t output_limit;		/* bytes queued for the client before reading pauses */
	TAILQ_HEAD(, kb_bridge) sessions;
};

enum bridge_auth_state {
	BRIDGE_AUTH_IDLE,		/* no request pending */
	BRIDGE_AUTH_PASSWORD,		/* password waiting for, or at, the upstream */
	BRIDGE_AUTH_KBDINT,		/* keyboard-interactive started upstream */
	BRIDGE_AUTH_KBDINT_ANSWER,	/* answers at the upstream */
	BRIDGE_AUTH_DELAY,		/* failure delay running */
	BRIDGE_AUTH_DONE,
};

enum bridge_command {
	BRIDGE_CMD_NONE,
	BRIDGE_CMD_SCP,
	BRIDGE_CMD_EXEC,		/* allowed by an exec_allow pattern */
	BRIDGE_CMD_SFTP,
};

/* One bridged client connection. */
struct kb_bridge {
	TAILQ_ENTRY(kb_bridge) entry;
	struct kb_route_ctx *ctx;
	struct kb_bridge_route *br;
	char id[KB_SESSION_ID_LEN];
	char client_str[KB_NET_ADDRSTR_MAX];
	/* The route's upstream, or the original destination on a transparent route. */
	struct kb_net_addr upstream_addr;
	char upstream_str[KB_NET_ADDRSTR_MAX];
	char upstream_host[KB_NET_HOST_MAX];	/* for known_hosts */
	unsigned int upstream_port;
	struct bufferevent *bev;
	struct kb_transport *transport;
	struct kb_conn *conn;
	struct kb_upstream *up;
	struct event *handshake_timer;
	struct event *idle_timer;
	struct event *auth_timer;	/* failure delay */
	struct event *free_event;	/* frees the session from the loop */
	struct event *drain_timer;
	struct timespec started;
	struct timespec last_activity;

	/* Authentication. */
	enum bridge_auth_state auth;
	bool up_connected;
	char *user;			/* for the log and the record */
	char *password;			/* until the upstream is connected; wiped */
	size_t password_len;
	unsigned int auth_failures;
	const char *auth_method;	/* the last method the client tried, or NULL */

	/* The channel (one per session; see conn_config.max_channels). */
	bool chan_open;
	uint32_t chan;
	enum bridge_command command;
	char *command_text;		/* exec command or subsystem name */
	bool chan_ready;		/* the upstream accepted exec or subsystem */
	struct evbuffer *to_upstream;	/* client data libssh2 did not take yet */
	bool client_eof;		/* EOF from the client */
	bool up_eof_sent;
	uint8_t from_upstream[KB_BRIDGE_CHUNK];	/* read upstream, not yet sent */
	size_t from_upstream_len;
	uint32_t from_upstream_ext;
	bool up_read_blocked;		/* stopped reading: the client side is full */
	bool up_eof;			/* EOF from the upstream */
	bool client_eof_sent;
	bool exit_known;
	int exit_status;
	char exit_signal[32];
	bool exit_sent;
	int exit_sent_status;		/* -1: none sent */
	bool up_failed;
	struct kb_scpwatch *scpwatch;
	struct kb_sftpwatch *sftpwatch;
	bool watch_broken;

	uint64_t bytes_c2s;		/* channel data, client to upstream */
	uint64_t bytes_s2c;		/* channel data and stderr, upstream to client */
	char up_methods[320];		/* the upstream's agreed methods, for the record */

	/* Set when the end is decided before the client closes (upstream lost). */
	const char *end_closed_by;
	const char *end_reason;

	bool closing;
	bool lingering;		/* our side shut down; reading until the client closes */
	bool sock_closed;		/* the client socket saw EOF or an error */
	const char *closed_by;
	char reason[256];
};

/* bridge.c */
int kb_bridge_route_new(struct kb_route_ctx *ctx, const struct kb_conf *conf,
    struct kb_bridge_route **out, char *err, size_t errlen);
/* Closes the route's sessions and frees it; NULL is accepted. */
void kb_bridge_route_free(struct kb_bridge_route *br);
/*
 * Takes over fd and starts a bridged session that will connect to upstream;
 * on failure closes fd.
 */
void kb_bridge_start(struct kb_route_ctx *ctx, evutil_socket_t fd,
    const struct sockaddr *client, socklen_t client_len,
    const struct kb_net_addr *upstream);

/* What an auto session hands to the bridge when the offers do not agree. */
struct kb_bridge_adoption {
	const char *id;			/* the session id, kept */
	const char *client_str;
	struct timespec started;
	const struct kb_net_addr *upstream;
	/* The upstream's identification line the client received, without CR LF. */
	const char *server_version;
	/* Bytes relayed to the client and not yet written. They are moved out. */
	struct evbuffer *to_client;
	/* Everything the client sent, from its first byte. It is moved out. */
	struct evbuffer *from_client;
};

/*
 * Takes over fd, the client of an auto session whose upstream connection is
 * already closed, and bridges it. The transport sends our KEXINIT in reply
 * to the client's, and a new upstream session opens as in bridge mode. On
 * failure closes fd.
 */
void kb_bridge_adopt(struct kb_route_ctx *ctx, evutil_socket_t fd,
    const struct kb_bridge_adoption *adoption);
void kb_bridge_close_sessions(struct kb_bridge_route *br, const char *reason);
/*
 * Ends the session: the client gets DISCONNECT (reason code and text, or
 * none when description is NULL), the upstream is dropped, the record is
 * logged, and the session is freed from the event loop once its output
 * has drained. Safe to call more than once; only the first call counts.
 */
void bridge_close(struct kb_bridge *s, const char *closed_by, uint32_t code,
    const char *description, const char *reason);
/* Moves what the transport wants sent to the client's bufferevent. */
void bridge_flush(struct kb_bridge *s);
/* Runs kb_conn_next() until no event is left, and acts on each. */
void bridge_process(struct kb_bridge *s);
void bridge_touch(struct kb_bridge *s);

/* bridge_auth.c */
int bridge_auth_event(struct kb_bridge *s, const struct kb_conn_event *ev);
void bridge_auth_upstream_event(struct kb_bridge *s, enum kb_up_event ev,
    const struct kb_up_event_info *info);
void bridge_auth_delay_cb(evutil_socket_t fd, short what, void *arg);
/*
 * Whether command is "scp" with flags from -v -r -p -d -q -T, exactly one of
 * -t and -f, an optional "--" and one path, as scp.c starts it remotely.
 * *download is set for -f.
 */
bool bridge_exec_is_scp(const char *command, bool *download);
/* The scp check, then the route's exec_allow patterns. */
bool bridge_exec_allowed(const struct kb_bridge_route *br, const char *command,
    bool *is_scp, bool *download);

/* bridge_pump.c */
int bridge_channel_event(struct kb_bridge *s, const struct kb_conn_event *ev);
void bridge_pump_upstream_event(struct kb_bridge *s, enum kb_up_event ev,
    const struct kb_up_event_info *info);
/* Moves data both ways as far as windows and buffers allow. */
void bridge_pump(struct kb_bridge *s);
void bridge_pump_free(struct kb_bridge *s);

/* hostkeys.c */
/*
 * Loads the route's host keys, or with none configured loads or creates
 * ssh_host_ed25519_key and ssh_host_rsa_key in state_dir and logs their
 * fingerprints. On failure writes the reason to err.
 */
int kb_bridge_hostkeys_load(struct kb_bridge_route *br, const char *state_dir,
    char *err, size_t errlen);

#endif
