/*
 * One relayed connection of the tap relay (private to src/proxy).
 */
#ifndef KEXBRIDGE_SESSION_H
#define KEXBRIDGE_SESSION_H

#include <stddef.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "kexbridge/net.h"

struct event_base;
struct evconnlistener;
struct event;
struct kb_bridge_route;
struct kb_route;
struct kb_session;

/* A listening route and the sessions it accepted. */
struct kb_route_ctx {
	const struct kb_route *route;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *resume_timer;	/* re-enables accepting after an error */
	struct kb_net_addr listen_addr;
	struct kb_net_addr upstream_addr;
	char listen_str[KB_NET_ADDRSTR_MAX];
	char upstream_str[KB_NET_ADDRSTR_MAX];
	size_t session_count;		/* tap and bridge sessions */
	unsigned int max_sessions_total;	/* [global] max_sessions */
	TAILQ_HEAD(, kb_session) sessions;
	struct kb_bridge_route *bridge;	/* bridge mode only */
};

/* Length of a session id and its NUL. */
#define KB_SESSION_ID_LEN	9

/*
 * Takes over fd, an accepted client connection, and starts relaying it to the
 * route's upstream. On failure fd is closed and the failure logged.
 */
void kb_session_start(struct kb_route_ctx *ctx, evutil_socket_t fd,
    const struct sockaddr *client, socklen_t client_len);

/*
 * Closes both sides at once, logs the session end and frees the session.
 * closed_by is "client", "server" or "kexbridge".
 */
void kb_session_close(struct kb_session *session, const char *closed_by, const char *reason);

/*
 * Count a session opened or freed on ctx, in the route's count and in the
 * count of the whole process that [global] max_sessions limits.
 */
void kb_session_count_open(struct kb_route_ctx *ctx);
void kb_session_count_close(struct kb_route_ctx *ctx);
/* Returns free heap memory to the system once no session is open. */
void kb_session_release_memory(void);
/*
 * Returns closed_by ("client", "server" or "kexbridge") as the text log
 * shows it: translated, except the name kexbridge. JSON keeps the value.
 */
const char *kb_session_closed_by_text(const char *closed_by);

/*
 * Logs that a limit was reached (event "limit"): its name as in the
 * configuration ("global_max_sessions" for [global] max_sessions), its
 * value, the client address and the route. id is the
 * session's, or NULL for a connection closed before it became a session.
 */
void kb_session_log_limit(const char *id, const struct kb_route_ctx *ctx,
    const char *client, const char *limit, unsigned int value);

/* Writes a new session id (8 hex digits, unique within the process). */
void kb_session_new_id(char id[KB_SESSION_ID_LEN]);

#endif
