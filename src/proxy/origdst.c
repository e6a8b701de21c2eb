/*
 * Original destinations of intercepted connections, and the allow-list that
 * limits them (entry forms in origdst.h).
 *
 * iptables REDIRECT rewrites the destination to the listener, so the address
 * the client asked for lives only in the conntrack entry, which
 * SO_ORIGINAL_DST (IPv4) and IP6T_SO_ORIGINAL_DST (IPv6) read back. TPROXY
 * leaves the packet alone and delivers it to a listener that has
 * IP_TRANSPARENT set, so the accepted socket's local address is the original
 * destination.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/json.h"
#include "kexbridge/log.h"
#include "kexbridge/origdst.h"
#include "session.h"

int
kb_transparent_from_str(const char *str)
{
	if (str == NULL)
		return -1;
	if (strcmp(str, "no") == 0)
		return KB_TRANSPARENT_NO;
	if (strcmp(str, "redirect") == 0)
		return KB_TRANSPARENT_REDIRECT;
	if (strcmp(str, "tproxy") == 0)
		return KB_TRANSPARENT_TPROXY;
	return -1;
}

const char *
kb_transparent_str(enum kb_transparent mode)
{
	switch (mode) {
	case KB_TRANSPARENT_NO:
		return "no";
	case KB_TRANSPARENT_REDIRECT:
		return "redirect";
	case KB_TRANSPARENT_TPROXY:
		return "tproxy";
	}
	return "?";
}

/* Parses a decimal number from min to max that fills all of str. */
static bool
origdst_parse_uint(const char *str, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long val = 0;
	size_t i;

	if (str[0] == '\0' || strlen(str) > 5)
		return false;
	for (i = 0; str[i] != '\0'; i++) {
		if (str[i] < '0' || str[i] > '9')
			return false;
		val = val * 10 + (unsigned long)(str[i] - '0');
	}
	if (val < min || val > max)
		return false;
	*out = val;
	return true;
}

/* Returns true when a bit after the first prefix bits of addr is set. */
static bool
origdst_host_bits_set(const uint8_t *addr, size_t addrlen, unsigned int prefix)
{
	size_t i;

	for (i = 0; i < addrlen; i++) {
		unsigned int first = (unsigned int)i * 8;
		uint8_t keep;

		if (first + 8 <= prefix)
			continue;
		keep = first >= prefix ? 0 : (uint8_t)(0xff << (8 - (prefix - first)));
		if ((addr[i] & (uint8_t)~keep) != 0)
			return true;
	}
	return false;
}

/*
 * Splits an entry into its address, prefix and port texts. The forms are
 * "A[/P][:PORT]" for IPv4, "[A][/P][:PORT]" and a bare "A[/P]" for IPv6.
 */
static bool
origdst_split_allow(char *buf, char **addr, char **prefix, char **port)
{
	char *end;
	size_t colons = 0, i;

	*prefix = NULL;
	*port = NULL;
	*addr = buf;
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL)
			return false;
		*end++ = '\0';
		*addr = buf + 1;
		if (*end == '/') {
			*end++ = '\0';
			*prefix = end;
			end += strcspn(end, ":");
		}
		if (*end == ':') {
			*end++ = '\0';
			*port = end;
		} else if (*end != '\0') {
			return false;
		}
		return true;
	}

	/* One colon separates an IPv4 port. More colons make a bare IPv6 address, without a port. */
	for (i = 0; buf[i] != '\0'; i++)
		colons += buf[i] == ':';
	if (colons == 1) {
		end = strchr(buf, ':');
		*end++ = '\0';
		*port = end;
	}
	if ((end = strchr(buf, '/')) != NULL) {
		*end++ = '\0';
		*prefix = end;
	}
	return true;
}

