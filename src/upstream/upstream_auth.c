/*
 * User authentication to the upstream: password (RFC 4252 section 8) and
 * keyboard-interactive (RFC 4256), with the client's credentials.
 *
 * NOTE: keyboard-interactive relay. libssh2 1.10 asks for the answers
 * through a callback that must fill them in before it returns, in the same
 * call that received the prompts; the answers are encrypted into the
 * outgoing packet at once, so they cannot be supplied later. The client's
 * answers, though, arrive over the network some time later. So a relay
 * takes two attempts:
 *   1. the learning attempt answers every prompt with an empty string and
 *      records the prompts; the server fails it, and the prompts go to the
 *      owner (KB_UP_EV_KBDINT_PROMPTS), which shows them to the client;
 *   2. the answering attempt, started by kb_up_auth_kbdint_answer(), gives
 *      the client's answers when the server asks the same prompts again.
 * Limits: the learning attempt is a failed login on the server (logged
 * there, counted against MaxAuthTries, and by lockout modules such as
 * pam_faillock); a server that asks different prompts each time (a
 * challenge with a nonce) gets up to three learning attempts and then
 * fails; only the first round of prompts in an attempt can be answered,
 * so a server asking a second round (password, then a code) fails.
 * TODO: a libssh2 with an asynchronous keyboard-interactive interface
 * would remove the learning attempt.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libssh2.h>
#include <openssl/crypto.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/upstream.h"
#include "upstream-internal.h"

#define KBDINT_LEARN_MAX	3

static void
str_wipe_free(char **s, size_t len)
{
	if (*s == NULL)
		return;
	OPENSSL_cleanse(*s, len);
	free(*s);
	*s = NULL;
}

static void
kbdint_clear_prompts(struct up_kbdint_state *k)
{
	free(k->name);
	free(k->instruction);
	k->name = k->instruction = NULL;
	for (size_t i = 0; i < k->count; i++) {
		free(k->prompt[i]);
		k->prompt[i] = NULL;
	}
	k->count = 0;
}

static void
kbdint_wipe_answers(struct up_kbdint_state *k)
{
	for (size_t i = 0; i < KB_UP_KBDINT_MAX_PROMPTS; i++) {
		str_wipe_free(&k->answer[i], k->answer_len[i]);
		k->answer_len[i] = 0;
	}
	k->have_answers = false;
}

void
up_auth_wipe(struct kb_upstream *up)
{
	str_wipe_free(&up->password, up->password_len);
	up->password_len = 0;
	free(up->user);
	up->user = NULL;
	kbdint_wipe_answers(&up->kbd);
	kbdint_clear_prompts(&up->kbd);
	up->auth = UP_AUTH_NONE;
}

static char *
dup_len(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d != NULL) {
		if (len > 0)
			memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/* Starts an authentication step in state CONNECTED. */
