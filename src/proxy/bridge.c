/*
 * Bridge sessions: the client socket, the sans-I/O server transport and
 * connection layer on top of it, the upstream session, timers, and the
 * session record logged when a session ends.
 *
 * Sessions are never freed from inside a callback chain: bridge_close()
 * marks the session closing and a zero-timeout event frees it from the
 * loop, once the client has been sent what was queued for it.
 *
 * The close lingers: once the output is written, the socket is shut down
 * for writing and the client's input is read and dropped until it closes
 * too, for BRIDGE_LINGER_TIMEOUT at most. Closing a socket whose receive
 * queue still contains data makes the kernel send RST and drop what it has
 * not sent yet. A client still sending (scp in the middle of a file) would
 * then lose the SSH_MSG_DISCONNECT that states why the session ended.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "kexbridge/buf.h"
#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/i18n.h"
#include "kexbridge/json.h"
#include "kexbridge/kex.h"
#include "kexbridge/log.h"
#include "kexbridge/packet.h"
#include "kexbridge/watch.h"
#include "bridge.h"

/* How long queued output to the client may take to drain after the end. */
#define BRIDGE_DRAIN_TIMEOUT	10
/* How long the client may take to close after our side has shut down. */
#define BRIDGE_LINGER_TIMEOUT	2
/* Bytes read from the client per recv(), and at most per readiness event. */
#define BRIDGE_READ_CHUNK	(128 * 1024)
#define BRIDGE_READ_MAX		(1024 * 1024)

/* SSH_DISCONNECT_BY_APPLICATION and friends are in packet.h. */
#define BRIDGE_DISCONNECT_CONNECTION_LOST	10

static double
bridge_elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

void
bridge_touch(struct kb_bridge *s)
{
	clock_gettime(CLOCK_MONOTONIC, &s->last_activity);
}

/* ------------------------------------------------------------------ */
/* Routes                                                              */
/* ------------------------------------------------------------------ */

static int
bridge_route_moduli(struct kb_bridge_route *br, char *err, size_t errlen)
{
	const struct kb_route *route = br->route;
	int r;

	if (route->moduli == NULL)
		return 0;
	if ((r = kb_moduli_load(route->moduli, &br->moduli)) == 0)
		return 0;
	if (route->moduli_set) {
		snprintf(err, errlen, _("route %s: cannot load moduli file %s: %s"), route->name,
		    route->moduli, kb_err_str(r));
		return r;
	}
	kb_log(KB_LOG_WARN, NULL, "route %s: cannot load %s (%s); group exchange uses the "
	    "built-in groups", route->name, route->moduli, kb_err_str(r));
	br->moduli = NULL;
	return 0;
}

