/*
 * Passive parser for one direction of an SSH stream: the identification
 * line, then unencrypted packets up to and including SSH_MSG_KEXINIT.
 *
 * Bytes may arrive split anywhere. The sniffer copies at most one packet at
 * a time into its own buffer: first the 4-byte length, then exactly the rest
 * of that packet, so it never buffers more than KB_PACKET_MAX + 4 bytes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kexbridge/err.h"
#include "kexbridge/log.h"
#include "kexbridge/packet.h"
#include "kexbridge/sniffer.h"

/* Buffer size for the escaped disconnect description, which is cut off beyond it. */
#define SNIFFER_TEXT_MAX	1024

struct kb_sniffer {
	enum kb_sniff_state state;
	int error;
	uint64_t offset;

	struct kb_version_reader reader;
	struct kb_version version;

	/* The packet being assembled and its stream offset. */
	uint8_t *pkt;
	size_t pkt_len;
	size_t pkt_alloc;
	uint64_t pkt_start;

	struct kb_kexinit kexinit;
	uint8_t *kexinit_payload;
	size_t kexinit_payload_len;
	uint64_t kexinit_start;
	uint64_t kexinit_end;

	uint32_t disconnect_reason;
	char disconnect_text[SNIFFER_TEXT_MAX];
};

struct kb_sniffer *
kb_sniffer_new(enum kb_role sender)
{
	struct kb_sniffer *sniffer;

	if ((sniffer = calloc(1, sizeof(*sniffer))) == NULL)
		return NULL;
	sniffer->state = KB_SNIFF_VERSION;
	kb_version_reader_init(&sniffer->reader, sender);
	return sniffer;
}

/* Drops the packet buffer, which is not needed once parsing stops. */
static void
sniffer_free_packet(struct kb_sniffer *sniffer)
{
	if (sniffer->pkt != NULL) {
		OPENSSL_cleanse(sniffer->pkt, sniffer->pkt_alloc);
		free(sniffer->pkt);
	}
	sniffer->pkt = NULL;
	sniffer->pkt_len = 0;
	sniffer->pkt_alloc = 0;
}

void
kb_sniffer_free(struct kb_sniffer *sniffer)
{
	if (sniffer == NULL)
		return;
	sniffer_free_packet(sniffer);
	kb_kexinit_free(&sniffer->kexinit);
	free(sniffer->kexinit_payload);
	free(sniffer);
}

static int
sniffer_fail(struct kb_sniffer *sniffer, int err)
{
	sniffer->state = KB_SNIFF_FAILED;
	sniffer->error = err;
	sniffer_free_packet(sniffer);
	return err;
}

