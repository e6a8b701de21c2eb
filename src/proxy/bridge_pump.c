/*
 * The pump: channel data between the client's channel (kb_conn) and the
 * upstream channel (kb_upstream), with back-pressure both ways.
 *
 * Client to upstream: client data collects in to_upstream and goes to
 * libssh2 in packets of PUMP_UPSTREAM_CHUNK bytes. A shorter tail waits until
 * the batch of client packets read from the socket has been handled, when
 * bridge_process() calls bridge_pump(), so that small packets share one
 * upstream packet. The client's window is reopened only for bytes libssh2
 * took (kb_conn_channel_consumed), so to_upstream never contains more than
 * window_size bytes. Upstream to client: kb_up_read() is called only for
 * as much as the client's window and the output limit allow; what libssh2
 * keeps closes the upstream's window in turn. Reading resumes on
 * KB_CONN_EV_CHANNEL_WINDOW and when the client socket drains.
 *
 * The end of a channel keeps one rule: the client gets exit-status 0 only
 * when the upstream reported 0 and every byte was delivered both ways.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/packet.h"
#include "kexbridge/watch.h"
#include "bridge.h"

/* Exit status sent when the transfer cannot be vouched for (as scp's own errors). */
#define PUMP_EXIT_FAILURE	1
/*
 * Bytes per libssh2_channel_write_ex() call. libssh2 1.10 sends at most
 * 32,700 bytes per call (_libssh2_channel_write() in its channel.c), so a
 * 32 KiB write would leave a 68-byte packet behind it.
 */
#define PUMP_UPSTREAM_CHUNK	32700

void
bridge_pump_free(struct kb_bridge *s)
{
	if (s->to_upstream != NULL)
		evbuffer_free(s->to_upstream);
	s->to_upstream = NULL;
	kb_scpwatch_free(s->scpwatch);
	kb_sftpwatch_free(s->sftpwatch);
	s->scpwatch = NULL;
	s->sftpwatch = NULL;
}

/* Shows data to the file watcher; a stream it cannot follow is logged once. */
static void
pump_watch(struct kb_bridge *s, bool from_client, const uint8_t *data, size_t len)
{
	int r = 0;

	if (s->watch_broken)
		return;
	if (s->scpwatch != NULL)
		r = kb_scpwatch_feed(s->scpwatch, from_client, data, len);
	else if (s->sftpwatch != NULL)
		r = kb_sftpwatch_feed(s->sftpwatch, from_client, data, len);
	if (r != 0) {
		s->watch_broken = true;
		kb_log(KB_LOG_INFO, s->id, "channel %u: the %s stream does not read as %s; "
		    "files are no longer listed", (unsigned int)s->chan,
		    from_client ? "client" : "upstream",
		    s->scpwatch != NULL ? "scp" : "SFTP");
	}
}

/* ------------------------------------------------------------------ */
/* Client to upstream                                                  */
/* ------------------------------------------------------------------ */

static int
pump_write_upstream(struct kb_bridge *s, const uint8_t *data, size_t len, size_t *taken)
{
	ssize_t n;

	*taken = 0;
	if (!s->chan_ready || s->up_failed || s->up == NULL)
		return 0;
	n = kb_up_write(s->up, data, len);
	if (n < 0)
		return 0;	/* KB_UP_EV_FAILED follows */
	*taken = (size_t)n;
	return kb_conn_channel_consumed(s->conn, s->chan, (size_t)n);
}

