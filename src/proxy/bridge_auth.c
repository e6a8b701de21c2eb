/*
 * Bridge user authentication: the client's password or keyboard-interactive
 * responses are tried at the upstream (RFC 4252 section 8, RFC 4256), and its
 * verdict goes back to the client. The upstream session is opened on the
 * first authentication request, because only then is the user known.
 * Only user names and outcomes are logged, never secrets.
 *
 * Also here: the exec policy. A command is allowed when it is scp as
 * OpenSSH's scp starts it remotely, or when it matches an exec_allow
 * pattern of the route.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <event2/event.h>

#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/packet.h"
#include "bridge.h"

/* Maximum length of an scp command line; longer ones are rejected. */
#define SCP_COMMAND_MAX		4096

/* ------------------------------------------------------------------ */
/* Exec policy                                                         */
/* ------------------------------------------------------------------ */

/* "-t", "-vpt", "-r -d": flags scp.c passes to the remote scp. */
static bool
scp_flags_valid(const char *token, size_t len, int *direction, bool *download)
{
	size_t i;

	if (len < 2 || token[0] != '-')
		return false;
	for (i = 1; i < len; i++) {
		if (token[i] == 't' || token[i] == 'f') {
			(*direction)++;
			*download = token[i] == 'f';
		} else if (strchr("vrpdqT", token[i]) == NULL || token[i] == '\0')
			return false;
	}
	return true;
}

/*
 * Checks that word is one shell word the remote shell takes as a literal
 * path: no command separators, redirections, substitutions or further
 * words. Backslash escapes ("my\ file"), single quotes and double quotes
 * without $ or ` are allowed, and so are bytes above 0x7f (UTF-8 names) and
 * glob characters, which scp -f expands on purpose. A path that starts with
 * '-' would be read as an option and is refused.
 */
static bool
scp_path_word_valid(const char *word)
{
	const unsigned char *p = (const unsigned char *)word;
	bool first = true;

	if (*p == '\0' || *p == '#')
		return false;
	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p == '\\') {
			if (p[1] == '\0' || p[1] < 0x20 || p[1] == 0x7f)
				return false;
			if (first && p[1] == '-')
				return false;
			p += 2;
		} else if (*p == '\'') {
			for (p++; *p != '\''; p++) {
				if (*p == '\0' || *p < 0x20 || *p == 0x7f)
					return false;
				if (first && *p == '-')
					return false;
				first = false;
			}
			p++;
		} else if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0' || *p < 0x20 || *p == 0x7f || *p == '$' || *p == '`')
					return false;
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (first && *p == '-')
					return false;
				first = false;
			}
			p++;
		} else if (strchr(" \t;&|<>()$`", *p) != NULL) {
			return false;
		} else {
			if (first && *p == '-')
				return false;
			p++;
		}
		first = false;
	}
	return true;
}

/*
 * True for scp as OpenSSH's scp starts it on the server: "scp", flags from
 * -v -r -p -d -q -T with exactly one of -t (sink) and -f (source), an
 * optional "--", then exactly one path as one shell word.
 */
bool
bridge_exec_is_scp(const char *command, bool *download)
{
	const char *p = command, *end;
	int direction = 0;

	if (strlen(command) >= SCP_COMMAND_MAX || strncmp(p, "scp ", 4) != 0)
		return false;
	p += 4;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p != '-')
			break;
		end = strchr(p, ' ');
		if (end == NULL)
			return false;	/* flags but no path */
		if (end - p == 2 && p[1] == '-') {
			p = end + 1;
			while (*p == ' ')
				p++;
			break;
		}
		if (!scp_flags_valid(p, (size_t)(end - p), &direction, download))
			return false;
		p = end;
	}
	return direction == 1 && scp_path_word_valid(p);
}

