/*
 * One tap session: a client connection, the connection to the upstream, and
 * a sniffer on each direction.
 *
 * Bytes are relayed unchanged both ways. Back-pressure follows libevent's
 * sample/le-proxy.c: once the receiving side's output buffer reaches the
 * route's buffer_limit, reading from the sending side stops until that
 * output has drained to half. A session therefore buffers at most about
 * buffer_limit plus one read per direction.
 *
 * Once both KEXINITs are parsed, session_splice.c changes both directions
 * over to splice(2).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/json.h"
#include "kexbridge/log.h"
#include "kexbridge/sniffer.h"
#include "kexbridge/advice.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/origdst.h"
#include "kexbridge/report.h"
#include "bridge.h"
#include "session.h"
#include "session_internal.h"
#include "splice.h"

/*
 * How long the last buffered bytes may take to drain after one side closed.
 * NOTE: a fixed value; a route setting would be better if peers need longer.
 */
#define SESSION_DRAIN_TIMEOUT	30
/*
 * Bytes an auto session holds per side between the identification line and
 * the decision: packets before KEXINIT, KEXINIT, and a guessed kex packet.
 */
#define SESSION_HOLD_MAX	(64 * 1024)
/*
 * Milliseconds an auto session waits for the server's KEXINIT after the
 * client's before it sends the client's bytes upstream.
 */
#define SESSION_KEXINIT_WAIT_MS	500

double
session_elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

void
kb_session_new_id(char id[KB_SESSION_ID_LEN])
{
	static uint32_t seed, counter;
	static bool seeded;

	if (!seeded) {
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
			seed = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
		seeded = true;
	}
	/* Multiplying by an odd constant is a bijection mod 2^32, so ids stay unique. */
	snprintf(id, KB_SESSION_ID_LEN, "%08x", seed + counter++ * 0x9e3779b1u);
}

static struct session_side *
session_side_of(struct kb_session *s, struct bufferevent *bev)
{
	return bev == s->client.bev ? &s->client : &s->server;
}

struct session_side *
session_peer_of(struct kb_session *s, struct session_side *side)
{
	return side == &s->client ? &s->server : &s->client;
}

static void
session_log_end(struct kb_session *s, const char *closed_by, const char *reason)
{
	struct kb_json *json = kb_json_new();
	double duration = session_elapsed(&s->started);
	char text[512];

	if (json != NULL) {
		kb_json_str(json, "event", "session_end");
		kb_json_str(json, "route", s->ctx->route->name);
		kb_json_uint(json, "bytes_c2s", s->client.bytes);
		kb_json_uint(json, "bytes_s2c", s->server.bytes);
		kb_json_double(json, "duration_s", duration);
		kb_json_str(json, "closed_by", closed_by);
		kb_json_str(json, "reason", reason);
	}
	snprintf(text, sizeof(text),
	    _("session end: closed by %s (%s) after %.3f s, %llu bytes client to server, "
	    "%llu bytes server to client"), kb_session_closed_by_text(closed_by), reason,
	    duration, (unsigned long long)s->client.bytes,
	    (unsigned long long)s->server.bytes);
	kb_log_event(KB_LOG_INFO, s->id, json, text);
}

/*
 * Logs a side that sent bytes but no identification line (RFC 4253 section
 * 4.2) before the session ended, such as an HTTP server as the upstream.
 * A server that is not SSH is a configuration mistake, so it logs at warn.
 */
static void
session_log_no_version(struct kb_session *s, struct session_side *side)
{
	struct kb_json *json;
	uint64_t bytes = kb_sniffer_offset(side->sniffer);
	char line[4 * SESSION_HEAD_MAX + 1], text[512];
	size_t len;

	if (kb_sniffer_state(side->sniffer) != KB_SNIFF_VERSION || bytes == 0)
		return;
	for (len = 0; len < side->head_len; len++) {
		if (side->head[len] == '\r' || side->head[len] == '\n')
			break;
	}
	kb_log_escape(line, sizeof(line), side->head, len);
	if ((json = kb_json_new()) != NULL) {
		kb_json_str(json, "event", "protocol_error");
		kb_json_str(json, "side", side->name);
		kb_json_str(json, "error", "no_identification_line");
		kb_json_uint(json, "bytes", bytes);
		kb_json_str(json, "first_line", line);
	}
	snprintf(text, sizeof(text),
	    _("%s sent no SSH identification line (%llu bytes, first line: \"%s\")"),
	    side->name, (unsigned long long)bytes, line);
	kb_log_event(side == &s->server ? KB_LOG_WARN : KB_LOG_INFO, s->id, json, text);
}

static void
session_side_free(struct session_side *side)
{
	session_side_free_splice(side);
	if (side->bev != NULL)
		bufferevent_free(side->bev);
	kb_sniffer_free(side->sniffer);
	if (side->held != NULL)
		evbuffer_free(side->held);
	side->bev = NULL;
	side->sniffer = NULL;
	side->held = NULL;
}

