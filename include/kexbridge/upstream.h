/*
 * The upstream side of bridge mode: an SSH client session to the backup
 * server, built on libssh2 in non-blocking mode and driven by a libevent
 * loop. Nothing here blocks; every wait has a timeout.
 *
 * Three parts:
 *   - algorithm lists per route in OpenSSH syntax (kb_up_algs_*), resolved
 *     against what the linked libssh2 can really use;
 *   - host key checking against an OpenSSH known_hosts file;
 *   - the session itself (kb_up_*): connect, handshake, host key check,
 *     password or keyboard-interactive authentication, one session channel
 *     running exec or a subsystem, data both ways with back-pressure.
 *
 * The session reports to its owner through one callback (kb_up_cb). The
 * callback runs from the event loop, never from inside a kb_up_* call, so
 * the owner may call any kb_up_* function, kb_up_free() included, from it.
 * After KB_UP_EV_FAILED or KB_UP_EV_CLOSED no further event comes; free
 * the session. All log lines carry the session id the owner gave.
 *
 * Typical flow for the bridge:
 *   kb_up_new() -> kb_up_connect()            ... KB_UP_EV_CONNECTED
 *   kb_up_auth_password()                     ... KB_UP_EV_AUTH_OK
 *   kb_up_channel_exec() or _subsystem()      ... KB_UP_EV_CHANNEL_READY
 *   loop: kb_up_read() on KB_UP_EV_READABLE, kb_up_write() (and again on
 *         KB_UP_EV_WRITABLE), kb_up_send_eof()
 *   KB_UP_EV_EOF, KB_UP_EV_EXIT_STATUS, then kb_up_close() ... KB_UP_EV_CLOSED
 *   kb_up_free()
 */
#ifndef KEXBRIDGE_UPSTREAM_H
#define KEXBRIDGE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct event_base;
struct kb_upstream;

/* ------------------------------------------------------------------ */
/* Algorithm lists                                                     */
/* ------------------------------------------------------------------ */

/* One list per category; ciphers and MACs apply to both directions. */
enum kb_up_alg_category {
	KB_UP_ALG_KEX,
	KB_UP_ALG_HOSTKEY,
	KB_UP_ALG_CIPHER,
	KB_UP_ALG_MAC,
	KB_UP_ALG_COUNT
};

/* The resolved lists of a route: comma-separated, strongest first. */
struct kb_up_algs {
	char *list[KB_UP_ALG_COUNT];
	/* A list names a method that needs OpenSSL's legacy provider. */
	bool legacy;
};

/* "kex", "hostkey", "cipher", "mac"; never NULL. */
const char *kb_up_alg_category_str(enum kb_up_alg_category cat);

/*
 * Resolves one list written in OpenSSH syntax against supported, the
 * methods the library can use (NULL-terminated, any order):
 *   NULL or ""   the default: every supported method, strongest first,
 *                without the ones needing the legacy provider;
 *   "a,b"        exactly these, in this order;
 *   "+a,b"       the default with these appended;
 *   "-a,b"       the default without these;
 *   "^a,b"       these first, then the rest of the default.
 * Names in "-" lists may be patterns with '*' and '?'. "none" is never
 * accepted. *legacy is set when the result contains a method that needs the
 * legacy provider (blowfish-cbc, arcfour, arcfour128, cast128-cbc).
 * On success *out is a malloc'ed comma-separated list. On failure returns
 * KB_ERR_CONFIG_INVALID and writes to err what is wrong: an unknown name
 * with the supported ones, "none", or an empty result.
 */
int kb_up_alg_resolve(enum kb_up_alg_category cat, const char *const *supported,
    const char *spec, char **out, bool *legacy, char *err, size_t errlen);

/*
 * Resolves the four lists of a route (spec[i] for category i, each may be
 * NULL) against the linked libssh2 and loads OpenSSL's legacy provider
 * when a list needs it. Call it when the configuration is loaded, so a bad
 * list is a configuration error. On failure writes "kex: what is wrong"
 * style messages to err, returns KB_ERR_CONFIG_INVALID (KB_ERR_CRYPTO when
 * the legacy provider cannot be loaded) and leaves algs empty.
 */