/* Writes to_upstream to libssh2; with full_only, whole chunks only. */
static int
pump_to_upstream(struct kb_bridge *s, bool full_only)
{
	size_t len, taken;
	uint8_t *p;
	int r;

	while ((len = evbuffer_get_length(s->to_upstream)) > 0) {
		if (full_only && len < PUMP_UPSTREAM_CHUNK)
			return 0;
		if (len > PUMP_UPSTREAM_CHUNK)
			len = PUMP_UPSTREAM_CHUNK;
		if ((p = evbuffer_pullup(s->to_upstream, (ev_ssize_t)len)) == NULL)
			return KB_ERR_ALLOC_FAIL;
		if ((r = pump_write_upstream(s, p, len, &taken)) != 0)
			return r;
		if (taken == 0)
			return 0;	/* KB_UP_EV_WRITABLE resumes */
		evbuffer_drain(s->to_upstream, taken);
	}

	/* RFC 4254 section 5.3: EOF goes on only after all data before it. */
	if (s->client_eof && s->chan_ready && !s->up_eof_sent && !s->up_failed) {
		s->up_eof_sent = true;
		return kb_up_send_eof(s->up);
	}
	return 0;
}

/*
 * Client packets carry up to 32 KiB and libssh2 sends up to 32,700 bytes
 * per packet. Passed on one by one, every client packet would become a
 * full upstream packet and a tiny one, each with its own MAC, padding and
 * send(), so the data is collected and cut into full packets here.
 */
static int
pump_recv_data(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	/* Extended data from a client has no meaning for scp or SFTP; drop it. */
	if (ev->ext != 0)
		return kb_conn_channel_consumed(s->conn, ev->channel, ev->len);
	s->bytes_c2s += ev->len;
	pump_watch(s, true, ev->data, ev->len);
	if (evbuffer_add(s->to_upstream, ev->data, ev->len) != 0)
		return KB_ERR_ALLOC_FAIL;
	return pump_to_upstream(s, true);
}

/* ------------------------------------------------------------------ */
/* Upstream to client                                                  */
/* ------------------------------------------------------------------ */

/* Sends what was read from the upstream; returns false while some is left. */
static bool
pump_send_pending(struct kb_bridge *s)
{
	size_t taken;
	int r;

	while (s->from_upstream_len > 0) {
		r = kb_conn_channel_send(s->conn, s->chan, s->from_upstream_ext,
		    s->from_upstream, s->from_upstream_len, &taken);
		if (r < 0 || taken == 0)
			return false;
		s->bytes_s2c += taken;
		memmove(s->from_upstream, s->from_upstream + taken, s->from_upstream_len - taken);
		s->from_upstream_len -= taken;
	}
	return true;
}

/* Bytes that may be read now: the client's window, the output limit, a chunk. */
static size_t
pump_room(struct kb_bridge *s)
{
	size_t room = kb_conn_channel_send_window(s->conn, s->chan);
	size_t queued = evbuffer_get_length(bufferevent_get_output(s->bev));

	if (queued >= s->br->output_limit)
		return 0;
	if (room > s->br->output_limit - queued)
		room = s->br->output_limit - queued;
	if (room > KB_BRIDGE_CHUNK)
		room = KB_BRIDGE_CHUNK;
	return room;
}

/* Reads one chunk of stream; returns the bytes read, 0, or an error. */
static ssize_t
pump_read_stream(struct kb_bridge *s, int stream, size_t room)
{
	ssize_t n = kb_up_read(s->up, stream, s->from_upstream, room);

	if (n <= 0)
		return n;
	s->from_upstream_len = (size_t)n;
	s->from_upstream_ext = stream == 0 ? 0 : 1;
	if (stream == 0)
		pump_watch(s, false, s->from_upstream, (size_t)n);
	return n;
}

/*
 * Reads until both streams are empty or the client side is full. Returns
 * true when both streams were read empty.
 */
static bool
pump_from_upstream(struct kb_bridge *s)
{
	size_t room;
	ssize_t out, err;

	if (!s->chan_ready || s->up_failed || s->up == NULL || s->client_eof_sent)
		return false;
	for (;;) {
		if (!pump_send_pending(s)) {
			s->up_read_blocked = true;
			return false;
		}
		bridge_flush(s);
		if ((room = pump_room(s)) == 0) {
			s->up_read_blocked = true;
			return false;
		}
		if ((out = pump_read_stream(s, 0, room)) > 0)
			continue;
		if ((err = pump_read_stream(s, 1, room)) > 0)
			continue;
		s->up_read_blocked = false;
		return out == 0 && err == 0;
	}
}

