/*
 * A tap session's state, shared by session.c (connect, sniffing, auto
 * mode, close) and session_splice.c (the relay after the change-over to
 * splice(2)). Private to those two files.
 */
#ifndef KEXBRIDGE_SESSION_INTERNAL_H
#define KEXBRIDGE_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "kexbridge/net.h"
#include "session.h"
#include "splice.h"

struct bufferevent;
struct event;
struct evbuffer;
struct kb_sniffer;

/* Bytes kept from the start of each direction to show a peer that is not SSH. */
#define SESSION_HEAD_MAX	80

struct session_side {
	struct bufferevent *bev;
	struct kb_sniffer *sniffer;
	const char *name;	/* "client" or "server" */
	uint64_t bytes;		/* read from this side and forwarded */
	bool paused;		/* reading stopped until the other side drains */
	bool failed;		/* a socket error: nothing more can be written */
	bool disconnect_logged;
	char head[SESSION_HEAD_MAX];	/* the first bytes this side sent */
	size_t head_len;
	/*
	 * Auto mode, read after the identification line and not forwarded yet;
	 * for the client, once released upstream, a copy kept for a bridge.
	 */
	struct evbuffer *held;
	struct kb_session *session;
	/* After the change-over to splice(2): the direction from this side. */
	struct kb_splice splice;
	struct event *splice_read;	/* this side's socket is readable */
	struct event *splice_write;	/* the peer's socket is writable */
	bool splice_writing;		/* splice_write is added */
	bool splice_copy_logged;
};

struct kb_session {
	TAILQ_ENTRY(kb_session) entry;
	struct kb_route_ctx *ctx;
	char id[KB_SESSION_ID_LEN];
	char client_str[KB_NET_ADDRSTR_MAX];
	/* The route's upstream, or the original destination on a transparent route. */
	struct kb_net_addr upstream_addr;
	char upstream_str[KB_NET_ADDRSTR_MAX];
	struct session_side client;
	struct session_side server;
	/* Connect timeout, then the drain timeout once the session closes. */
	struct event *timer;
	struct event *handshake_timer;
	struct timespec started;
	struct timespec last_activity;
	bool connected;
	bool reported;
	/* Auto mode: the offers are being compared; bytes after the lines are held. */
	bool deciding;
	unsigned int neg_failed;	/* categories that failed, as in kb_negotiation */
	/* Auto mode: the client's bytes up to its identification line, for a bridge. */
	struct evbuffer *client_lines;
	/* Auto mode: sends the client's held bytes upstream if the server waits. */
	struct event *kexinit_timer;
	bool client_released;		/* the client's bytes go upstream as they come */
	bool closing;
	const char *closed_by;
	const char *reason;
	bool spliced;		/* the bufferevents are disabled; splice.c relays */
	bool splice_tried;
};
/* session.c */
double session_elapsed(const struct timespec *since);
struct session_side *session_peer_of(struct kb_session *s, struct session_side *side);
bool session_output_pending(const struct session_side *side);
void session_side_failed(struct kb_session *s, struct session_side *side);
void session_finish(struct kb_session *s);
void session_drain_and_close(struct kb_session *s, const char *closed_by,
    const char *reason);

/* session_splice.c */
/* Frees side's splice events and buffer. Safe to call when none were set up. */
void session_side_free_splice(struct session_side *side);
bool session_splice_ready(const struct kb_session *s);
/*
 * If splice(2) cannot be set up, the session keeps relaying through the
 * bufferevents. If their bytes cannot be moved over, the session is closed
 * and freed.
 */
void session_splice_start(struct kb_session *s);

#endif