int kb_up_algs_resolve(struct kb_up_algs *algs,
    const char *const spec[KB_UP_ALG_COUNT], char *err, size_t errlen);
void kb_up_algs_free(struct kb_up_algs *algs);

/* ------------------------------------------------------------------ */
/* Host key checking                                                   */
/* ------------------------------------------------------------------ */

enum kb_up_hostkey_policy {
	KB_UP_HOSTKEY_STRICT,		/* unknown or changed key: refuse */
	KB_UP_HOSTKEY_ACCEPT_NEW,	/* unknown: add and save; changed: refuse */
	KB_UP_HOSTKEY_OFF,		/* accept anything, warn each session */
};

/* Parses "strict", "accept-new", "off"; returns -1 for anything else. */
int kb_up_hostkey_policy_from_str(const char *str);
const char *kb_up_hostkey_policy_str(enum kb_up_hostkey_policy policy);

/* ------------------------------------------------------------------ */
/* The session                                                         */
/* ------------------------------------------------------------------ */

enum kb_up_state {
	KB_UP_CONNECTING,	/* TCP connect in progress */
	KB_UP_HANDSHAKE,	/* version exchange and key exchange */
	KB_UP_HOSTKEY_CHECK,
	KB_UP_CONNECTED,	/* waiting for kb_up_auth_*() */
	KB_UP_AUTH,
	KB_UP_READY,		/* authenticated, no channel yet */
	KB_UP_CHANNEL_OPENING,
	KB_UP_CHANNEL_REQUEST,	/* exec or subsystem request sent */
	KB_UP_OPEN,		/* channel data flows */
	KB_UP_CLOSING,
	KB_UP_CLOSED,
	KB_UP_FAILED,
};

enum kb_up_event {
	KB_UP_EV_CONNECTED,	/* handshake done, host key accepted */
	KB_UP_EV_FAILED,	/* session is dead; info has err, message */
	KB_UP_EV_AUTH_OK,
	KB_UP_EV_AUTH_FAILED,	/* may try again with kb_up_auth_*() */
	KB_UP_EV_KBDINT_PROMPTS, /* info has the prompts to show the client */
	KB_UP_EV_CHANNEL_READY,	/* exec or subsystem accepted */
	KB_UP_EV_CHANNEL_FAILED, /* open or request refused; session usable */
	KB_UP_EV_READABLE,	/* kb_up_read() has data */
	KB_UP_EV_WRITABLE,	/* kb_up_write() may take data again */
	KB_UP_EV_EOF,		/* the server sent EOF; read side done */
	KB_UP_EV_EXIT_STATUS,	/* info->exit_status */
	KB_UP_EV_EXIT_SIGNAL,	/* info->exit_signal, info->message */
	KB_UP_EV_CLOSED,	/* channel and session closed after kb_up_close() */
};

/* Keyboard-interactive prompts (RFC 4256 section 3.2). */
#define KB_UP_KBDINT_MAX_PROMPTS	16

struct kb_up_kbdint {
	const char *name;		/* raw from the server; escape before logging */
	const char *instruction;
	size_t count;
	const char *prompt[KB_UP_KBDINT_MAX_PROMPTS];
	bool echo[KB_UP_KBDINT_MAX_PROMPTS];
};

/*
 * What came with an event. Pointers are valid only during the callback.
 * err is a negative enum kb_err for FAILED, AUTH_FAILED, CHANNEL_FAILED,
 * else 0. message is the text for the log (FAILED, AUTH_FAILED,
 * CHANNEL_FAILED, EXIT_SIGNAL's error message): translated for the text
 * log, English for the JSON stream (kb_log_tr()). message_en is the same
 * text in English whatever the locale and log format, for what the client
 * is sent (SSH_MSG_DISCONNECT, stderr). Both are set together, or both are
 * NULL. detail is libssh2's own error text, or NULL.
 */
