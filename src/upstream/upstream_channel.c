/*
 * The upstream session channel (RFC 4254 section 6): open, exec or
 * subsystem request, data both ways with back-pressure, EOF, exit status,
 * close.
 *
 * Back-pressure: libssh2 1.10 shrinks the window it granted the server
 * only when the application reads data out, and grows it again inside
 * libssh2_channel_read_ex() to about the initial size plus the read
 * length. So what libssh2 holds for us stays below the window we open the
 * channel with plus the largest read, as long as data is read only as fast
 * as the owner can pass it on. Draining the transport with a zero-length
 * read (to see EOF, close and window adjustments) takes no data out.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libssh2.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/upstream.h"
#include "upstream-internal.h"

static int
channel_begin(struct kb_upstream *up, const char *request, const char *arg,
    size_t arglen)
{
	if (up->state != KB_UP_READY || up->channel != NULL)
		return KB_ERR_INVALID_ARGUMENT;
	free(up->request);
	free(up->request_arg);
	up->request = strdup(request);
	up->request_arg = malloc(arglen + 1);
	if (up->request == NULL || up->request_arg == NULL)
		return KB_ERR_ALLOC_FAIL;
	memcpy(up->request_arg, arg, arglen);
	up->request_arg[arglen] = '\0';
	up->request_arg_len = arglen;
	up->eof_seen = up->eof_sent = up->eof_pending = false;
	up->exit_reported = false;
	up->want_writable = up->read_notified = false;
	up_set_state(up, KB_UP_CHANNEL_OPENING);
	up_timer_set(up, up->auth_timeout);
	up_kick(up);
	return KB_OK;
}

int
kb_up_channel_exec(struct kb_upstream *up, const char *command, size_t len)
{
	if (command == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	return channel_begin(up, "exec", command, len);
}

int
kb_up_channel_subsystem(struct kb_upstream *up, const char *name)
{
	if (name == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	return channel_begin(up, "subsystem", name, strlen(name));
}

/*
 * Refused open or request: the session stays usable for another try.
 * msgid is English, marked with N_().
 */
static bool
channel_refused(struct kb_upstream *up, const char *msgid)
{
	const char *message = kb_log_tr(msgid);
	struct kb_up_event_info info = { .err = KB_ERR_UNEXPECTED_MESSAGE,
	    .message = message, .message_en = msgid,
	    .detail = up_last_error(up) };

	/*
	 * TODO: the refused channel is left to libssh2_session_free(); freeing
	 * it now could return EAGAIN, and nothing would finish the job.
	 */
	up->channel = NULL;
	up_timer_set(up, 0);
	up_set_state(up, KB_UP_READY);
	kb_log(KB_LOG_INFO, up->sid, "upstream channel: %s", message);
	return up_emit(up, KB_UP_EV_CHANNEL_FAILED, &info);
}

bool
up_step_channel_open(struct kb_upstream *up)
{
	up->channel = libssh2_channel_open_ex(up->ssh, "session",
	    sizeof("session") - 1, up->window_size,
	    LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
	if (up->channel == NULL) {
		if (up_would_block(up))
			return true;
		if (libssh2_session_last_errno(up->ssh) ==
		    LIBSSH2_ERROR_CHANNEL_FAILURE)
			return channel_refused(up,
			    N_("the upstream refused to open a session channel"));
		return up_fail(up, KB_ERR_CONNECTION_CLOSED,
		    N_("the upstream connection failed opening a channel"));
	}
	up_set_state(up, KB_UP_CHANNEL_REQUEST);
	return up_step_channel_request(up);
}

bool
up_step_channel_request(struct kb_upstream *up)
{
	char esc[256];
	int rc;

	rc = libssh2_channel_process_startup(up->channel, up->request,
	    (unsigned int)strlen(up->request), up->request_arg,
	    (unsigned int)up->request_arg_len);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return true;
	if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED)
		return channel_refused(up, strcmp(up->request, "exec") == 0 ?
		    N_("the upstream refused to run the command") :
		    N_("the upstream refused the subsystem"));
	if (rc != 0)
		return up_fail(up, KB_ERR_CONNECTION_CLOSED,
		    N_("the upstream connection failed starting the command"));

	kb_log(KB_LOG_INFO, up->sid, "upstream channel open: %s \"%s\"",
	    up->request, kb_log_escape(esc, sizeof(esc), up->request_arg,
	    up->request_arg_len));
	up_timer_set(up, 0);
	up_set_state(up, KB_UP_OPEN);
	return up_emit(up, KB_UP_EV_CHANNEL_READY, NULL);
}

