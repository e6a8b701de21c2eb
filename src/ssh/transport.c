/*
 * The server transport (RFC 4253): version exchange, the packet loop, the
 * allowed-message table, and the generic messages (DISCONNECT, IGNORE,
 * UNIMPLEMENTED, DEBUG, SERVICE_REQUEST). Key exchange is in
 * transport_kex.c.
 *
 * Input is processed one packet at a time, because NEWKEYS changes the keys
 * of the very next packet. A message for the layer above stops processing
 * until kb_transport_next() takes it, so unread input stays bounded.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kexbridge/buf.h"
#include "kexbridge/cipher.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/packet.h"
#include "kexbridge/transport.h"
#include "kexbridge/version.h"

#include "transport_internal.h"

#define SSH_DISCONNECT_MAC_ERROR		5
#define SSH_DISCONNECT_SERVICE_NOT_AVAILABLE	7

static transport_handler recv_msg_disconnect;
static transport_handler recv_msg_ignore;
static transport_handler recv_msg_unimplemented;
static transport_handler recv_msg_debug;
static transport_handler recv_msg_service_request;

/*
 * The allowed-message table: for each phase, which message numbers may
 * arrive and who handles them. The first matching row wins; a message with
 * no row is rejected. RFC 4253 section 7.1 limits what may arrive between
 * KEXINIT and NEWKEYS to the generic messages 1..4 and the kex messages.
 * OpenSSH's strict key exchange (PROTOCOL, "kex-strict") forbids even those
 * during the first exchange. DISCONNECT is honoured everywhere, because the
 * client's reason is worth more than a protocol error of ours. Messages
 * 50..127 pass up once ssh-userauth is accepted (RFC 4253 section 10); the
 * layer above enforces their order.
 */