/* ------------------------------------------------------------------ */
/* The end of the channel                                              */
/* ------------------------------------------------------------------ */

/* Whether the scp watcher saw a file started but not finished. */
static bool
pump_scp_incomplete(const struct kb_bridge *s)
{
	const struct kb_watch_list *l;
	size_t i;

	if (s->scpwatch == NULL || s->watch_broken)
		return false;
	l = kb_scpwatch_files(s->scpwatch);
	for (i = 0; i < l->count; i++) {
		if (!l->file[i].complete)
			return true;
	}
	return false;
}

/* The status the client gets: the upstream's, unless a byte went missing. */
static uint32_t
pump_exit_status(struct kb_bridge *s)
{
	size_t queued = evbuffer_get_length(s->to_upstream);

	if (s->exit_status != 0)
		return (uint32_t)s->exit_status;
	if (queued > 0) {
		kb_log(KB_LOG_WARN, s->id, "channel %u: upstream exited with %zu bytes of the "
		    "client's data undelivered; reporting exit status %d", (unsigned int)s->chan,
		    queued, PUMP_EXIT_FAILURE);
		return PUMP_EXIT_FAILURE;
	}
	if (pump_scp_incomplete(s)) {
		kb_log(KB_LOG_WARN, s->id, "channel %u: upstream exited with 0 but a file was "
		    "not transferred in full; reporting exit status %d", (unsigned int)s->chan,
		    PUMP_EXIT_FAILURE);
		return PUMP_EXIT_FAILURE;
	}
	return 0;
}

static int
pump_send_exit(struct kb_bridge *s)
{
	uint32_t status;
	int r;

	s->exit_sent = true;
	if (s->exit_signal[0] != '\0') {
		r = kb_conn_channel_exit_signal(s->conn, s->chan, s->exit_signal, false, "");
	} else {
		status = pump_exit_status(s);
		s->exit_sent_status = (int)status;
		r = kb_conn_channel_exit_status(s->conn, s->chan, status);
	}
	if (r == 0)
		r = kb_conn_channel_close(s->conn, s->chan);
	if (s->up != NULL)
		kb_up_close(s->up);
	return r;
}

/*
 * Sends EOF to the client once the upstream sent EOF, reported how its
 * command ended, and all it sent was delivered; the exit status and CLOSE
 * follow at once. Holding EOF until the exit status is known matters for
 * clients such as dbclient and paramiko that close the channel as soon as
 * EOF arrives: the status would otherwise be lost for them and the record.
 * The upstream adapter reports the exit once the server closed its channel,
 * which scp and sftp-server do right after their EOF.
 */
static int
pump_finish(struct kb_bridge *s, bool drained)
{
	int r;

	if (s->up_eof && s->exit_known && drained && !s->client_eof_sent &&
	    s->from_upstream_len == 0) {
		s->client_eof_sent = true;
		if ((r = kb_conn_channel_send_eof(s->conn, s->chan)) != 0)
			return r;
	}
	if (s->exit_known && s->client_eof_sent && !s->exit_sent)
		return pump_send_exit(s);
	return 0;
}

void
bridge_pump(struct kb_bridge *s)
{
	bool drained;
	int r;

	if (s->closing || !s->chan_open)
		return;
	/*
	 * A partial write is no promise of KB_UP_EV_WRITABLE, so this writes
	 * until libssh2 takes nothing, which arms that event.
	 */
	if ((r = pump_to_upstream(s, false)) == 0) {
		drained = pump_from_upstream(s);
		r = pump_finish(s, drained);
	}
	bridge_flush(s);
	if (r != 0) {
		kb_log(KB_LOG_ERROR, s->id, "channel %u: relaying data failed: %s",
		    (unsigned int)s->chan, kb_err_str(r));
		bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION,
		    "kexbridge: internal error", "error");
	}
}

