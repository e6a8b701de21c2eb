/*
 * The upstream session: libssh2 in non-blocking mode on a libevent loop.
 *
 * Every libssh2 call that returns LIBSSH2_ERROR_EAGAIN is called again,
 * with the same arguments, once the socket is ready in the direction
 * libssh2_session_block_directions() names. One event on the socket is
 * re-armed after each step, and one timer bounds the step in progress. A
 * third event, activated by hand, runs a step from the loop when the owner
 * requests one, so callbacks never run inside a kb_up_* call.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <libssh2.h>
#include <openssl/crypto.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/upstream.h"
#include "upstream-internal.h"

/*
 * English in debug lines and the JSON stream; the text log translates them
 * where a sentence names the state a failure happened in.
 */
static const char *const state_names[] = {
	/* TRANSLATORS: upstream session states, shown in "upstream failed in %s". */
	N_("connecting"), N_("handshake"), N_("hostkey-check"), N_("connected"),
	N_("auth"), N_("ready"), N_("channel-opening"), N_("channel-request"),
	N_("open"), N_("closing"), N_("closed"), N_("failed")
};

static const int method_ids[KB_UP_ALG_COUNT][2] = {
	{ LIBSSH2_METHOD_KEX, -1 },
	{ LIBSSH2_METHOD_HOSTKEY, -1 },
	{ LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC },
	{ LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC },
};

static void up_step(struct kb_upstream *up);

int
up_libssh2_init(void)
{
	static bool done;

	if (done)
		return KB_OK;
	if (libssh2_init(0) != 0)
		return KB_ERR_CRYPTO;
	done = true;
	return KB_OK;
}

const char *
kb_up_state_str(enum kb_up_state state)
{
	if ((unsigned int)state > KB_UP_FAILED)
		return "?";
	return state_names[state];
}

enum kb_up_state
kb_up_state(const struct kb_upstream *up)
{
	return up->state;
}

void
up_set_state(struct kb_upstream *up, enum kb_up_state state)
{
	kb_log(KB_LOG_DEBUG, up->sid, "upstream %s -> %s",
	    kb_up_state_str(up->state), kb_up_state_str(state));
	up->state = state;
}

const char *
up_last_error(struct kb_upstream *up)
{
	char *text = NULL;

	if (up->ssh == NULL)
		return NULL;
	libssh2_session_last_error(up->ssh, &text, NULL, 0);
	return text;
}

bool
up_would_block(struct kb_upstream *up)
{
	return up->ssh != NULL &&
	    libssh2_session_last_errno(up->ssh) == LIBSSH2_ERROR_EAGAIN;
}

void
up_text_format(struct up_text *t, const char *msgid, ...)
{
	va_list ap, ap2;

	va_start(ap, msgid);
	va_copy(ap2, ap);
	vsnprintf(t->en, sizeof(t->en), msgid, ap);
	vsnprintf(t->log, sizeof(t->log), kb_log_tr(msgid), ap2);
	va_end(ap2);
	va_end(ap);
}

const char *
up_strerror_en(int errnum)
{
	static locale_t c_locale;

	/* "C" needs no locale files; newlocale() fails here only without memory. */
	if (c_locale == (locale_t)0)
		c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (c_locale == (locale_t)0)
		return "system error";
	return strerror_l(errnum, c_locale);
}

const char *
up_strerror_log(int errnum)
{
	return kb_log_format() == KB_LOG_TEXT ? strerror(errnum) :
	    up_strerror_en(errnum);
}

/* ------------------------------------------------------------------ */

static void
up_destroy(struct kb_upstream *up)
{
	up_auth_wipe(up);
	if (up->ev_io != NULL)
		event_free(up->ev_io);
	if (up->ev_timer != NULL)
		event_free(up->ev_timer);
	if (up->ev_kick != NULL)
		event_free(up->ev_kick);
	/*
	 * Shut the socket first: libssh2 then fails its goodbye messages at
	 * once instead of returning EAGAIN, and frees without blocking.
	 */
	if (up->fd >= 0)
		shutdown(up->fd, SHUT_RDWR);
	if (up->ssh != NULL)
		libssh2_session_free(up->ssh);
	if (up->fd >= 0)
		close(up->fd);
	free(up->sid);
	free(up->host);
	free(up->known_hosts);
	free(up->request);
	free(up->request_arg);
	free(up->banner);
	free(up);
}

void
kb_up_free(struct kb_upstream *up)
{
	if (up == NULL)
		return;
	if (up->in_cb > 0) {
		up->free_pending = true;
		return;
	}
	up_destroy(up);
}