/* "scp *" lets every scp command reach the strict check in bridge_auth.c. */
static int
bridge_route_patterns(struct kb_bridge_route *br)
{
	const struct kb_route *route = br->route;
	size_t n = 0, i;

	while (route->exec_allow != NULL && route->exec_allow[n] != NULL)
		n++;
	if ((br->exec_patterns = calloc(n + 2, sizeof(*br->exec_patterns))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	br->exec_patterns[0] = "scp *";
	for (i = 0; i < n; i++)
		br->exec_patterns[i + 1] = route->exec_allow[i];
	return 0;
}

/*
 * Splits the route's memory budget. The client can have at most
 * window_size bytes queued for the upstream, and libssh2 buffers up to
 * about twice its receive window. Half of the rest may wait for the client
 * socket, and the other half covers packets being built and decoded.
 * NOTE: the halves are an estimate of the transport's own buffers.
 */
static void
bridge_route_budget(struct kb_bridge_route *br)
{
	const struct kb_route *route = br->route;
	size_t limit = route->session_memory_limit, rest;

	br->upstream_window = KB_UP_WINDOW_DEFAULT;
	if (br->upstream_window > limit / 8)
		br->upstream_window = (uint32_t)(limit / 8);
	rest = limit - route->window_size - 2 * (size_t)br->upstream_window;
	br->output_limit = rest / 2;
	if (br->output_limit < 2 * KB_BRIDGE_CHUNK)
		br->output_limit = 2 * KB_BRIDGE_CHUNK;
}

static void
bridge_route_configs(struct kb_bridge_route *br)
{
	const struct kb_route *route = br->route;
	struct kb_transport_config *tc = &br->transport_config;
	struct kb_conn_config *cc = &br->conn_config;

	tc->hostkeys = br->hostkeys;
	tc->hostkey_count = br->hostkey_count;
	tc->kex = route->kex;
	tc->ciphers = route->ciphers;
	tc->macs = route->macs;
	tc->hostkey_algorithms = route->hostkey_algorithms;
	tc->moduli = br->moduli;
	tc->rekey_bytes = route->rekey_bytes;
	tc->rekey_seconds = route->rekey_seconds;

	cc->allow_password = route->auth_password;
	cc->allow_kbdint = route->auth_kbdint;
	cc->max_auth_tries = route->max_auth_tries;
	cc->exec_allow = br->exec_patterns;
	cc->allow_sftp = route->sftp;
	cc->window_size = route->window_size;
	cc->max_packet = KB_BRIDGE_MAX_PACKET;
	/* The upstream session carries one channel, so the client gets one. */
	cc->max_channels = 1;
}

int
kb_bridge_route_new(struct kb_route_ctx *ctx, const struct kb_conf *conf,
    struct kb_bridge_route **out, char *err, size_t errlen)
{
	struct kb_bridge_route *br;
	char port[KB_NET_PORT_MAX], why[256];
	int r;

	*out = NULL;
	if ((br = calloc(1, sizeof(*br))) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	br->route = ctx->route;
	TAILQ_INIT(&br->sessions);
	/* A transparent route has no static upstream; each session finds its own. */
	if (br->route->upstream != NULL) {
		if ((r = kb_net_split(br->route->upstream, "22", br->upstream_host, port, why,
		    sizeof(why))) != 0) {
			snprintf(err, errlen, _("route %s: %s"), br->route->name, why);
			goto fail;
		}
		br->upstream_port = (unsigned int)strtoul(port, NULL, 10);
	}
	if ((r = kb_bridge_hostkeys_load(br, kb_conf_state_dir(conf), err, errlen)) != 0 ||
	    (r = bridge_route_moduli(br, err, errlen)) != 0)
		goto fail;
	if ((r = bridge_route_patterns(br)) != 0) {
		snprintf(err, errlen, "%s", _("out of memory"));
		goto fail;
	}
	bridge_route_budget(br);
	bridge_route_configs(br);
	*out = br;
	return 0;
 fail:
	kb_bridge_route_free(br);
	return r;
}

void
kb_bridge_route_free(struct kb_bridge_route *br)
{
	size_t i;

	if (br == NULL)
		return;
	kb_bridge_close_sessions(br, "shutdown");
	for (i = 0; i < br->hostkey_count; i++)
		kb_hostkey_free(br->hostkeys[i]);
	kb_moduli_free(br->moduli);
	free(br->exec_patterns);
	free(br);
}

/* ------------------------------------------------------------------ */
/* The session record                                                  */
/* ------------------------------------------------------------------ */

static const struct kb_watch_list *
bridge_files(const struct kb_bridge *s)
{
	if (s->scpwatch != NULL)
		return kb_scpwatch_files(s->scpwatch);
	if (s->sftpwatch != NULL)
		return kb_sftpwatch_files(s->sftpwatch);
	return NULL;
}

static void
bridge_record_algorithms(struct kb_bridge *s, struct kb_json *json)
{
	static const char *const keys[] = {
		"kex", "hostkey", "cipher_c2s", "cipher_s2c", "mac_c2s", "mac_s2c",
	};
	struct kb_up_methods m;
	const char *v;
	int cat;

	kb_json_object_begin(json, "client_algorithms");
	for (cat = 0; cat < 6; cat++) {
		v = kb_transport_agreed(s->transport, cat);
		if (v != NULL)
			kb_json_str(json, keys[cat], v);
	}
	kb_json_object_end(json);
	/* Both ends signalled kex-strict: sequence numbers reset at NEWKEYS. */
	kb_json_bool(json, "strict_kex", kb_transport_strict_kex(s->transport));
	if (s->up == NULL || kb_up_methods(s->up, &m) != 0)
		return;
	kb_json_object_begin(json, "upstream_algorithms");
	kb_json_str(json, "kex", m.kex);
	kb_json_str(json, "hostkey", m.hostkey);
	kb_json_str(json, "cipher_c2s", m.cipher_cs);
	kb_json_str(json, "cipher_s2c", m.cipher_sc);
	kb_json_str(json, "mac_c2s", m.mac_cs);
	kb_json_str(json, "mac_s2c", m.mac_sc);
	kb_json_object_end(json);
}

static void
bridge_record_files_json(const struct kb_watch_list *l, struct kb_json *json)
{
	const struct kb_watch_file *f;
	size_t i;

	kb_json_array_begin(json, "files");
	for (i = 0; l != NULL && i < l->count; i++) {
		f = &l->file[i];
		kb_json_object_begin(json, NULL);
		kb_json_str(json, "name", f->name);
		kb_json_str(json, "direction", f->dir == KB_WATCH_UPLOAD ? "upload" : "download");
		if (f->size != KB_WATCH_SIZE_UNKNOWN)
			kb_json_uint(json, "size", f->size);
		kb_json_uint(json, "bytes", f->bytes);
		kb_json_bool(json, "complete", f->complete);
		if (f->name_truncated)
			kb_json_bool(json, "name_truncated", true);
		kb_json_object_end(json);
	}
	kb_json_array_end(json);
	kb_json_uint(json, "files_total", l != NULL ? l->files_total : 0);
}

/* Appends "name (N bytes up), ..." to text, escaped. */
static void
bridge_record_files_text(const struct kb_watch_list *l, char *text, size_t len)
{
	char esc[KB_WATCH_NAME_MAX * 4 + 1];
	size_t i, used = strlen(text);
	const struct kb_watch_file *f;
	bool up;

	for (i = 0; l != NULL && i < l->count && used < len; i++) {
		f = &l->file[i];
		up = f->dir == KB_WATCH_UPLOAD;
		if (i > 0) {
			snprintf(text + used, len - used, ", ");
			used = strlen(text);
		}
		kb_log_escape(esc, sizeof(esc), f->name, strlen(f->name));
		/* Whole phrases, so that a translation can reorder them. */
		snprintf(text + used, len - used, up ? (f->complete ?
		    _("%s (%llu bytes up)") : _("%s (%llu bytes up, incomplete)")) :
		    (f->complete ? _("%s (%llu bytes down)") :
		    _("%s (%llu bytes down, incomplete)")), esc,
		    (unsigned long long)f->bytes);
		used = strlen(text);
	}
	if (l != NULL && l->files_total > l->count && used < len)
		snprintf(text + used, len - used, _(" and %llu more"),
		    (unsigned long long)(l->files_total - l->count));
	if (l == NULL || l->files_total == 0)
		snprintf(text + used, len - used, "%s", _("none"));
}

/*
 * Returns the outcome of the client's login, which the upstream decides.
 * "ok": accepted. "failed": the upstream rejected an attempt and accepted
 * none. "none": the upstream decided no attempt, because the client sent
 * none or the upstream failed first.
 */
static const char *
bridge_auth_outcome(const struct kb_bridge *s)
{
	if (kb_conn_authenticated(s->conn))
		return "ok";
	if (s->auth_failures > 0)
		return "failed";
	return "none";
}

/* The outcome of bridge_auth_outcome() as the text log shows it. */
static const char *
bridge_auth_outcome_text(const struct kb_bridge *s)
{
	const char *outcome = bridge_auth_outcome(s);

	if (strcmp(outcome, "ok") == 0)
		return _("authenticated");
	if (strcmp(outcome, "failed") == 0)
		return _("authentication failed");
	return _("not authenticated");
}

static void
bridge_record_text(struct kb_bridge *s, double duration, double rate, char *text, size_t len)
{
	char user[256], cmd[512], exit_str[64], files[2048];
	struct kb_up_methods m;
	const char *v;

	kb_log_escape(user, sizeof(user), s->user != NULL ? s->user : "-",
	    s->user != NULL ? strlen(s->user) : 1);
	kb_log_escape(cmd, sizeof(cmd), s->command_text != NULL ? s->command_text : "-",
	    s->command_text != NULL ? strlen(s->command_text) : 1);
	if (s->exit_sent_status >= 0)
		snprintf(exit_str, sizeof(exit_str), "%d", s->exit_sent_status);
	else if (s->exit_signal[0] != '\0')
		snprintf(exit_str, sizeof(exit_str), _("signal %s"), s->exit_signal);
	else
		snprintf(exit_str, sizeof(exit_str), "%s", _("none"));
	files[0] = '\0';
	bridge_record_files_text(bridge_files(s), files, sizeof(files));
	if (s->up == NULL || kb_up_methods(s->up, &m) != 0)
		memset(&m, 0, sizeof(m));
	v = kb_transport_agreed(s->transport, 2);
	snprintf(text, len,
	    _("session record: client %s, user %s (%s), upstream %s; client side %s/%s/%s%s, "
	    "upstream side %s/%s/%s; %s %s; files: %s; %llu bytes client to upstream, "
	    "%llu bytes upstream to client in %.3f s (%.0f bytes/s); exit status %s; "
	    "closed by %s (%s)"),
	    s->client_str, user, bridge_auth_outcome_text(s), s->upstream_str,
	    kb_transport_agreed(s->transport, 0) ? kb_transport_agreed(s->transport, 0) : "-",
	    v != NULL ? v : "-",
	    kb_transport_agreed(s->transport, 4) ? kb_transport_agreed(s->transport, 4) : "-",
	    kb_transport_strict_kex(s->transport) ? _(" (strict kex)") : "",
	    m.kex != NULL ? m.kex : "-", m.cipher_cs != NULL ? m.cipher_cs : "-",
	    m.mac_cs != NULL ? m.mac_cs : "-",
	    s->command == BRIDGE_CMD_SFTP ? _("subsystem") : _("command"), cmd, files,
	    (unsigned long long)s->bytes_c2s, (unsigned long long)s->bytes_s2c, duration, rate,
	    exit_str, kb_session_closed_by_text(s->closed_by), s->reason);
}

/* Logs the one line that sums up a session (event "session_record"). */
static void
bridge_log_record(struct kb_bridge *s)
{
	struct kb_json *json = kb_json_new();
	double duration = bridge_elapsed(&s->started);
	double rate = duration > 0 ? (double)(s->bytes_c2s + s->bytes_s2c) / duration : 0;
	char text[4096];

	if (json != NULL) {
		kb_json_str(json, "event", "session_record");
		kb_json_str(json, "route", s->ctx->route->name);
		kb_json_str(json, "client", s->client_str);
		if (s->user != NULL)
			kb_json_str(json, "user", s->user);
		kb_json_str(json, "auth", bridge_auth_outcome(s));
		if (s->auth_method != NULL)
			kb_json_str(json, "auth_method", s->auth_method);
		kb_json_str(json, "upstream", s->upstream_str);
		bridge_record_algorithms(s, json);
		if (s->command_text != NULL)
			kb_json_str(json, s->command == BRIDGE_CMD_SFTP ? "subsystem" : "command",
			    s->command_text);
		bridge_record_files_json(bridge_files(s), json);
		kb_json_uint(json, "bytes_c2s", s->bytes_c2s);
		kb_json_uint(json, "bytes_s2c", s->bytes_s2c);
		kb_json_double(json, "duration_s", duration);
		kb_json_double(json, "throughput_bps", rate);
		if (s->exit_sent_status >= 0)
			kb_json_int(json, "exit_status", s->exit_sent_status);
		else
			kb_json_null(json, "exit_status");
		if (s->exit_signal[0] != '\0')
			kb_json_str(json, "exit_signal", s->exit_signal);
		kb_json_str(json, "closed_by", s->closed_by);
		kb_json_str(json, "reason", s->reason);
	}
	bridge_record_text(s, duration, rate, text, sizeof(text));
	kb_log_event(KB_LOG_INFO, s->id, json, text);
}

/* ------------------------------------------------------------------ */
/* Session life cycle                                                  */
/* ------------------------------------------------------------------ */

/* Frees what a session owns; also a session that bridge_new() built only in part. */
static void
bridge_destroy(struct kb_bridge *s)
{
	kb_up_free(s->up);
	kb_conn_free(s->conn);
	kb_transport_free(s->transport);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->handshake_timer != NULL)
		event_free(s->handshake_timer);
	if (s->idle_timer != NULL)
		event_free(s->idle_timer);
	if (s->auth_timer != NULL)
		event_free(s->auth_timer);
	if (s->free_event != NULL)
		event_free(s->free_event);
	if (s->drain_timer != NULL)
		event_free(s->drain_timer);
	bridge_pump_free(s);
	if (s->password != NULL)
		OPENSSL_cleanse(s->password, s->password_len);
	free(s->password);
	free(s->user);
	free(s->command_text);
	free(s);
}

static void
bridge_free(struct kb_bridge *s)
{
	TAILQ_REMOVE(&s->br->sessions, s, entry);
	kb_session_count_close(s->ctx);
	bridge_destroy(s);
	kb_session_release_memory();
}

static void
bridge_free_cb(evutil_socket_t fd, short what, void *arg)
{
	bridge_free(arg);
}

static void
bridge_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kb_bridge *s = arg;

	if (s->lingering) {
		kb_log(KB_LOG_DEBUG, s->id, "the client did not close within %d s",
		    BRIDGE_LINGER_TIMEOUT);
		bridge_free(s);
		return;
	}
	kb_log(KB_LOG_INFO, s->id, "output to the client not written within %d s; closing",
	    BRIDGE_DRAIN_TIMEOUT);
	bridge_free(s);
}

/* Shuts down our half once the output is written, and waits for the client's. */
static void
bridge_linger(struct kb_bridge *s)
{
	struct timeval linger = { BRIDGE_LINGER_TIMEOUT, 0 };
	evutil_socket_t fd = bufferevent_getfd(s->bev);

	event_del(s->drain_timer);
	if (s->lingering)
		return;
	if (s->sock_closed || fd < 0 || shutdown(fd, SHUT_WR) != 0) {
		event_active(s->free_event, EV_TIMEOUT, 0);
		return;
	}
	s->lingering = true;
	evtimer_add(s->drain_timer, &linger);
}

void
bridge_flush(struct kb_bridge *s)
{
	struct kb_buf *out = kb_transport_output(s->transport);
	size_t len = kb_buf_len(out);

	if (len == 0 || s->bev == NULL)
		return;
	if (evbuffer_add(bufferevent_get_output(s->bev), kb_buf_ptr(out), len) != 0) {
		kb_log(KB_LOG_ERROR, s->id, "cannot queue %zu bytes for the client", len);
		return;
	}
	kb_buf_consume(out, len);
}

void
bridge_close(struct kb_bridge *s, const char *closed_by, uint32_t code,
    const char *description, const char *reason)
{
	struct timeval drain = { BRIDGE_DRAIN_TIMEOUT, 0 };

	if (s->closing)
		return;
	s->closing = true;
	s->closed_by = s->end_closed_by != NULL ? s->end_closed_by : closed_by;
	snprintf(s->reason, sizeof(s->reason), "%s",
	    s->end_reason != NULL ? s->end_reason : reason);
	if (description != NULL && kb_transport_state(s->transport) != KB_TRANSPORT_CLOSED)
		kb_transport_disconnect(s->transport, code, description);
	bridge_flush(s);
	bridge_log_record(s);

	kb_up_free(s->up);
	s->up = NULL;
	if (s->password != NULL)
		OPENSSL_cleanse(s->password, s->password_len);
	event_del(s->handshake_timer);
	event_del(s->idle_timer);
	event_del(s->auth_timer);
	/* Input is still read, and dropped, so that the close stays orderly. */
	bufferevent_setwatermark(s->bev, EV_READ, 0, 0);
	bufferevent_enable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		bridge_linger(s);
		return;
	}
	evtimer_add(s->drain_timer, &drain);
}