bool
bridge_exec_allowed(const struct kb_bridge_route *br, const char *command, bool *is_scp,
    bool *download)
{
	char *const *pattern = br->route->exec_allow;

	*download = false;
	*is_scp = bridge_exec_is_scp(command, download);
	if (*is_scp)
		return true;
	for (; pattern != NULL && *pattern != NULL; pattern++) {
		if (fnmatch(*pattern, command, 0) == 0)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* The upstream session                                                */
/* ------------------------------------------------------------------ */

static void
bridge_up_cb(struct kb_upstream *up, enum kb_up_event ev,
    const struct kb_up_event_info *info, void *arg)
{
	struct kb_bridge *s = arg;

	if (s->closing)
		return;
	bridge_touch(s);
	switch (ev) {
	case KB_UP_EV_CONNECTED:
	case KB_UP_EV_AUTH_OK:
	case KB_UP_EV_AUTH_FAILED:
	case KB_UP_EV_KBDINT_PROMPTS:
		bridge_auth_upstream_event(s, ev, info);
		break;
	case KB_UP_EV_FAILED:
		if (s->auth != BRIDGE_AUTH_DONE)
			bridge_auth_upstream_event(s, ev, info);
		else
			bridge_pump_upstream_event(s, ev, info);
		break;
	default:
		bridge_pump_upstream_event(s, ev, info);
		break;
	}
	if (!s->closing)
		bridge_process(s);
}

static int
auth_start_upstream(struct kb_bridge *s)
{
	const struct kb_route *route = s->ctx->route;
	struct kb_up_params params;
	char text[512];
	int r;

	memset(&params, 0, sizeof(params));
	params.session_id = s->id;
	params.addr = (const struct sockaddr *)&s->upstream_addr.ss;
	params.addrlen = s->upstream_addr.len;
	params.host = s->upstream_host;
	params.port = s->upstream_port;
	params.algs = &route->upstream_algs;
	params.known_hosts = route->known_hosts;
	params.hostkey_policy = route->hostkey_policy;
	params.connect_timeout = route->connect_timeout;
	params.handshake_timeout = route->upstream_handshake_timeout;
	params.auth_timeout = route->upstream_auth_timeout;
	params.window_size = s->br->upstream_window;
	params.cb = bridge_up_cb;
	params.cb_arg = s;
	if ((r = kb_up_new(s->ctx->base, &params, &s->up)) != 0 ||
	    (r = kb_up_connect(s->up)) != 0) {
		kb_log(KB_LOG_ERROR, s->id, "cannot start the upstream session to %s: %s",
		    s->upstream_str, kb_err_str(r));
		snprintf(text, sizeof(text), "kexbridge: cannot start a session to upstream %s",
		    s->upstream_str);
		bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION, text,
		    "upstream_failed");
		return 0;
	}
	kb_log(KB_LOG_DEBUG, s->id, "connecting to upstream %s", s->upstream_str);
	return 0;
}

static void
auth_wipe_password(struct kb_bridge *s)
{
	if (s->password == NULL)
		return;
	OPENSSL_cleanse(s->password, s->password_len);
	free(s->password);
	s->password = NULL;
	s->password_len = 0;
}

static int
auth_send_password(struct kb_bridge *s)
{
	int r;

	r = kb_up_auth_password(s->up, s->user, s->password, s->password_len);
	auth_wipe_password(s);
	return r;
}

static int
auth_set_user(struct kb_bridge *s, const char *user)
{
	if (s->user != NULL && strcmp(s->user, user) == 0)
		return 0;
	free(s->user);
	if ((s->user = strdup(user)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	return 0;
}

static int
auth_recv_password(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	int r;

	if ((r = auth_set_user(s, ev->user)) != 0)
		return r;
	auth_wipe_password(s);
	s->password_len = strlen(ev->secret);
	if ((s->password = malloc(s->password_len + 1)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	memcpy(s->password, ev->secret, s->password_len + 1);
	s->auth = BRIDGE_AUTH_PASSWORD;
	if (s->up == NULL)
		return auth_start_upstream(s);
	if (s->up_connected)
		return auth_send_password(s);
	return 0;
}

static int
auth_recv_kbdint(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	int r;

	if ((r = auth_set_user(s, ev->user)) != 0)
		return r;
	s->auth = BRIDGE_AUTH_KBDINT;
	if (s->up == NULL)
		return auth_start_upstream(s);
	if (s->up_connected)
		return kb_up_auth_kbdint(s->up, s->user);
	return 0;
}

static int
auth_recv_kbdint_response(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	size_t lens[KB_UP_KBDINT_MAX_PROMPTS], i;

	if (ev->response_count > KB_UP_KBDINT_MAX_PROMPTS)
		return KB_ERR_INVALID_ARGUMENT;
	for (i = 0; i < ev->response_count; i++)
		lens[i] = strlen(ev->responses[i]);
	s->auth = BRIDGE_AUTH_KBDINT_ANSWER;
	return kb_up_auth_kbdint_answer(s->up, (const char *const *)ev->responses, lens,
	    ev->response_count);
}

int
bridge_auth_event(struct kb_bridge *s, const struct kb_conn_event *ev)
{
	switch (ev->type) {
	case KB_CONN_EV_AUTH_PASSWORD:
		s->auth_method = "password";
		return auth_recv_password(s, ev);
	case KB_CONN_EV_AUTH_KBDINT:
		s->auth_method = "keyboard-interactive";
		return auth_recv_kbdint(s, ev);
	case KB_CONN_EV_AUTH_KBDINT_RESPONSE:
		return auth_recv_kbdint_response(s, ev);
	default:
		return KB_ERR_INTERNAL;
	}
}

/* ------------------------------------------------------------------ */
/* Upstream verdicts                                                   */
/* ------------------------------------------------------------------ */

static void
auth_log_user(struct kb_bridge *s, bool ok)
{
	char user[256];

	kb_log_escape(user, sizeof(user), s->user != NULL ? s->user : "",
	    s->user != NULL ? strlen(s->user) : 0);
	if (ok)
		kb_log(KB_LOG_INFO, s->id, "user %s authenticated at upstream %s", user,
		    s->upstream_str);
	else
		kb_log(KB_LOG_INFO, s->id, "authentication of user %s failed at upstream %s",
		    user, s->upstream_str);
}

static void
auth_on_connected(struct kb_bridge *s)
{
	const char *fp = kb_up_hostkey_fingerprint(s->up);
	int r = 0;

	s->up_connected = true;
	kb_log(KB_LOG_DEBUG, s->id, "upstream %s connected, host key %s",
	    s->upstream_str, fp != NULL ? fp : "?");
	if (s->auth == BRIDGE_AUTH_PASSWORD)
		r = auth_send_password(s);
	else if (s->auth == BRIDGE_AUTH_KBDINT)
		r = kb_up_auth_kbdint(s->up, s->user);
	if (r != 0) {
		kb_log(KB_LOG_ERROR, s->id, "cannot start authentication upstream: %s",
		    kb_err_str(r));
		bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION,
		    "kexbridge: internal error", "error");
	}
}

static void
auth_on_failed(struct kb_bridge *s, const struct kb_up_event_info *info)
{
	char text[512];
	const char *why = info->message != NULL ? info->message : kb_err_str(info->err);
	const char *why_en = info->message_en != NULL ? info->message_en :
	    kb_err_str(info->err);
	enum kb_log_level level = KB_LOG_WARN;

	/*
	 * A host key that cannot be verified may mean someone sits between
	 * kexbridge and the server. OpenSSH's ssh logs that case with error(),
	 * a changed key and an unknown one under strict checking alike, and so
	 * does kexbridge. Every other upstream failure is a warning: the
	 * backup fails, but nothing points to an attack.
	 */
	if (info->err == KB_ERR_KEY_INVALID)
		level = KB_LOG_ERROR;
	kb_log(level, s->id, "upstream %s failed before login: %s%s%s",
	    s->upstream_str, why, info->detail != NULL ? "; libssh2: " : "",
	    info->detail != NULL ? info->detail : "");
	/*
	 * The client hears only that the host key check failed. The log line
	 * above has the details, such as fingerprints and the known_hosts
	 * path, which are this host's business and not the client's. The
	 * DISCONNECT text is English whatever the locale (RFC 4253 section
	 * 11.1 allows a language tag, which kexbridge leaves empty).
	 */
	if (info->err == KB_ERR_KEY_INVALID)
		snprintf(text, sizeof(text), "kexbridge: upstream %s: host key verification "
		    "failed; the kexbridge log has the details", s->upstream_str);
	else
		snprintf(text, sizeof(text), "kexbridge: upstream %s: %s", s->upstream_str,
		    why_en);
	s->up_failed = true;
	bridge_close(s, "server", SSH_DISCONNECT_BY_APPLICATION, text, "upstream_failed");
}

static void
auth_on_failure(struct kb_bridge *s)
{
	struct timeval delay = { (time_t)s->ctx->route->auth_failure_delay, 0 };

	/*
	 * The delay slows down password guessing through the bridge, as sshd
	 * does. A keyboard-interactive attempt the upstream ended before any
	 * prompt (the method is not enabled there) tested no secret, so the
	 * client may go on to the next method at once.
	 */
	if (s->auth == BRIDGE_AUTH_KBDINT)
		delay.tv_sec = 0;
	auth_wipe_password(s);
	auth_log_user(s, false);
	s->auth_failures++;
	s->auth = BRIDGE_AUTH_DELAY;
	evtimer_add(s->auth_timer, &delay);
}

void
bridge_auth_upstream_event(struct kb_bridge *s, enum kb_up_event ev,
    const struct kb_up_event_info *info)
{
	const struct kb_up_kbdint *k = info->kbdint;
	int r = 0;

	switch (ev) {
	case KB_UP_EV_CONNECTED:
		auth_on_connected(s);
		return;
	case KB_UP_EV_FAILED:
		auth_on_failed(s, info);
		return;
	case KB_UP_EV_AUTH_OK:
		s->auth = BRIDGE_AUTH_DONE;
		auth_wipe_password(s);
		auth_log_user(s, true);
		event_del(s->handshake_timer);
		r = kb_conn_auth_success(s->conn);
		break;
	case KB_UP_EV_AUTH_FAILED:
		auth_on_failure(s);
		return;
	case KB_UP_EV_KBDINT_PROMPTS:
		r = kb_conn_auth_kbdint_prompts(s->conn, k->name, k->instruction,
		    k->prompt, k->echo, k->count);
		break;
	default:
		return;
	}
	if (r != 0 && !s->closing) {
		kb_log(KB_LOG_ERROR, s->id, "cannot answer the client's login: %s",
		    kb_err_str(r));
		bridge_close(s, "kexbridge", SSH_DISCONNECT_BY_APPLICATION,
		    "kexbridge: internal error", "error");
	}
}

void
bridge_auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kb_bridge *s = arg;
	int r;

	if (s->closing)
		return;
	s->auth = BRIDGE_AUTH_IDLE;
	r = kb_conn_auth_failure(s->conn);
	bridge_flush(s);
	if (r != 0 || kb_transport_state(s->transport) == KB_TRANSPORT_CLOSED) {
		kb_log(KB_LOG_INFO, s->id, "too many authentication failures (%u); closing",
		    s->auth_failures);
		bridge_close(s, "kexbridge", 0, NULL, "auth_failed");
		return;
	}
	bridge_process(s);
}