/* Runs the owner's callback; false when the owner freed up meanwhile. */
bool
up_emit(struct kb_upstream *up, enum kb_up_event ev,
    const struct kb_up_event_info *info)
{
	static const struct kb_up_event_info none;

	up->in_cb++;
	up->cb(up, ev, info != NULL ? info : &none, up->cb_arg);
	up->in_cb--;
	if (up->free_pending && up->in_cb == 0) {
		up_destroy(up);
		return false;
	}
	return true;
}

/* Ends the session: logs why, stops every event, raises FAILED. */
bool
up_fail_text(struct kb_upstream *up, int err, const struct up_text *why)
{
	struct kb_up_event_info info = { .err = err, .message = why->log,
	    .message_en = why->en };
	char esc[512];
	const char *detail = up_last_error(up);

	if (detail != NULL && *detail != '\0')
		info.detail = kb_log_escape(esc, sizeof(esc), detail, strlen(detail));
	kb_log(KB_LOG_INFO, up->sid, "upstream failed in %s: %s%s%s",
	    kb_log_tr(kb_up_state_str(up->state)), why->log,
	    info.detail != NULL ? ": libssh2: " : "",
	    info.detail != NULL ? info.detail : "");
	up_set_state(up, KB_UP_FAILED);
	up_auth_wipe(up);
	event_del(up->ev_io);
	event_del(up->ev_timer);
	up->io_armed = 0;
	return up_emit(up, KB_UP_EV_FAILED, &info);
}

bool
up_fail(struct kb_upstream *up, int err, const char *msgid)
{
	struct up_text why;

	snprintf(why.en, sizeof(why.en), "%s", msgid);
	snprintf(why.log, sizeof(why.log), "%s", kb_log_tr(msgid));
	return up_fail_text(up, err, &why);
}

/* ------------------------------------------------------------------ */

static void
up_on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	up_step(arg);
}

static void
up_on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	up_step(arg);
}

static void
up_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct kb_upstream *up = arg;

	(void)fd;
	(void)what;
	up_fail(up, KB_ERR_TIMEOUT, up->state == KB_UP_CONNECTING ?
	    N_("timed out connecting to the upstream") :
	    up->state == KB_UP_HANDSHAKE ?
	    N_("timed out in the SSH handshake with the upstream") :
	    up->state == KB_UP_AUTH ?
	    N_("timed out authenticating to the upstream") :
	    N_("the upstream did not answer in time"));
}

void
up_timer_set(struct kb_upstream *up, unsigned int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	event_del(up->ev_timer);
	if (seconds > 0)
		event_add(up->ev_timer, &tv);
}

void
up_kick(struct kb_upstream *up)
{
	event_active(up->ev_kick, EV_TIMEOUT, 0);
}

/*
 * Arms the socket for what the step in progress waits for: writable while
 * connecting, then the directions libssh2 blocked on, in the open state
 * always readable too, since the server may send data, EOF or close at
 * any time.
 */
void
up_arm(struct kb_upstream *up)
{
	short want = 0;
	int dirs;

	if (up->fd < 0 || up->state == KB_UP_FAILED || up->state == KB_UP_CLOSED)
		return;
	if (up->state == KB_UP_CONNECTING) {
		want = EV_WRITE;
	} else if (up->ssh != NULL) {
		dirs = libssh2_session_block_directions(up->ssh);
		if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
			want |= EV_READ;
		if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			want |= EV_WRITE;
		if (up->state == KB_UP_OPEN)
			want |= EV_READ;
	}
	if (want == up->io_armed)
		return;
	event_del(up->ev_io);
	up->io_armed = want;
	if (want == 0)
		return;
	event_assign(up->ev_io, up->base, up->fd, want | EV_PERSIST, up_on_io, up);
	event_add(up->ev_io, NULL);
}

/* ------------------------------------------------------------------ */

