/*
 * Watches one direction of an SSH connection without changing it: finds the
 * identification line and then the SSH_MSG_KEXINIT packet in the byte stream.
 * No sockets: feed it what was read, ask it what it found.
 */
#ifndef KEXBRIDGE_SNIFFER_H
#define KEXBRIDGE_SNIFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kexbridge/kexinit.h"
#include "kexbridge/version.h"

enum kb_sniff_state {
	KB_SNIFF_VERSION,	/* reading the identification line */
	KB_SNIFF_KEXINIT,	/* reading packets until KEXINIT */
	KB_SNIFF_DONE,		/* KEXINIT seen; the rest is not parsed */
	KB_SNIFF_DISCONNECTED,	/* the peer sent SSH_MSG_DISCONNECT before KEXINIT */
	KB_SNIFF_FAILED,	/* malformed input; kb_sniffer_error() says why */
};

struct kb_sniffer;

/* sender is the side that produces the bytes this sniffer sees. */
struct kb_sniffer *kb_sniffer_new(enum kb_role sender);
void kb_sniffer_free(struct kb_sniffer *sniffer);

/*
 * Feeds the next len bytes of the stream. Returns KB_OK while the input is
 * well formed (whether or not more is needed), or the error that moved the
 * sniffer to KB_SNIFF_FAILED. After KB_SNIFF_DONE bytes are only counted.
 * At most one packet is buffered, bounded by KB_PACKET_MAX.
 */
int kb_sniffer_feed(struct kb_sniffer *sniffer, const uint8_t *data, size_t len);

enum kb_sniff_state kb_sniffer_state(const struct kb_sniffer *sniffer);
int kb_sniffer_error(const struct kb_sniffer *sniffer);
/* Valid once the state has passed KB_SNIFF_VERSION; else NULL. */
const struct kb_version *kb_sniffer_version(const struct kb_sniffer *sniffer);
/* Valid in KB_SNIFF_DONE; else NULL. */
const struct kb_kexinit *kb_sniffer_kexinit(const struct kb_sniffer *sniffer);
/* The KEXINIT payload exactly as received (it is hashed as such). */
const uint8_t *kb_sniffer_kexinit_payload(const struct kb_sniffer *sniffer, size_t *len);
/*
 * Stream offsets of the first byte of the KEXINIT packet and of the byte
 * after it; valid in KB_SNIFF_DONE.
 */
void kb_sniffer_kexinit_span(const struct kb_sniffer *sniffer, uint64_t *start, uint64_t *end);
/* In KB_SNIFF_DISCONNECTED: the reason code and the description, escaped. */
uint32_t kb_sniffer_disconnect_reason(const struct kb_sniffer *sniffer);
const char *kb_sniffer_disconnect_text(const struct kb_sniffer *sniffer);
/* Bytes fed so far. */
uint64_t kb_sniffer_offset(const struct kb_sniffer *sniffer);

#endif