/* Frees an open session without logging its end. */
static void
session_free(struct kb_session *s)
{
	TAILQ_REMOVE(&s->ctx->sessions, s, entry);
	kb_session_count_close(s->ctx);
	session_side_free(&s->client);
	session_side_free(&s->server);
	if (s->client_lines != NULL)
		evbuffer_free(s->client_lines);
	if (s->kexinit_timer != NULL)
		event_free(s->kexinit_timer);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->handshake_timer != NULL)
		event_free(s->handshake_timer);
	free(s);
	kb_session_release_memory();
}

const char *
kb_session_closed_by_text(const char *closed_by)
{
	if (strcmp(closed_by, "client") == 0)
		return _("client");
	if (strcmp(closed_by, "server") == 0)
		return _("server");
	return closed_by;
}

void
kb_session_close(struct kb_session *s, const char *closed_by, const char *reason)
{
	session_log_no_version(s, &s->client);
	session_log_no_version(s, &s->server);
	session_log_end(s, closed_by, reason);
	session_free(s);
}

/* Sends FIN on every side still able to write, then closes the session. */
void
session_finish(struct kb_session *s)
{
	if (s->client.bev != NULL && !s->client.failed)
		shutdown(bufferevent_getfd(s->client.bev), SHUT_WR);
	if (s->server.bev != NULL && !s->server.failed && s->connected)
		shutdown(bufferevent_getfd(s->server.bev), SHUT_WR);
	kb_session_close(s, s->closed_by, s->reason);
}

/* Whether bytes wait to be written to side, in its bufferevent or in the peer's pipe. */
bool
session_output_pending(const struct session_side *side)
{
	const struct kb_session *s = side->session;
	const struct session_side *peer = side == &s->client ? &s->server : &s->client;

	if (side->bev == NULL || side->failed)
		return false;
	if (evbuffer_get_length(bufferevent_get_output(side->bev)) > 0)
		return true;
	return peer->splice.pending != NULL && kb_splice_buffered(&peer->splice) > 0;
}

/* Marks side as unable to take more bytes and drops what waits for it. */
void
session_side_failed(struct kb_session *s, struct session_side *side)
{
	struct session_side *peer = session_peer_of(s, side);

	side->failed = true;
	evbuffer_drain(bufferevent_get_output(side->bev),
	    evbuffer_get_length(bufferevent_get_output(side->bev)));
	if (s->spliced) {
		kb_splice_discard(&peer->splice);
		event_del(peer->splice_write);
		peer->splice_writing = false;
	}
}

/*
 * Stops reading on both sides and closes the session once what is buffered
 * for either side has been written, or SESSION_DRAIN_TIMEOUT has passed.
 */
