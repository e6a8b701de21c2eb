/*
 * TCP reassembly for offline analysis: each direction of each flow is put
 * back in sequence order and fed to a kb_sniffer until both sides' KEXINIT
 * packets have been read. Only the start of a stream matters here, so a
 * flow costs nothing more once both sniffers are done.
 *
 * Sequence numbers are taken relative to the first data byte (RFC 9293
 * section 3.4): the SYN's number plus one when the handshake was captured.
 * Without a SYN the first byte is unknown, so that direction's segments are
 * held until the capture ends (or the buffer fills) and the lowest sequence
 * number seen is taken as the start.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/kexinit.h"

#include "pcap_internal.h"

#define REASM_BUCKETS		4096
/* Offsets at or above this are before the start (serial arithmetic). */
#define REASM_BEFORE_START	0x80000000u

struct reasm_segment {
	struct reasm_segment *next;
	uint32_t seq;
	int64_t ts_us;
	size_t len;
	uint8_t data[];
};

struct reasm {
	struct reasm_flow *buckets[REASM_BUCKETS];
	struct reasm_flow *head;
	struct reasm_flow *tail;
};

static const uint8_t reasm_ssh_magic[4] = { 'S', 'S', 'H', '-' };

struct reasm *
reasm_new(void)
{
	return calloc(1, sizeof(struct reasm));
}

static void
reasm_free_pending(struct reasm_flow *flow, struct reasm_dir *dir)
{
	struct reasm_segment *seg, *next;

	for (seg = dir->pending; seg != NULL; seg = next) {
		next = seg->next;
		flow->pending_bytes -= seg->len;
		free(seg);
	}
	dir->pending = NULL;
}

void
reasm_free(struct reasm *reasm)
{
	struct reasm_flow *flow, *next;
	int d;

	if (reasm == NULL)
		return;
	for (flow = reasm->head; flow != NULL; flow = next) {
		next = flow->next;
		for (d = 0; d < 2; d++) {
			reasm_free_pending(flow, &flow->dir[d]);
			kb_sniffer_free(flow->dir[d].sniffer);
		}
		free(flow);
	}
	free(reasm);
}

const struct reasm_flow *
reasm_flows(const struct reasm *reasm)
{
	return reasm->head;
}

/* Flow table. */

static bool
reasm_endpoint_eq(const struct capfile_endpoint *a, const struct capfile_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static uint32_t
reasm_endpoint_hash(const struct capfile_endpoint *ep)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(ep->addr); i++)
		h = (h ^ ep->addr[i]) * 16777619u;
	h = (h ^ (ep->port & 0xff)) * 16777619u;
	return (h ^ (ep->port >> 8)) * 16777619u;
}

/* The same for both directions, so one lookup finds the flow either way. */
static size_t
reasm_bucket(const struct capfile_segment *seg)
{
	return (reasm_endpoint_hash(&seg->src) ^ reasm_endpoint_hash(&seg->dst)) %
	    REASM_BUCKETS;
}

static struct reasm_flow *
reasm_lookup(struct reasm *reasm, const struct capfile_segment *seg, int *d)
{
	struct reasm_flow *flow;

	for (flow = reasm->buckets[reasm_bucket(seg)]; flow != NULL;
	    flow = flow->hash_next) {
		if (reasm_endpoint_eq(&flow->ep[0], &seg->src) &&
		    reasm_endpoint_eq(&flow->ep[1], &seg->dst)) {
			*d = 0;
			return flow;
		}
		if (reasm_endpoint_eq(&flow->ep[1], &seg->src) &&
		    reasm_endpoint_eq(&flow->ep[0], &seg->dst)) {
			*d = 1;
			return flow;
		}
	}
	return NULL;
}

static void
reasm_unlink(struct reasm *reasm, struct reasm_flow *flow, size_t bucket)
{
	struct reasm_flow **pp;

	for (pp = &reasm->buckets[bucket]; *pp != NULL; pp = &(*pp)->hash_next) {
		if (*pp == flow) {
			*pp = flow->hash_next;
			flow->hash_next = NULL;
			return;
		}
	}
}

static struct reasm_flow *
reasm_flow_new(struct reasm *reasm, const struct capfile_segment *seg)
{
	struct reasm_flow *flow;
	size_t bucket = reasm_bucket(seg);
	int d;

	if ((flow = calloc(1, sizeof(*flow))) == NULL)
		return NULL;
	flow->ep[0] = seg->src;
	flow->ep[1] = seg->dst;
	flow->client = -1;
	flow->first_us = seg->ts_us;
	for (d = 0; d < 2; d++)
		flow->dir[d].kexinit_us = -1;
	flow->hash_next = reasm->buckets[bucket];
	reasm->buckets[bucket] = flow;
	if (reasm->tail != NULL)
		reasm->tail->next = flow;
	else
		reasm->head = flow;
	reasm->tail = flow;
	return flow;
}