struct kb_up_event_info {
	int err;
	const char *message;
	const char *message_en;
	const char *detail;
	const struct kb_up_kbdint *kbdint;	/* KBDINT_PROMPTS */
	int exit_status;			/* EXIT_STATUS */
	const char *exit_signal;		/* EXIT_SIGNAL: "TERM", "KILL"... */
	bool core_dumped;			/* EXIT_SIGNAL (not known: false) */
};

typedef void (*kb_up_cb)(struct kb_upstream *up, enum kb_up_event ev,
    const struct kb_up_event_info *info, void *arg);

struct kb_up_params {
	const char *session_id;		/* for log lines; copied */
	const struct sockaddr *addr;	/* resolved upstream address; copied */
	socklen_t addrlen;
	/* Host name as configured, for known_hosts and messages; copied. */
	const char *host;
	unsigned int port;
	const struct kb_up_algs *algs;	/* must outlive the session */
	/* OpenSSH known_hosts file; NULL only with KB_UP_HOSTKEY_OFF. */
	const char *known_hosts;
	enum kb_up_hostkey_policy hostkey_policy;
	/* Seconds; 0 means the defaults below. */
	unsigned int connect_timeout;
	unsigned int handshake_timeout;
	unsigned int auth_timeout;
	/*
	 * Our receive window on the channel, in bytes (0: 256 KiB). libssh2
	 * buffers at most this much plus the largest kb_up_read() length.
	 */
	uint32_t window_size;
	kb_up_cb cb;
	void *cb_arg;
};

#define KB_UP_CONNECT_TIMEOUT_DEFAULT	10
#define KB_UP_HANDSHAKE_TIMEOUT_DEFAULT	60
#define KB_UP_AUTH_TIMEOUT_DEFAULT	60
#define KB_UP_WINDOW_DEFAULT		(256 * 1024)

/*
 * Creates a session in state KB_UP_CONNECTING without touching the network.
 * Calls libssh2_init() on first use. Returns KB_ERR_INVALID_ARGUMENT for
 * missing parameters, KB_ERR_ALLOC_FAIL, or KB_ERR_SYSTEM.
 */
int kb_up_new(struct event_base *base, const struct kb_up_params *params,
    struct kb_upstream **out);

/*
 * Starts the non-blocking TCP connect, then the SSH handshake and the host
 * key check. Ends in KB_UP_EV_CONNECTED or KB_UP_EV_FAILED. Returns non-zero
 * only when nothing could be started (no event is raised then).
 */
int kb_up_connect(struct kb_upstream *up);

/*
 * Password authentication (RFC 4252 section 8) in state KB_UP_CONNECTED.
 * user and password are copied; the copy of the password is wiped once
 * used. Ends in KB_UP_EV_AUTH_OK, KB_UP_EV_AUTH_FAILED (state back to
 * KB_UP_CONNECTED, try again) or KB_UP_EV_FAILED.
 */
int kb_up_auth_password(struct kb_upstream *up, const char *user,
    const char *password, size_t password_len);

/*
 * Keyboard-interactive authentication (RFC 4256) in state KB_UP_CONNECTED.
 * Starts an attempt and raises KB_UP_EV_KBDINT_PROMPTS with the server's
 * prompts; answer with kb_up_auth_kbdint_answer(). See the NOTE in
 * src/upstream/upstream_auth.c for how this fits libssh2's synchronous
 * callback, and its limits: the prompts are learned in an attempt that
 * answers nothing (a failed login on the server), only the first round of
 * prompts in an attempt is answered, and a server that changes its
 * prompts every time fails after three attempts. Accepted without
 * answers: KB_UP_EV_AUTH_OK at once.
 */
int kb_up_auth_kbdint(struct kb_upstream *up, const char *user);

/*
 * Answers the prompts of the last KB_UP_EV_KBDINT_PROMPTS (state is
 * KB_UP_CONNECTED again then): count must equal the number of prompts.
 * Answers are copied and wiped once used. Ends in KB_UP_EV_AUTH_OK,
 * KB_UP_EV_AUTH_FAILED, KB_UP_EV_FAILED, or KB_UP_EV_KBDINT_PROMPTS again
 * when the server asked different prompts this time.
 */