void
session_drain_and_close(struct kb_session *s, const char *closed_by, const char *reason)
{
	struct timeval tv = { SESSION_DRAIN_TIMEOUT, 0 };

	s->closing = true;
	s->closed_by = closed_by;
	s->reason = reason;
	bufferevent_disable(s->client.bev, EV_READ);
	bufferevent_disable(s->server.bev, EV_READ);
	bufferevent_setwatermark(s->client.bev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(s->server.bev, EV_WRITE, 0, 0);
	if (s->spliced) {
		event_del(s->client.splice_read);
		event_del(s->server.splice_read);
	}
	if (!session_output_pending(&s->client) && !session_output_pending(&s->server)) {
		session_finish(s);
		return;
	}
	evtimer_add(s->timer, &tv);
}

/* Logs why a sniffer failed and closes the session. */
static void
session_fail_protocol(struct kb_session *s, struct session_side *side, int err)
{
	struct kb_json *json = kb_json_new();
	char text[256];

	if (json != NULL) {
		kb_json_str(json, "event", "protocol_error");
		kb_json_str(json, "side", side->name);
		kb_json_str(json, "error", kb_err_msgid(err));
	}
	snprintf(text, sizeof(text), _("%s sent invalid SSH data: %s; closing both sides"),
	    side->name, kb_err_str(err));
	kb_log_event(KB_LOG_INFO, s->id, json, text);
	kb_session_close(s, "kexbridge", "protocol_error");
}

static void
session_log_disconnect(struct kb_session *s, struct session_side *side)
{
	struct kb_json *json = kb_json_new();
	uint32_t code = kb_sniffer_disconnect_reason(side->sniffer);
	const char *desc = kb_sniffer_disconnect_text(side->sniffer);
	char text[512];

	if (desc == NULL)
		desc = "";
	if (json != NULL) {
		kb_json_str(json, "event", "disconnect");
		kb_json_str(json, "side", side->name);
		kb_json_uint(json, "reason_code", code);
		kb_json_str(json, "description", desc);
	}
	snprintf(text, sizeof(text),
	    _("%s sent SSH_MSG_DISCONNECT before KEXINIT: reason %u, \"%s\""),
	    side->name, (unsigned int)code, desc);
	kb_log_event(KB_LOG_INFO, s->id, json, text);
}

/*
 * Computes the negotiation from both KEXINITs (RFC 4253 section 7.1) and logs
 * it as one event: the agreed algorithms, or each failed category with both
 * offers and advice.
 */
static void
session_report(struct kb_session *s)
{
	struct kb_negotiation neg;
	struct kb_advice advice;
	struct kb_report report;
	struct kb_json *json;
	const char *decision = NULL;
	char *text = NULL, *line;

	memset(&advice, 0, sizeof(advice));
	memset(&report, 0, sizeof(report));
	report.client_version = kb_sniffer_version(s->client.sniffer);
	report.server_version = kb_sniffer_version(s->server.sniffer);
	report.client = kb_sniffer_kexinit(s->client.sniffer);
	report.server = kb_sniffer_kexinit(s->server.sniffer);
	kb_negotiate(report.client, report.server, &neg);
	s->neg_failed = neg.failed;
	if (s->deciding)
		decision = neg.failed != 0 ? "bridge" : "relay";
	if (kb_advice_build(report.client, report.server, report.server_version, &neg,
	    &advice) != 0) {
		kb_log(KB_LOG_ERROR, s->id, "cannot build the advice; logging without it");
		kb_advice_free(&advice);
		memset(&advice, 0, sizeof(advice));
	}
	report.neg = &neg;
	report.advice = &advice;

	if ((json = kb_json_new()) != NULL) {
		kb_json_str(json, "event", "negotiation");
		kb_json_str(json, "route", s->ctx->route->name);
		kb_report_json(json, &report);
		if (decision != NULL)
			kb_json_str(json, "decision", decision);
	}
	if (kb_log_format() == KB_LOG_TEXT)
		text = kb_report_line(&report, true);
	if (text != NULL && decision != NULL &&
	    asprintf(&line, _("%s; auto mode: %s"), text, decision) >= 0) {
		free(text);
		text = line;
	}
	kb_log_event(neg.failed != 0 ? KB_LOG_WARN : KB_LOG_INFO, s->id, json,
	    text != NULL ? text : _("negotiation finished; the summary could not be built"));
	free(text);
	kb_advice_free(&advice);
}

static bool
session_sniffing(const struct session_side *side)
{
	enum kb_sniff_state st = kb_sniffer_state(side->sniffer);

	return st == KB_SNIFF_VERSION || st == KB_SNIFF_KEXINIT;
}

/* Keeps the first bytes a side sends, for session_log_no_version(). */
static void
session_keep_head(struct session_side *side, const void *data, size_t len)
{
	size_t room = sizeof(side->head) - 1 - side->head_len;

	if (len > room)
		len = room;
	memcpy(side->head + side->head_len, data, len);
	side->head_len += len;
	side->head[side->head_len] = '\0';
}

/*
 * Feeds the bytes waiting in src to side's sniffer, copying only the first
 * few into side->head. Returns -1 when the input was malformed and the
 * session is gone.
 */
static int
session_sniff(struct kb_session *s, struct session_side *side, struct evbuffer *src)
{
	struct evbuffer_iovec vec[8];
	struct evbuffer_ptr pos;
	size_t total = evbuffer_get_length(src), done = 0, len;
	int i, n, r = 0;

	while (done < total && r == 0 && session_sniffing(side)) {
		if (evbuffer_ptr_set(src, &pos, done, EVBUFFER_PTR_SET) != 0)
			break;
		n = evbuffer_peek(src, (ev_ssize_t)(total - done), &pos, vec, 8);
		if (n <= 0)
			break;
		for (i = 0; i < n && i < 8 && r == 0 && done < total; i++) {
			len = vec[i].iov_len < total - done ? vec[i].iov_len : total - done;
			session_keep_head(side, vec[i].iov_base, len);
			r = kb_sniffer_feed(side->sniffer, vec[i].iov_base, len);
			done += len;
		}
	}
	if (r != 0) {
		session_fail_protocol(s, side, r);
		return -1;
	}

	if (kb_sniffer_state(side->sniffer) == KB_SNIFF_DISCONNECTED &&
	    !side->disconnect_logged) {
		side->disconnect_logged = true;
		session_log_disconnect(s, side);
	}
	if (!s->reported && kb_sniffer_state(s->client.sniffer) == KB_SNIFF_DONE &&
	    kb_sniffer_state(s->server.sniffer) == KB_SNIFF_DONE) {
		s->reported = true;
		event_del(s->handshake_timer);
		session_report(s);
	}
	return 0;
}

/* Stops reading from side until its peer's output drains to half the limit. */
static void
session_pause(struct kb_session *s, struct session_side *side, struct session_side *peer)
{
	size_t limit = s->ctx->route->buffer_limit;

	side->paused = true;
	bufferevent_disable(side->bev, EV_READ);
	bufferevent_setwatermark(peer->bev, EV_WRITE, limit / 2, 0);
}

/*
 * Moves len bytes from the start of src to side's peer, or drops them when
 * the peer cannot be written. Returns -1 when the session is gone.
 */
static int
session_pass(struct kb_session *s, struct session_side *side, struct evbuffer *src,
    size_t len)
{
	struct session_side *peer = session_peer_of(s, side);
	struct evbuffer *dst;

	if (len == 0)
		return 0;
	if (peer->failed) {
		evbuffer_drain(src, len);
		return 0;
	}
	dst = bufferevent_get_output(peer->bev);
	if (evbuffer_remove_buffer(src, dst, len) != (int)len) {
		kb_log(KB_LOG_ERROR, s->id, "cannot move data between buffers; closing");
		kb_session_close(s, "kexbridge", "limit");
		return -1;
	}
	side->bytes += len;
	clock_gettime(CLOCK_MONOTONIC, &s->last_activity);
	if (!s->closing && evbuffer_get_length(dst) >= s->ctx->route->buffer_limit)
		session_pause(s, side, peer);
	return 0;
}

/*
 * Auto mode: feeds the identification lines one byte at a time, so that the
 * offset where the binary packets start is exact, and returns the number of
 * bytes they took. Returns -1 when the input was malformed and the session
 * is gone.
 */
static ssize_t
session_auto_sniff_lines(struct kb_session *s, struct session_side *side,
    struct evbuffer *src)
{
	struct evbuffer_ptr pos;
	uint8_t chunk[256];
	size_t total = evbuffer_get_length(src), done = 0, n, i;
	int r = 0;

	while (done < total && kb_sniffer_state(side->sniffer) == KB_SNIFF_VERSION) {
		n = total - done < sizeof(chunk) ? total - done : sizeof(chunk);
		if (evbuffer_ptr_set(src, &pos, done, EVBUFFER_PTR_SET) != 0 ||
		    evbuffer_copyout_from(src, &pos, chunk, n) != (ev_ssize_t)n)
			break;
		for (i = 0; i < n && r == 0 &&
		    kb_sniffer_state(side->sniffer) == KB_SNIFF_VERSION; i++)
			r = kb_sniffer_feed(side->sniffer, chunk + i, 1);
		session_keep_head(side, chunk, i);
		done += i;
		if (r != 0) {
			session_fail_protocol(s, side, r);
			return -1;
		}
	}
	return (ssize_t)done;
}

/*
 * Releases the held bytes both ways: the offers agree, or a side sent
 * DISCONNECT first. Of the client's bytes, only those not yet released
 * upstream by session_auto_release_client() go now.
 */
static int
session_auto_release(struct kb_session *s)
{
	s->deciding = false;
	event_del(s->kexinit_timer);
	evbuffer_free(s->client_lines);
	s->client_lines = NULL;
	if (s->client_released)
		evbuffer_drain(s->client.held, evbuffer_get_length(s->client.held));
	else if (session_pass(s, &s->client, s->client.held,
	    evbuffer_get_length(s->client.held)) != 0)
		return -1;
	return session_pass(s, &s->server, s->server.held,
	    evbuffer_get_length(s->server.held));
}

/*
 * Sends the client's held bytes upstream and keeps a copy for a bridge.
 * From then on the client's bytes go upstream as they come. Returns -1
 * when the session is gone.
 */
static int
session_auto_release_client(struct kb_session *s)
{
	struct evbuffer *copy;
	size_t len = evbuffer_get_length(s->client.held);
	int r;

	s->client_released = true;
	if (len == 0)
		return 0;
	if ((copy = evbuffer_new()) == NULL ||
	    evbuffer_add(copy, evbuffer_pullup(s->client.held, -1), len) != 0) {
		if (copy != NULL)
			evbuffer_free(copy);
		kb_log(KB_LOG_ERROR, s->id, "cannot keep the client's bytes; closing");
		kb_session_close(s, "kexbridge", "error");
		return -1;
	}
	r = session_pass(s, &s->client, copy, len);
	evbuffer_free(copy);
	return r;
}

/*
 * Sends the client's bytes upstream when the server's KEXINIT is late. The
 * server may wait for the client's KEXINIT first, which RFC 4253 section
 * 7.1 allows. If the offers then disagree, that connection is dropped.
 */
static void
session_kexinit_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kb_session *s = arg;

	if (!s->deciding || s->closing || s->client_released)
		return;
	kb_log(KB_LOG_DEBUG, s->id, "no KEXINIT from the server within %d ms of the "
	    "client's; sending the client's upstream", SESSION_KEXINIT_WAIT_MS);
	session_auto_release_client(s);
}