void
kb_bridge_close_sessions(struct kb_bridge_route *br, const char *reason)
{
	struct kb_bridge *s;

	while ((s = TAILQ_FIRST(&br->sessions)) != NULL) {
		if (!s->closing)
			bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION,
			    "kexbridge is shutting down", reason);
		/* Written now if the socket takes it; nothing waits for the loop. */
		bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
		bridge_free(s);
	}
}

/* ------------------------------------------------------------------ */
/* Events from the connection layer                                    */
/* ------------------------------------------------------------------ */

static void
bridge_log_refused(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	char esc[256];

	kb_log_escape(esc, sizeof(esc), ev->text != NULL ? ev->text : "?",
	    ev->text != NULL ? strlen(ev->text) : 1);
	kb_log(KB_LOG_INFO, s->id, "refused by policy: %s", esc);
}

void
bridge_process(struct kb_bridge *s)
{
	struct kb_conn_event ev;
	int r;

	while (!s->closing) {
		memset(&ev, 0, sizeof(ev));
		r = kb_conn_next(s->conn, &ev);
		if (r == KB_ERR_INCOMPLETE)
			break;
		if (r == KB_ERR_PEER_DISCONNECTED) {
			bridge_close(s, "client", 0, NULL,
			    s->exit_sent ? "disconnect" : "disconnect_before_exit");
			return;
		}
		if (r != 0) {
			kb_log(KB_LOG_INFO, s->id, "client protocol error: %s",
			    kb_err_str(r));
			bridge_close(s, "kexbridge", 0, NULL, "protocol_error");
			return;
		}
		switch (ev.type) {
		case KB_CONN_EV_AUTH_PASSWORD:
		case KB_CONN_EV_AUTH_KBDINT:
		case KB_CONN_EV_AUTH_KBDINT_RESPONSE:
			r = bridge_auth_event(s, &ev);
			break;
		case KB_CONN_EV_REFUSED:
			bridge_log_refused(s, &ev);
			break;
		case KB_CONN_EV_NONE:
			break;
		default:
			r = bridge_channel_event(s, &ev);
			break;
		}
		if (r != 0 && !s->closing) {
			kb_log(KB_LOG_ERROR, s->id, "handling a client request failed: %s",
			    kb_err_str(r));
			bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION,
			    "kexbridge: internal error", "error");
		}
	}
	/* Client data shorter than a whole upstream packet waits for this. */
	if (!s->closing && evbuffer_get_length(s->to_upstream) > 0)
		bridge_pump(s);
	if (s->closing)
		return;
	bridge_flush(s);
	if (kb_transport_state(s->transport) == KB_TRANSPORT_CLOSED)
		bridge_close(s, kb_transport_error(s->transport) == KB_ERR_PEER_DISCONNECTED ?
		    "client" : "kexbridge", 0, NULL, "disconnect");
}

