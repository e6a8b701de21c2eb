/*
 * Offline analysis of packet captures for `kexbridge pcap`: reading pcap and
 * pcapng files down to TCP segments (pcap_read.c), and putting each TCP
 * direction back in order so a kb_sniffer can read the identification line
 * and KEXINIT from it (tcp_reasm.c).
 *
 * Prefixes: capfile_ for the file reader, reasm_ for TCP reassembly; the
 * pcap_ prefix belongs to libpcap.
 */
#ifndef KEXBRIDGE_PCAP_INTERNAL_H
#define KEXBRIDGE_PCAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kexbridge/sniffer.h"

/* Out-of-order bytes held per TCP flow, both directions together. */
#define REASM_FLOW_BUFFER_MAX	(512 * 1024)

/* TCP header flags (RFC 9293 section 3.1). */
#define CAPFILE_TCP_FIN		0x01
#define CAPFILE_TCP_SYN		0x02
#define CAPFILE_TCP_RST		0x04
#define CAPFILE_TCP_ACK		0x10

/* An IPv4 or IPv6 address and a TCP port. */
struct capfile_endpoint {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network byte order; IPv4 uses the first 4 */
	uint16_t port;		/* host byte order */
};

/* One TCP segment as decoded from a captured packet. */
struct capfile_segment {
	int64_t ts_us;		/* capture time, microseconds since the epoch */
	struct capfile_endpoint src;
	struct capfile_endpoint dst;
	uint32_t seq;
	uint8_t flags;
	const uint8_t *payload;	/* points into the reader's packet buffer */
	size_t len;		/* payload bytes present in the capture */
	/* The snapshot length cut the payload short: bytes are missing. */
	bool snapped;
};

/* Counters of skipped frames, for the summary. */
struct capfile_stats {
	uint64_t packets;
	uint64_t tcp_segments;
	uint64_t fragments;	/* IPv4 and IPv6 fragments, not reassembled */
	uint64_t not_tcp;	/* non-IP frames and IP packets of other protocols */
	uint64_t malformed;	/* headers cut short or inconsistent */
	uint64_t snapped;	/* TCP payloads cut short by the snapshot length */
};

struct capfile;

/*
 * Opens a pcap or pcapng file and applies the BPF filter expression when it
 * is not NULL. On failure returns KB_ERR_SYSTEM (cannot open),
 * KB_ERR_INVALID_ARGUMENT (not a capture, unsupported link type, invalid
 * filter) or KB_ERR_ALLOC_FAIL, writes the reason for people to err and
 * points *key at a stable English key for JSON: "cannot_open",
 * "not_a_capture", "unsupported_link_type" or "invalid_filter".
 */
int capfile_open(const char *path, const char *filter, struct capfile **out,
    char *err, size_t errlen, const char **key);
void capfile_close(struct capfile *file);

/*
 * Reads packets until the next TCP segment. Returns 1 with seg filled, 0 at
 * the end of the file, or KB_ERR_MESSAGE_TRUNCATED with the reason in err
 * when the file ends in the middle of a packet or cannot be read further.
 */
int capfile_next(struct capfile *file, struct capfile_segment *seg, char *err,
    size_t errlen);

const struct capfile_stats *capfile_stats(const struct capfile *file);

/*
 * Decodes one frame of link type linktype (a DLT_ value), caplen bytes as
 * captured, down to its TCP segment. The IP length shows whether the
 * snapshot length cut the payload. Returns 1 with seg filled, or 0 when the
 * frame is skipped (counted in stats).
 */
int capfile_decode(int linktype, const uint8_t *frame, size_t caplen,
    struct capfile_segment *seg, struct capfile_stats *stats);

/* Formats "192.0.2.1:22" or "[2001:db8::1]:22". */
void capfile_endpoint_str(const struct capfile_endpoint *ep, char *out,
    size_t outlen);

/* Source of a flow's client and server roles. */
enum reasm_roles {
	REASM_ROLES_UNKNOWN,
	REASM_ROLES_HANDSHAKE,	/* the SYN sender is the client */
	REASM_ROLES_BANNER,	/* only a server sends lines before its version */
	REASM_ROLES_KEXINIT,	/* ext-info-c/-s or kex-strict-c/-s in the kex list */
	REASM_ROLES_PORTS,	/* a guess: the well-known or lower port is the server */
};

/* One direction of a TCP flow. */
struct reasm_dir {
	bool start_known;	/* the first sequence number is known */
	bool syn_seen;
	uint32_t start;		/* sequence number of the first data byte */
	uint32_t next;		/* stream offset of the next byte to deliver */
	struct reasm_segment *pending;	/* out-of-order segments, by offset */
	bool fin;
	bool gap;		/* bytes are missing; nothing more is delivered */
	uint32_t gap_offset;
	bool snapped;
	bool has_data;

	uint8_t head[4];	/* the first bytes of the stream, to spot "SSH-" */
	size_t head_len;
	struct kb_sniffer *sniffer;
	int64_t first_data_us;
	int64_t last_us;	/* capture time of the newest byte delivered */
	int64_t kexinit_us;	/* when the KEXINIT was complete, or -1 */
};

enum reasm_kind {
	REASM_KIND_UNKNOWN,	/* not enough bytes seen to tell */
	REASM_KIND_SSH,		/* a direction starts with "SSH-" */
	REASM_KIND_OTHER,	/* both directions start with something else */
};

/* A TCP flow, keyed by its 4-tuple; dir[0] is the sender of its first packet. */
struct reasm_flow {
	struct reasm_flow *hash_next;
	struct reasm_flow *next;	/* in the order flows were first seen */
	struct capfile_endpoint ep[2];	/* ep[i] sends dir[i] */
	struct reasm_dir dir[2];
	size_t pending_bytes;		/* out-of-order bytes held, both directions */
	bool overflow;			/* pending_bytes hit REASM_FLOW_BUFFER_MAX */
	int client;			/* index of the client's direction, or -1 */
	enum reasm_roles roles;
	enum reasm_kind kind;
	bool rst;
	bool finished;			/* both sniffers are past KEXINIT */
	int64_t first_us;
	uint64_t packets;
};

struct reasm;

struct reasm *reasm_new(void);
void reasm_free(struct reasm *reasm);

/*
 * Adds one segment to its flow. Returns KB_OK, or KB_ERR_ALLOC_FAIL when
 * memory ran out.
 */
int reasm_add(struct reasm *reasm, const struct capfile_segment *seg);

/*
 * Ends the capture: delivers what waited for the start of a direction that
 * had no SYN, and decides the roles of flows that had no handshake.
 */
int reasm_finish(struct reasm *reasm);

/* The first flow in the order flows were seen; follow flow->next. */
const struct reasm_flow *reasm_flows(const struct reasm *reasm);

/* True when either direction of port carried an SSH version line. */
bool reasm_port_has_ssh(const struct reasm *reasm, uint16_t port);

#endif