/*
 * The offers do not agree: the upstream's KEXINIT never reaches the client,
 * the upstream connection is closed, and the client goes to a bridge
 * session that answers with our KEXINIT. The session is gone afterwards.
 */
static int
session_auto_bridge(struct kb_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->client.bev);
	struct kb_bridge_adoption a;
	struct evbuffer *to_client = evbuffer_new();
	size_t len = evbuffer_get_length(out);
	uint8_t *pending = malloc(len + 1);
	evutil_socket_t fd = -1;

	/* The output buffer of a bufferevent cannot be drained from outside; copy it. */
	if (to_client == NULL || pending == NULL ||
	    evbuffer_copyout(out, pending, len) != (ev_ssize_t)len ||
	    evbuffer_add(to_client, pending, len) != 0 ||
	    evbuffer_add_buffer(s->client_lines, s->client.held) != 0 ||
	    (fd = fcntl(bufferevent_getfd(s->client.bev), F_DUPFD_CLOEXEC, 0)) < 0) {
		kb_log(KB_LOG_ERROR, s->id, "cannot hand the client to a bridge session; closing");
		kb_session_close(s, "kexbridge", "error");
		goto out;
	}
	kb_log(KB_LOG_DEBUG, s->id, "offers do not agree; closing the upstream connection");
	memset(&a, 0, sizeof(a));
	a.id = s->id;
	a.client_str = s->client_str;
	a.started = s->started;
	a.upstream = &s->upstream_addr;
	a.server_version = kb_sniffer_version(s->server.sniffer)->line;
	a.to_client = to_client;
	a.from_client = s->client_lines;
	kb_bridge_adopt(s->ctx, fd, &a);
	session_free(s);
 out:
	if (to_client != NULL)
		evbuffer_free(to_client);
	free(pending);
	return -1;
}