/* ------------------------------------------------------------------ */
/* The client socket                                                   */
/* ------------------------------------------------------------------ */

static void
bridge_log_feed_error(struct kb_bridge *s, int err)
{
	const char *text = kb_transport_error_text(s->transport);

	if (err == KB_ERR_PEER_DISCONNECTED) {
		kb_log(KB_LOG_DEBUG, s->id, "client sent SSH_MSG_DISCONNECT: %s",
		    text != NULL ? text : "");
		return;
	}
	kb_log(KB_LOG_INFO, s->id, "client sent invalid SSH data: %s%s%s", kb_err_str(err),
	    text != NULL ? ": " : "", text != NULL ? text : "");
}

/*
 * Feeds up to four chunks of input to the transport, no more than it has
 * room for, and returns 0 or its error. The rest waits until
 * bridge_process() has taken whole packets out. With no room at all the
 * chunk is fed anyway, so that the transport reports the oversized packet.
 */
static int
bridge_feed_input(struct kb_bridge *s, struct evbuffer *in)
{
	struct evbuffer_iovec vec[4];
	size_t used = 0, len, space;
	int i, n, r = 0;

	n = evbuffer_peek(in, -1, NULL, vec, 4);
	for (i = 0; i < n && i < 4 && r == 0; i++) {
		len = vec[i].iov_len;
		space = kb_transport_input_space(s->transport);
		if (len > space && space > 0)
			len = space;
		r = kb_transport_feed(s->transport, vec[i].iov_base, len);
		used += len;
		if (len < vec[i].iov_len)
			break;
	}
	evbuffer_drain(in, used);
	return r;
}