/*
 * A SYN on a known 4-tuple whose stream already carried data, or whose
 * handshake used another sequence number, starts a new connection that
 * reuses the ports.
 */
static bool
reasm_is_new_connection(const struct reasm_flow *flow, int d,
    const struct capfile_segment *seg)
{
	const struct reasm_dir *dir = &flow->dir[d];

	if ((seg->flags & (CAPFILE_TCP_SYN | CAPFILE_TCP_ACK)) != CAPFILE_TCP_SYN)
		return false;
	if (dir->syn_seen)
		return dir->start != seg->seq + 1;
	return flow->dir[0].has_data || flow->dir[1].has_data ||
	    flow->dir[0].pending != NULL || flow->dir[1].pending != NULL;
}

/* Delivery into the sniffers. */

static void
reasm_classify(struct reasm_flow *flow)
{
	const struct reasm_dir *a = &flow->dir[0], *b = &flow->dir[1];

	if ((a->head_len == 4 && memcmp(a->head, reasm_ssh_magic, 4) == 0) ||
	    (b->head_len == 4 && memcmp(b->head, reasm_ssh_magic, 4) == 0))
		flow->kind = REASM_KIND_SSH;
	else if (a->head_len == 4 && b->head_len == 4)
		flow->kind = REASM_KIND_OTHER;
}

static bool
reasm_sniffer_done(const struct reasm_dir *dir)
{
	return dir->sniffer != NULL && kb_sniffer_state(dir->sniffer) >= KB_SNIFF_DONE;
}

/* Stops the work on a flow that needs nothing more from the capture. */
static void
reasm_retire(struct reasm_flow *flow)
{
	reasm_free_pending(flow, &flow->dir[0]);
	reasm_free_pending(flow, &flow->dir[1]);
	flow->finished = true;
}

static int
reasm_deliver(struct reasm_flow *flow, int d, const uint8_t *data, size_t len,
    int64_t ts_us)
{
	struct reasm_dir *dir = &flow->dir[d];
	enum kb_role role;
	size_t n;

	if (ts_us > dir->last_us || !dir->has_data)
		dir->last_us = ts_us;
	if (!dir->has_data)
		dir->first_data_us = ts_us;
	dir->has_data = true;
	dir->next += (uint32_t)len;

	n = 4 - dir->head_len < len ? 4 - dir->head_len : len;
	memcpy(dir->head + dir->head_len, data, n);
	dir->head_len += n;
	if (flow->kind == REASM_KIND_UNKNOWN)
		reasm_classify(flow);
	if (flow->kind == REASM_KIND_OTHER) {
		reasm_retire(flow);
		return KB_OK;
	}

	/* Without the handshake the role is unknown; a server may send more. */
	if (dir->sniffer == NULL) {
		role = flow->client < 0 || flow->client != d ? KB_ROLE_SERVER :
		    KB_ROLE_CLIENT;
		if ((dir->sniffer = kb_sniffer_new(role)) == NULL)
			return KB_ERR_ALLOC_FAIL;
	}
	if (kb_sniffer_state(dir->sniffer) < KB_SNIFF_DONE) {
		/* A malformed stream ends in KB_SNIFF_FAILED, which the report names. */
		(void)kb_sniffer_feed(dir->sniffer, data, len);
		if (kb_sniffer_state(dir->sniffer) == KB_SNIFF_DONE)
			dir->kexinit_us = dir->last_us;
	}
	if (reasm_sniffer_done(&flow->dir[0]) && reasm_sniffer_done(&flow->dir[1]))
		reasm_retire(flow);
	return KB_OK;
}

/*
 * Takes the part of a segment at seq that is new, trimming what was already
 * delivered (retransmissions and overlaps keep the first copy). Returns 1
 * when the segment starts beyond the next expected byte and must wait.
 */
static int
reasm_accept(struct reasm_flow *flow, int d, uint32_t seq, const uint8_t *data,
    size_t len, int64_t ts_us, int *r)
{
	struct reasm_dir *dir = &flow->dir[d];
	uint32_t off = seq - dir->start, skip;

	*r = KB_OK;
	if (off >= REASM_BEFORE_START) {
		/* Starts before the first byte: keep only what follows it. */
		skip = dir->start - seq;
		if (skip >= len)
			return 0;
		data += skip;
		len -= skip;
		off = 0;
	}
	if (off > dir->next)
		return 1;
	skip = dir->next - off;
	if (skip >= len)
		return 0;
	*r = reasm_deliver(flow, d, data + skip, len - skip, ts_us);
	return 0;
}