int
kb_origdst_parse_allow(const char *str, size_t len, struct kb_origdst_allow *out,
    char *err, size_t errlen)
{
	char buf[128], *addr, *prefix, *port;
	unsigned long val;
	size_t addrlen;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(buf))
		goto bad;
	memcpy(buf, str, len);
	buf[len] = '\0';
	if (!origdst_split_allow(buf, &addr, &prefix, &port))
		goto bad;

	if (inet_pton(AF_INET, addr, out->addr) == 1 && buf[0] != '[') {
		out->family = AF_INET;
		addrlen = 4;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		addrlen = 16;
	} else {
		goto bad;
	}

	out->prefix = (unsigned int)addrlen * 8;
	if (prefix != NULL) {
		if (!origdst_parse_uint(prefix, 0, addrlen * 8, &val))
			goto bad;
		out->prefix = (unsigned int)val;
	}
	if (port != NULL) {
		if (!origdst_parse_uint(port, 1, 65535, &val))
			goto bad;
		out->port = (uint16_t)val;
	}
	if (origdst_host_bits_set(out->addr, addrlen, out->prefix)) {
		snprintf(err, errlen, _("invalid allow entry '%.*s': the address has bits set "
		    "after the /%u prefix; write the network address"), (int)len, str,
		    out->prefix);
		return KB_ERR_INVALID_ARGUMENT;
	}
	return 0;
 bad:
	snprintf(err, errlen, _("invalid allow entry '%.*s'; expected ADDR[/PREFIX][:PORT], "
	    "[IPv6][/PREFIX][:PORT] or IPv6[/PREFIX], numeric only"), (int)(len < 100 ? len : 100),
	    str);
	return KB_ERR_INVALID_ARGUMENT;
}

/*
 * Reduces sa to family, address bytes and port, turning an IPv4-mapped IPv6
 * address into IPv4. Returns false for other families or a short length.
 */
static bool
origdst_unpack(const struct sockaddr *sa, socklen_t len, int *family, uint8_t addr[16],
    uint16_t *port)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET && len >= sizeof(*sin)) {
		*family = AF_INET;
		memcpy(addr, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
		return true;
	}
	if (sa->sa_family != AF_INET6 || len < sizeof(*sin6))
		return false;
	*port = ntohs(sin6->sin6_port);
	if (memcmp(sin6->sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		memcpy(addr, sin6->sin6_addr.s6_addr + 12, 4);
		return true;
	}
	*family = AF_INET6;
	memcpy(addr, sin6->sin6_addr.s6_addr, 16);
	return true;
}

bool
kb_origdst_allow_match(const struct kb_origdst_allow *entry, const struct sockaddr *sa,
    socklen_t len)
{
	uint8_t addr[16];
	uint16_t port;
	unsigned int full, rest;
	int family;

	if (!origdst_unpack(sa, len, &family, addr, &port) || family != entry->family)
		return false;
	if (entry->port != 0 && entry->port != port)
		return false;
	full = entry->prefix / 8;
	rest = entry->prefix % 8;
	if (memcmp(addr, entry->addr, full) != 0)
		return false;
	if (rest != 0 && ((addr[full] ^ entry->addr[full]) & (uint8_t)(0xff << (8 - rest))) != 0)
		return false;
	return true;
}

bool
kb_origdst_allowed(const struct kb_origdst_allow *list, size_t count,
    const struct sockaddr *sa, socklen_t len)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (kb_origdst_allow_match(&list[i], sa, len))
			return true;
	}
	return false;
}

/*
 * Returns true when addr (port ignored) belongs to this host: binding a
 * datagram socket to it succeeds only for a local address. When that cannot
 * be tested it returns true, so a doubtful connection is refused rather than
 * relayed back to kexbridge.
 * NOTE: with net.ipv4.ip_nonlocal_bind = 1 every address counts as local.
 */
static bool
origdst_addr_is_local(const struct kb_net_addr *addr)
{
	struct sockaddr_storage ss = addr->ss;
	bool local;
	int fd;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return true;
	local = bind(fd, (struct sockaddr *)&ss, addr->len) == 0 || errno != EADDRNOTAVAIL;
	close(fd);
	return local;
}

bool
kb_origdst_is_listener(const struct kb_net_addr *dst, const struct kb_net_addr *listen)
{
	static const uint8_t any[16];
	uint8_t dst_addr[16], listen_addr[16];
	uint16_t dst_port, listen_port;
	int dst_family, listen_family;
	size_t addrlen;

	if (!origdst_unpack((const struct sockaddr *)&dst->ss, dst->len, &dst_family,
	    dst_addr, &dst_port) ||
	    !origdst_unpack((const struct sockaddr *)&listen->ss, listen->len, &listen_family,
	    listen_addr, &listen_port))
		return false;
	if (dst_port != listen_port || dst_family != listen_family)
		return false;
	addrlen = dst_family == AF_INET ? 4 : 16;
	if (memcmp(listen_addr, any, addrlen) == 0)
		return origdst_addr_is_local(dst);
	return memcmp(dst_addr, listen_addr, addrlen) == 0;
}