/*
 * Reads the bytes waiting on the client socket, up to BRIDGE_READ_CHUNK and
 * no more than the transport has room for, and feeds them to the transport.
 * Returns the bytes read and sets *err to the transport's error or 0.
 *
 * libevent 2.1 reads at most 4 KiB per readiness event (EVBUFFER_MAX_READ
 * in its buffer.c, adjustable only from 2.2 on), so without this an upload
 * costs an epoll_wait, an ioctl, a readv and a pass through the transport
 * per 4 KiB. The bufferevent's input buffer accepts no data from outside
 * libevent, so the bytes go through a buffer of our own, which only ever
 * contains what crossed the network: ciphertext after the key exchange. Only
 * bytes that FIONREAD reports are read, so EOF and socket errors stay for
 * libevent's own next read, which reports them to bridge_event_cb().
 */
static size_t
bridge_read_more(struct kb_bridge *s, int *err)
{
	static uint8_t chunk[BRIDGE_READ_CHUNK];
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	size_t want;
	ssize_t n;
	int avail = 0;

	*err = 0;
	if (fd < 0 || ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0)
		return 0;
	want = kb_transport_input_space(s->transport);
	if (want > (size_t)avail)
		want = (size_t)avail;
	if (want > sizeof(chunk))
		want = sizeof(chunk);
	if (want == 0 || (n = recv(fd, chunk, want, 0)) <= 0)
		return 0;
	*err = kb_transport_feed(s->transport, chunk, (size_t)n);
	return (size_t)n;
}