/* Relays or bridges once both KEXINITs are parsed or a side sent DISCONNECT. */
static int
session_auto_decide(struct kb_session *s)
{
	enum kb_sniff_state c = kb_sniffer_state(s->client.sniffer);
	enum kb_sniff_state v = kb_sniffer_state(s->server.sniffer);

	if (c == KB_SNIFF_DISCONNECTED || v == KB_SNIFF_DISCONNECTED)
		return session_auto_release(s);
	if (c == KB_SNIFF_DONE && v != KB_SNIFF_DONE && !s->client_released &&
	    !evtimer_pending(s->kexinit_timer, NULL)) {
		struct timeval wait = { 0, SESSION_KEXINIT_WAIT_MS * 1000 };

		evtimer_add(s->kexinit_timer, &wait);
	}
	if (c != KB_SNIFF_DONE || v != KB_SNIFF_DONE)
		return 0;
	if (s->neg_failed == 0)
		return session_auto_release(s);
	return session_auto_bridge(s);
}

/*
 * Auto mode before the decision: the identification lines pass at once, and
 * what follows them is held until both KEXINITs are parsed. A server that
 * has not sent its KEXINIT SESSION_KEXINIT_WAIT_MS after the client's gets
 * the client's bytes (session_kexinit_wait_cb). The server's bytes are
 * always held, because a bridge replies to the client with its own KEXINIT.
 * Returns -1 when the session is gone.
 */
static int
session_auto_take(struct kb_session *s, struct session_side *side)
{
	struct evbuffer *src = bufferevent_get_input(side->bev);
	ssize_t lines;
	size_t len;

	if ((lines = session_auto_sniff_lines(s, side, src)) < 0)
		return -1;
	if (side == &s->client && lines > 0 &&
	    evbuffer_add(s->client_lines, evbuffer_pullup(src, lines), (size_t)lines) != 0) {
		kb_log(KB_LOG_ERROR, s->id, "cannot keep the client's identification line; closing");
		kb_session_close(s, "kexbridge", "error");
		return -1;
	}
	if (session_pass(s, side, src, (size_t)lines) != 0 ||
	    session_sniff(s, side, src) != 0)
		return -1;
	if (side == &s->client && s->client_released) {
		len = evbuffer_get_length(src);
		if (evbuffer_add(side->held, evbuffer_pullup(src, -1), len) != 0) {
			kb_log(KB_LOG_ERROR, s->id, "cannot keep the client's bytes; closing");
			kb_session_close(s, "kexbridge", "error");
			return -1;
		}
		if (session_pass(s, side, src, len) != 0)
			return -1;
	} else {
		evbuffer_add_buffer(side->held, src);
	}
	if (evbuffer_get_length(side->held) > SESSION_HOLD_MAX) {
		kb_log(KB_LOG_INFO, s->id, "%s sent more than %d bytes before its KEXINIT; closing",
		    side->name, SESSION_HOLD_MAX);
		kb_session_close(s, "kexbridge", "limit");
		return -1;
	}
	return session_auto_decide(s);
}

/*
 * Moves what side has read to its peer's output, after the sniffer has seen
 * it. Returns -1 when the session is gone.
 */
static int
session_forward(struct kb_session *s, struct session_side *side)
{
	struct evbuffer *src = bufferevent_get_input(side->bev);
	size_t len = evbuffer_get_length(src);

	/* The change-over took what the bufferevents held, and they read no more. */
	if (len == 0 || s->spliced)
		return 0;
	if (s->deciding)
		return session_auto_take(s, side);
	if (session_sniff(s, side, src) != 0)
		return -1;
	return session_pass(s, side, src, len);
}

static void
session_read_cb(struct bufferevent *bev, void *arg)
{
	struct kb_session *s = arg;

	if (session_forward(s, session_side_of(s, bev)) != 0)
		return;
	if (session_splice_ready(s))
		session_splice_start(s);
}