static int
sniffer_on_kexinit(struct kb_sniffer *sniffer, const uint8_t *payload, size_t len,
    size_t packet_size)
{
	int r;

	if ((r = kb_kexinit_parse(&sniffer->kexinit, payload, len)) != 0)
		return r;
	/* Kept byte for byte: the exchange hash covers the payload as sent. */
	if ((sniffer->kexinit_payload = malloc(len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	memcpy(sniffer->kexinit_payload, payload, len);
	sniffer->kexinit_payload_len = len;
	sniffer->kexinit_start = sniffer->pkt_start;
	sniffer->kexinit_end = sniffer->pkt_start + packet_size;
	sniffer->state = KB_SNIFF_DONE;
	sniffer_free_packet(sniffer);
	return KB_OK;
}

static int
sniffer_on_disconnect(struct kb_sniffer *sniffer, const uint8_t *payload, size_t len)
{
	const uint8_t *desc;
	size_t desc_len;
	int r;

	if ((r = kb_packet_parse_disconnect(payload, len,
	    &sniffer->disconnect_reason, &desc, &desc_len)) != 0)
		return r;
	kb_log_escape(sniffer->disconnect_text, sizeof(sniffer->disconnect_text),
	    (const char *)desc, desc_len);
	sniffer->state = KB_SNIFF_DISCONNECTED;
	sniffer_free_packet(sniffer);
	return KB_OK;
}

/*
 * Before KEXINIT only IGNORE and DEBUG may come (RFC 4253 sections 11.2
 * and 11.3), or a DISCONNECT that ends the connection.
 */
static int
sniffer_on_packet(struct kb_sniffer *sniffer, const uint8_t *payload, size_t len,
    size_t packet_size)
{
	switch (payload[0]) {
	case SSH_MSG_KEXINIT:
		return sniffer_on_kexinit(sniffer, payload, len, packet_size);
	case SSH_MSG_DISCONNECT:
		return sniffer_on_disconnect(sniffer, payload, len);
	case SSH_MSG_IGNORE:
	case SSH_MSG_DEBUG:
		return KB_OK;
	default:
		return KB_ERR_UNEXPECTED_MESSAGE;
	}
}

/* Copies bytes of the current packet until it has want bytes and returns how many it took. */
static size_t
sniffer_take(struct kb_sniffer *sniffer, const uint8_t *data, size_t len, size_t want)
{
	size_t n = want - sniffer->pkt_len;

	if (n > len)
		n = len;
	if (sniffer->pkt_len == 0)
		sniffer->pkt_start = sniffer->offset;
	memcpy(sniffer->pkt + sniffer->pkt_len, data, n);
	sniffer->pkt_len += n;
	sniffer->offset += n;
	return n;
}

/* Makes room for a packet of size bytes once its length field is known. */
static int
sniffer_grow(struct kb_sniffer *sniffer, size_t size)
{
	uint8_t *p;

	if (size <= sniffer->pkt_alloc)
		return KB_OK;
	if ((p = malloc(size)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	/* The first call has no buffer yet, and memcpy from NULL is undefined. */
	if (sniffer->pkt != NULL) {
		memcpy(p, sniffer->pkt, sniffer->pkt_len);
		OPENSSL_cleanse(sniffer->pkt, sniffer->pkt_alloc);
		free(sniffer->pkt);
	}
	sniffer->pkt = p;
	sniffer->pkt_alloc = size;
	return KB_OK;
}

/* Wire size of the packet whose length field is at the front of pkt. */
static size_t
sniffer_packet_size(const struct kb_sniffer *sniffer)
{
	const uint8_t *p = sniffer->pkt;

	return (size_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3]) + 4;
}

/* Feeds bytes in KB_SNIFF_KEXINIT and stores how many it took in *used. */
static int
sniffer_feed_packets(struct kb_sniffer *sniffer, const uint8_t *data, size_t len,
    size_t *used)
{
	const uint8_t *payload;
	size_t packet_size, payload_len, want;
	int r;

	*used = 0;
	if ((r = sniffer_grow(sniffer, 4)) != 0)
		return r;
	while (*used < len && sniffer->state == KB_SNIFF_KEXINIT) {
		/* kb_packet_parse has vetted the length before it is trusted. */
		want = sniffer->pkt_len < 4 ? 4 : sniffer_packet_size(sniffer);
		*used += sniffer_take(sniffer, data + *used, len - *used, want);

		r = kb_packet_parse(sniffer->pkt, sniffer->pkt_len, &packet_size,
		    &payload, &payload_len);
		if (r == KB_ERR_INCOMPLETE) {
			if (sniffer->pkt_len >= 4 &&
			    (r = sniffer_grow(sniffer, sniffer_packet_size(sniffer))) != 0)
				return r;
			continue;
		}
		if (r != 0)
			return r;
		if ((r = sniffer_on_packet(sniffer, payload, payload_len,
		    packet_size)) != 0)
			return r;
		sniffer->pkt_len = 0;
	}
	return KB_OK;
}

static int
sniffer_feed_version(struct kb_sniffer *sniffer, const uint8_t *data, size_t len,
    size_t *used)
{
	int r;

	r = kb_version_reader_feed(&sniffer->reader, data, len, used,
	    &sniffer->version);
	sniffer->offset += *used;
	if (r == KB_ERR_INCOMPLETE)
		return KB_OK;
	if (r != 0)
		return r;
	sniffer->state = KB_SNIFF_KEXINIT;
	return KB_OK;
}

int
kb_sniffer_feed(struct kb_sniffer *sniffer, const uint8_t *data, size_t len)
{
	size_t used = 0;
	int r;

	if (sniffer == NULL || (data == NULL && len != 0))
		return KB_ERR_INVALID_ARGUMENT;

	/* The common case on a busy relay: only count. */
	if (sniffer->state >= KB_SNIFF_DONE) {
		sniffer->offset += len;
		return sniffer->state == KB_SNIFF_FAILED ? sniffer->error : KB_OK;
	}

	if (sniffer->state == KB_SNIFF_VERSION) {
		if ((r = sniffer_feed_version(sniffer, data, len, &used)) != 0)
			goto fail;
		data += used;
		len -= used;
	}
	if (sniffer->state == KB_SNIFF_KEXINIT) {
		if ((r = sniffer_feed_packets(sniffer, data, len, &used)) != 0)
			goto fail;
		data += used;
		len -= used;
	}
	/* Whatever follows KEXINIT or DISCONNECT is only counted. */
	sniffer->offset += len;
	return KB_OK;
 fail:
	sniffer->offset += len - used;
	return sniffer_fail(sniffer, r);
}

enum kb_sniff_state
kb_sniffer_state(const struct kb_sniffer *sniffer)
{
	return sniffer->state;
}

int
kb_sniffer_error(const struct kb_sniffer *sniffer)
{
	return sniffer->error;
}

const struct kb_version *
kb_sniffer_version(const struct kb_sniffer *sniffer)
{
	if (sniffer->state == KB_SNIFF_VERSION || !sniffer->reader.done)
		return NULL;
	return &sniffer->version;
}

const struct kb_kexinit *
kb_sniffer_kexinit(const struct kb_sniffer *sniffer)
{
	return sniffer->state == KB_SNIFF_DONE ? &sniffer->kexinit : NULL;
}

const uint8_t *
kb_sniffer_kexinit_payload(const struct kb_sniffer *sniffer, size_t *len)
{
	if (sniffer->state != KB_SNIFF_DONE) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = sniffer->kexinit_payload_len;
	return sniffer->kexinit_payload;
}

void
kb_sniffer_kexinit_span(const struct kb_sniffer *sniffer, uint64_t *start, uint64_t *end)
{
	if (start != NULL)
		*start = sniffer->kexinit_start;
	if (end != NULL)
		*end = sniffer->kexinit_end;
}

uint32_t
kb_sniffer_disconnect_reason(const struct kb_sniffer *sniffer)
{
	return sniffer->disconnect_reason;
}

const char *
kb_sniffer_disconnect_text(const struct kb_sniffer *sniffer)
{
	return sniffer->state == KB_SNIFF_DISCONNECTED ? sniffer->disconnect_text : NULL;
}

uint64_t
kb_sniffer_offset(const struct kb_sniffer *sniffer)
{
	return sniffer->offset;
}
