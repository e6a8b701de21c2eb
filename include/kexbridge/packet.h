/*
 * Binary packet framing before the first NEWKEYS, when no cipher and no MAC
 * are in effect (RFC 4253 section 6).
 */
#ifndef KEXBRIDGE_PACKET_H
#define KEXBRIDGE_PACKET_H

#include <stddef.h>
#include <stdint.h>

struct kb_buf;

/* Largest packet_length accepted; OpenSSH uses the same 256 KiB. */
#define KB_PACKET_MAX		(256 * 1024)
/* Block size that frames unencrypted packets. */
#define KB_PACKET_BLOCK		8

/* SSH message numbers used by the core (RFC 4250 section 4.1.2). */
#define SSH_MSG_DISCONNECT		1
#define SSH_MSG_IGNORE			2
#define SSH_MSG_UNIMPLEMENTED		3
#define SSH_MSG_DEBUG			4
#define SSH_MSG_SERVICE_REQUEST		5
#define SSH_MSG_SERVICE_ACCEPT		6
#define SSH_MSG_EXT_INFO		7
#define SSH_MSG_KEXINIT			20
#define SSH_MSG_NEWKEYS			21

/* Disconnect reason codes (RFC 4250 section 4.2.2). */
#define SSH_DISCONNECT_PROTOCOL_ERROR			2
#define SSH_DISCONNECT_KEY_EXCHANGE_FAILED		3
#define SSH_DISCONNECT_BY_APPLICATION			11

/*
 * Takes one unencrypted packet from the front of data.
 * On KB_OK, *packet_size is the number of bytes the packet occupies on the
 * wire and *payload and *payload_len point at its payload inside data.
 * Returns KB_ERR_INCOMPLETE when data holds only part of a packet, or
 * KB_ERR_PACKET_TOO_LARGE, KB_ERR_PACKET_TOO_SMALL, KB_ERR_PADDING_INVALID.
 */
int kb_packet_parse(const uint8_t *data, size_t len, size_t *packet_size,
    const uint8_t **payload, size_t *payload_len);

/* Appends payload to out as one unencrypted packet with random padding. */
int kb_packet_write(struct kb_buf *out, const uint8_t *payload, size_t len);

/* Builds an SSH_MSG_DISCONNECT payload (RFC 4253 section 11.1). */
int kb_packet_put_disconnect(struct kb_buf *payload, uint32_t reason,
    const char *description);

/*
 * Parses an SSH_MSG_DISCONNECT payload; *description points into payload and
 * is not NUL-terminated.
 */
int kb_packet_parse_disconnect(const uint8_t *payload, size_t len,
    uint32_t *reason, const uint8_t **description, size_t *description_len);

#endif