/* Output drained to the low watermark: resume the paused peer, or finish closing. */
static void
session_write_cb(struct bufferevent *bev, void *arg)
{
	struct kb_session *s = arg;
	struct session_side *side = session_side_of(s, bev);
	struct session_side *peer = session_peer_of(s, side);

	if (s->spliced)
		return;
	if (s->closing) {
		if (!session_output_pending(&s->client) && !session_output_pending(&s->server))
			session_finish(s);
		return;
	}
	if (peer->paused) {
		peer->paused = false;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(peer->bev, EV_READ);
	}
}

static void
session_set_nodelay(struct bufferevent *bev)
{
	int on = 1;

	/*
	 * Relay each chunk at once, for the whole session. OpenSSH 9.2 sets
	 * TCP_NODELAY on its own socket for every session, scp and plain
	 * commands included (seen with strace), so Nagle's algorithm on our
	 * sockets would delay what both ends send at once. Clearing it after
	 * the key exchange was measured with the splice(2) relay and made
	 * transfers no faster (doc/benchmarks.md).
	 */
	setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void
session_on_connected(struct kb_session *s)
{
	const struct kb_route *route = s->ctx->route;
	struct timeval idle = { (time_t)route->idle_timeout, 0 };

	s->connected = true;
	event_del(s->timer);
	session_set_nodelay(s->server.bev);
	if (route->idle_timeout > 0) {
		bufferevent_set_timeouts(s->client.bev, &idle, &idle);
		bufferevent_set_timeouts(s->server.bev, &idle, &idle);
	}
	clock_gettime(CLOCK_MONOTONIC, &s->last_activity);
	bufferevent_enable(s->client.bev, EV_READ | EV_WRITE);
	bufferevent_enable(s->server.bev, EV_READ | EV_WRITE);
	kb_log(KB_LOG_DEBUG, s->id, "connected to upstream %s", s->upstream_str);
}

static void
session_connect_failed(struct kb_session *s, const char *cause)
{
	struct kb_json *json = kb_json_new();
	char text[512];

	if (json != NULL) {
		kb_json_str(json, "event", "connect_failed");
		kb_json_str(json, "upstream", s->upstream_str);
		kb_json_str(json, "error", cause);
	}
	snprintf(text, sizeof(text), _("connecting to upstream %s failed: %s; closing the client"),
	    s->upstream_str, cause);
	kb_log_event(KB_LOG_WARN, s->id, json, text);
}

/*
 * A read timeout on one side counts as idle only when the other direction was
 * quiet too. A write timeout means the peer stopped reading for that long.
 */
static void
session_on_timeout(struct kb_session *s, struct session_side *side, short what)
{
	const struct kb_route *route = s->ctx->route;

	if ((what & BEV_EVENT_READING) &&
	    session_elapsed(&s->last_activity) < (double)route->idle_timeout) {
		if (!side->paused)
			bufferevent_enable(side->bev, EV_READ);
		return;
	}
	kb_session_log_limit(s->id, s->ctx, s->client_str, "idle_timeout",
	    route->idle_timeout);
	session_drain_and_close(s, "kexbridge", "idle_timeout");
}

static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct kb_session *s = arg;
	struct session_side *side = session_side_of(s, bev);
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		session_on_connected(s);
		return;
	}
	if (side == &s->server && !s->connected) {
		session_connect_failed(s, evutil_socket_error_to_string(err));
		kb_session_close(s, "kexbridge", "connect_failed");
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !s->closing) {
		session_on_timeout(s, side, what);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->closing) {
		kb_session_close(s, s->closed_by, s->reason);
		return;
	}
	/*
	 * After the change-over only a callback deferred from before it can
	 * arrive here. Its timeout is moot, because the splice events have
	 * their own.
	 */
	if ((what & BEV_EVENT_TIMEOUT) && s->spliced)
		return;
	if (what & BEV_EVENT_ERROR)
		session_side_failed(s, side);
	if (s->closing) {
		if (!session_output_pending(&s->client) && !session_output_pending(&s->server))
			session_finish(s);
		return;
	}

	/* Pass on what the closing side sent last, then close once it is written. */
	if (session_forward(s, side) != 0)
		return;
	if (what & BEV_EVENT_EOF) {
		session_drain_and_close(s, side->name, "eof");
		return;
	}
	kb_log(KB_LOG_DEBUG, s->id, "%s connection failed: %s", side->name,
	    evutil_socket_error_to_string(err));
	session_drain_and_close(s, side->name, err == ECONNRESET || err == EPIPE ?
	    "reset" : "error");
}

/* Fires as the connect timeout before the upstream connection is up, else as the drain timeout. */
static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kb_session *s = arg;

	if (s->closing) {
		kb_log(KB_LOG_INFO, s->id, "buffered data not written within %d s; closing",
		    SESSION_DRAIN_TIMEOUT);
		kb_session_close(s, s->closed_by, s->reason);
		return;
	}
	session_connect_failed(s, kb_log_tr(N_("timed out")));
	kb_session_close(s, "kexbridge", "connect_timeout");
}