/*
 * Feeds the contents of in to the transport and acts on what it yields.
 * When in is the socket's input, more is read from the socket directly once
 * in is empty, up to BRIDGE_READ_MAX per call, so that one busy session
 * does not delay the others on the loop.
 */
static void
bridge_consume(struct kb_bridge *s, struct evbuffer *in)
{
	bool from_socket = in == bufferevent_get_input(s->bev);
	size_t read_more = 0, n;
	int r;

	bridge_touch(s);
	while (!s->closing) {
		if (evbuffer_get_length(in) > 0)
			r = bridge_feed_input(s, in);
		else if (from_socket && read_more < BRIDGE_READ_MAX &&
		    (n = bridge_read_more(s, &r)) > 0)
			read_more += n;
		else
			break;
		if (r != 0) {
			bridge_log_feed_error(s, r);
			bridge_close(s, r == KB_ERR_PEER_DISCONNECTED ? "client" : "kexbridge",
			    0, NULL, r == KB_ERR_PEER_DISCONNECTED ? "disconnect" :
			    "protocol_error");
			return;
		}
		bridge_process(s);
	}
}

static void
bridge_read_cb(struct bufferevent *bev, void *arg)
{
	struct kb_bridge *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (s->closing) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	bridge_consume(s, in);
}

/* The client's output drained to the low watermark. */
static void
bridge_write_cb(struct bufferevent *bev, void *arg)
{
	struct kb_bridge *s = arg;

	if (s->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			bridge_linger(s);
		return;
	}
	if (s->up_read_blocked)
		bridge_pump(s);
}

