/*
 * Private parts of the server transport, shared by transport.c (packets,
 * the allowed-message table, generic messages) and transport_kex.c (KEXINIT,
 * key exchange, NEWKEYS, ext-info). Unit tests include it to check the
 * table directly.
 */
#ifndef KEXBRIDGE_TRANSPORT_INTERNAL_H
#define KEXBRIDGE_TRANSPORT_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kexbridge/buf.h"
#include "kexbridge/cipher.h"
#include "kexbridge/kex.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/packet.h"
#include "kexbridge/transport.h"
#include "kexbridge/version.h"

/* Unread client bytes kept at most: one largest packet with its MAC, and slack. */
#define TRANSPORT_INPUT_MAX	(KB_PACKET_MAX + 4 + KB_MAC_LEN_MAX + 4096)
/*
 * Bytes the layer above may leave waiting to be sent, and messages queued
 * while a key exchange runs. The output buffer has room for both and a
 * reserve, so our own replies, key exchange and DISCONNECT still fit.
 */
#define TRANSPORT_OUTPUT_MAX	(4 * KB_BUF_SIZE_DEFAULT)
#define TRANSPORT_QUEUE_MAX	(4 * KB_BUF_SIZE_DEFAULT)
#define TRANSPORT_OUTPUT_RESERVE	KB_BUF_SIZE_DEFAULT
/* Maximum length of the text kept for kb_transport_error_text(). */
#define TRANSPORT_ERROR_TEXT_MAX	512
/* Largest exchange hash: SHA-512. */
#define TRANSPORT_SESSION_ID_MAX	64

/*
 * Protocol phase of the transport. The public enum kb_transport_state folds
 * these into VERSION, KEX, READY and CLOSED.
 */
enum transport_phase {
	PHASE_VERSION,		/* waiting for the client's identification line */
	PHASE_KEXINIT,		/* our KEXINIT sent, waiting for the client's */
	PHASE_KEX,		/* KEXINITs exchanged, kex method messages flow */
	PHASE_NEWKEYS,		/* our NEWKEYS sent, waiting for the client's */
	PHASE_SERVICE,		/* keys in use, waiting for SERVICE_REQUEST */
	PHASE_OPEN,		/* ssh-userauth accepted, messages 50..127 flow */
	PHASE_CLOSED,
	PHASE_COUNT,
};

/* Verdict of the allowed-message table for one message in one phase. */
enum transport_verdict {
	/* Protocol error: SSH_MSG_DISCONNECT with SSH_DISCONNECT_PROTOCOL_ERROR. */
	VERDICT_REJECT,
	/* Handled by the transport. */
	VERDICT_HANDLE,
	/* Handled, except during a strict initial key exchange, where it is rejected. */
	VERDICT_HANDLE_UNLESS_STRICT,
	/* Handed to the layer above through kb_transport_next(). */
	VERDICT_PASS_UP,
	/* Unknown here, so SSH_MSG_UNIMPLEMENTED is sent (RFC 4253 section 11.4). */
	VERDICT_UNIMPLEMENTED,
};

/*
 * Traffic under the current keys of one direction, counted as OpenSSH's
 * packet.c does for its rekey limits: blocks of 4 + packet_length bytes,
 * the MAC or tag left out.
 */
struct transport_rekey_count {
	uint64_t packets;
	uint64_t blocks;
	/* Blocks after which the server starts a rekey. */
	uint64_t max_blocks;
	size_t block_size;
	/* MAC or tag bytes after each packet, not counted. */
	size_t auth_len;
};

struct kb_transport;
typedef int transport_handler(struct kb_transport *t, const uint8_t *payload, size_t len);

struct kb_transport {
	enum transport_phase phase;
	/* Phase to return to when a rekey started in SERVICE or OPEN ends. */
	enum transport_phase resume_phase;

	/* Our offer, built once. The strings are owned. */
	char *offer[KB_CAT_COUNT];
	struct kb_hostkey *const *hostkeys;
	size_t hostkey_count;
	const struct kb_moduli *moduli;
	char server_version[KB_VERSION_MAX + 1];

	struct kb_version_reader reader;
	struct kb_version client_version;
	bool have_client_version;