static void
session_handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kb_session *s = arg;

	if (s->reported || s->closing)
		return;
	kb_session_log_limit(s->id, s->ctx, s->client_str, "handshake_timeout",
	    s->ctx->route->handshake_timeout);
	kb_session_close(s, "kexbridge", "handshake_timeout");
}

static void
session_log_start(struct kb_session *s)
{
	struct kb_json *json = kb_json_new();
	const struct kb_route *route = s->ctx->route;
	char text[512];

	if (json != NULL) {
		kb_json_str(json, "event", "session_start");
		kb_json_str(json, "route", route->name);
		kb_json_str(json, "client", s->client_str);
		kb_json_str(json, "upstream", s->upstream_str);
		kb_json_str(json, "mode", kb_conf_mode_str(route->mode));
	}
	snprintf(text, sizeof(text), _("session start: client %s, route %s, upstream %s, mode %s"),
	    s->client_str, route->name, s->upstream_str, kb_conf_mode_str(route->mode));
	kb_log_event(KB_LOG_INFO, s->id, json, text);
}

/* Sessions open in the process, on every route and relay. */
static size_t session_total;

void
kb_session_count_open(struct kb_route_ctx *ctx)
{
	ctx->session_count++;
	session_total++;
}

void
kb_session_count_close(struct kb_route_ctx *ctx)
{
	ctx->session_count--;
	session_total--;
}

/*
 * glibc keeps freed heap pages mapped after a burst of sessions (measured:
 * 1,000 idle connections left VmRSS 35 MB above idle with under 1 MB in
 * use), so a daemon that had one busy night would look like it leaks. Once
 * the last session is gone, the free memory goes back to the system.
 */
void
kb_session_release_memory(void)
{
	if (session_total != 0)
		return;
	kb_splice_trim_cache();
	malloc_trim(0);
}

void
kb_session_log_limit(const char *id, const struct kb_route_ctx *ctx, const char *client,
    const char *limit, unsigned int value)
{
	struct kb_json *json = kb_json_new();
	char new_id[KB_SESSION_ID_LEN], text[512];

	if (id == NULL) {
		kb_session_new_id(new_id);
		id = new_id;
	}
	if (json != NULL) {
		kb_json_str(json, "event", "limit");
		kb_json_str(json, "limit", limit);
		kb_json_uint(json, "value", value);
		kb_json_str(json, "client", client);
		kb_json_str(json, "route", ctx->route->name);
	}
	snprintf(text, sizeof(text), _("limit %s (%u) reached for client %s on route %s; "
	    "closing the connection"), limit, value, client, ctx->route->name);
	kb_log_event(KB_LOG_INFO, id, json, text);
}

/* Length of "ADDR" in "ADDR:PORT" or "[ADDR]:PORT" as kb_net_format() writes it. */
static size_t
session_host_len(const char *addr_port)
{
	const char *colon = strrchr(addr_port, ':');

	return colon != NULL ? (size_t)(colon - addr_port) : strlen(addr_port);
}

static bool
session_same_host(const char *a, const char *b)
{
	size_t len = session_host_len(a);

	return len == session_host_len(b) && strncmp(a, b, len) == 0;
}

/*
 * Counts the route's open sessions from client's address and those still in
 * the handshake: tap before both KEXINITs were seen, bridge before the client
 * authenticated. Sessions already closing count for neither.
 */
static void
session_count_route(const struct kb_route_ctx *ctx, const char *client,
    unsigned int *from_source, unsigned int *in_startup)
{
	const struct kb_session *s;
	const struct kb_bridge *b;

	*from_source = 0;
	*in_startup = 0;
	TAILQ_FOREACH(s, &ctx->sessions, entry) {
		if (s->closing)
			continue;
		*from_source += session_same_host(s->client_str, client);
		*in_startup += !s->reported;
	}
	if (ctx->bridge == NULL)
		return;
	TAILQ_FOREACH(b, &ctx->bridge->sessions, entry) {
		if (b->closing)
			continue;
		*from_source += session_same_host(b->client_str, client);
		*in_startup += !kb_conn_authenticated(b->conn);
	}
}

/*
 * Checks the connection limits for a new client; returns the name of the
 * first one reached and its value, or NULL when the connection may go on.
 */
static const char *
session_limit_reached(const struct kb_route_ctx *ctx, const char *client,
    unsigned int *value)
{
	const struct kb_route *route = ctx->route;
	unsigned int from_source, in_startup;

	if (ctx->max_sessions_total > 0 && session_total >= ctx->max_sessions_total) {
		*value = ctx->max_sessions_total;
		return "global_max_sessions";
	}
	if (ctx->session_count >= route->max_sessions) {
		*value = route->max_sessions;
		return "max_sessions";
	}
	session_count_route(ctx, client, &from_source, &in_startup);
	if (from_source >= route->max_per_source) {
		*value = route->max_per_source;
		return "max_per_source";
	}
	if (in_startup >= route->max_startups) {
		*value = route->max_startups;
		return "max_startups";
	}
	return NULL;
}