/* ------------------------------------------------------------------ */
/* Channel requests                                                    */
/* ------------------------------------------------------------------ */

static int
pump_recv_exec(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	char esc[512];
	bool is_scp, download;

	kb_log_escape(esc, sizeof(esc), ev->text, strlen(ev->text));
	if (!bridge_exec_allowed(s->br, ev->text, &is_scp, &download)) {
		kb_log(KB_LOG_INFO, s->id, "channel %u: refused exec \"%s\": not scp -t or "
		    "scp -f with one path, and no exec_allow pattern matches",
		    (unsigned int)ev->channel, esc);
		return kb_conn_channel_request_reply(s->conn, ev->channel, false);
	}
	free(s->command_text);
	if ((s->command_text = strdup(ev->text)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	s->command = is_scp ? BRIDGE_CMD_SCP : BRIDGE_CMD_EXEC;
	if (is_scp && s->scpwatch == NULL &&
	    (s->scpwatch = kb_scpwatch_new(download ? KB_WATCH_DOWNLOAD : KB_WATCH_UPLOAD)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	kb_log(KB_LOG_INFO, s->id, "channel %u: exec \"%s\"", (unsigned int)ev->channel, esc);
	if (kb_up_state(s->up) != KB_UP_READY)
		return kb_conn_channel_request_reply(s->conn, ev->channel, false);
	return kb_up_channel_exec(s->up, ev->text, strlen(ev->text));
}

static int
pump_recv_subsystem(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	free(s->command_text);
	if ((s->command_text = strdup(ev->text)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	s->command = BRIDGE_CMD_SFTP;
	if (s->sftpwatch == NULL && (s->sftpwatch = kb_sftpwatch_new()) == NULL)
		return KB_ERR_ALLOC_FAIL;
	kb_log(KB_LOG_INFO, s->id, "channel %u: subsystem sftp", (unsigned int)ev->channel);
	if (kb_up_state(s->up) != KB_UP_READY)
		return kb_conn_channel_request_reply(s->conn, ev->channel, false);
	return kb_up_channel_subsystem(s->up, "sftp");
}

static void
pump_recv_close(struct kb_bridge *s)
{
	s->chan_open = false;
	if (s->exit_sent)
		return;
	kb_log(KB_LOG_INFO, s->id, "channel %u: client closed the channel before the "
	    "upstream command ended", (unsigned int)s->chan);
	s->end_closed_by = "client";
	s->end_reason = "channel_closed";
	if (s->up != NULL)
		kb_up_close(s->up);
}

int
bridge_channel_event(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	bridge_touch(s);
	switch (ev->type) {
	case KB_CONN_EV_CHANNEL_OPEN:
		s->chan_open = true;
		s->chan = ev->channel;
		return 0;
	case KB_CONN_EV_CHANNEL_EXEC:
		return pump_recv_exec(s, ev);
	case KB_CONN_EV_CHANNEL_SUBSYSTEM:
		return pump_recv_subsystem(s, ev);
	case KB_CONN_EV_CHANNEL_DATA:
		return pump_recv_data(s, ev);
	case KB_CONN_EV_CHANNEL_EOF:
		s->client_eof = true;
		bridge_pump(s);
		return 0;
	case KB_CONN_EV_CHANNEL_CLOSE:
		pump_recv_close(s);
		return 0;
	case KB_CONN_EV_CHANNEL_WINDOW:
		bridge_pump(s);
		return 0;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* Upstream events                                                     */
/* ------------------------------------------------------------------ */

/*
 * The upstream died after login. With a command running, the client gets
 * the reason on stderr, exit status 1 and CLOSE, so its scp exits non-zero.
 */
static void
pump_upstream_failed(struct kb_bridge *s, const struct kb_up_event_info *info)
{
	const char *why = info->message != NULL ? info->message : kb_err_str(info->err);
	const char *why_en = info->message_en != NULL ? info->message_en :
	    kb_err_str(info->err);
	const char *libssh2 = info->detail != NULL ? "; libssh2: " : "";
	const char *detail = info->detail != NULL ? info->detail : "";
	char text[512];
	size_t taken;

	s->up_failed = true;
	if (s->chan_ready)
		kb_log(KB_LOG_WARN, s->id, "upstream %s failed during the transfer: "
		    "%s%s%s", s->upstream_str, why, libssh2, detail);
	else
		kb_log(KB_LOG_WARN, s->id, "upstream %s failed: %s%s%s",
		    s->upstream_str, why, libssh2, detail);
	/* The client gets English whatever the locale: DISCONNECT and stderr. */
	snprintf(text, sizeof(text), "kexbridge: upstream %s: %s", s->upstream_str, why_en);
	if (!s->chan_open || s->exit_sent) {
		bridge_close(s, "server", SSH_DISCONNECT_BY_APPLICATION, text, "upstream_failed");
		return;
	}
	s->end_closed_by = "server";
	s->end_reason = "upstream_failed";
	strncat(text, "\r\n", sizeof(text) - strlen(text) - 1);
	if (kb_conn_channel_send(s->conn, s->chan, 1, (const uint8_t *)text, strlen(text),
	    &taken) != 0)
		kb_log(KB_LOG_DEBUG, s->id, "cannot tell the client why on stderr");
	s->exit_sent = true;
	s->exit_sent_status = PUMP_EXIT_FAILURE;
	if (kb_conn_channel_exit_status(s->conn, s->chan, PUMP_EXIT_FAILURE) != 0 ||
	    kb_conn_channel_close(s->conn, s->chan) != 0)
		bridge_close(s, "server", SSH_DISCONNECT_BY_APPLICATION, text, "upstream_failed");
	bridge_flush(s);
}

static void
pump_channel_answer(struct kb_bridge *s, bool ok, const struct kb_up_event_info *info)
{
	const char *why = info->message != NULL ? info->message : kb_err_str(info->err);

	s->chan_ready = ok;
	if (!ok && s->command == BRIDGE_CMD_SFTP)
		kb_log(KB_LOG_INFO, s->id, "channel %u: upstream refused the subsystem: %s",
		    (unsigned int)s->chan, why);
	else if (!ok)
		kb_log(KB_LOG_INFO, s->id, "channel %u: upstream refused the command: %s",
		    (unsigned int)s->chan, why);
	if (!s->chan_open)
		return;
	if (kb_conn_channel_request_reply(s->conn, s->chan, ok) != 0) {
		bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION,
		    "kexbridge: internal error", "error");
		return;
	}
	if (ok)
		bridge_pump(s);
}

void
bridge_pump_upstream_event(struct kb_bridge *s, enum kb_up_event ev,
    const struct kb_up_event_info *info)
{
	switch (ev) {
	case KB_UP_EV_CHANNEL_READY:
		pump_channel_answer(s, true, info);
		return;
	case KB_UP_EV_CHANNEL_FAILED:
		pump_channel_answer(s, false, info);
		return;
	case KB_UP_EV_FAILED:
		pump_upstream_failed(s, info);
		return;
	case KB_UP_EV_EOF:
		s->up_eof = true;
		break;
	case KB_UP_EV_EXIT_STATUS:
		s->exit_known = true;
		s->exit_status = info->exit_status;
		break;
	case KB_UP_EV_EXIT_SIGNAL:
		s->exit_known = true;
		snprintf(s->exit_signal, sizeof(s->exit_signal), "%s",
		    info->exit_signal != NULL ? info->exit_signal : "KILL");
		break;
	case KB_UP_EV_CLOSED:
		return;
	default:
		break;	/* READABLE, WRITABLE */
	}
	bridge_pump(s);
}