/*
 * Notes a failure found inside a kb_up_* call; the loop raises FAILED.
 * msgid is English, marked with N_().
 */
static int
channel_fail_later(struct kb_upstream *up, const char *msgid)
{
	if (up->fail_err == 0) {
		up->fail_err = KB_ERR_CONNECTION_CLOSED;
		up->fail_msgid = msgid;
	}
	up_kick(up);
	return KB_ERR_CONNECTION_CLOSED;
}

/*
 * libssh2 1.10 holds one outgoing packet that would have blocked and
 * refuses any other until it is sent (LIBSSH2_ERROR_BAD_USE): a write
 * waits for a pending window adjustment, and the reverse. Both are "not
 * now" here; the call that owns the packet finishes it later.
 */
static bool
rc_not_now(ssize_t rc)
{
	return rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE;
}

ssize_t
kb_up_write(struct kb_upstream *up, const void *buf, size_t len)
{
	ssize_t rc;

	if (up->state != KB_UP_OPEN || up->eof_sent || buf == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (len == 0)
		return 0;
	rc = libssh2_channel_write_ex(up->channel, 0, buf, len);
	/* libssh2 1.10 returns 0, not EAGAIN, while the server's window is closed. */
	if (rc == 0 || rc_not_now(rc)) {
		up->want_writable = true;
		up_arm(up);
		return 0;
	}
	if (rc < 0)
		return channel_fail_later(up,
		    N_("the upstream connection failed sending data"));
	/*
	 * libssh2 reads incoming packets inside a write, so data may now wait
	 * in libssh2 with the socket drained: report it from the loop.
	 */
	up_kick(up);
	return rc;
}

ssize_t
kb_up_read(struct kb_upstream *up, int stream, void *buf, size_t len)
{
	ssize_t rc;

	if (up->state != KB_UP_OPEN || (stream != 0 && stream != 1) ||
	    buf == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (len == 0)
		return 0;
	rc = libssh2_channel_read_ex(up->channel, stream, buf, len);
	if (rc > 0)
		return rc;
	if (rc == 0 || rc_not_now(rc)) {
		/* Drained: the next data, EOF or close is reported afresh. */
		up->read_notified = false;
		up_kick(up);
		return 0;
	}
	return channel_fail_later(up,
	    N_("the upstream connection failed receiving data"));
}

int
kb_up_send_eof(struct kb_upstream *up)
{
	if (up->state != KB_UP_OPEN)
		return KB_ERR_INVALID_ARGUMENT;
	/* Sent from the loop: libssh2 may need several tries. */
	if (!up->eof_sent)
		up->eof_sent = up->eof_pending = true;
	up_kick(up);
	return KB_OK;
}

/* The channel has closed: exit-signal or exit-status (section 6.10). */
static bool
channel_report_exit(struct kb_upstream *up)
{
	struct kb_up_event_info info = { 0 };
	char *sig = NULL, *msg = NULL, esc[256];
	bool alive;

	up->exit_reported = true;
	libssh2_channel_get_exit_signal(up->channel, &sig, NULL, &msg, NULL,
	    NULL, NULL);
	if (sig != NULL) {
		info.exit_signal = sig;
		/* The server's own text, escaped: the same for log and client. */
		info.message = msg != NULL ? kb_log_escape(esc, sizeof(esc), msg,
		    strlen(msg)) : NULL;
		info.message_en = info.message;
		kb_log(KB_LOG_INFO, up->sid, "upstream command killed by "
		    "signal %s", kb_log_escape(esc, sizeof(esc), sig, strlen(sig)));
		alive = up_emit(up, KB_UP_EV_EXIT_SIGNAL, &info);
	} else {
		/*
		 * TODO: libssh2 1.10 reports 0 both for "exit-status 0" and for
		 * no exit-status at all; a version that tells them apart would
		 * let a missing status count as a failure.
		 */
		info.exit_status = libssh2_channel_get_exit_status(up->channel);
		kb_log(KB_LOG_INFO, up->sid, "upstream command exit status %d",
		    info.exit_status);
		alive = up_emit(up, KB_UP_EV_EXIT_STATUS, &info);
	}
	/* libssh2 hands these out from its own allocator. */
	up_dealloc(sig, NULL);
	up_dealloc(msg, NULL);
	return alive;
}

/* Raises what the owner has not heard yet, one event per step. */
static bool
channel_report(struct kb_upstream *up)
{
	size_t avail = 0;
	int rc;

	libssh2_channel_window_read_ex(up->channel, &avail, NULL);
	if (avail > 0 && !up->read_notified) {
		up->read_notified = true;
		if (!up_emit(up, KB_UP_EV_READABLE, NULL))
			return false;
		if (up->state != KB_UP_OPEN)
			return true;
	}
	if (avail == 0 && !up->eof_seen && libssh2_channel_eof(up->channel) == 1) {
		up->eof_seen = true;
		kb_log(KB_LOG_DEBUG, up->sid, "upstream sent EOF");
		if (!up_emit(up, KB_UP_EV_EOF, NULL))
			return false;
		if (up->state != KB_UP_OPEN)
			return true;
	}
	if (up->eof_seen && !up->exit_reported) {
		rc = libssh2_channel_wait_closed(up->channel);
		if (rc == 0 && !channel_report_exit(up))
			return false;
		if (up->state != KB_UP_OPEN)
			return true;
	}
	if (up->want_writable && up->state == KB_UP_OPEN) {
		up->want_writable = false;
		return up_emit(up, KB_UP_EV_WRITABLE, NULL);
	}
	return true;
}

/* A socket event or a kick in the open state. */
bool
up_step_open(struct kb_upstream *up)
{
	char none[1];
	ssize_t rc;

	/* Our EOF, once libssh2 takes it (RFC 4254 section 5.3). */
	if (up->eof_pending) {
		rc = libssh2_channel_send_eof(up->channel);
		if (rc == 0)
			up->eof_pending = false;
		else if (!rc_not_now(rc))
			return up_fail(up, KB_ERR_CONNECTION_CLOSED,
			    N_("the upstream connection failed sending EOF"));
	}

	/* Take in what arrived, without taking data out of libssh2. */
	rc = libssh2_channel_read_ex(up->channel, 0, none, 0);
	if (rc < 0 && !rc_not_now(rc))
		return up_fail(up, KB_ERR_CONNECTION_CLOSED,
		    N_("the upstream connection failed receiving data"));
	return channel_report(up);
}

int
kb_up_close(struct kb_upstream *up)
{
	if (up->state == KB_UP_FAILED || up->state == KB_UP_CLOSED ||
	    up->state == KB_UP_CLOSING)
		return KB_OK;
	up_auth_wipe(up);
	/* Before the handshake there is nothing to say goodbye to. */
	up->close_step = up->state <= KB_UP_HOSTKEY_CHECK ? 3 :
	    up->channel != NULL ? 0 : 2;
	up_set_state(up, KB_UP_CLOSING);
	up_timer_set(up, up->connect_timeout);
	up_kick(up);
	return KB_OK;
}

/*
 * Closing, one step at a time: CHANNEL_CLOSE and the server's answer
 * (RFC 4254 section 5.3), the channel freed, SSH_MSG_DISCONNECT (RFC 4253
 * section 11.1), then CLOSED.
 */
bool
up_step_closing(struct kb_upstream *up)
{
	int rc = 0;

	switch (up->close_step) {
	case 0:
		rc = libssh2_channel_close(up->channel);
		break;
	case 1:
		rc = libssh2_channel_free(up->channel);
		if (rc == 0)
			up->channel = NULL;
		break;
	case 2:
		rc = libssh2_session_disconnect(up->ssh, "closed by kexbridge");
		break;
	default:
		up_timer_set(up, 0);
		event_del(up->ev_io);
		up->io_armed = 0;
		up_set_state(up, KB_UP_CLOSED);
		return up_emit(up, KB_UP_EV_CLOSED, NULL);
	}
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return true;
	/* A server that is already gone cannot spoil an orderly close. */
	if (rc != 0)
		kb_log(KB_LOG_DEBUG, up->sid, "upstream close step %u: %s",
		    up->close_step, up_last_error(up));
	up->close_step++;
	up_kick(up);
	return true;
}
