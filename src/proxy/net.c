/*
 * Parsing, resolving and printing "host:port" addresses.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/net.h"

/* Accepts 1..65535 written in decimal digits only. */
static bool
net_port_valid(const char *port)
{
	unsigned long val = 0;
	size_t i;

	if (port[0] == '\0' || strlen(port) > 5)
		return false;
	for (i = 0; port[i] != '\0'; i++) {
		if (port[i] < '0' || port[i] > '9')
			return false;
		val = val * 10 + (unsigned long)(port[i] - '0');
	}
	return val >= 1 && val <= 65535;
}

/* Copies len bytes of src into a NUL-terminated dst of size dstlen. */
static bool
net_copy(char *dst, size_t dstlen, const char *src, size_t len)
{
	if (len >= dstlen)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

int
kb_net_split(const char *str, const char *default_port,
    char host[KB_NET_HOST_MAX], char port[KB_NET_PORT_MAX], char *err, size_t errlen)
{
	const char *host_start, *host_end, *port_str = NULL, *colon;

	if (str == NULL || str[0] == '\0') {
		snprintf(err, errlen, "%s", _("empty address"));
		return KB_ERR_INVALID_ARGUMENT;
	}

	if (str[0] == '[') {
		/* RFC 3986 section 3.2.2: an IPv6 literal sits in brackets. */
		host_start = str + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL) {
			snprintf(err, errlen, _("missing ']' in '%s'"), str);
			return KB_ERR_INVALID_ARGUMENT;
		}
		if (host_end[1] == ':')
			port_str = host_end + 2;
		else if (host_end[1] != '\0') {
			snprintf(err, errlen, _("unexpected text after ']' in '%s'"), str);
			return KB_ERR_INVALID_ARGUMENT;
		}
	} else {
		host_start = str;
		colon = strchr(str, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			snprintf(err, errlen,
			    _("IPv6 address '%s' needs brackets, e.g. [::1]:22"), str);
			return KB_ERR_INVALID_ARGUMENT;
		}
		host_end = colon != NULL ? colon : str + strlen(str);
		if (colon != NULL)
			port_str = colon + 1;
	}

	if (host_end == host_start) {
		snprintf(err, errlen, _("missing host in '%s'"), str);
		return KB_ERR_INVALID_ARGUMENT;
	}
	if (!net_copy(host, KB_NET_HOST_MAX, host_start, (size_t)(host_end - host_start))) {
		snprintf(err, errlen, _("host name in '%s' is too long"), str);
		return KB_ERR_INVALID_ARGUMENT;
	}
	if (port_str == NULL)
		port_str = default_port;
	if (port_str == NULL) {
		snprintf(err, errlen, _("missing port in '%s'; expected HOST:PORT"), str);
		return KB_ERR_INVALID_ARGUMENT;
	}
	if (!net_port_valid(port_str)) {
		snprintf(err, errlen, _("invalid port '%s' in '%s'; expected 1 to 65535"),
		    port_str, str);
		return KB_ERR_INVALID_ARGUMENT;
	}
	net_copy(port, KB_NET_PORT_MAX, port_str, strlen(port_str));
	return 0;
}

int
kb_net_resolve(const char *host, const char *port, bool numeric_only,
    struct kb_net_addr *out, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (numeric_only ? AI_NUMERICHOST : 0);

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_NONAME && numeric_only) {
		snprintf(err, errlen,
		    _("'%s' is not a numeric IPv4 or IPv6 address"), host);
		return KB_ERR_INVALID_ARGUMENT;
	}
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen, _("cannot resolve '%s': %s"), host,
		    rc != 0 ? gai_strerror(rc) : _("no address"));
		if (res != NULL)
			freeaddrinfo(res);
		return KB_ERR_NOT_FOUND;
	}

	/* TODO: try every address getaddrinfo returns, not only the first. */
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
kb_net_parse(const char *str, const char *default_port, bool numeric_only,
    struct kb_net_addr *out, char *err, size_t errlen)
{
	char host[KB_NET_HOST_MAX], port[KB_NET_PORT_MAX];
	int r;

	if ((r = kb_net_split(str, default_port, host, port, err, errlen)) != 0)
		return r;
	return kb_net_resolve(host, port, numeric_only, out, err, errlen);
}

const char *
kb_net_format(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, outlen, "?");
		return out;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(out, outlen, "[%s]:%s", host, port);
	else
		snprintf(out, outlen, "%s:%s", host, port);
	return out;
}