static void
bridge_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct kb_bridge *s = arg;

	s->sock_closed = true;
	if (s->closing) {
		event_del(s->drain_timer);
		event_active(s->free_event, EV_TIMEOUT, 0);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		bridge_close(s, "client", 0, NULL, s->exit_sent ? "eof" : "eof_before_exit");
		return;
	}
	kb_log(KB_LOG_DEBUG, s->id, "client connection failed: %s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	bridge_close(s, "client", 0, NULL, "reset");
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */
/* ------------------------------------------------------------------ */

static void
bridge_handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kb_bridge *s = arg;
	char text[128];

	if (s->closing || kb_conn_authenticated(s->conn))
		return;
	kb_session_log_limit(s->id, s->ctx, s->client_str, "handshake_timeout",
	    s->ctx->route->handshake_timeout);
	snprintf(text, sizeof(text), "kexbridge: login not completed within %u s",
	    s->ctx->route->handshake_timeout);
	bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION, text, "handshake_timeout");
}

static void
bridge_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kb_bridge *s = arg;
	unsigned int idle = s->ctx->route->idle_timeout;
	double quiet = bridge_elapsed(&s->last_activity);
	struct timeval tv = { 1, 0 };

	if (s->closing)
		return;
	if (quiet < (double)idle) {
		tv.tv_sec = (time_t)((double)idle - quiet) + 1;
		evtimer_add(s->idle_timer, &tv);
		return;
	}
	kb_session_log_limit(s->id, s->ctx, s->client_str, "idle_timeout", idle);
	bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION,
	    "kexbridge: idle timeout", "idle_timeout");
}

/* ------------------------------------------------------------------ */
/* Start                                                               */
/* ------------------------------------------------------------------ */

static void
bridge_log_start(struct kb_bridge *s)
{
	struct kb_json *json = kb_json_new();
	const struct kb_route *route = s->ctx->route;
	char text[512];

	if (json != NULL) {
		kb_json_str(json, "event", "session_start");
		kb_json_str(json, "route", route->name);
		kb_json_str(json, "client", s->client_str);
		kb_json_str(json, "upstream", s->upstream_str);
		kb_json_str(json, "mode", "bridge");
	}
	snprintf(text, sizeof(text), _("session start: client %s, route %s, upstream %s, "
	    "mode bridge"), s->client_str, route->name, s->upstream_str);
	kb_log_event(KB_LOG_INFO, s->id, json, text);
}