static int
up_copy_params(struct kb_upstream *up, const struct kb_up_params *p)
{
	if (p->addrlen > sizeof(up->addr))
		return KB_ERR_INVALID_ARGUMENT;
	memcpy(&up->addr, p->addr, p->addrlen);
	up->addrlen = p->addrlen;
	up->port = p->port;
	up->algs = p->algs;
	up->policy = p->hostkey_policy;
	up->connect_timeout = p->connect_timeout > 0 ? p->connect_timeout :
	    KB_UP_CONNECT_TIMEOUT_DEFAULT;
	up->handshake_timeout = p->handshake_timeout > 0 ?
	    p->handshake_timeout : KB_UP_HANDSHAKE_TIMEOUT_DEFAULT;
	up->auth_timeout = p->auth_timeout > 0 ? p->auth_timeout :
	    KB_UP_AUTH_TIMEOUT_DEFAULT;
	up->window_size = p->window_size > 0 ? p->window_size :
	    KB_UP_WINDOW_DEFAULT;
	up->cb = p->cb;
	up->cb_arg = p->cb_arg;
	up->sid = strdup(p->session_id != NULL ? p->session_id : "-");
	up->host = strdup(p->host);
	if (p->known_hosts != NULL)
		up->known_hosts = strdup(p->known_hosts);
	if (up->sid == NULL || up->host == NULL ||
	    (p->known_hosts != NULL && up->known_hosts == NULL))
		return KB_ERR_ALLOC_FAIL;
	return KB_OK;
}

int
kb_up_new(struct event_base *base, const struct kb_up_params *p,
    struct kb_upstream **out)
{
	struct kb_upstream *up;
	int r;

	*out = NULL;
	if (base == NULL || p == NULL || p->addr == NULL || p->host == NULL ||
	    p->cb == NULL || p->port == 0 || p->port > 65535 ||
	    (p->known_hosts == NULL && p->hostkey_policy != KB_UP_HOSTKEY_OFF))
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = up_libssh2_init()) != KB_OK)
		return r;
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	up->base = base;
	up->fd = -1;
	up->state = KB_UP_CONNECTING;
	if ((r = up_copy_params(up, p)) != KB_OK)
		goto out;
	up->ev_io = event_new(base, -1, 0, up_on_io, up);
	up->ev_timer = evtimer_new(base, up_on_timeout, up);
	up->ev_kick = event_new(base, -1, 0, up_on_kick, up);
	if (up->ev_io == NULL || up->ev_timer == NULL || up->ev_kick == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	*out = up;
	up = NULL;
 out:
	if (up != NULL)
		up_destroy(up);
	return r;
}

/* Sets the route's preference for each category, both directions. */
static int
up_set_methods(struct kb_upstream *up)
{
	if (up->algs == NULL)
		return KB_OK;
	for (int cat = 0; cat < KB_UP_ALG_COUNT; cat++) {
		const char *list = up->algs->list[cat];

		if (list == NULL)
			continue;
		for (int dir = 0; dir < 2 && method_ids[cat][dir] >= 0; dir++)
			if (libssh2_session_method_pref(up->ssh,
			    method_ids[cat][dir], list) != 0)
				return KB_ERR_CONFIG_INVALID;
	}
	return KB_OK;
}

