/*
 * The second half of a tap session (session.c): the change-over to
 * splice(2) and the read and write events that relay through it.
 *
 * Once both KEXINITs are parsed the sniffers need no more bytes. Both
 * directions then change over to splice(2) through a pipe on the raw
 * sockets (splice.c), so the bytes no longer pass through user space. The
 * bufferevents are disabled and what they still contain is written first.
 * Byte counts, back-pressure, idle_timeout and the way a session ends stay
 * as they were.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "kexbridge/conf.h"
#include "kexbridge/log.h"
#include "kexbridge/sniffer.h"
#include "session.h"
#include "session_internal.h"
#include "splice.h"

void
session_side_free_splice(struct session_side *side)
{
	if (side->splice_read != NULL)
		event_free(side->splice_read);
	if (side->splice_write != NULL)
		event_free(side->splice_write);
	if (side->splice.pending != NULL)
		kb_splice_free(&side->splice);
	side->splice_read = side->splice_write = NULL;
}

/* The idle_timeout for the splice events, or NULL when there is none. */
static const struct timeval *
session_idle_tv(const struct kb_session *s, struct timeval *tv)
{
	if (s->ctx->route->idle_timeout == 0)
		return NULL;
	tv->tv_sec = (time_t)s->ctx->route->idle_timeout;
	tv->tv_usec = 0;
	return tv;
}

static void
session_splice_set_reading(struct kb_session *s, struct session_side *side, bool on)
{
	struct timeval tv;

	if (on == !side->paused)
		return;
	side->paused = !on;
	if (on)
		event_add(side->splice_read, session_idle_tv(s, &tv));
	else
		event_del(side->splice_read);
}

static void
session_splice_set_writing(struct kb_session *s, struct session_side *side, bool on)
{
	struct timeval tv;

	if (on == side->splice_writing)
		return;
	side->splice_writing = on;
	if (on)
		event_add(side->splice_write, session_idle_tv(s, &tv));
	else
		event_del(side->splice_write);
}

/* A socket error on side after the change-over, as session_event_cb() handles one before it. */
static void
session_splice_failed(struct kb_session *s, struct session_side *side, int err)
{
	session_side_failed(s, side);
	if (s->closing) {
		if (!session_output_pending(&s->client) && !session_output_pending(&s->server))
			session_finish(s);
		return;
	}
	kb_log(KB_LOG_DEBUG, s->id, "%s connection failed: %s", side->name,
	    evutil_socket_error_to_string(err));
	session_drain_and_close(s, side->name, err == ECONNRESET || err == EPIPE ?
	    "reset" : "error");
}

/*
 * Writes what side sent to its peer and adjusts both events to what is left:
 * reading stops at buffer_limit and resumes once half of it has drained.
 * Returns -1 when the session is gone or closing.
 */
static int
session_splice_flush(struct kb_session *s, struct session_side *side)
{
	struct session_side *peer = session_peer_of(s, side);
	size_t limit = s->ctx->route->buffer_limit, buffered;
	ssize_t n = 0;
	int err;

	if (kb_splice_buffered(&side->splice) > 0 && !peer->failed) {
		n = kb_splice_flush(&side->splice);
		err = errno;
		if (n < 0 && err != EAGAIN && err != EINTR) {
			session_splice_failed(s, peer, err);
			return -1;
		}
	}
	buffered = kb_splice_buffered(&side->splice);
	session_splice_set_writing(s, side, buffered > 0 && !peer->failed);
	if (s->closing) {
		if (!session_output_pending(&s->client) && !session_output_pending(&s->server))
			session_finish(s);
		return -1;
	}
	if (buffered >= limit)
		session_splice_set_reading(s, side, false);
	else if (side->paused && n > 0 && buffered <= limit / 2)
		session_splice_set_reading(s, side, true);
	return 0;
}

/* The read timeout counts as idle only when the other direction was quiet too. */
static void
session_splice_idle(struct kb_session *s)
{
	const struct kb_route *route = s->ctx->route;

	if (session_elapsed(&s->last_activity) < (double)route->idle_timeout)
		return;
	kb_session_log_limit(s->id, s->ctx, s->client_str, "idle_timeout", route->idle_timeout);
	session_drain_and_close(s, "kexbridge", "idle_timeout");
}

static void
session_splice_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session_side *side = arg;
	struct kb_session *s = side->session;
	size_t limit = s->ctx->route->buffer_limit;
	size_t buffered = kb_splice_buffered(&side->splice);
	ssize_t n;
	int err;

	if (what & EV_TIMEOUT) {
		session_splice_idle(s);
		return;
	}
	if (buffered >= limit) {
		session_splice_set_reading(s, side, false);
		return;
	}
	n = kb_splice_fill(&side->splice, limit - buffered);
	err = errno;
	if (side->splice.pipe_errno != 0 && !side->splice_copy_logged) {
		side->splice_copy_logged = true;
		kb_log(KB_LOG_DEBUG, s->id, "no pipe for splice(2) from %s: %s; copying instead",
		    side->name, strerror(side->splice.pipe_errno));
	}
	if (n > 0) {
		side->bytes += (uint64_t)n;
		clock_gettime(CLOCK_MONOTONIC, &s->last_activity);
		session_splice_flush(s, side);
		return;
	}
	if (n == 0) {
		session_drain_and_close(s, side->name, "eof");
		return;
	}
	if (err == EINTR)
		return;
	/* With bytes in the pipe, EAGAIN may mean a full pipe: wait for the writer. */
	if (err == EAGAIN) {
		if (buffered > 0)
			session_splice_set_reading(s, side, false);
		return;
	}
	session_splice_failed(s, side, err);
}