static int
auth_begin(struct kb_upstream *up, const char *user, enum up_auth_kind kind)
{
	if (up->state != KB_UP_CONNECTED || user == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (up->user == NULL || strcmp(up->user, user) != 0) {
		free(up->user);
		if ((up->user = strdup(user)) == NULL)
			return KB_ERR_ALLOC_FAIL;
	}
	up->auth = kind;
	up->kbd.prompts_seen = false;
	up->kbd.prompts_changed = false;
	up_set_state(up, KB_UP_AUTH);
	up_timer_set(up, up->auth_timeout);
	up_kick(up);
	return KB_OK;
}

int
kb_up_auth_password(struct kb_upstream *up, const char *user,
    const char *password, size_t password_len)
{
	if (password == NULL || up->state != KB_UP_CONNECTED)
		return KB_ERR_INVALID_ARGUMENT;
	str_wipe_free(&up->password, up->password_len);
	if ((up->password = dup_len(password, password_len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	up->password_len = password_len;
	return auth_begin(up, user, UP_AUTH_PASSWORD);
}

int
kb_up_auth_kbdint(struct kb_upstream *up, const char *user)
{
	kbdint_clear_prompts(&up->kbd);
	kbdint_wipe_answers(&up->kbd);
	up->kbd.rounds = 0;
	return auth_begin(up, user, UP_AUTH_KBDINT_LEARN);
}

int
kb_up_auth_kbdint_answer(struct kb_upstream *up,
    const char *const *answers, const size_t *lens, size_t count)
{
	struct up_kbdint_state *k = &up->kbd;

	if (up->state != KB_UP_CONNECTED || up->user == NULL ||
	    k->count == 0 || count != k->count || answers == NULL || lens == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	kbdint_wipe_answers(k);
	for (size_t i = 0; i < count; i++) {
		if ((k->answer[i] = dup_len(answers[i], lens[i])) == NULL) {
			kbdint_wipe_answers(k);
			return KB_ERR_ALLOC_FAIL;
		}
		k->answer_len[i] = lens[i];
	}
	k->have_answers = true;
	return auth_begin(up, up->user, UP_AUTH_KBDINT_ANSWER);
}

/* ------------------------------------------------------------------ */

static bool
kbdint_same_prompts(const struct up_kbdint_state *k, int n,
    const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts)
{
	if ((size_t)n != k->count)
		return false;
	for (int i = 0; i < n; i++) {
		if (strlen(k->prompt[i]) != prompts[i].length ||
		    memcmp(k->prompt[i], prompts[i].text, prompts[i].length) != 0 ||
		    k->echo[i] != (prompts[i].echo != 0))
			return false;
	}
	return true;
}

static void
kbdint_record(struct up_kbdint_state *k, const char *name, int name_len,
    const char *instr, int instr_len, int n,
    const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts)
{
	kbdint_clear_prompts(k);
	k->name = dup_len(name != NULL ? name : "", name != NULL ? (size_t)name_len : 0);
	k->instruction = dup_len(instr != NULL ? instr : "",
	    instr != NULL ? (size_t)instr_len : 0);
	for (int i = 0; i < n && i < KB_UP_KBDINT_MAX_PROMPTS; i++) {
		k->prompt[i] = dup_len((const char *)prompts[i].text,
		    prompts[i].length);
		k->echo[i] = prompts[i].echo != 0;
		k->count++;
	}
}

/*
 * libssh2's synchronous callback: answers with the client's responses
 * when they are for exactly these prompts, else with empty strings after
 * recording the prompts for the owner. libssh2 frees the answers through
 * the session's allocator, which wipes them (upstream_alloc.c).
 */
static void
kbdint_respond(const char *name, int name_len, const char *instr,
    int instr_len, int n, const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
    LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract)
{
	struct kb_upstream *up = *abstract;
	struct up_kbdint_state *k = &up->kbd;
	bool answer;

	if (n <= 0)
		return;
	answer = up->auth == UP_AUTH_KBDINT_ANSWER && k->have_answers &&
	    !k->prompts_seen && kbdint_same_prompts(k, n, prompts);
	if (!answer) {
		k->prompts_changed = up->auth == UP_AUTH_KBDINT_ANSWER;
		kbdint_record(k, name, name_len, instr, instr_len, n, prompts);
	}
	k->prompts_seen = true;

	for (int i = 0; i < n; i++) {
		size_t len = answer ? k->answer_len[i] : 0;

		responses[i].text = up_alloc_copy(answer ? k->answer[i] : "", len);
		responses[i].length = responses[i].text != NULL ?
		    (unsigned int)len : 0;
	}
	if (answer)
		kbdint_wipe_answers(k);
}

static int
auth_call(struct kb_upstream *up)
{
	size_t ulen = strlen(up->user);

	if (up->auth == UP_AUTH_PASSWORD)
		return libssh2_userauth_password_ex(up->ssh, up->user,
		    (unsigned int)ulen, up->password,
		    (unsigned int)up->password_len, NULL);
	return libssh2_userauth_keyboard_interactive_ex(up->ssh, up->user,
	    (unsigned int)ulen, kbdint_respond);
}

static bool
auth_emit_prompts(struct kb_upstream *up)
{
	struct up_kbdint_state *k = &up->kbd;
	struct kb_up_kbdint kb = { .name = k->name,
	    .instruction = k->instruction, .count = k->count };
	struct kb_up_event_info info = { .kbdint = &kb };

	for (size_t i = 0; i < k->count; i++) {
		kb.prompt[i] = k->prompt[i];
		kb.echo[i] = k->echo[i];
	}
	kb_log(KB_LOG_DEBUG, up->sid, "upstream keyboard-interactive: %zu "
	    "prompts learned", k->count);
	return up_emit(up, KB_UP_EV_KBDINT_PROMPTS, &info);
}

/* The result of an attempt that the server refused. */
static bool
auth_refused(struct kb_upstream *up, enum up_auth_kind kind)
{
	struct up_kbdint_state *k = &up->kbd;
	struct kb_up_event_info info = { .err = KB_ERR_NO_MATCH };
	bool relearn = kind == UP_AUTH_KBDINT_ANSWER && k->prompts_changed;

	if ((kind == UP_AUTH_KBDINT_LEARN || relearn) && k->count > 0 &&
	    ++k->rounds <= KBDINT_LEARN_MAX)
		return auth_emit_prompts(up);

	info.message_en = kind == UP_AUTH_PASSWORD ?
	    N_("the upstream refused the password") :
	    k->rounds > KBDINT_LEARN_MAX ?
	    N_("the upstream asked different keyboard-interactive prompts "
	    "each time") :
	    N_("the upstream refused the keyboard-interactive answers");
	info.message = kb_log_tr(info.message_en);
	kb_log(KB_LOG_INFO, up->sid, "upstream authentication failed: %s",
	    info.message);
	return up_emit(up, KB_UP_EV_AUTH_FAILED, &info);
}

bool
up_step_auth(struct kb_upstream *up)
{
	enum up_auth_kind kind = up->auth;
	int rc;

	rc = auth_call(up);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return true;

	/* The attempt is over: the secrets are no longer needed. */
	up_timer_set(up, 0);
	str_wipe_free(&up->password, up->password_len);
	up->password_len = 0;
	kbdint_wipe_answers(&up->kbd);
	up->auth = UP_AUTH_NONE;

	if (rc == 0) {
		kbdint_clear_prompts(&up->kbd);
		up_set_state(up, KB_UP_READY);
		kb_log(KB_LOG_INFO, up->sid, "upstream authentication accepted");
		return up_emit(up, KB_UP_EV_AUTH_OK, NULL);
	}
	if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
	    rc == LIBSSH2_ERROR_PASSWORD_EXPIRED ||
	    rc == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED) {
		up_set_state(up, KB_UP_CONNECTED);
		return auth_refused(up, kind);
	}
	return up_fail(up, KB_ERR_CONNECTION_CLOSED,
	    N_("the upstream connection failed during authentication"));
}