static const struct transport_rule {
	enum transport_phase phase;
	uint8_t first;
	uint8_t last;
	enum transport_verdict verdict;
	transport_handler *handler;
} transport_rules[] = {
	{ PHASE_KEXINIT, SSH_MSG_DISCONNECT, SSH_MSG_DISCONNECT, VERDICT_HANDLE, recv_msg_disconnect },
	/* Strictness is unknown before KEXINIT, so its sequence number check covers these. */
	{ PHASE_KEXINIT, SSH_MSG_IGNORE, SSH_MSG_IGNORE, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_ignore },
	{ PHASE_KEXINIT, SSH_MSG_UNIMPLEMENTED, SSH_MSG_UNIMPLEMENTED, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_unimplemented },
	{ PHASE_KEXINIT, SSH_MSG_DEBUG, SSH_MSG_DEBUG, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_debug },
	{ PHASE_KEXINIT, SSH_MSG_KEXINIT, SSH_MSG_KEXINIT, VERDICT_HANDLE, recv_msg_kexinit },

	{ PHASE_KEX, SSH_MSG_DISCONNECT, SSH_MSG_DISCONNECT, VERDICT_HANDLE, recv_msg_disconnect },
	{ PHASE_KEX, SSH_MSG_IGNORE, SSH_MSG_IGNORE, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_ignore },
	{ PHASE_KEX, SSH_MSG_UNIMPLEMENTED, SSH_MSG_UNIMPLEMENTED, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_unimplemented },
	{ PHASE_KEX, SSH_MSG_DEBUG, SSH_MSG_DEBUG, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_debug },
	/* Kex method messages (RFC 4250 section 4.1.2). The method rejects what it does not expect. */
	{ PHASE_KEX, 30, 49, VERDICT_HANDLE, recv_msg_kex_method },

	{ PHASE_NEWKEYS, SSH_MSG_DISCONNECT, SSH_MSG_DISCONNECT, VERDICT_HANDLE, recv_msg_disconnect },
	{ PHASE_NEWKEYS, SSH_MSG_IGNORE, SSH_MSG_IGNORE, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_ignore },
	{ PHASE_NEWKEYS, SSH_MSG_UNIMPLEMENTED, SSH_MSG_UNIMPLEMENTED, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_unimplemented },
	{ PHASE_NEWKEYS, SSH_MSG_DEBUG, SSH_MSG_DEBUG, VERDICT_HANDLE_UNLESS_STRICT, recv_msg_debug },
	{ PHASE_NEWKEYS, SSH_MSG_NEWKEYS, SSH_MSG_NEWKEYS, VERDICT_HANDLE, recv_msg_newkeys },

	{ PHASE_SERVICE, SSH_MSG_DISCONNECT, SSH_MSG_DISCONNECT, VERDICT_HANDLE, recv_msg_disconnect },
	{ PHASE_SERVICE, SSH_MSG_IGNORE, SSH_MSG_IGNORE, VERDICT_HANDLE, recv_msg_ignore },
	{ PHASE_SERVICE, SSH_MSG_UNIMPLEMENTED, SSH_MSG_UNIMPLEMENTED, VERDICT_HANDLE, recv_msg_unimplemented },
	{ PHASE_SERVICE, SSH_MSG_DEBUG, SSH_MSG_DEBUG, VERDICT_HANDLE, recv_msg_debug },
	{ PHASE_SERVICE, SSH_MSG_SERVICE_REQUEST, SSH_MSG_SERVICE_REQUEST, VERDICT_HANDLE, recv_msg_service_request },
	{ PHASE_SERVICE, SSH_MSG_KEXINIT, SSH_MSG_KEXINIT, VERDICT_HANDLE, recv_msg_kexinit },
	/* Out of order: a NEWKEYS outside a key exchange, or user auth before the service. */
	{ PHASE_SERVICE, SSH_MSG_NEWKEYS, SSH_MSG_NEWKEYS, VERDICT_REJECT, NULL },
	{ PHASE_SERVICE, 50, 127, VERDICT_REJECT, NULL },
	{ PHASE_SERVICE, 0, 255, VERDICT_UNIMPLEMENTED, NULL },

	{ PHASE_OPEN, SSH_MSG_DISCONNECT, SSH_MSG_DISCONNECT, VERDICT_HANDLE, recv_msg_disconnect },
	{ PHASE_OPEN, SSH_MSG_IGNORE, SSH_MSG_IGNORE, VERDICT_HANDLE, recv_msg_ignore },
	{ PHASE_OPEN, SSH_MSG_UNIMPLEMENTED, SSH_MSG_UNIMPLEMENTED, VERDICT_HANDLE, recv_msg_unimplemented },
	{ PHASE_OPEN, SSH_MSG_DEBUG, SSH_MSG_DEBUG, VERDICT_HANDLE, recv_msg_debug },
	{ PHASE_OPEN, SSH_MSG_KEXINIT, SSH_MSG_KEXINIT, VERDICT_HANDLE, recv_msg_kexinit },
	{ PHASE_OPEN, SSH_MSG_SERVICE_REQUEST, SSH_MSG_SERVICE_REQUEST, VERDICT_REJECT, NULL },
	{ PHASE_OPEN, SSH_MSG_NEWKEYS, SSH_MSG_NEWKEYS, VERDICT_REJECT, NULL },
	{ PHASE_OPEN, 50, 127, VERDICT_PASS_UP, NULL },
	{ PHASE_OPEN, 0, 255, VERDICT_UNIMPLEMENTED, NULL },
};

static const struct transport_rule *
transport_lookup_rule(enum transport_phase phase, uint8_t type)
{
	size_t i;

	for (i = 0; i < sizeof(transport_rules) / sizeof(transport_rules[0]); i++) {
		if (transport_rules[i].phase == phase &&
		    type >= transport_rules[i].first && type <= transport_rules[i].last)
			return &transport_rules[i];
	}
	return NULL;
}

enum transport_verdict
transport_lookup_verdict(enum transport_phase phase, uint8_t type, bool strict_initial)
{
	const struct transport_rule *rule = transport_lookup_rule(phase, type);

	if (rule == NULL)
		return VERDICT_REJECT;
	if (rule->verdict == VERDICT_HANDLE_UNLESS_STRICT)
		return strict_initial ? VERDICT_REJECT : VERDICT_HANDLE;
	return rule->verdict;
}

