/*
 * Shared by the files of src/upstream/ only: the session structure, the
 * step functions of its state machine, and the helpers around libssh2.
 */
#ifndef KEXBRIDGE_UPSTREAM_INTERNAL_H
#define KEXBRIDGE_UPSTREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <libssh2.h>

#include "kexbridge/upstream.h"

struct event;

/* "[" host "]:65535" for known_hosts lookups. */
#define KB_UP_HOST_NAME_MAX	300

/* Calls libssh2_init() once per process. */
int up_libssh2_init(void);

/*
 * Loads OpenSSL's "legacy" provider, and "default" beside it (loading one
 * provider explicitly stops the default one from loading by itself), once
 * per process. Returns KB_ERR_CRYPTO when either cannot be loaded.
 */
int up_legacy_provider_load(void);

/*
 * A failure text twice: en in English whatever the locale, for the client,
 * and log as the log shows it (kb_log_tr(): translated for the text log,
 * English for the JSON stream).
 */
struct up_text {
	char en[2048];
	char log[2048];
};

/* Formats both texts of t from one English message id, marked with N_(). */
void up_text_format(struct up_text *t, const char *msgid, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The description of errnum in English, whatever the locale (strerror_l()
 * in the C locale). The pointer is valid until the next call.
 */
const char *up_strerror_en(int errnum);

/* strerror() for the text log, which follows the locale; else up_strerror_en(). */
const char *up_strerror_log(int errnum);

/*
 * Checks the session's host key against the known_hosts file under the
 * given policy (accept-new adds and saves the key). Fills fp with the
 * key's "SHA256:..." fingerprint. On refusal writes why to msg (both
 * fingerprints for a changed key) and returns KB_ERR_KEY_INVALID.
 */
int up_knownhosts_check(LIBSSH2_SESSION *ssh, const char *file,
    const char *host, unsigned int port, enum kb_up_hostkey_policy policy,
    const char *sid, char *fp, size_t fplen, struct up_text *msg);

/* Writes "SHA256:" and the unpadded base64 of a 32-byte hash. */
void up_fingerprint_format(const unsigned char *hash, char *out, size_t outlen);

/* The authentication step the current state runs. */
enum up_auth_kind {
	UP_AUTH_NONE,
	UP_AUTH_PASSWORD,
	UP_AUTH_KBDINT_LEARN,	/* answers nothing, records the prompts */
	UP_AUTH_KBDINT_ANSWER,	/* answers with the client's responses */
};

struct up_kbdint_state {
	char *name;
	char *instruction;
	size_t count;
	char *prompt[KB_UP_KBDINT_MAX_PROMPTS];
	bool echo[KB_UP_KBDINT_MAX_PROMPTS];
	char *answer[KB_UP_KBDINT_MAX_PROMPTS];
	size_t answer_len[KB_UP_KBDINT_MAX_PROMPTS];
	bool have_answers;
	bool prompts_changed;	/* set by the callback in an answering round */
	bool prompts_seen;	/* the callback ran in this attempt */
	unsigned int rounds;
};

struct kb_upstream {
	struct event_base *base;
	char *sid;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *host;
	unsigned int port;
	const struct kb_up_algs *algs;
	char *known_hosts;
	enum kb_up_hostkey_policy policy;
	unsigned int connect_timeout;
	unsigned int handshake_timeout;
	unsigned int auth_timeout;
	uint32_t window_size;
	kb_up_cb cb;
	void *cb_arg;

	enum kb_up_state state;
	int fd;
	LIBSSH2_SESSION *ssh;
	LIBSSH2_CHANNEL *channel;
	struct event *ev_io;	/* the socket, re-armed per libssh2's wishes */
	short io_armed;		/* EV_READ / EV_WRITE currently armed */
	struct event *ev_timer;	/* timeout of the current step */
	struct event *ev_kick;	/* runs the current step from the loop */

	/* Authentication in progress. */
	enum up_auth_kind auth;
	char *user;
	char *password;
	size_t password_len;
	struct up_kbdint_state kbd;

	/* Channel request in progress. */
	char *request;		/* "exec" or "subsystem" */
	char *request_arg;
	size_t request_arg_len;

	/* Channel flow. */
	bool want_writable;	/* a write returned short: raise WRITABLE */
	bool read_notified;	/* READABLE raised, not yet drained */
	bool eof_seen;
	bool eof_sent;		/* kb_up_send_eof() called */
	bool eof_pending;	/* ... and libssh2 has not taken it yet */
	bool exit_reported;

	unsigned int close_step;	/* progress of kb_up_close() */
	/* A failure found inside a kb_up_* call, raised from the loop. */
	int fail_err;
	const char *fail_msgid;	/* English, marked with N_() */

	char fingerprint[64];
	char *banner;

	/* Callback bookkeeping: kb_up_free() from inside a callback. */
	unsigned int in_cb;
	bool free_pending;
};

/*
 * upstream_alloc.c: the allocator handed to libssh2. It wipes every block
 * it frees, so passwords and answers in libssh2's packet buffers do not
 * linger in freed memory.
 */
void *up_alloc(size_t size, void **abstract);
void up_dealloc(void *ptr, void **abstract);
void *up_realloc(void *ptr, size_t size, void **abstract);
/* A copy of len bytes of s, NUL-terminated, from up_alloc(). */
char *up_alloc_copy(const char *s, size_t len);

/* upstream.c */
bool up_emit(struct kb_upstream *up, enum kb_up_event ev,
    const struct kb_up_event_info *info);
/* up_fail() takes an English message id marked with N_(). */
bool up_fail(struct kb_upstream *up, int err, const char *msgid);
bool up_fail_text(struct kb_upstream *up, int err, const struct up_text *why);
void up_arm(struct kb_upstream *up);
void up_kick(struct kb_upstream *up);
void up_timer_set(struct kb_upstream *up, unsigned int seconds);
void up_set_state(struct kb_upstream *up, enum kb_up_state state);
/* True when the last libssh2 call only would have blocked. */
bool up_would_block(struct kb_upstream *up);
const char *up_last_error(struct kb_upstream *up);

/* upstream_auth.c: run the AUTH step; false when up was freed. */
bool up_step_auth(struct kb_upstream *up);
void up_auth_wipe(struct kb_upstream *up);

/* upstream_channel.c */
bool up_step_channel_open(struct kb_upstream *up);
bool up_step_channel_request(struct kb_upstream *up);
bool up_step_open(struct kb_upstream *up);
bool up_step_closing(struct kb_upstream *up);

#endif