/*
 * Closes a connection rejected before the version exchange. What the client
 * already sent is read first, so that close(2) sends FIN and not RST and
 * the client sees the connection closed rather than reset.
 */
static void
session_reject(evutil_socket_t fd)
{
	char discard[4096];
	int i;

	for (i = 0; i < 4; i++) {
		if (recv(fd, discard, sizeof(discard), MSG_DONTWAIT) <= 0)
			break;
	}
	shutdown(fd, SHUT_RDWR);
	evutil_closesocket(fd);
}

/* Allocates the session and its two sides; the client socket is owned on success. */
static struct kb_session *
session_new(struct kb_route_ctx *ctx, evutil_socket_t fd)
{
	const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	struct kb_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->ctx = ctx;
	s->client.name = "client";
	s->server.name = "server";
	s->client.session = s;
	s->server.session = s;
	s->client.sniffer = kb_sniffer_new(KB_ROLE_CLIENT);
	s->server.sniffer = kb_sniffer_new(KB_ROLE_SERVER);
	s->timer = evtimer_new(ctx->base, session_timer_cb, s);
	s->handshake_timer = evtimer_new(ctx->base, session_handshake_cb, s);
	s->server.bev = bufferevent_socket_new(ctx->base, -1, opts);
	if (s->client.sniffer == NULL || s->server.sniffer == NULL || s->timer == NULL ||
	    s->handshake_timer == NULL || s->server.bev == NULL)
		goto fail;
	if (ctx->route->mode == KB_MODE_AUTO) {
		s->deciding = true;
		s->client.held = evbuffer_new();
		s->server.held = evbuffer_new();
		s->client_lines = evbuffer_new();
		s->kexinit_timer = evtimer_new(ctx->base, session_kexinit_wait_cb, s);
		if (s->client.held == NULL || s->server.held == NULL ||
		    s->client_lines == NULL || s->kexinit_timer == NULL)
			goto fail;
	}
	if ((s->client.bev = bufferevent_socket_new(ctx->base, fd, opts)) == NULL)
		goto fail;
	bufferevent_setcb(s->client.bev, session_read_cb, session_write_cb,
	    session_event_cb, s);
	bufferevent_setcb(s->server.bev, session_read_cb, session_write_cb,
	    session_event_cb, s);
	return s;
 fail:
	session_side_free(&s->client);
	session_side_free(&s->server);
	if (s->client_lines != NULL)
		evbuffer_free(s->client_lines);
	if (s->kexinit_timer != NULL)
		event_free(s->kexinit_timer);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->handshake_timer != NULL)
		event_free(s->handshake_timer);
	free(s);
	return NULL;
}

void
kb_session_start(struct kb_route_ctx *ctx, evutil_socket_t fd,
    const struct sockaddr *client, socklen_t client_len)
{
	const struct kb_route *route = ctx->route;
	struct timeval connect_tv = { (time_t)route->connect_timeout, 0 };
	struct timeval handshake_tv = { (time_t)route->handshake_timeout, 0 };
	char client_str[KB_NET_ADDRSTR_MAX];
	struct kb_net_addr upstream = ctx->upstream_addr;
	const char *limit;
	unsigned int value;
	struct kb_session *s;

	kb_net_format(client, client_len, client_str, sizeof(client_str));
	if ((limit = session_limit_reached(ctx, client_str, &value)) != NULL) {
		kb_session_log_limit(NULL, ctx, client_str, limit, value);
		session_reject(fd);
		return;
	}
	if (route->transparent != KB_TRANSPARENT_NO &&
	    kb_origdst_pick_upstream(route, &ctx->listen_addr, fd, client_str, &upstream) != 0) {
		evutil_closesocket(fd);
		return;
	}
	if (route->mode == KB_MODE_BRIDGE) {
		kb_bridge_start(ctx, fd, client, client_len, &upstream);
		return;
	}
	if ((s = session_new(ctx, fd)) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, "out of memory for a session from %s; closing it",
		    client_str);
		evutil_closesocket(fd);
		return;
	}
	kb_session_new_id(s->id);
	memcpy(s->client_str, client_str, sizeof(s->client_str));
	s->upstream_addr = upstream;
	kb_net_format((struct sockaddr *)&upstream.ss, upstream.len, s->upstream_str,
	    sizeof(s->upstream_str));
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->last_activity = s->started;
	TAILQ_INSERT_TAIL(&ctx->sessions, s, entry);
	kb_session_count_open(ctx);
	session_log_start(s);

	/* Reading from the client starts once the upstream connection is up, so nothing piles up. */
	session_set_nodelay(s->client.bev);
	bufferevent_disable(s->client.bev, EV_READ | EV_WRITE);
	evtimer_add(s->timer, &connect_tv);
	evtimer_add(s->handshake_timer, &handshake_tv);
	if (bufferevent_socket_connect(s->server.bev,
	    (struct sockaddr *)&s->upstream_addr.ss, (int)s->upstream_addr.len) != 0) {
		session_connect_failed(s, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		kb_session_close(s, "kexbridge", "connect_failed");
	}
}
