/*
 * Transparent interception on Linux: the original destination of a
 * connection that iptables REDIRECT or TPROXY sent to a listener, and the
 * allow-list that decides which original destinations kexbridge may connect
 * to, so that a transparent route is never an open relay.
 *
 * Allow-list entries, numeric only:
 *
 *   10.203.2.7             one IPv4 address, any port
 *   10.203.2.0/24:22       an IPv4 network, port 22
 *   [fd00:203:2::7]:22     one IPv6 address, port 22
 *   [fd00:203:2::]/64:22   an IPv6 network, port 22
 *   fd00:203:2::/64        an IPv6 network, any port (no brackets, no port)
 */
#ifndef KEXBRIDGE_ORIGDST_H
#define KEXBRIDGE_ORIGDST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "kexbridge/net.h"

struct kb_route;

/* Source of each connection's upstream address on a route. */
enum kb_transparent {
	KB_TRANSPARENT_NO,		/* the route's static upstream */
	KB_TRANSPARENT_REDIRECT,	/* iptables REDIRECT: SO_ORIGINAL_DST */
	KB_TRANSPARENT_TPROXY,		/* iptables TPROXY: the accepted local address */
};

/* One allow-list entry. */
struct kb_origdst_allow {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network byte order; IPv4 uses 4 bytes */
	unsigned int prefix;		/* leading bits that must match */
	uint16_t port;			/* host byte order; 0 matches any port */
};

/* Parses "no", "redirect" or "tproxy"; returns -1 for anything else. */
int kb_transparent_from_str(const char *str);
const char *kb_transparent_str(enum kb_transparent mode);

/*
 * Parses one allow-list entry of len bytes (forms above). Bits set after the
 * prefix are an error, since "10.0.0.5/24" is more likely a typing mistake
 * than a network. On failure writes what is wrong to err and returns
 * KB_ERR_INVALID_ARGUMENT.
 */
int kb_origdst_parse_allow(const char *str, size_t len, struct kb_origdst_allow *out,
    char *err, size_t errlen);

/*
 * Returns true when sa matches entry. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) matches as the IPv4 address. Touches no socket.
 */
bool kb_origdst_allow_match(const struct kb_origdst_allow *entry,
    const struct sockaddr *sa, socklen_t len);

/* Returns true when sa matches any of the count entries. */
bool kb_origdst_allowed(const struct kb_origdst_allow *list, size_t count,
    const struct sockaddr *sa, socklen_t len);

/*
 * Returns true when dst is the listener's own address and port: the same
 * address, or any address of this host when the listener is bound to the
 * wildcard address. Such a connection reached kexbridge directly, and
 * relaying it would connect kexbridge to itself.
 */
bool kb_origdst_is_listener(const struct kb_net_addr *dst, const struct kb_net_addr *listen);

/*
 * Prepares a listening socket of the given family before bind(2): TPROXY
 * needs IP_TRANSPARENT or IPV6_TRANSPARENT, which needs CAP_NET_ADMIN. Does
 * nothing for the other modes. On failure writes the reason to err and
 * returns KB_ERR_SYSTEM.
 */
int kb_origdst_prepare_listener(int fd, int family, enum kb_transparent mode,
    char *err, size_t errlen);

/*
 * Stores the original destination of the accepted connection fd in out:
 * SO_ORIGINAL_DST or IP6T_SO_ORIGINAL_DST from conntrack for REDIRECT, the
 * local address for TPROXY. Returns KB_ERR_NOT_FOUND when the kernel has no
 * original destination for it, KB_ERR_INVALID_ARGUMENT for
 * KB_TRANSPARENT_NO.
 */
int kb_origdst_get(int fd, enum kb_transparent mode, struct kb_net_addr *out);

/*
 * Picks the upstream of a connection accepted on a transparent route: its
 * original destination, if route's allow-list contains it and it is not the
 * listener itself. Otherwise logs a "refused" event naming client_str, the
 * original destination and the route, and returns KB_ERR_NOT_FOUND
 * (no original destination) or KB_ERR_INVALID_ARGUMENT (not allowed, or a
 * loop). The caller closes fd; nothing has connected anywhere.
 */
int kb_origdst_pick_upstream(const struct kb_route *route, const struct kb_net_addr *listen,
    int fd, const char *client_str, struct kb_net_addr *out);

#endif
