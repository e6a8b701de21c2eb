/*
 * Reads pcap and pcapng files through libpcap and decodes each frame down to
 * its TCP segment. Link types: Ethernet (with 802.1Q and QinQ tags), Linux
 * cooked capture v1 and v2, raw IP and BSD loopback. IPv4 options and IPv6
 * extension headers are skipped. Fragments are counted and skipped, because
 * the version line and KEXINIT travel in ordinary segments.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"

#include "pcap_internal.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2		276
#endif

#define ETHERTYPE_IPV4		0x0800
#define ETHERTYPE_IPV6		0x86dd
#define ETHERTYPE_VLAN		0x8100	/* 802.1Q */
#define ETHERTYPE_QINQ		0x88a8	/* 802.1ad service tag */
#define ETHERTYPE_QINQ_OLD	0x9100	/* pre-standard QinQ */

#define IPPROTO_NUM_TCP		6

struct capfile {
	pcap_t *pcap;
	int linktype;
	struct capfile_stats stats;
};

static uint16_t
capfile_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
capfile_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool
capfile_linktype_supported(int linktype)
{
	switch (linktype) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_NULL:
	case DLT_LOOP:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
		return true;
	default:
		return false;
	}
}

static int
capfile_set_filter(struct capfile *file, const char *filter, char *err,
    size_t errlen)
{
	struct bpf_program prog;
	int r = KB_OK;

	if (pcap_compile(file->pcap, &prog, filter, 1,
	    PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, _("invalid filter \"%s\": %s"), filter,
		    pcap_geterr(file->pcap));
		return KB_ERR_INVALID_ARGUMENT;
	}
	if (pcap_setfilter(file->pcap, &prog) != 0) {
		snprintf(err, errlen, _("cannot apply the filter \"%s\": %s"),
		    filter, pcap_geterr(file->pcap));
		r = KB_ERR_INVALID_ARGUMENT;
	}
	pcap_freecode(&prog);
	return r;
}

int
capfile_open(const char *path, const char *filter, struct capfile **out,
    char *err, size_t errlen, const char **key)
{
	char pcap_err[PCAP_ERRBUF_SIZE] = "";
	struct capfile *file;
	const char *name;
	FILE *fp;
	int r;

	*out = NULL;
	*key = "cannot_open";
	/* fopen first, so a missing file is distinguished from a bad one. */
	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, _("cannot open the file: %s"), strerror(errno));
		return KB_ERR_SYSTEM;
	}
	if ((file = calloc(1, sizeof(*file))) == NULL) {
		fclose(fp);
		return KB_ERR_ALLOC_FAIL;
	}
	/* pcap_fopen_offline owns fp from here on, also when it fails. */
	if ((file->pcap = pcap_fopen_offline_with_tstamp_precision(fp,
	    PCAP_TSTAMP_PRECISION_MICRO, pcap_err)) == NULL) {
		snprintf(err, errlen, _("not a pcap or pcapng capture (libpcap: %s)"),
		    pcap_err);
		*key = "not_a_capture";
		free(file);
		return KB_ERR_INVALID_ARGUMENT;
	}
	file->linktype = pcap_datalink(file->pcap);
	if (!capfile_linktype_supported(file->linktype)) {
		name = pcap_datalink_val_to_name(file->linktype);
		snprintf(err, errlen, _("link type %s (%d) is not supported; "
		    "capture on an Ethernet or loopback interface, or with "
		    "\"-i any\""), name != NULL ? name : "?", file->linktype);
		*key = "unsupported_link_type";
		capfile_close(file);
		return KB_ERR_INVALID_ARGUMENT;
	}
	*key = "invalid_filter";
	if (filter != NULL &&
	    (r = capfile_set_filter(file, filter, err, errlen)) != KB_OK) {
		capfile_close(file);
		return r;
	}
	*out = file;
	return KB_OK;
}

void
capfile_close(struct capfile *file)
{
	if (file == NULL)
		return;
	if (file->pcap != NULL)
		pcap_close(file->pcap);
	free(file);
}

const struct capfile_stats *
capfile_stats(const struct capfile *file)
{
	return &file->stats;
}

