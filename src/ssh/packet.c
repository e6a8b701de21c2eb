/*
 * Unencrypted binary packets (RFC 4253 section 6):
 *
 *	uint32	packet_length	(excludes itself and the MAC)
 *	byte	padding_length
 *	byte[n1]	payload		(n1 = packet_length - padding_length - 1)
 *	byte[n2]	random padding	(n2 = padding_length, at least 4)
 *
 * Before the first NEWKEYS there is no MAC, and the whole packet, length
 * field included, is a multiple of 8 bytes.
 */
#include "config.h"

#include <string.h>

#include <openssl/rand.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/packet.h"

#define PACKET_MIN_PADDING	4

static uint32_t
packet_peek_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
kb_packet_parse(const uint8_t *data, size_t len, size_t *packet_size,
    const uint8_t **payload, size_t *payload_len)
{
	uint32_t packet_len;
	uint8_t padding_len;

	if (data == NULL && len != 0)
		return KB_ERR_INVALID_ARGUMENT;
	if (len < 4)
		return KB_ERR_INCOMPLETE;

	/* Judge the length field at once, so a bogus one is not waited for. */
	packet_len = packet_peek_u32(data);
	if (packet_len > KB_PACKET_MAX)
		return KB_ERR_PACKET_TOO_LARGE;
	if (packet_len < 1 + PACKET_MIN_PADDING + 1)
		return KB_ERR_PACKET_TOO_SMALL;
	if ((packet_len + 4) % KB_PACKET_BLOCK != 0)
		return KB_ERR_PADDING_INVALID;
	if (len - 4 < packet_len)
		return KB_ERR_INCOMPLETE;

	padding_len = data[4];
	if (padding_len < PACKET_MIN_PADDING || padding_len >= packet_len)
		return KB_ERR_PADDING_INVALID;
	/* Every message starts with its number, so the payload is never empty. */
	if (packet_len - padding_len - 1 == 0)
		return KB_ERR_PACKET_TOO_SMALL;

	if (packet_size != NULL)
		*packet_size = (size_t)packet_len + 4;
	if (payload != NULL)
		*payload = data + 5;
	if (payload_len != NULL)
		*payload_len = packet_len - padding_len - 1;
	return KB_OK;
}

int
kb_packet_write(struct kb_buf *out, const uint8_t *payload, size_t len)
{
	size_t padding_len, packet_len;
	uint8_t *p;
	int r;

	if (out == NULL || payload == NULL || len == 0)
		return KB_ERR_INVALID_ARGUMENT;
	if (len > KB_PACKET_MAX)
		return KB_ERR_PACKET_TOO_LARGE;

	padding_len = KB_PACKET_BLOCK - (4 + 1 + len) % KB_PACKET_BLOCK;
	if (padding_len < PACKET_MIN_PADDING)
		padding_len += KB_PACKET_BLOCK;
	packet_len = 1 + len + padding_len;
	if (packet_len > KB_PACKET_MAX)
		return KB_ERR_PACKET_TOO_LARGE;

	if ((r = kb_buf_reserve(out, 4 + packet_len, &p)) != 0)
		return r;
	p[0] = (uint8_t)(packet_len >> 24);
	p[1] = (uint8_t)(packet_len >> 16);
	p[2] = (uint8_t)(packet_len >> 8);
	p[3] = (uint8_t)packet_len;
	p[4] = (uint8_t)padding_len;
	memcpy(p + 5, payload, len);
	/* RFC 4253 section 6 requires random padding. */
	if (RAND_bytes(p + 5 + len, (int)padding_len) != 1)
		return KB_ERR_INTERNAL;
	return KB_OK;
}

int
kb_packet_put_disconnect(struct kb_buf *payload, uint32_t reason,
    const char *description)
{
	int r;

	if (payload == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = kb_buf_put_u8(payload, SSH_MSG_DISCONNECT)) != 0 ||
	    (r = kb_buf_put_u32(payload, reason)) != 0 ||
	    (r = kb_buf_put_cstring(payload,
	    description == NULL ? "" : description)) != 0 ||
	    (r = kb_buf_put_cstring(payload, "")) != 0)
		return r;
	return KB_OK;
}

/*
 * RFC 4253 section 11.1: reason code, description, language tag. Like
 * OpenSSH, the language tag is not required, because some peers omit it.
 */
int
kb_packet_parse_disconnect(const uint8_t *payload, size_t len,
    uint32_t *reason, const uint8_t **description, size_t *description_len)
{
	struct kb_buf *buf;
	const uint8_t *desc;
	size_t desc_len;
	uint32_t code;
	uint8_t type;
	int r;

	if (payload == NULL && len != 0)
		return KB_ERR_INVALID_ARGUMENT;
	if ((buf = kb_buf_from(payload, len)) == NULL)
		return KB_ERR_ALLOC_FAIL;

	if ((r = kb_buf_get_u8(buf, &type)) != 0)
		goto out;
	if (type != SSH_MSG_DISCONNECT) {
		r = KB_ERR_UNEXPECTED_MESSAGE;
		goto out;
	}
	if ((r = kb_buf_get_u32(buf, &code)) != 0 ||
	    (r = kb_buf_get_string_direct(buf, &desc, &desc_len)) != 0)
		goto out;

	if (reason != NULL)
		*reason = code;
	if (description != NULL)
		*description = desc;
	if (description_len != NULL)
		*description_len = desc_len;
	r = KB_OK;
 out:
	kb_buf_free(buf);
	return r;
}