const char *
transport_escape(char *dst, size_t dstlen, const uint8_t *src, size_t len)
{
	return kb_log_escape(dst, dstlen, (const char *)src, len);
}

/* Counts one packet of wire_len bytes for the rekey limits of dir. */
static void
transport_count_packet(struct kb_transport *t, enum kb_direction dir, size_t wire_len)
{
	struct transport_rekey_count *count = &t->rekey_count[dir];

	if (wire_len > count->auth_len)
		wire_len -= count->auth_len;
	count->packets++;
	count->blocks += wire_len / count->block_size;
}

int
transport_send_payload(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	size_t before = kb_buf_len(t->out);
	int r;

	if ((r = kb_packet_codec_send(t->codec, payload, len, t->out)) != 0)
		return r;
	transport_count_packet(t, KB_DIR_OUT, kb_buf_len(t->out) - before);
	return KB_OK;
}

/* Queues SSH_MSG_DISCONNECT unless no packet may be sent yet, then closes. */
static int
transport_send_disconnect(struct kb_transport *t, uint32_t reason, const char *description)
{
	struct kb_buf *msg = NULL;
	int r = KB_OK;

	if (t->phase == PHASE_CLOSED)
		return KB_OK;
	/* Before the client's identification line, the connection is only closed. */
	if (t->phase != PHASE_VERSION) {
		if ((msg = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
			r = KB_ERR_ALLOC_FAIL;
		else if ((r = kb_packet_put_disconnect(msg, reason, description)) == 0)
			r = transport_send_payload(t, kb_buf_ptr(msg), kb_buf_len(msg));
		kb_buf_free(msg);
		t->disconnect_reason = reason;
	}
	t->phase = PHASE_CLOSED;
	transport_kex_clear(t);
	return r;
}

int
transport_fail_texts(struct kb_transport *t, int err, uint32_t reason, const char *wire,
    const char *text)
{
	if (t->phase == PHASE_CLOSED)
		return err;
	snprintf(t->error_text, sizeof(t->error_text), "%s", text);
	t->error = err;
	(void)transport_send_disconnect(t, reason, wire);
	return err;
}

/*
 * Formats fmt twice: as it is, in English, for the client, and translated
 * for error_text, which the log shows. With with_err, ": " and err's text
 * follow.
 */
static int
transport_vfail(struct kb_transport *t, int err, uint32_t reason, bool with_err,
    const char *fmt, va_list ap)
{
	char wire[TRANSPORT_ERROR_TEXT_MAX], text[TRANSPORT_ERROR_TEXT_MAX];
	size_t wlen, tlen;
	va_list ap2;

	va_copy(ap2, ap);
	vsnprintf(wire, sizeof(wire), fmt, ap);
	vsnprintf(text, sizeof(text), _(fmt), ap2);
	va_end(ap2);
	if (with_err) {
		wlen = strlen(wire);
		tlen = strlen(text);
		snprintf(wire + wlen, sizeof(wire) - wlen, ": %s", kb_err_msgid(err));
		snprintf(text + tlen, sizeof(text) - tlen, ": %s", kb_err_str(err));
	}
	return transport_fail_texts(t, err, reason, wire, text);
}

int
transport_fail_code(struct kb_transport *t, int err, uint32_t reason)
{
	return transport_fail_texts(t, err, reason, kb_err_msgid(err), kb_err_str(err));
}

int
transport_fail(struct kb_transport *t, int err, uint32_t reason, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = transport_vfail(t, err, reason, false, fmt, ap);
	va_end(ap);
	return r;
}

int
transport_fail_err(struct kb_transport *t, int err, uint32_t reason, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = transport_vfail(t, err, reason, true, fmt, ap);
	va_end(ap);
	return r;
}

/* RFC 4253 section 11.1: the client leaves, and we keep its reason and escaped text. */
static int
recv_msg_disconnect(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	const uint8_t *desc;
	size_t desc_len;
	uint32_t reason;
	char text[TRANSPORT_ERROR_TEXT_MAX - 64];
	int r;

	if ((r = kb_packet_parse_disconnect(payload, len, &reason, &desc, &desc_len)) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_PROTOCOL_ERROR,
		    N_("invalid DISCONNECT message"));
	transport_escape(text, sizeof(text), desc, desc_len);
	snprintf(t->error_text, sizeof(t->error_text),
	    _("client disconnected with reason %u: %s"), (unsigned int)reason, text);
	t->error = KB_ERR_PEER_DISCONNECTED;
	t->disconnect_reason = reason;
	t->phase = PHASE_CLOSED;
	transport_kex_clear(t);
	return KB_ERR_PEER_DISCONNECTED;
}

/* RFC 4253 section 11.2: the data field is not looked at. */
static int
recv_msg_ignore(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	(void)payload;
	(void)len;
	t->counters.ignore_received++;
	return KB_OK;
}

/* RFC 4253 section 11.3: always_display, message, language tag. Only counted. */
static int
recv_msg_debug(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	(void)payload;
	(void)len;
	t->counters.debug_received++;
	return KB_OK;
}

/* RFC 4253 section 11.4: the client did not know one of our packets. */
static int
recv_msg_unimplemented(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	struct kb_buf *msg;
	uint32_t seqnr;
	int r;

	if ((msg = kb_buf_from(payload, len)) == NULL)
		return transport_fail_code(t, KB_ERR_ALLOC_FAIL,
		    SSH_DISCONNECT_BY_APPLICATION);
	r = kb_buf_consume(msg, 1);
	if (r == 0)
		r = kb_buf_get_u32(msg, &seqnr);
	kb_buf_free(msg);
	if (r != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_PROTOCOL_ERROR,
		    N_("invalid UNIMPLEMENTED message"));
	t->counters.unimplemented_received++;
	t->counters.last_unimplemented_seqnr = seqnr;
	return KB_OK;
}

/* Sends UNIMPLEMENTED with the unknown packet's sequence number (RFC 4253 section 11.4). */
static int
send_msg_unimplemented(struct kb_transport *t, uint32_t seqnr)
{
	uint8_t msg[5];
	int r;

	msg[0] = SSH_MSG_UNIMPLEMENTED;
	msg[1] = (uint8_t)(seqnr >> 24);
	msg[2] = (uint8_t)(seqnr >> 16);
	msg[3] = (uint8_t)(seqnr >> 8);
	msg[4] = (uint8_t)seqnr;
	if ((r = transport_send_payload(t, msg, sizeof(msg))) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_BY_APPLICATION,
		    N_("cannot send UNIMPLEMENTED"));
	t->counters.unimplemented_sent++;
	return KB_OK;
}

/*
 * RFC 4253 section 10: the only service kexbridge offers is ssh-userauth,
 * which in turn leads to ssh-connection (RFC 4252).
 */
static int
recv_msg_service_request(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	static const uint8_t accept[] = {
		SSH_MSG_SERVICE_ACCEPT, 0, 0, 0, 12,
		's', 's', 'h', '-', 'u', 's', 'e', 'r', 'a', 'u', 't', 'h',
	};
	struct kb_buf *msg;
	const uint8_t *name;
	size_t name_len;
	char text[128];
	int r;

	if ((msg = kb_buf_from(payload, len)) == NULL)
		return transport_fail_code(t, KB_ERR_ALLOC_FAIL,
		    SSH_DISCONNECT_BY_APPLICATION);
	if ((r = kb_buf_consume(msg, 1)) == 0 &&
	    (r = kb_buf_get_string_direct(msg, &name, &name_len)) == 0)
		r = kb_buf_expect_end(msg);
	kb_buf_free(msg);
	if (r != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_PROTOCOL_ERROR,
		    N_("invalid SERVICE_REQUEST message"));

	if (name_len != 12 || memcmp(name, "ssh-userauth", 12) != 0) {
		transport_escape(text, sizeof(text), name, name_len);
		return transport_fail(t, KB_ERR_UNEXPECTED_MESSAGE,
		    SSH_DISCONNECT_SERVICE_NOT_AVAILABLE,
		    N_("service \"%s\" not available"), text);
	}
	if ((r = transport_send_payload(t, accept, sizeof(accept))) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_BY_APPLICATION,
		    N_("cannot send SERVICE_ACCEPT"));
	t->phase = PHASE_OPEN;
	return KB_OK;
}

static int
transport_pass_up(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	int r;

	kb_buf_reset(t->pending);
	if ((r = kb_buf_put(t->pending, payload, len)) != 0)
		return transport_fail_code(t, r, SSH_DISCONNECT_BY_APPLICATION);
	t->has_pending = true;
	t->pending_seqnr = t->recv_seqnr;
	return KB_OK;
}

/* Applies the allowed-message table to one received payload. */
static int
transport_dispatch(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	const struct transport_rule *rule;
	enum transport_verdict verdict;
	uint8_t type = payload[0];

	verdict = transport_lookup_verdict(t->phase, type, t->strict && t->initial);
	switch (verdict) {
	case VERDICT_HANDLE:
		rule = transport_lookup_rule(t->phase, type);
		return rule->handler(t, payload, len);
	case VERDICT_PASS_UP:
		return transport_pass_up(t, payload, len);
	case VERDICT_UNIMPLEMENTED:
		return send_msg_unimplemented(t, t->recv_seqnr);
	case VERDICT_REJECT:
	default:
		break;
	}
	if (t->strict && t->initial)
		return transport_fail(t, KB_ERR_UNEXPECTED_MESSAGE,
		    SSH_DISCONNECT_PROTOCOL_ERROR,
		    N_("strict key exchange violated: message %u is not allowed during the first key exchange (sequence number %u)"),
		    (unsigned int)type, (unsigned int)t->recv_seqnr);
	return transport_fail(t, KB_ERR_UNEXPECTED_MESSAGE, SSH_DISCONNECT_PROTOCOL_ERROR,
	    N_("message %u is not allowed at this point (sequence number %u)"),
	    (unsigned int)type, (unsigned int)t->recv_seqnr);
}

/* Decrypts and dispatches packets until one waits for the layer above. */
static int
transport_process(struct kb_transport *t)
{
	uint32_t seqnr;
	size_t before;
	int r;

	while (!t->has_pending && t->phase != PHASE_CLOSED && t->phase != PHASE_VERSION) {
		kb_buf_reset(t->scratch);
		seqnr = kb_packet_codec_seqnr(t->codec, KB_DIR_IN);
		before = kb_buf_len(t->in);
		r = kb_packet_codec_recv(t->codec, t->in, t->scratch);
		if (r == KB_ERR_INCOMPLETE)
			return KB_OK;
		if (r == KB_ERR_MAC_INVALID)
			return transport_fail(t, r, SSH_DISCONNECT_MAC_ERROR,
			    N_("packet %u failed its integrity check"), (unsigned int)seqnr);
		if (r != 0)
			return transport_fail_err(t, r, SSH_DISCONNECT_PROTOCOL_ERROR,
			    N_("invalid packet %u"), (unsigned int)seqnr);
		if (kb_buf_len(t->scratch) == 0)
			return transport_fail(t, KB_ERR_PACKET_TOO_SMALL,
			    SSH_DISCONNECT_PROTOCOL_ERROR, N_("empty packet %u"),
			    (unsigned int)seqnr);
		transport_count_packet(t, KB_DIR_IN, before - kb_buf_len(t->in));
		t->recv_seqnr = seqnr;
		if ((r = transport_dispatch(t, kb_buf_ptr(t->scratch),
		    kb_buf_len(t->scratch))) != 0)
			return r;
		/* sshd checks its rekey limits after each packet it reads, too. */
		if (transport_need_rekey(t, 0) && (r = transport_start_rekey(t)) != 0)
			return r;
	}
	return t->phase == PHASE_CLOSED ? t->error : KB_OK;
}

/* Copies our identification line without CR LF, for V_S. */
static int
transport_set_server_version(struct kb_transport *t, const char *line)
{
	size_t len;

	if (line == NULL)
		line = kb_version_ours();
	len = strcspn(line, "\r\n");
	if (len == 0 || len > KB_VERSION_MAX - 2)
		return KB_ERR_INVALID_ARGUMENT;
	memcpy(t->server_version, line, len);
	t->server_version[len] = '\0';
	return KB_OK;
}

static int
transport_alloc(struct kb_transport *t)
{
	if ((t->codec = kb_packet_codec_new()) == NULL ||
	    (t->in = kb_buf_new(TRANSPORT_INPUT_MAX)) == NULL ||
	    (t->out = kb_buf_new(TRANSPORT_OUTPUT_MAX + TRANSPORT_QUEUE_MAX +
	    TRANSPORT_OUTPUT_RESERVE)) == NULL ||
	    (t->scratch = kb_buf_new(KB_PACKET_MAX)) == NULL ||
	    (t->pending = kb_buf_new(KB_PACKET_MAX)) == NULL ||
	    (t->queue = kb_buf_new(TRANSPORT_QUEUE_MAX)) == NULL ||
	    (t->kexinit_ours = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL ||
	    (t->kexinit_peer = kb_buf_new(KB_PACKET_MAX)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	return KB_OK;
}

int
kb_transport_new(const struct kb_transport_config *config, struct kb_transport **tp)
{
	struct kb_transport *t;
	int r;

	if (tp == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*tp = NULL;
	if (config == NULL || config->hostkeys == NULL || config->hostkey_count == 0)
		return KB_ERR_INVALID_ARGUMENT;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	t->phase = PHASE_VERSION;
	t->initial = true;
	t->rekey_bytes = config->rekey_bytes;
	t->rekey_seconds = config->rekey_seconds;
	t->clock = config->clock;
	transport_rekey_reset(t, KB_DIR_IN, NULL, NULL);
	transport_rekey_reset(t, KB_DIR_OUT, NULL, NULL);
	t->hostkeys = config->hostkeys;
	t->hostkey_count = config->hostkey_count;
	t->moduli = config->moduli;
	kb_version_reader_init(&t->reader, KB_ROLE_CLIENT);

	if ((r = transport_set_server_version(t, config->server_version)) != 0 ||
	    (r = transport_alloc(t)) != 0 ||
	    (r = transport_build_offer(t, config)) != 0)
		goto out;

	/* RFC 4253 section 4.2 and 7.1: our line, then our KEXINIT at once. */
	if (!config->version_sent &&
	    ((r = kb_buf_put(t->out, t->server_version, strlen(t->server_version))) != 0 ||
	    (r = kb_buf_put(t->out, "\r\n", 2)) != 0))
		goto out;
	if ((r = transport_send_kexinit(t)) != 0)
		goto out;
	*tp = t;
	t = NULL;
 out:
	kb_transport_free(t);
	return r;
}

void
kb_transport_free(struct kb_transport *t)
{
	int i;

	if (t == NULL)
		return;
	transport_kex_clear(t);
	kb_packet_codec_free(t->codec);
	kb_buf_free(t->in);
	kb_buf_free(t->out);
	kb_buf_free(t->scratch);
	kb_buf_free(t->pending);
	kb_buf_free(t->queue);
	kb_buf_free(t->kexinit_ours);
	kb_buf_free(t->kexinit_peer);
	for (i = 0; i < KB_CAT_COUNT; i++)
		free(t->offer[i]);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

/* Reads the client's identification line and sets *consumed to the bytes it took. */
static int
transport_feed_version(struct kb_transport *t, const uint8_t *data, size_t len,
    size_t *consumed)
{
	char text[128];
	int r;

	r = kb_version_reader_feed(&t->reader, data, len, consumed, &t->client_version);
	if (r == KB_ERR_INCOMPLETE)
		return KB_OK;
	if (r != 0) {
		transport_escape(text, sizeof(text), (const uint8_t *)t->reader.line,
		    t->reader.line_len < KB_VERSION_MAX ? t->reader.line_len : KB_VERSION_MAX);
		return transport_fail_err(t, r, SSH_DISCONNECT_PROTOCOL_ERROR,
		    N_("invalid identification line from the client \"%s\""), text);
	}
	t->have_client_version = true;
	t->phase = PHASE_KEXINIT;
	return KB_OK;
}

size_t
kb_transport_input_space(const struct kb_transport *t)
{
	if (t == NULL || t->phase == PHASE_CLOSED)
		return 0;
	return TRANSPORT_INPUT_MAX - kb_buf_len(t->in);
}

int
kb_transport_feed(struct kb_transport *t, const uint8_t *data, size_t len)
{
	size_t consumed = 0;
	int r;

	if (t == NULL || (data == NULL && len != 0))
		return KB_ERR_INVALID_ARGUMENT;
	if (t->phase == PHASE_CLOSED)
		return t->error != 0 ? t->error : KB_ERR_CONNECTION_CLOSED;
	if (len > kb_transport_input_space(t))
		return KB_ERR_BUFFER_LIMIT;

	if (t->phase == PHASE_VERSION) {
		if ((r = transport_feed_version(t, data, len, &consumed)) != 0)
			return r;
	}
	if (consumed < len &&
	    (r = kb_buf_put(t->in, data + consumed, len - consumed)) != 0)
		return transport_fail_code(t, r, SSH_DISCONNECT_BY_APPLICATION);
	return transport_process(t);
}

struct kb_buf *
kb_transport_output(struct kb_transport *t)
{
	return t == NULL ? NULL : t->out;
}

int
kb_transport_next(struct kb_transport *t, struct kb_buf *payload)
{
	int r;

	if (t == NULL || payload == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (!t->has_pending && (r = transport_process(t)) != 0)
		return r;
	if (!t->has_pending) {
		if (t->phase == PHASE_CLOSED)
			return t->error != 0 ? t->error : KB_ERR_CONNECTION_CLOSED;
		return KB_ERR_INCOMPLETE;
	}
	if ((r = kb_buf_put(payload, kb_buf_ptr(t->pending), kb_buf_len(t->pending))) != 0)
		return r;
	kb_buf_reset(t->pending);
	t->has_pending = false;
	t->next_seqnr = t->pending_seqnr;
	/* Process the transport messages behind it, so a waiting rekey gets our KEXINIT. */
	if ((r = transport_process(t)) != 0)
		return r;
	return KB_OK;
}

/* Appends a message to the queue that is flushed after our NEWKEYS. */
static int
transport_queue_payload(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	if (len > TRANSPORT_QUEUE_MAX - 4 ||
	    kb_buf_len(t->queue) > TRANSPORT_QUEUE_MAX - 4 - len)
		return KB_ERR_BUFFER_LIMIT;
	if (kb_buf_put_u32(t->queue, (uint32_t)len) != 0 ||
	    kb_buf_put(t->queue, payload, len) != 0)
		return KB_ERR_BUFFER_LIMIT;
	return KB_OK;
}

int
transport_flush_queue(struct kb_transport *t)
{
	const uint8_t *msg;
	size_t len;
	int r;

	while (kb_buf_len(t->queue) > 0) {
		if ((r = kb_buf_get_string_direct(t->queue, &msg, &len)) != 0 ||
		    (r = transport_send_payload(t, msg, len)) != 0)
			return transport_fail_err(t, r, SSH_DISCONNECT_BY_APPLICATION,
			    N_("cannot send queued messages"));
	}
	kb_buf_reset(t->queue);
	return KB_OK;
}

/*
 * Worst-case growth of one packet on the wire: length, padding length,
 * padding up to a block plus the minimum, and the largest MAC or tag.
 */
#define TRANSPORT_PACKET_OVERHEAD	(4 + 1 + 16 + 4 + KB_MAC_LEN_MAX)

int
kb_transport_send(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	int r;

	if (t == NULL || payload == NULL || len == 0 || len > KB_PACKET_MAX)
		return KB_ERR_INVALID_ARGUMENT;
	if (t->phase == PHASE_CLOSED)
		return t->error != 0 ? t->error : KB_ERR_CONNECTION_CLOSED;
	/* Only the layer above sends here, and only once its service runs. */
	if (payload[0] < 50 || t->initial ||
	    (t->phase != PHASE_OPEN && t->resume_phase != PHASE_OPEN))
		return KB_ERR_INVALID_ARGUMENT;

	/* As sshd does, the packet that would cross a rekey limit starts the rekey. */
	if (!t->kexinit_sent && transport_need_rekey(t, len) &&
	    (r = transport_start_rekey(t)) != 0)
		return r;
	/* RFC 4253 section 7.1: nothing else between our KEXINIT and our NEWKEYS. */
	if (t->kexinit_sent)
		return transport_queue_payload(t, payload, len);
	if (kb_buf_len(t->out) + len + TRANSPORT_PACKET_OVERHEAD > TRANSPORT_OUTPUT_MAX)
		return KB_ERR_BUFFER_LIMIT;
	if ((r = transport_send_payload(t, payload, len)) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_BY_APPLICATION,
		    N_("cannot send a message"));
	return KB_OK;
}

uint32_t
kb_transport_next_seqnr(const struct kb_transport *t)
{
	return t->next_seqnr;
}

int
kb_transport_send_unimplemented(struct kb_transport *t, uint32_t seqnr)
{
	if (t == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (t->phase == PHASE_CLOSED)
		return t->error != 0 ? t->error : KB_ERR_CONNECTION_CLOSED;
	if (t->initial)
		return KB_ERR_INVALID_ARGUMENT;
	return send_msg_unimplemented(t, seqnr);
}

void
kb_transport_set_authenticated(struct kb_transport *t)
{
	t->authenticated = true;
}

void
kb_transport_set_log_session(struct kb_transport *t, const char *session)
{
	t->log_session = session;
}

int
kb_transport_disconnect(struct kb_transport *t, uint32_t reason, const char *description)
{
	if (t == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	return transport_send_disconnect(t, reason, description);
}

enum kb_transport_state
kb_transport_state(const struct kb_transport *t)
{
	switch (t->phase) {
	case PHASE_VERSION:
		return KB_TRANSPORT_VERSION;
	case PHASE_KEXINIT:
	case PHASE_KEX:
	case PHASE_NEWKEYS:
		return t->initial ? KB_TRANSPORT_KEX : KB_TRANSPORT_READY;
	case PHASE_SERVICE:
	case PHASE_OPEN:
		return KB_TRANSPORT_READY;
	case PHASE_CLOSED:
	case PHASE_COUNT:
	default:
		return KB_TRANSPORT_CLOSED;
	}
}

int
kb_transport_error(const struct kb_transport *t)
{
	return t->error;
}

const char *
kb_transport_error_text(const struct kb_transport *t)
{
	return t->error_text;
}

const char *
kb_transport_client_version(const struct kb_transport *t)
{
	return t->have_client_version ? t->client_version.line : NULL;
}

const uint8_t *
kb_transport_session_id(const struct kb_transport *t, size_t *len)
{
	if (len != NULL)
		*len = t->session_id_len;
	return t->session_id_len == 0 ? NULL : t->session_id;
}

const char *
kb_transport_agreed(const struct kb_transport *t, int category)
{
	if (category < 0 || category >= KB_CAT_NEGOTIATED || !t->agreed_set[category])
		return NULL;
	return t->agreed[category];
}

bool
kb_transport_strict_kex(const struct kb_transport *t)
{
	return t->strict;
}

unsigned int
kb_transport_kex_count(const struct kb_transport *t)
{
	return t->kex_count;
}

uint32_t
kb_transport_disconnect_reason(const struct kb_transport *t)
{
	return t->disconnect_reason;
}

void
kb_transport_counters(const struct kb_transport *t, struct kb_transport_counters *counters)
{
	*counters = t->counters;
}