/* Fires when the peer's socket is writable, or as the idle timeout of a blocked write. */
static void
session_splice_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session_side *side = arg;
	struct kb_session *s = side->session;

	if ((what & EV_TIMEOUT) && s->closing) {
		kb_session_close(s, s->closed_by, s->reason);
		return;
	}
	if (what & EV_TIMEOUT) {
		kb_session_log_limit(s->id, s->ctx, s->client_str, "idle_timeout",
		    s->ctx->route->idle_timeout);
		session_drain_and_close(s, "kexbridge", "idle_timeout");
		return;
	}
	session_splice_flush(s, side);
}

/* Whether both sniffers are done, so the bytes need not pass through user space any more. */
bool
session_splice_ready(const struct kb_session *s)
{
	return !s->spliced && !s->splice_tried && s->reported && !s->deciding &&
	    !s->closing && !s->client.failed && !s->server.failed &&
	    kb_sniffer_state(s->client.sniffer) == KB_SNIFF_DONE &&
	    kb_sniffer_state(s->server.sniffer) == KB_SNIFF_DONE;
}

static int
session_splice_setup(struct kb_session *s, struct session_side *side)
{
	struct session_side *peer = session_peer_of(s, side);
	evutil_socket_t src = bufferevent_getfd(side->bev);
	evutil_socket_t dst = bufferevent_getfd(peer->bev);

	if (kb_splice_init(&side->splice, src, dst) != 0)
		return -1;
	side->splice_read = event_new(s->ctx->base, src, EV_READ | EV_PERSIST,
	    session_splice_read_cb, side);
	side->splice_write = event_new(s->ctx->base, dst, EV_WRITE | EV_PERSIST,
	    session_splice_write_cb, side);
	if (side->splice_read == NULL || side->splice_write == NULL)
		return -1;
	return 0;
}

/*
 * Moves what the bufferevents contain for side's direction to its splice
 * buffer: first the peer's unwritten output, then what side's bufferevent
 * read and session_forward() has not passed on yet. A bufferevent's output
 * is frozen at the start while the bufferevent owns it, so it is unfrozen
 * for the move.
 */
static int
session_splice_adopt(struct kb_session *s, struct session_side *side)
{
	struct session_side *peer = session_peer_of(s, side);
	struct evbuffer *out = bufferevent_get_output(peer->bev);
	struct evbuffer *in = bufferevent_get_input(side->bev);
	size_t len = evbuffer_get_length(in);
	int r;

	evbuffer_unfreeze(out, 1);
	r = evbuffer_add_buffer(side->splice.pending, out);
	evbuffer_freeze(out, 1);
	if (r != 0 || evbuffer_add_buffer(side->splice.pending, in) != 0)
		return -1;
	side->bytes += len;
	return 0;
}

/* Changes both directions over from the bufferevents to splice(2). */
void
session_splice_start(struct kb_session *s)
{
	struct session_side *sides[2] = { &s->client, &s->server };
	size_t limit = s->ctx->route->buffer_limit, buffered;
	struct timeval tv;
	int i;

	s->splice_tried = true;
	if (session_splice_setup(s, &s->client) != 0 ||
	    session_splice_setup(s, &s->server) != 0) {
		kb_log(KB_LOG_DEBUG, s->id, "cannot set up splice(2); relaying through buffers");
		session_side_free_splice(&s->client);
		session_side_free_splice(&s->server);
		return;
	}
	bufferevent_disable(s->client.bev, EV_READ | EV_WRITE);
	bufferevent_disable(s->server.bev, EV_READ | EV_WRITE);
	if (session_splice_adopt(s, &s->client) != 0 || session_splice_adopt(s, &s->server) != 0) {
		kb_log(KB_LOG_ERROR, s->id, "cannot move buffered data to the splice relay; closing");
		kb_session_close(s, "kexbridge", "error");
		return;
	}
	s->spliced = true;
	for (i = 0; i < 2; i++) {
		buffered = kb_splice_buffered(&sides[i]->splice);
		sides[i]->paused = buffered >= limit;
		if (!sides[i]->paused)
			event_add(sides[i]->splice_read, session_idle_tv(s, &tv));
		session_splice_set_writing(s, sides[i], buffered > 0);
	}
	kb_log(KB_LOG_DEBUG, s->id, "both KEXINITs seen; relaying with splice(2)");
}