int
kb_up_connect(struct kb_upstream *up)
{
	int r;

	if (up->state != KB_UP_CONNECTING || up->fd >= 0)
		return KB_ERR_INVALID_ARGUMENT;
	up->ssh = libssh2_session_init_ex(up_alloc, up_dealloc, up_realloc, up);
	if (up->ssh == NULL)
		return KB_ERR_ALLOC_FAIL;
	libssh2_session_set_blocking(up->ssh, 0);
	if ((r = up_set_methods(up)) != KB_OK) {
		kb_log(KB_LOG_ERROR, up->sid, "upstream algorithm lists "
		    "rejected by libssh2: %s", up_last_error(up));
		return r;
	}

	up->fd = socket(up->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (up->fd < 0)
		return KB_ERR_SYSTEM;
	if (connect(up->fd, (struct sockaddr *)&up->addr, up->addrlen) != 0 &&
	    errno != EINPROGRESS)
		return KB_ERR_CONNECT_FAILED;
	up_timer_set(up, up->connect_timeout);
	up_arm(up);
	return KB_OK;
}

static bool
up_step_connect(struct kb_upstream *up)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(up->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		soerr = errno;
	if (soerr == EINPROGRESS || soerr == EALREADY)
		return true;
	if (soerr != 0) {
#define CONNECT_FAILED_MSGID	N_("cannot connect to %s port %u: %s")
		struct up_text why;

		/* Formatted twice: the system error text follows the locale too. */
		snprintf(why.en, sizeof(why.en), CONNECT_FAILED_MSGID, up->host,
		    up->port, up_strerror_en(soerr));
		snprintf(why.log, sizeof(why.log), kb_log_tr(CONNECT_FAILED_MSGID),
		    up->host, up->port, up_strerror_log(soerr));
		return up_fail_text(up, KB_ERR_CONNECT_FAILED, &why);
#undef CONNECT_FAILED_MSGID
	}
	kb_log(KB_LOG_DEBUG, up->sid, "upstream TCP connected");
	up_set_state(up, KB_UP_HANDSHAKE);
	up_timer_set(up, up->handshake_timeout);
	up_kick(up);
	return true;
}

static void
up_log_methods(struct kb_upstream *up)
{
	struct kb_up_methods m;
	char esc[512];

	kb_up_methods(up, &m);
	kb_log(KB_LOG_INFO, up->sid, "upstream agreed kex=%s hostkey=%s "
	    "cipher=%s,%s mac=%s,%s server=\"%s\"", m.kex, m.hostkey,
	    m.cipher_cs, m.cipher_sc, m.mac_cs, m.mac_sc,
	    up->banner != NULL ? kb_log_escape(esc, sizeof(esc), up->banner,
	    strlen(up->banner)) : "");
}

static bool
up_step_handshake(struct kb_upstream *up)
{
	struct up_text why;
	const char *banner;
	int rc;

	rc = libssh2_session_handshake(up->ssh, up->fd);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return true;
	if (rc == LIBSSH2_ERROR_KEX_FAILURE)
		return up_fail(up, KB_ERR_NO_MATCH, N_("key exchange with the "
		    "upstream failed; most often the upstream and the algorithm "
		    "lists of this route have no method in common"));
	if (rc != 0)
		return up_fail(up, KB_ERR_KEX_FAILED,
		    N_("the SSH handshake with the upstream failed"));

	if ((banner = libssh2_session_banner_get(up->ssh)) != NULL)
		up->banner = strdup(banner);
	up_set_state(up, KB_UP_HOSTKEY_CHECK);
	up_log_methods(up);

	/* Check the host key before anything secret is sent. */
	if (up_knownhosts_check(up->ssh, up->known_hosts, up->host, up->port,
	    up->policy, up->sid, up->fingerprint, sizeof(up->fingerprint),
	    &why) != KB_OK)
		return up_fail_text(up, KB_ERR_KEY_INVALID, &why);

	event_del(up->ev_timer);
	up_set_state(up, KB_UP_CONNECTED);
	return up_emit(up, KB_UP_EV_CONNECTED, NULL);
}

/* Runs the step of the current state, then re-arms the socket. */
static void
up_step(struct kb_upstream *up)
{
	bool alive = true;

	if (up->fail_err != 0 && up->state != KB_UP_FAILED) {
		up_fail(up, up->fail_err, up->fail_msgid);
		return;
	}
	switch (up->state) {
	case KB_UP_CONNECTING:
		alive = up_step_connect(up);
		break;
	case KB_UP_HANDSHAKE:
		alive = up_step_handshake(up);
		break;
	case KB_UP_AUTH:
		alive = up_step_auth(up);
		break;
	case KB_UP_CHANNEL_OPENING:
		alive = up_step_channel_open(up);
		break;
	case KB_UP_CHANNEL_REQUEST:
		alive = up_step_channel_request(up);
		break;
	case KB_UP_OPEN:
		alive = up_step_open(up);
		break;
	case KB_UP_CLOSING:
		alive = up_step_closing(up);
		break;
	default:
		break;
	}
	if (alive)
		up_arm(up);
}

/* ------------------------------------------------------------------ */

int
kb_up_methods(const struct kb_upstream *up, struct kb_up_methods *m)
{
	LIBSSH2_SESSION *s = up->ssh;

	memset(m, 0, sizeof(*m));
	if (s == NULL || up->state == KB_UP_CONNECTING ||
	    up->state == KB_UP_HANDSHAKE)
		return KB_ERR_INVALID_ARGUMENT;
	m->kex = libssh2_session_methods(s, LIBSSH2_METHOD_KEX);
	m->hostkey = libssh2_session_methods(s, LIBSSH2_METHOD_HOSTKEY);
	m->cipher_cs = libssh2_session_methods(s, LIBSSH2_METHOD_CRYPT_CS);
	m->cipher_sc = libssh2_session_methods(s, LIBSSH2_METHOD_CRYPT_SC);
	m->mac_cs = libssh2_session_methods(s, LIBSSH2_METHOD_MAC_CS);
	m->mac_sc = libssh2_session_methods(s, LIBSSH2_METHOD_MAC_SC);
	m->comp_cs = libssh2_session_methods(s, LIBSSH2_METHOD_COMP_CS);
	m->comp_sc = libssh2_session_methods(s, LIBSSH2_METHOD_COMP_SC);
	return KB_OK;
}

const char *
kb_up_banner(const struct kb_upstream *up)
{
	return up->banner;
}

const char *
kb_up_hostkey_fingerprint(const struct kb_upstream *up)
{
	return up->fingerprint[0] != '\0' ? up->fingerprint : NULL;
}