/* Delivers the waiting segments that have become contiguous. */
static int
reasm_drain(struct reasm_flow *flow, int d)
{
	struct reasm_dir *dir = &flow->dir[d];
	struct reasm_segment *seg;
	int r = KB_OK;

	while ((seg = dir->pending) != NULL && !flow->finished &&
	    flow->kind != REASM_KIND_OTHER) {
		if (reasm_accept(flow, d, seg->seq, seg->data, seg->len,
		    seg->ts_us, &r) == 1)
			break;
		if (flow->finished || dir->pending != seg)
			break;	/* reasm_retire freed the list */
		dir->pending = seg->next;
		flow->pending_bytes -= seg->len;
		free(seg);
		if (r != KB_OK)
			break;
	}
	return r;
}

/* Sort key of a waiting segment: its distance from the first one held. */
static int32_t
reasm_pending_key(const struct reasm_dir *dir, uint32_t seq)
{
	uint32_t ref = dir->start_known ? dir->start : dir->pending->seq;

	return (int32_t)(seq - ref);
}

/* Holds a copy of a segment, in sequence order, within the flow's budget. */
static int
reasm_hold(struct reasm_flow *flow, int d, uint32_t seq, const uint8_t *data,
    size_t len, int64_t ts_us)
{
	struct reasm_dir *dir = &flow->dir[d];
	struct reasm_segment *seg, **pp;

	if (flow->pending_bytes + len > REASM_FLOW_BUFFER_MAX) {
		flow->overflow = true;
		return KB_ERR_BUFFER_LIMIT;
	}
	if ((seg = malloc(sizeof(*seg) + len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	seg->seq = seq;
	seg->ts_us = ts_us;
	seg->len = len;
	memcpy(seg->data, data, len);
	pp = &dir->pending;
	while (*pp != NULL && reasm_pending_key(dir, (*pp)->seq) <=
	    reasm_pending_key(dir, seq))
		pp = &(*pp)->next;
	seg->next = *pp;
	*pp = seg;
	flow->pending_bytes += len;
	return KB_OK;
}

/* Takes the lowest sequence number held as the start of a direction without a SYN. */
static int
reasm_settle_start(struct reasm_flow *flow, int d)
{
	struct reasm_dir *dir = &flow->dir[d];

	if (dir->start_known || dir->pending == NULL)
		return KB_OK;
	dir->start_known = true;
	dir->start = dir->pending->seq;
	dir->next = 0;
	return reasm_drain(flow, d);
}

/* Marks a direction whose next bytes are not in the capture. */
static void
reasm_mark_gap(struct reasm_flow *flow, int d)
{
	struct reasm_dir *dir = &flow->dir[d];

	if (!dir->gap) {
		dir->gap = true;
		dir->gap_offset = dir->next;
	}
	reasm_free_pending(flow, dir);
}

static int
reasm_add_data(struct reasm_flow *flow, int d, uint32_t seq,
    const struct capfile_segment *seg)
{
	struct reasm_dir *dir = &flow->dir[d];
	int r;

	if (dir->gap)
		return KB_OK;
	if (dir->start_known) {
		if (reasm_accept(flow, d, seq, seg->payload, seg->len, seg->ts_us,
		    &r) == 0)
			return r != KB_OK ? r : reasm_drain(flow, d);
	}
	r = reasm_hold(flow, d, seq, seg->payload, seg->len, seg->ts_us);
	if (r != KB_ERR_BUFFER_LIMIT)
		return r;

	/* The budget is spent: settle or give up on this direction. */
	if (!dir->start_known) {
		if ((r = reasm_settle_start(flow, d)) != KB_OK)
			return r;
		if (!flow->finished && reasm_hold(flow, d, seq, seg->payload,
		    seg->len, seg->ts_us) == KB_OK)
			return KB_OK;
	}
	if (!flow->finished)
		reasm_mark_gap(flow, d);
	return KB_OK;
}

static void
reasm_on_syn(struct reasm_flow *flow, int d, const struct capfile_segment *seg)
{
	struct reasm_dir *dir = &flow->dir[d];

	if (!dir->syn_seen && !dir->has_data) {
		dir->syn_seen = true;
		dir->start_known = true;
		dir->start = seg->seq + 1;
		dir->next = 0;
	}
	if (flow->roles != REASM_ROLES_HANDSHAKE) {
		/* SYN alone comes from the client, SYN+ACK from the server. */
		flow->client = (seg->flags & CAPFILE_TCP_ACK) == 0 ? d : !d;
		flow->roles = REASM_ROLES_HANDSHAKE;
	}
}

int
reasm_add(struct reasm *reasm, const struct capfile_segment *seg)
{
	struct reasm_flow *flow;
	uint32_t seq = seg->seq;
	int d = 0, r = KB_OK;

	flow = reasm_lookup(reasm, seg, &d);
	if (flow != NULL && reasm_is_new_connection(flow, d, seg)) {
		reasm_unlink(reasm, flow, reasm_bucket(seg));
		flow = NULL;
	}
	if (flow == NULL) {
		d = 0;
		if ((flow = reasm_flow_new(reasm, seg)) == NULL)
			return KB_ERR_ALLOC_FAIL;
	}
	flow->packets++;
	if (seg->flags & CAPFILE_TCP_RST)
		flow->rst = true;
	if (seg->flags & CAPFILE_TCP_FIN)
		flow->dir[d].fin = true;
	if (seg->snapped)
		flow->dir[d].snapped = true;
	if (flow->finished || flow->kind == REASM_KIND_OTHER)
		return KB_OK;

	if (seg->flags & CAPFILE_TCP_SYN) {
		reasm_on_syn(flow, d, seg);
		seq++;	/* data in a SYN (TCP Fast Open) follows the SYN's number */
		if ((r = reasm_drain(flow, d)) != KB_OK)
			return r;
	}
	if (seg->len > 0 && !flow->finished)
		r = reasm_add_data(flow, d, seq, seg);
	return r;
}

/* Roles without a handshake. */

static bool
reasm_kex_has(const struct reasm_dir *dir, const char *a, const char *b)
{
	const struct kb_kexinit *kexinit;

	if (dir->sniffer == NULL || (kexinit = kb_sniffer_kexinit(dir->sniffer)) == NULL)
		return false;
	return kb_namelist_contains(&kexinit->lists[KB_CAT_KEX], a) ||
	    kb_namelist_contains(&kexinit->lists[KB_CAT_KEX], b);
}

static bool
reasm_sent_prebanner(const struct reasm_dir *dir)
{
	const struct kb_version *version;

	if (dir->sniffer == NULL || (version = kb_sniffer_version(dir->sniffer)) == NULL)
		return dir->head_len == 4 && memcmp(dir->head, reasm_ssh_magic, 4) != 0;
	return version->prebanner_lines > 0;
}

/*
 * Both sides send the same kind of version line first. The data identifies
 * the client only through what only a server sends (lines before its
 * version line, RFC 4253 section 4.2) or through the pseudo-algorithms each
 * side adds to its kex list (RFC 8308, OpenSSH strict kex). The ports are a
 * last resort, and the report names that guess.
 */
static void
reasm_decide_roles(struct reasm_flow *flow)
{
	uint16_t p0 = flow->ep[0].port, p1 = flow->ep[1].port;
	int d;

	for (d = 0; d < 2; d++) {
		if (reasm_sent_prebanner(&flow->dir[d]) &&
		    !reasm_sent_prebanner(&flow->dir[!d])) {
			flow->client = !d;
			flow->roles = REASM_ROLES_BANNER;
			return;
		}
	}
	for (d = 0; d < 2; d++) {
		if (reasm_kex_has(&flow->dir[d], "ext-info-c",
		    "kex-strict-c-v00@openssh.com") ||
		    reasm_kex_has(&flow->dir[!d], "ext-info-s",
		    "kex-strict-s-v00@openssh.com")) {
			flow->client = d;
			flow->roles = REASM_ROLES_KEXINIT;
			return;
		}
	}
	/* The side on port 22, else the lower port, is taken as the server. */
	if (p0 == 22 || (p1 != 22 && p0 < p1))
		flow->client = 1;
	else
		flow->client = 0;
	flow->roles = REASM_ROLES_PORTS;
}

int
reasm_finish(struct reasm *reasm)
{
	struct reasm_flow *flow;
	int d, r;

	for (flow = reasm->head; flow != NULL; flow = flow->next) {
		for (d = 0; d < 2 && !flow->finished; d++) {
			if ((r = reasm_settle_start(flow, d)) != KB_OK)
				return r;
			if (flow->dir[d].pending != NULL)
				reasm_mark_gap(flow, d);
		}
		if (flow->kind == REASM_KIND_SSH && flow->client < 0)
			reasm_decide_roles(flow);
	}
	return KB_OK;
}

bool
reasm_port_has_ssh(const struct reasm *reasm, uint16_t port)
{
	const struct reasm_flow *flow;

	for (flow = reasm->head; flow != NULL; flow = flow->next) {
		if (flow->kind == REASM_KIND_SSH && flow->client >= 0 &&
		    flow->ep[!flow->client].port == port)
			return true;
	}
	return false;
}