	struct kb_packet_codec *codec;
	struct kb_buf *in;		/* client bytes not yet processed */
	struct kb_buf *out;		/* bytes for the client */
	struct kb_buf *scratch;		/* payload of the packet being processed */
	struct kb_buf *pending;		/* message waiting for kb_transport_next() */
	bool has_pending;
	struct kb_buf *queue;		/* u32 length + payload, sent after NEWKEYS */
	uint32_t recv_seqnr;		/* sequence number of the packet being processed */
	uint32_t pending_seqnr;		/* sequence number of the pending message */
	uint32_t next_seqnr;		/* sequence number of the message last moved up */

	/* The key exchange in progress. */
	struct kb_buf *kexinit_ours;	/* I_S, payload as sent */
	struct kb_buf *kexinit_peer;	/* I_C, payload as received */
	struct kb_kexinit ours;
	struct kb_kexinit peer;
	struct kb_negotiation neg;
	struct kb_kex_server *kex;
	const struct kb_cipher_info *cipher[2];	/* indexed by enum kb_direction */
	const struct kb_mac_info *mac[2];
	bool initial;			/* the first key exchange has not finished */
	bool kexinit_sent;		/* our KEXINIT sent, our NEWKEYS not yet */
	bool skip_guess;		/* drop the client's wrongly guessed kex packet */
	bool strict;
	bool ext_info_c;
	unsigned int kex_count;
	uint8_t session_id[TRANSPORT_SESSION_ID_MAX];
	size_t session_id_len;
	char agreed[KB_CAT_NEGOTIATED][KB_NAME_MAX_LEN + 1];
	bool agreed_set[KB_CAT_NEGOTIATED];

	/* Server-started rekeying (RFC 4253 section 9). */
	struct transport_rekey_count rekey_count[2];	/* indexed by enum kb_direction */
	uint64_t rekey_bytes;
	uint32_t rekey_seconds;
	int64_t rekey_time;		/* clock value when our last NEWKEYS went out */
	int64_t (*clock)(void);
	bool authenticated;
	const char *log_session;

	struct kb_transport_counters counters;
	int error;
	uint32_t disconnect_reason;
	char error_text[TRANSPORT_ERROR_TEXT_MAX];
};

/*
 * Returns the verdict of the allowed-message table for message type in
 * phase. strict_initial is true during a strict initial key exchange.
 */
enum transport_verdict transport_lookup_verdict(enum transport_phase phase,
    uint8_t type, bool strict_initial);

/* Encrypts and queues one packet for the client, counting it for the rekey limits. */
int transport_send_payload(struct kb_transport *t, const uint8_t *payload, size_t len);
/* Resets the rekey counts of one direction for the cipher and MAC now in use. */
void transport_rekey_reset(struct kb_transport *t, enum kb_direction dir,
    const struct kb_cipher_info *cipher, const struct kb_mac_info *mac);
/*
 * Returns whether a rekey limit is reached, counting a packet of
 * outbound_len payload bytes about to be sent (0 for none).
 */
bool transport_need_rekey(const struct kb_transport *t, size_t outbound_len);
/* Sends our KEXINIT to start a rekey in PHASE_OPEN, and logs it. */
int transport_start_rekey(struct kb_transport *t);
/* Sends the messages queued during the key exchange. */
int transport_flush_queue(struct kb_transport *t);
/*
 * Records err with a formatted, already escaped text, sends
 * SSH_MSG_DISCONNECT with reason and moves to CLOSED. Returns err.
 * fmt is an untranslated N_() message: the client gets it in English,
 * whatever the locale, and error_text (for the log) gets its translation.
 * Arguments must not be translated text.
 */
int transport_fail(struct kb_transport *t, int err, uint32_t reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As transport_fail(), followed by ": " and err's text. */
int transport_fail_err(struct kb_transport *t, int err, uint32_t reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As transport_fail(), with err's text alone. */
int transport_fail_code(struct kb_transport *t, int err, uint32_t reason);
/* As transport_fail(), with the client's text and the log's text given. */
int transport_fail_texts(struct kb_transport *t, int err, uint32_t reason, const char *wire,
    const char *text);
/* Copies the peer-supplied bytes into dst with kb_log_escape(). */
const char *transport_escape(char *dst, size_t dstlen, const uint8_t *src, size_t len);

/* transport_kex.c */
int transport_build_offer(struct kb_transport *t, const struct kb_transport_config *config);
int transport_send_kexinit(struct kb_transport *t);
void transport_kex_clear(struct kb_transport *t);
transport_handler recv_msg_kexinit;
transport_handler recv_msg_kex_method;
transport_handler recv_msg_newkeys;

#endif