int
capfile_next(struct capfile *file, struct capfile_segment *seg, char *err,
    size_t errlen)
{
	struct pcap_pkthdr *hdr;
	const u_char *data;
	int r;

	for (;;) {
		r = pcap_next_ex(file->pcap, &hdr, &data);
		if (r == PCAP_ERROR_BREAK)
			return 0;
		if (r != 1) {
			snprintf(err, errlen, "%s", pcap_geterr(file->pcap));
			return KB_ERR_MESSAGE_TRUNCATED;
		}
		file->stats.packets++;
		if (capfile_decode(file->linktype, data, hdr->caplen, seg,
		    &file->stats) == 0)
			continue;
		seg->ts_us = (int64_t)hdr->ts.tv_sec * 1000000 + hdr->ts.tv_usec;
		return 1;
	}
}

/* Link layers. Each returns the offset of the IP header and its version (4 or 6), or -1. */

static int
capfile_skip_ethernet(const uint8_t *frame, size_t caplen, size_t *off)
{
	uint16_t type;

	if (caplen < 14)
		return -1;
	type = capfile_be16(frame + 12);
	*off = 14;
	/* Any number of 802.1Q, 802.1ad and old QinQ tags, 4 bytes each. */
	while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ ||
	    type == ETHERTYPE_QINQ_OLD) {
		if (caplen < *off + 4)
			return -1;
		type = capfile_be16(frame + *off + 2);
		*off += 4;
	}
	return type;
}

static int
capfile_ethertype_version(int type)
{
	if (type == ETHERTYPE_IPV4)
		return 4;
	if (type == ETHERTYPE_IPV6)
		return 6;
	return 0;
}

/*
 * DLT_NULL stores the address family in the capturing host's byte order,
 * DLT_LOOP in network order. IPv6 is 10 on Linux, 24, 28 or 30 on the BSDs
 * and macOS.
 */
static int
capfile_family_version(uint32_t family)
{
	if (family == 2)
		return 4;
	if (family == 10 || family == 24 || family == 28 || family == 30)
		return 6;
	return 0;
}

static int
capfile_link_ip(int linktype, const uint8_t *frame, size_t caplen, size_t *off)
{
	uint32_t family;
	int type;

	*off = 0;
	switch (linktype) {
	case DLT_EN10MB:
		if ((type = capfile_skip_ethernet(frame, caplen, off)) < 0)
			return -1;
		return capfile_ethertype_version(type);
	case DLT_LINUX_SLL:
		/* 16-byte header, protocol in its last two bytes. */
		if (caplen < 16)
			return -1;
		*off = 16;
		return capfile_ethertype_version(capfile_be16(frame + 14));
	case DLT_LINUX_SLL2:
		/* 20-byte header, protocol first. */
		if (caplen < 20)
			return -1;
		*off = 20;
		return capfile_ethertype_version(capfile_be16(frame));
	case DLT_NULL:
	case DLT_LOOP:
		if (caplen < 4)
			return -1;
		*off = 4;
		family = capfile_be32(frame);
		if (linktype == DLT_NULL && family > 0xffff)
			family = (uint32_t)frame[0] | (uint32_t)frame[1] << 8 |
			    (uint32_t)frame[2] << 16 | (uint32_t)frame[3] << 24;
		return capfile_family_version(family);
	default:
		/* DLT_RAW, DLT_IPV4, DLT_IPV6: the version nibble gives the IP version. */
		if (caplen < 1)
			return -1;
		return frame[0] >> 4;
	}
}

/* Network layers. Each sets *l4 and *l4len to the TCP header and what follows. */

static int
capfile_ipv4(const uint8_t *ip, size_t caplen, struct capfile_segment *seg,
    const uint8_t **l4, size_t *l4len, struct capfile_stats *stats)
{
	size_t ihl, total;

	if (caplen < 20 || (ip[0] >> 4) != 4 || (ihl = (size_t)(ip[0] & 0x0f) * 4) < 20 ||
	    caplen < ihl) {
		stats->malformed++;
		return 0;
	}
	/* More fragments, or a fragment offset: not the whole datagram. */
	if ((capfile_be16(ip + 6) & 0x3fff) != 0) {
		stats->fragments++;
		return 0;
	}
	if (ip[9] != IPPROTO_NUM_TCP) {
		stats->not_tcp++;
		return 0;
	}
	total = capfile_be16(ip + 2);
	if (total < ihl) {
		stats->malformed++;
		return 0;
	}
	seg->src.family = seg->dst.family = AF_INET;
	memcpy(seg->src.addr, ip + 12, 4);
	memcpy(seg->dst.addr, ip + 16, 4);
	*l4 = ip + ihl;
	/* Ethernet pads short frames, so the IP length marks where data ends. */
	*l4len = (total < caplen ? total : caplen) - ihl;
	if (total > caplen)
		seg->snapped = true;
	return 1;
}