int
kb_origdst_prepare_listener(int fd, int family, enum kb_transparent mode,
    char *err, size_t errlen)
{
	int on = 1, rc;

	if (mode != KB_TRANSPARENT_TPROXY)
		return 0;
	if (family == AF_INET6)
		rc = setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof(on));
	else
		rc = setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof(on));
	if (rc != 0) {
		snprintf(err, errlen, _("cannot set %s for transparent = tproxy: %s; "
		    "TPROXY needs CAP_NET_ADMIN (run as root or grant the capability)"),
		    family == AF_INET6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT", strerror(errno));
		return KB_ERR_SYSTEM;
	}
	return 0;
}

int
kb_origdst_get(int fd, enum kb_transparent mode, struct kb_net_addr *out)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	memset(out, 0, sizeof(*out));
	if (mode == KB_TRANSPARENT_NO)
		return KB_ERR_INVALID_ARGUMENT;
	if (getsockname(fd, (struct sockaddr *)&local, &len) != 0)
		return KB_ERR_SYSTEM;
	if (mode == KB_TRANSPARENT_TPROXY) {
		out->ss = local;
		out->len = len;
		return 0;
	}

	/* REDIRECT: conntrack keeps the destination from before the rewrite. */
	len = sizeof(out->ss);
	if (local.ss_family == AF_INET6 &&
	    getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &out->ss, &len) == 0) {
		out->len = len;
		return 0;
	}
	if (local.ss_family == AF_INET &&
	    getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &out->ss, &len) == 0) {
		out->len = len;
		return 0;
	}
	return KB_ERR_NOT_FOUND;
}

/* Logs a connection turned away before any upstream connection was made. */
static void
origdst_log_refused(const struct kb_route *route, const char *client_str,
    const char *dst_str, const char *reason, const char *text)
{
	struct kb_json *json = kb_json_new();
	char id[KB_SESSION_ID_LEN];

	kb_session_new_id(id);
	if (json != NULL) {
		kb_json_str(json, "event", "refused");
		kb_json_str(json, "route", route->name);
		kb_json_str(json, "client", client_str);
		kb_json_str(json, "original_destination", dst_str);
		kb_json_str(json, "reason", reason);
	}
	kb_log_event(KB_LOG_WARN, id, json, text);
}

int
kb_origdst_pick_upstream(const struct kb_route *route, const struct kb_net_addr *listen,
    int fd, const char *client_str, struct kb_net_addr *out)
{
	char dst_str[KB_NET_ADDRSTR_MAX], text[512];

	if (kb_origdst_get(fd, route->transparent, out) != 0) {
		snprintf(text, sizeof(text), _("refused client %s on route %s: no original "
		    "destination (is the iptables REDIRECT rule in place?)"), client_str,
		    route->name);
		origdst_log_refused(route, client_str, "", "no_original_destination", text);
		return KB_ERR_NOT_FOUND;
	}
	kb_net_format((const struct sockaddr *)&out->ss, out->len, dst_str, sizeof(dst_str));

	if (kb_origdst_is_listener(out, listen)) {
		snprintf(text, sizeof(text), _("refused client %s on route %s: original "
		    "destination %s is kexbridge's own listener"), client_str, route->name,
		    dst_str);
		origdst_log_refused(route, client_str, dst_str, "loop", text);
		return KB_ERR_INVALID_ARGUMENT;
	}
	if (!kb_origdst_allowed(route->allow, route->allow_count,
	    (const struct sockaddr *)&out->ss, out->len)) {
		snprintf(text, sizeof(text), _("refused client %s on route %s: original "
		    "destination %s is not in the allow list"), client_str, route->name, dst_str);
		origdst_log_refused(route, client_str, dst_str, "not_allowed", text);
		return KB_ERR_INVALID_ARGUMENT;
	}
	return 0;
}
