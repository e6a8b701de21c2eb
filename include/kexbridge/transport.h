/*
 * The server side of the SSH transport layer (RFC 4253) as a sans-I/O state
 * machine: feed it the client's bytes, take the bytes it wants sent, and pull
 * the messages above the transport (user authentication, 50..79, and the
 * connection protocol, 80..127) one at a time.
 *
 * It runs the version exchange, KEXINIT, the key exchange, NEWKEYS, strict
 * key exchange (kex-strict-s-v00@openssh.com), ext-info with server-sig-algs
 * (RFC 8308), rekeying started by the client or, after a data or time
 * limit, by the server (RFC 4253 section 9), SERVICE_REQUEST for
 * ssh-userauth, IGNORE, DEBUG, UNIMPLEMENTED and DISCONNECT. Each state has
 * a rule for which messages may arrive; anything else ends the connection
 * with SSH_MSG_DISCONNECT.
 */
#ifndef KEXBRIDGE_TRANSPORT_H
#define KEXBRIDGE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kb_buf;
struct kb_hostkey;
struct kb_moduli;

struct kb_transport_config {
	/* Host keys; at least one. The transport does not own them. */
	struct kb_hostkey *const *hostkeys;
	size_t hostkey_count;
	/* Comma-separated offers; NULL means every implemented name. */
	const char *kex;
	const char *hostkey_algorithms;
	const char *ciphers;
	const char *macs;
	/* Groups for diffie-hellman-group-exchange-*; NULL: RFC 3526 groups. */
	const struct kb_moduli *moduli;
	/*
	 * Our identification line without CR LF; NULL means
	 * kb_version_ours(). When version_sent is true it has already been
	 * sent (auto mode answers with the upstream's line) and is not sent
	 * again.
	 */
	const char *server_version;
	bool version_sent;
	/*
	 * Rekey limits, as sshd's RekeyLimit. After authentication the server
	 * starts a key exchange once rekey_bytes have been sent or received
	 * under the current keys; 0 keeps OpenSSH's limit for the cipher
	 * (2^(2 * block size) blocks for 16-byte blocks, 1 GiB otherwise). A
	 * smaller value only lowers that limit. rekey_seconds, when not 0,
	 * also starts one that many seconds after the last NEWKEYS we sent.
	 */
	uint64_t rekey_bytes;
	uint32_t rekey_seconds;
	/* Monotonic clock in seconds for rekey_seconds; NULL: CLOCK_MONOTONIC. */
	int64_t (*clock)(void);
};

enum kb_transport_state {
	KB_TRANSPORT_VERSION,	/* waiting for the client's identification line */
	KB_TRANSPORT_KEX,	/* first key exchange running */
	KB_TRANSPORT_READY,	/* keys in use; messages flow */
	KB_TRANSPORT_CLOSED,	/* DISCONNECT sent or received, or a fatal error */
};

struct kb_transport;

int kb_transport_new(const struct kb_transport_config *config, struct kb_transport **tp);
/* Wipes all keys and frees; NULL is accepted. */
void kb_transport_free(struct kb_transport *t);

/*
 * Bytes kb_transport_feed() accepts now. Unread input is bounded: while a
 * message waits for kb_transport_next(), later packets stay unprocessed, so
 * the caller reads no more from the socket than this.
 */
size_t kb_transport_input_space(const struct kb_transport *t);
/*
 * Feeds bytes received from the client. More than kb_transport_input_space()
 * fails with KB_ERR_BUFFER_LIMIT and consumes nothing; the transport stays
 * usable. A protocol error queues a
 * DISCONNECT, moves to KB_TRANSPORT_CLOSED and returns the error.
 */
int kb_transport_feed(struct kb_transport *t, const uint8_t *data, size_t len);
/* Bytes waiting to be sent; the caller consumes what it wrote. */
struct kb_buf *kb_transport_output(struct kb_transport *t);

/*
 * Moves the next message for the layer above (number 50 or more) into
 * payload. Returns KB_ERR_INCOMPLETE when there is none.
 */
int kb_transport_next(struct kb_transport *t, struct kb_buf *payload);
/* Sequence number of the packet that carried the message kb_transport_next() moved last. */
uint32_t kb_transport_next_seqnr(const struct kb_transport *t);
/*
 * Sends SSH_MSG_UNIMPLEMENTED for the packet with sequence number seqnr, for
 * a message number the layer above does not know (RFC 4253 section 11.4).
 * It goes out at once, also during a key exchange, because RFC 4253 section
 * 7.1 allows the generic transport messages there. Failing to queue it
 * disconnects, as for the transport's own replies.
 */
int kb_transport_send_unimplemented(struct kb_transport *t, uint32_t seqnr);
/*
 * Tells the transport that the client has authenticated. Like sshd, the
 * server starts no rekey before that.
 */
void kb_transport_set_authenticated(struct kb_transport *t);
/*
 * Sets the session id that the transport's own log lines carry; session is
 * not copied and must outlive t. NULL (the default) logs without one.
 */
void kb_transport_set_log_session(struct kb_transport *t, const char *session);
/*
 * Sends a message of the layer above. During a key exchange it is queued
 * and sent after NEWKEYS (RFC 4253 section 7.1). Fails with
 * KB_ERR_INVALID_ARGUMENT for a message number below 50 or before
 * ssh-userauth was accepted, and with KB_ERR_BUFFER_LIMIT, sending nothing,
 * while the output or the queue is full.
 */
int kb_transport_send(struct kb_transport *t, const uint8_t *payload, size_t len);
/* Queues SSH_MSG_DISCONNECT and moves to KB_TRANSPORT_CLOSED. */
int kb_transport_disconnect(struct kb_transport *t, uint32_t reason, const char *description);

enum kb_transport_state kb_transport_state(const struct kb_transport *t);
/* The error that closed the transport, 0 if none. */
int kb_transport_error(const struct kb_transport *t);
/* Description of the last protocol error or received DISCONNECT, escaped. */
const char *kb_transport_error_text(const struct kb_transport *t);
/* The client's identification line; NULL before it arrived. */
const char *kb_transport_client_version(const struct kb_transport *t);
/* The session identifier (H of the first exchange); NULL before it. */
const uint8_t *kb_transport_session_id(const struct kb_transport *t, size_t *len);
/*
 * Name agreed for a KEXINIT category (enum kb_category below
 * KB_CAT_NEGOTIATED) in the last exchange; NULL before one finished, and
 * for a MAC under an AEAD cipher.
 */
const char *kb_transport_agreed(const struct kb_transport *t, int category);
bool kb_transport_strict_kex(const struct kb_transport *t);
/* Key exchanges finished, the first one included. */
unsigned int kb_transport_kex_count(const struct kb_transport *t);

/* Reason code of the DISCONNECT that closed the transport, sent or received, or 0. */
uint32_t kb_transport_disconnect_reason(const struct kb_transport *t);

/* Counts of transport messages that need no reply, for diagnosis. */
struct kb_transport_counters {
	uint64_t ignore_received;
	uint64_t debug_received;
	uint64_t unimplemented_received;
	uint64_t unimplemented_sent;
	/* Sequence number named by the last UNIMPLEMENTED received. */
	uint32_t last_unimplemented_seqnr;
	/* Key exchanges the server started because a rekey limit was reached. */
	uint64_t rekeys_started;
};
void kb_transport_counters(const struct kb_transport *t,
    struct kb_transport_counters *counters);

#endif
