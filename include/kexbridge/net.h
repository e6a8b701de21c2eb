/*
 * Addresses as users write them and as sockets need them: "ADDR:PORT",
 * "[IPv6]:PORT" and "host:port" strings, getaddrinfo(3) resolution, and
 * printing a socket address back in the same form.
 */
#ifndef KEXBRIDGE_NET_H
#define KEXBRIDGE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Maximum host name length (RFC 1035 section 2.3.4) plus its NUL. */
#define KB_NET_HOST_MAX		256
/* "65535" and its NUL. */
#define KB_NET_PORT_MAX		6
/* Room for "[" IPv6 "%scope]:65535" as kb_net_format() writes it. */
#define KB_NET_ADDRSTR_MAX	80

struct kb_net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Splits "HOST:PORT", "[IPv6]:PORT" or, when default_port is not NULL, a bare
 * "HOST" or "[IPv6]" into host (brackets removed) and port. An IPv6 address
 * needs brackets. The port must be a decimal number from 1 to 65535. On
 * failure writes what is wrong to err and returns KB_ERR_INVALID_ARGUMENT.
 */
int kb_net_split(const char *str, const char *default_port,
    char host[KB_NET_HOST_MAX], char port[KB_NET_PORT_MAX], char *err, size_t errlen);

/*
 * Resolves host and port with getaddrinfo(3) into the first TCP address it
 * returns. numeric_only rejects names (for listen addresses, so no lookup
 * blocks). Blocks while a name is looked up. On failure writes the reason to
 * err and returns KB_ERR_NOT_FOUND (or KB_ERR_INVALID_ARGUMENT when
 * numeric_only rejects a name).
 */
int kb_net_resolve(const char *host, const char *port, bool numeric_only,
    struct kb_net_addr *out, char *err, size_t errlen);

/* kb_net_split() followed by kb_net_resolve(). */
int kb_net_parse(const char *str, const char *default_port, bool numeric_only,
    struct kb_net_addr *out, char *err, size_t errlen);

/*
 * Writes sa as "127.0.0.1:2222" or "[::1]:2222" into out and returns out.
 * An address family other than IPv4 or IPv6 is written as "?".
 */
const char *kb_net_format(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen);

#endif