/*
 * Walks the IPv6 extension headers (RFC 8200 section 4) to TCP. A fragment
 * header with an offset or the M flag set means a real fragment.
 */
static int
capfile_ipv6(const uint8_t *ip, size_t caplen, struct capfile_segment *seg,
    const uint8_t **l4, size_t *l4len, struct capfile_stats *stats)
{
	size_t off = 40, end, hlen;
	uint8_t next;

	if (caplen < 40 || (ip[0] >> 4) != 6) {
		stats->malformed++;
		return 0;
	}
	/* A payload length of 0 is a jumbogram, so the capture length is used. */
	end = capfile_be16(ip + 4) == 0 ? caplen : 40 + (size_t)capfile_be16(ip + 4);
	if (end > caplen) {
		seg->snapped = true;
		end = caplen;
	}
	next = ip[6];
	while (next != IPPROTO_NUM_TCP) {
		if (end < off + 8) {
			stats->malformed++;
			return 0;
		}
		switch (next) {
		case 0:		/* hop-by-hop options */
		case 43:	/* routing */
		case 60:	/* destination options */
			hlen = ((size_t)ip[off + 1] + 1) * 8;
			break;
		case 51:	/* authentication header, in 4-byte units */
			hlen = ((size_t)ip[off + 1] + 2) * 4;
			break;
		case 44:	/* fragment */
			if ((capfile_be16(ip + off + 2) & 0xfff9) != 0) {
				stats->fragments++;
				return 0;
			}
			hlen = 8;
			break;
		default:	/* ESP, no next header, another protocol */
			stats->not_tcp++;
			return 0;
		}
		next = ip[off];
		off += hlen;
	}
	if (end < off) {
		stats->malformed++;
		return 0;
	}
	seg->src.family = seg->dst.family = AF_INET6;
	memcpy(seg->src.addr, ip + 8, 16);
	memcpy(seg->dst.addr, ip + 24, 16);
	*l4 = ip + off;
	*l4len = end - off;
	return 1;
}

static int
capfile_tcp(const uint8_t *tcp, size_t len, struct capfile_segment *seg,
    struct capfile_stats *stats)
{
	size_t doff;

	if (len < 20 || (doff = (size_t)(tcp[12] >> 4) * 4) < 20 || len < doff) {
		stats->malformed++;
		return 0;
	}
	seg->src.port = capfile_be16(tcp);
	seg->dst.port = capfile_be16(tcp + 2);
	seg->seq = capfile_be32(tcp + 4);
	seg->flags = tcp[13];
	seg->payload = tcp + doff;
	seg->len = len - doff;
	if (seg->snapped)
		stats->snapped++;
	stats->tcp_segments++;
	return 1;
}

int
capfile_decode(int linktype, const uint8_t *frame, size_t caplen,
    struct capfile_segment *seg, struct capfile_stats *stats)
{
	const uint8_t *l4 = NULL;
	size_t off, l4len = 0;
	int version, r;

	memset(seg, 0, sizeof(*seg));
	if ((version = capfile_link_ip(linktype, frame, caplen, &off)) < 0) {
		stats->malformed++;
		return 0;
	}
	if (version != 4 && version != 6) {
		stats->not_tcp++;
		return 0;
	}
	if (version == 4)
		r = capfile_ipv4(frame + off, caplen - off, seg, &l4, &l4len, stats);
	else
		r = capfile_ipv6(frame + off, caplen - off, seg, &l4, &l4len, stats);
	if (r == 0)
		return 0;
	return capfile_tcp(l4, l4len, seg, stats);
}

void
capfile_endpoint_str(const struct capfile_endpoint *ep, char *out, size_t outlen)
{
	char addr[INET6_ADDRSTRLEN];

	if (inet_ntop(ep->family, ep->addr, addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "?");
	if (ep->family == AF_INET6)
		snprintf(out, outlen, "[%s]:%u", addr, (unsigned int)ep->port);
	else
		snprintf(out, outlen, "%s:%u", addr, (unsigned int)ep->port);
}