int kb_up_auth_kbdint_answer(struct kb_upstream *up,
    const char *const *answers, const size_t *lens, size_t count);

/*
 * Opens a session channel (RFC 4254 section 6.1) in state KB_UP_READY and
 * requests exec of command (section 6.5) or for the subsystem name. Ends in
 * KB_UP_EV_CHANNEL_READY, KB_UP_EV_CHANNEL_FAILED (state back to
 * KB_UP_READY) or KB_UP_EV_FAILED.
 */
int kb_up_channel_exec(struct kb_upstream *up, const char *command, size_t len);
int kb_up_channel_subsystem(struct kb_upstream *up, const char *name);

/*
 * Sends up to len bytes of channel data (stream 0, RFC 4254 section 5.2)
 * in state KB_UP_OPEN. Returns how many bytes libssh2 took (0 < n <= len;
 * at most one packet, so call again at once with the rest), 0 when it can
 * take nothing now, or a negative enum kb_err (the session has failed and
 * KB_UP_EV_FAILED follows from the loop).
 * After 0, wait for KB_UP_EV_WRITABLE and call again with the same bytes
 * first and len no smaller: libssh2 may already have encrypted them, and
 * then reports them taken on that call.
 */
ssize_t kb_up_write(struct kb_upstream *up, const void *buf, size_t len);

/*
 * Reads up to len bytes of channel data: stream 0 is stdout, 1 is stderr
 * (RFC 4254 section 5.2). Returns the number of bytes (> 0), 0 when the
 * stream has nothing now, or a negative enum kb_err. Read only as much as
 * your side can take: what you leave stays in libssh2, and the server's
 * window stays closed. After KB_UP_EV_READABLE keep reading both streams
 * until both return 0; the next KB_UP_EV_READABLE comes only after that,
 * so if you stop early (your side full) call again when it has room.
 */
ssize_t kb_up_read(struct kb_upstream *up, int stream, void *buf, size_t len);

/*
 * Sends EOF on the channel (RFC 4254 section 5.3) from the loop, as soon
 * as libssh2 can; kb_up_write() is refused from here on.
 */
int kb_up_send_eof(struct kb_upstream *up);

/*
 * Closes the channel (waiting for the server's CHANNEL_CLOSE) and
 * disconnects, within the connect timeout. KB_UP_EV_CLOSED follows, or
 * KB_UP_EV_FAILED when the server does not answer in time. Does nothing in
 * states KB_UP_CLOSING, KB_UP_CLOSED and KB_UP_FAILED.
 */
int kb_up_close(struct kb_upstream *up);

/* Frees the session at once, without further events. NULL is fine. */
void kb_up_free(struct kb_upstream *up);

enum kb_up_state kb_up_state(const struct kb_upstream *up);
const char *kb_up_state_str(enum kb_up_state state);

/* The methods agreed in key exchange, valid from KB_UP_EV_CONNECTED on. */
struct kb_up_methods {
	const char *kex;
	const char *hostkey;
	const char *cipher_cs;	/* client to server */
	const char *cipher_sc;
	const char *mac_cs;
	const char *mac_sc;
	const char *comp_cs;
	const char *comp_sc;
};

/*
 * Fills methods (pointers owned by the session, NULL where not agreed yet).
 * Returns KB_ERR_INVALID_ARGUMENT before the handshake is done.
 */
int kb_up_methods(const struct kb_upstream *up, struct kb_up_methods *methods);

/*
 * The server's version line without CR LF, as received (escape it before
 * printing), valid from KB_UP_EV_CONNECTED on; NULL before.
 */
const char *kb_up_banner(const struct kb_upstream *up);

/* "SHA256:..." of the server's host key, valid from KB_UP_EV_CONNECTED on. */
const char *kb_up_hostkey_fingerprint(const struct kb_upstream *up);

#endif