static struct kb_bridge *
bridge_new(struct kb_route_ctx *ctx, evutil_socket_t fd,
    const struct kb_transport_config *tc)
{
	struct kb_bridge_route *br = ctx->bridge;
	struct kb_bridge *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->ctx = ctx;
	s->br = br;
	s->exit_sent_status = -1;
	s->closed_by = "kexbridge";
	s->handshake_timer = evtimer_new(ctx->base, bridge_handshake_cb, s);
	s->idle_timer = evtimer_new(ctx->base, bridge_idle_cb, s);
	s->auth_timer = evtimer_new(ctx->base, bridge_auth_delay_cb, s);
	s->free_event = event_new(ctx->base, -1, 0, bridge_free_cb, s);
	s->drain_timer = evtimer_new(ctx->base, bridge_drain_cb, s);
	s->to_upstream = evbuffer_new();
	if (s->handshake_timer == NULL || s->idle_timer == NULL || s->auth_timer == NULL ||
	    s->free_event == NULL || s->drain_timer == NULL || s->to_upstream == NULL ||
	    kb_transport_new(tc, &s->transport) != 0 ||
	    kb_conn_new(s->transport, &br->conn_config, &s->conn) != 0 ||
	    (s->bev = bufferevent_socket_new(ctx->base, fd,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL)
		goto fail;
	bufferevent_setcb(s->bev, bridge_read_cb, bridge_write_cb, bridge_event_cb, s);
	return s;
 fail:
	bridge_destroy(s);
	return NULL;
}

/* Timers and accounting shared by every way a bridge session starts. */
static void
bridge_begin(struct kb_bridge *s, evutil_socket_t fd)
{
	const struct kb_route *route = s->ctx->route;
	struct timeval handshake = { (time_t)route->handshake_timeout, 0 };
	struct timeval idle = { (time_t)route->idle_timeout, 0 };
	int on = 1;

	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->last_activity = s->started;
	TAILQ_INSERT_TAIL(&s->ctx->bridge->sessions, s, entry);
	kb_session_count_open(s->ctx);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	evtimer_add(s->handshake_timer, &handshake);
	if (route->idle_timeout > 0)
		evtimer_add(s->idle_timer, &idle);
}

/*
 * Sets the session's upstream. known_hosts entries of a transparent route
 * are keyed by the numeric original destination, as no name was written.
 */
static void
bridge_set_upstream(struct kb_bridge *s, const struct kb_net_addr *upstream)
{
	char port[KB_NET_PORT_MAX];

	s->upstream_addr = *upstream;
	kb_net_format((const struct sockaddr *)&upstream->ss, upstream->len,
	    s->upstream_str, sizeof(s->upstream_str));
	if (s->ctx->route->transparent == KB_TRANSPARENT_NO ||
	    getnameinfo((const struct sockaddr *)&upstream->ss, upstream->len,
	    s->upstream_host, sizeof(s->upstream_host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		memcpy(s->upstream_host, s->br->upstream_host, sizeof(s->upstream_host));
		s->upstream_port = s->br->upstream_port;
		return;
	}
	s->upstream_port = (unsigned int)strtoul(port, NULL, 10);
}

void
kb_bridge_start(struct kb_route_ctx *ctx, evutil_socket_t fd,
    const struct sockaddr *client, socklen_t client_len,
    const struct kb_net_addr *upstream)
{
	struct kb_bridge *s;

	if ((s = bridge_new(ctx, fd, &ctx->bridge->transport_config)) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, "out of memory for a bridge session; closing it");
		evutil_closesocket(fd);
		return;
	}
	kb_session_new_id(s->id);
	kb_transport_set_log_session(s->transport, s->id);
	kb_net_format(client, client_len, s->client_str, sizeof(s->client_str));
	bridge_set_upstream(s, upstream);
	bridge_begin(s, fd);
	bridge_log_start(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	/* Our version line (and KEXINIT) go out before the client says anything. */
	bridge_flush(s);
}

/*
 * RFC 4253 section 7.1 lets each side send its KEXINIT without waiting for
 * the other's, so the client may already have sent its KEXINIT and a guessed
 * kex packet. The transport gets the client's whole stream from its first
 * byte, so packet sequence numbers and I_C are the client's own, and a wrong
 * guess is skipped as at any other start.
 */
void
kb_bridge_adopt(struct kb_route_ctx *ctx, evutil_socket_t fd,
    const struct kb_bridge_adoption *a)
{
	struct kb_transport_config tc = ctx->bridge->transport_config;
	struct kb_bridge *s;

	/* The client holds the upstream's line as V_S; it was relayed already. */
	tc.server_version = a->server_version;
	tc.version_sent = true;
	if ((s = bridge_new(ctx, fd, &tc)) == NULL) {
		kb_log(KB_LOG_ERROR, a->id, "cannot start a bridge session; closing the client");
		evutil_closesocket(fd);
		return;
	}
	memcpy(s->id, a->id, sizeof(s->id));
	kb_transport_set_log_session(s->transport, s->id);
	memcpy(s->client_str, a->client_str, sizeof(s->client_str));
	bridge_set_upstream(s, a->upstream);
	bridge_begin(s, fd);
	s->started = a->started;
	kb_log(KB_LOG_DEBUG, s->id, "bridging: sending our KEXINIT to the client");

	/* Bytes relayed to the client but not yet written go out before our KEXINIT. */
	if (evbuffer_add_buffer(bufferevent_get_output(s->bev), a->to_client) != 0) {
		kb_log(KB_LOG_ERROR, s->id, "cannot move data between buffers; closing");
		bridge_close(s, "kexbridge", 0, NULL, "error");
		return;
	}
	bridge_flush(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	bridge_consume(s, a->from_client);
}
