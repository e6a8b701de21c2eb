#include "config.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/json.h"
#include "kexbridge/log.h"
#include "kexbridge/packet.h"

#include "probe_io.h"

/*
 * What we offer so that the peer sends its own KEXINIT and does not give up
 * at once: modern names first, then the legacy ones old peers still need.
 * Pseudo-algorithms (ext-info, strict kex) are left out because we never
 * continue the key exchange.
 */
static const char *const offer_broad[KB_CAT_COUNT] = {
	[KB_CAT_KEX] = "curve25519-sha256,curve25519-sha256@libssh.org,"
	    "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
	    "diffie-hellman-group-exchange-sha256,"
	    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
	    "diffie-hellman-group14-sha256,diffie-hellman-group14-sha1,"
	    "diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1",
	[KB_CAT_HOSTKEY] = "ssh-ed25519,ecdsa-sha2-nistp256,"
	    "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"
	    "rsa-sha2-256,ssh-rsa,ssh-dss",
	[KB_CAT_CIPHER_C2S] = "chacha20-poly1305@openssh.com,"
	    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
	    "aes128-ctr,aes192-ctr,aes256-ctr,"
	    "aes128-cbc,aes192-cbc,aes256-cbc,3des-cbc",
	[KB_CAT_MAC_C2S] = "hmac-sha2-256-etm@openssh.com,"
	    "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,"
	    "hmac-sha2-256,hmac-sha2-512,hmac-sha1,hmac-md5",
	[KB_CAT_COMP_C2S] = "none,zlib@openssh.com,zlib",
};

/* Bytes of the peer's first line kept to show in a "not SSH" message. */
#define PROBE_FIRST_LINE_MAX	96
#define PROBE_READ_CHUNK	4096

struct probe_conn {
	int fd;
	int timeout_ms;
	struct kb_sniffer *sniffer;
	char first_line[PROBE_FIRST_LINE_MAX + 1];
	size_t first_len;
	bool first_done;
	uint64_t received;
	bool eof;
};

/* Target parsing. */

static int
target_copy(char *dst, size_t dstlen, const char *src, size_t len)
{
	if (len == 0 || len >= dstlen)
		return KB_ERR_INVALID_ARGUMENT;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return KB_OK;
}

/* Checks an IPv6 address as inet_pton(3) does, a "%zone" suffix allowed. */
static bool
target_is_ipv6(const char *str, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	struct in6_addr in6;
	const char *zone = memchr(str, '%', len);

	if (zone != NULL)
		len = (size_t)(zone - str);
	if (len >= sizeof(addr))
		return false;
	memcpy(addr, str, len);
	addr[len] = '\0';
	return inet_pton(AF_INET6, addr, &in6) == 1;
}

/*
 * Checks whether an unbracketed "ADDR:PORT" was probably meant: the last
 * group is a port of two or more decimal digits and the text before it is an
 * IPv6 address, as in "::1:2222". A single digit is more likely an address
 * group, as in "::1".
 */
static bool
target_port_meant(const char *arg)
{
	const char *last = strrchr(arg, ':') + 1;
	size_t len = strlen(last);

	if (len < 2 || len > 5 || strspn(last, "0123456789") != len ||
	    atoi(last) < 1 || atoi(last) > 65535)
		return false;
	return target_is_ipv6(arg, (size_t)(last - 1 - arg));
}

int
probe_target_parse(const char *arg, const char *default_port,
    struct probe_target *target)
{
	static const char hint[] = N_("write [ADDR]:PORT for an IPv6 address with a port");
	const char *host = arg, *port = default_port, *colon, *close;
	size_t hostlen;
	bool valid;
	int r;

	memset(target, 0, sizeof(*target));
	if (arg[0] == '[') {
		/* "[v6addr]" or "[v6addr]:port" */
		if ((close = strchr(arg, ']')) == NULL)
			return KB_ERR_INVALID_ARGUMENT;
		host = arg + 1;
		hostlen = (size_t)(close - host);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return KB_ERR_INVALID_ARGUMENT;
	} else if ((colon = strchr(arg, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		/* Exactly one colon: "host:port". */
		hostlen = (size_t)(colon - arg);
		port = colon + 1;
	} else if (colon != NULL) {
		/*
		 * Several colons and no brackets: only a whole IPv6 address, which
		 * takes the default port. Say how to write a port the user may have
		 * meant, because "::1:2222" is itself a valid address.
		 */
		hostlen = strlen(arg);
		valid = target_is_ipv6(arg, hostlen);
		if (target_port_meant(arg) && valid)
			fprintf(stderr, _("kexbridge: '%s' is read as an IPv6 address on port %s; "
			    "%s\n"), arg, default_port, _(hint));
		else if (target_port_meant(arg))
			fprintf(stderr, "kexbridge: %s\n", _(hint));
		if (!valid)
			return KB_ERR_INVALID_ARGUMENT;
	} else {
		/* No colon: a host name or an IPv4 address. */
		hostlen = strlen(arg);
	}

	if ((r = target_copy(target->host, sizeof(target->host), host,
	    hostlen)) != KB_OK ||
	    (r = target_copy(target->port, sizeof(target->port), port,
	    strlen(port))) != KB_OK)
		return r;
	if (strspn(target->port, "0123456789") != strlen(target->port) ||
	    strlen(target->port) > 5 || atoi(target->port) < 1 ||
	    atoi(target->port) > 65535)
		return KB_ERR_INVALID_ARGUMENT;

	snprintf(target->label, sizeof(target->label),
	    strchr(target->host, ':') != NULL ? "[%s]:%s" : "%s:%s",
	    target->host, target->port);
	return KB_OK;
}

/* Offers and packets we send. */

int
probe_offer_init(struct kb_kexinit *offer, enum kb_role sender)
{
	int cat, r;

	/* Both roles send the same broad lists; the parameter keeps room
	 * for role-specific names such as ext-info-c and ext-info-s. */
	(void)sender;
	memset(offer, 0, sizeof(*offer));
	if (getrandom(offer->cookie, sizeof(offer->cookie), 0) !=
	    (ssize_t)sizeof(offer->cookie))
		return KB_ERR_SYSTEM;
	for (cat = 0; cat < KB_CAT_COUNT; cat++) {
		const char *list = offer_broad[cat];

		/* The s2c lists repeat the c2s ones. */
		if (cat == KB_CAT_CIPHER_S2C || cat == KB_CAT_MAC_S2C ||
		    cat == KB_CAT_COMP_S2C)
			list = offer_broad[cat - 1];
		if ((r = kb_kexinit_set_list(offer, (enum kb_category)cat,
		    list)) != KB_OK) {
			kb_kexinit_free(offer);
			return r;
		}
	}
	return KB_OK;
}

int
probe_put_kexinit(struct kb_buf *out, const struct kb_kexinit *offer)
{
	struct kb_buf *payload;
	int r;

	if ((payload = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_kexinit_write(offer, payload)) == KB_OK)
		r = kb_packet_write(out, kb_buf_ptr(payload), kb_buf_len(payload));
	kb_buf_free(payload);
	return r;
}

int
probe_put_disconnect(struct kb_buf *out, const char *description)
{
	struct kb_buf *payload;
	int r;

	if ((payload = kb_buf_new(1024)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_packet_put_disconnect(payload, SSH_DISCONNECT_BY_APPLICATION,
	    description)) == KB_OK)
		r = kb_packet_write(out, kb_buf_ptr(payload), kb_buf_len(payload));
	kb_buf_free(payload);
	return r;
}

void
probe_json_offer(struct kb_json *json, const char *key,
    const struct kb_kexinit *offer)
{
	size_t i;
	int cat;

	/* The shape of kb_report_json's offers: "*" for an open category. */
	kb_json_object_begin(json, key);
	for (cat = 0; cat < KB_CAT_COUNT; cat++) {
		const struct kb_namelist *list = &offer->lists[cat];

		kb_json_array_begin(json, kb_category_key((enum kb_category)cat));
		if ((offer->unrestricted >> cat) & 1) {
			kb_json_str(json, NULL, "*");
		} else {
			for (i = 0; i < list->count; i++)
				kb_json_str(json, NULL, list->names[i]);
		}
		kb_json_array_end(json);
	}
	kb_json_bool(json, "first_kex_follows", offer->first_kex_follows);
	kb_json_object_end(json);
}

const char *
probe_failure_key(enum probe_failure failure)
{
	switch (failure) {
	case PROBE_FAIL_NONE:		return "none";
	case PROBE_FAIL_RESOLVE:	return "name_not_resolved";
	case PROBE_FAIL_REFUSED:	return "connection_refused";
	case PROBE_FAIL_CONNECT:	return "connect_failed";
	case PROBE_FAIL_TIMEOUT:	return "timeout";
	case PROBE_FAIL_NOT_SSH:	return "not_ssh";
	case PROBE_FAIL_CLOSED:		return "connection_closed";
	case PROBE_FAIL_DISCONNECTED:	return "disconnected";
	case PROBE_FAIL_PROTOCOL:	return "protocol_error";
	case PROBE_FAIL_SYSTEM:		return "system_error";
	}
	return "unknown";
}

/* Blocking-style I/O on a non-blocking socket, every wait bounded. */

static int
probe_fail(struct probe_result *result, enum probe_failure failure,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
probe_fail(struct probe_result *result, enum probe_failure failure,
    const char *fmt, ...)
{
	va_list ap;

	result->failure = failure;
	va_start(ap, fmt);
	vsnprintf(result->message, sizeof(result->message), fmt, ap);
	va_end(ap);
	return failure == PROBE_FAIL_TIMEOUT ? KB_ERR_TIMEOUT :
	    failure == PROBE_FAIL_SYSTEM ? KB_ERR_SYSTEM : KB_ERR_CONNECT_FAILED;
}

/* Waits for events on fd; returns 1 when ready, 0 on timeout, -1 on error. */
static int
probe_wait(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	struct timespec start, now;
	int left = timeout_ms, n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if ((n = poll(&pfd, 1, left)) >= 0)
			return n > 0 ? 1 : 0;
		if (errno != EINTR)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - (int)((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0)
			return 0;
	}
}

static int
probe_connect_one(const struct addrinfo *ai, int timeout_ms, int *fdp)
{
	socklen_t errlen = sizeof(int);
	int fd, soerr = 0, n;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto out;
	if (errno != EINPROGRESS) {
		soerr = errno;
		goto out;
	}
	if ((n = probe_wait(fd, POLLOUT, timeout_ms)) <= 0)
		soerr = n == 0 ? ETIMEDOUT : errno;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &errlen) == -1)
		soerr = errno;
 out:
	if (soerr != 0)
		close(fd);
	else
		*fdp = fd;
	return soerr;
}

/* Tries every address of the target in turn and keeps the last error. */
static int
probe_connect(const struct probe_target *target, int timeout_ms, int *fdp,
    struct probe_result *result)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int gai, err = ECONNREFUSED;

	if ((gai = getaddrinfo(target->host, target->port, &hints, &res)) != 0)
		return probe_fail(result, PROBE_FAIL_RESOLVE,
		    _("name not resolved: %s"), gai_strerror(gai));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((err = probe_connect_one(ai, timeout_ms, fdp)) == 0)
			break;
	}
	freeaddrinfo(res);

	if (err == 0)
		return KB_OK;
	if (err == ECONNREFUSED)
		return probe_fail(result, PROBE_FAIL_REFUSED,
		    _("connection refused"));
	if (err == ETIMEDOUT)
		return probe_fail(result, PROBE_FAIL_TIMEOUT,
		    _("timed out after %g s while connecting"),
		    timeout_ms / 1000.0);
	return probe_fail(result, PROBE_FAIL_CONNECT, _("cannot connect: %s"),
	    strerror(err));
}

static int
probe_send(struct probe_conn *conn, const uint8_t *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(conn->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return KB_ERR_SYSTEM;
		if (probe_wait(conn->fd, POLLOUT, conn->timeout_ms) != 1)
			return KB_ERR_TIMEOUT;
	}
	return KB_OK;
}

/* Keeps the start of the peer's first line for a "not SSH" message. */
static void
probe_note_first_line(struct probe_conn *conn, const uint8_t *data, size_t len)
{
	size_t i;

	for (i = 0; i < len && !conn->first_done; i++) {
		if (data[i] == '\n' || data[i] == '\r' ||
		    conn->first_len == PROBE_FIRST_LINE_MAX) {
			conn->first_done = true;
			break;
		}
		conn->first_line[conn->first_len++] = (char)data[i];
	}
	conn->first_line[conn->first_len] = '\0';
}

/* Reads once and feeds the sniffer. Returns 1 on data, 0 on EOF, -1 on error,
 * -2 on timeout. */
static int
probe_read_some(struct probe_conn *conn)
{
	uint8_t chunk[PROBE_READ_CHUNK];
	ssize_t n;
	int w;

	if ((w = probe_wait(conn->fd, POLLIN, conn->timeout_ms)) != 1)
		return w == 0 ? -2 : -1;
	n = recv(conn->fd, chunk, sizeof(chunk), 0);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 1 : -1;
	if (n == 0) {
		conn->eof = true;
		return 0;
	}
	if (conn->received == 0 || !conn->first_done)
		probe_note_first_line(conn, chunk, (size_t)n);
	conn->received += (uint64_t)n;
	kb_sniffer_feed(conn->sniffer, chunk, (size_t)n);
	return 1;
}

/* Explains why the server's bytes did not lead to a KEXINIT. */
static int
probe_explain(struct probe_conn *conn, int rd, struct probe_result *result)
{
	char line[PROBE_FIRST_LINE_MAX * 4 + 1];
	enum kb_sniff_state state = kb_sniffer_state(conn->sniffer);
	bool in_version = state == KB_SNIFF_VERSION ||
	    (state == KB_SNIFF_FAILED && kb_sniffer_version(conn->sniffer) == NULL);
	double secs = conn->timeout_ms / 1000.0;

	kb_log_escape(line, sizeof(line), conn->first_line, conn->first_len);
	if (state == KB_SNIFF_DISCONNECTED)
		return probe_fail(result, PROBE_FAIL_DISCONNECTED,
		    _("the server disconnected before sending its KEXINIT "
		    "(reason %u: %s)"),
		    (unsigned int)kb_sniffer_disconnect_reason(conn->sniffer),
		    kb_sniffer_disconnect_text(conn->sniffer));
	if (state == KB_SNIFF_FAILED && in_version)
		return probe_fail(result, PROBE_FAIL_NOT_SSH,
		    _("not SSH: %s; the server sent \"%s\""),
		    kb_err_str(kb_sniffer_error(conn->sniffer)), line);
	if (state == KB_SNIFF_FAILED)
		return probe_fail(result, PROBE_FAIL_PROTOCOL,
		    _("invalid packet from the server: %s"),
		    kb_err_str(kb_sniffer_error(conn->sniffer)));

	/* Lines but no identification line: a server of another protocol. */
	if (in_version && conn->received > 0)
		return probe_fail(result, PROBE_FAIL_NOT_SSH,
		    _("not SSH: the server sent \"%s\" and no SSH "
		    "identification line"), line);
	if (rd == -2)
		return probe_fail(result, PROBE_FAIL_TIMEOUT, in_version ?
		    _("timed out after %g s waiting for the server's "
		    "identification line") :
		    _("timed out after %g s waiting for the server's KEXINIT"),
		    secs);
	if (rd == 0)
		return probe_fail(result, PROBE_FAIL_CLOSED, in_version ?
		    _("the server closed the connection without sending an "
		    "identification line") :
		    _("the server closed the connection before sending its "
		    "KEXINIT"));
	return probe_fail(result, PROBE_FAIL_SYSTEM, _("read failed: %s"),
	    strerror(errno));
}

/* Reads until the sniffer leaves state, or fails. */
static int
probe_read_past(struct probe_conn *conn, enum kb_sniff_state state,
    struct probe_result *result)
{
	int rd = 1;

	while (kb_sniffer_state(conn->sniffer) == state) {
		if ((rd = probe_read_some(conn)) != 1)
			break;
	}
	if (kb_sniffer_state(conn->sniffer) == KB_SNIFF_DONE ||
	    (state == KB_SNIFF_VERSION &&
	    kb_sniffer_state(conn->sniffer) == KB_SNIFF_KEXINIT))
		return KB_OK;
	return probe_explain(conn, rd, result);
}

static int
probe_send_buf(struct probe_conn *conn, struct kb_buf *buf,
    struct probe_result *result)
{
	int r;

	if ((r = probe_send(conn, kb_buf_ptr(buf), kb_buf_len(buf))) == KB_OK) {
		kb_buf_reset(buf);
		return KB_OK;
	}
	if (r == KB_ERR_TIMEOUT)
		return probe_fail(result, PROBE_FAIL_TIMEOUT,
		    _("timed out after %g s while sending"),
		    conn->timeout_ms / 1000.0);
	return probe_fail(result, PROBE_FAIL_CLOSED, _("send failed: %s"),
	    strerror(errno));
}

int
probe_run(const struct probe_target *target, int timeout_ms,
    struct probe_result *result)
{
	struct probe_conn conn = { .fd = -1, .timeout_ms = timeout_ms };
	struct kb_kexinit offer;
	struct kb_buf *out = NULL;
	bool have_offer = false;
	int r;

	memset(result, 0, sizeof(*result));
	if ((r = probe_connect(target, timeout_ms, &conn.fd, result)) != KB_OK)
		return r;
	if ((conn.sniffer = kb_sniffer_new(KB_ROLE_SERVER)) == NULL ||
	    (out = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL) {
		r = probe_fail(result, PROBE_FAIL_SYSTEM, "%s",
		    kb_err_str(KB_ERR_ALLOC_FAIL));
		goto out;
	}

	/* Our identification line goes first and alone, so a server of
	 * another protocol receives one line of text and nothing binary. */
	if ((r = kb_buf_put(out, kb_version_ours(),
	    strlen(kb_version_ours()))) != KB_OK ||
	    (r = probe_send_buf(&conn, out, result)) != KB_OK ||
	    (r = probe_read_past(&conn, KB_SNIFF_VERSION, result)) != KB_OK)
		goto out;

	/* Then our KEXINIT (RFC 4253 section 7.1), and the server's. */
	if ((r = probe_offer_init(&offer, KB_ROLE_CLIENT)) == KB_OK) {
		have_offer = true;
		r = probe_put_kexinit(out, &offer);
	}
	if (r != KB_OK) {
		probe_fail(result, PROBE_FAIL_SYSTEM, "%s", kb_err_str(r));
		goto out;
	}
	if ((r = probe_send_buf(&conn, out, result)) != KB_OK)
		goto out;
	if ((r = probe_read_past(&conn, KB_SNIFF_KEXINIT, result)) != KB_OK)
		goto out;

	/* A polite end (RFC 4253 section 11.1); failures no longer matter. */
	if (probe_put_disconnect(out, "kexbridge probe finished") == KB_OK)
		(void)probe_send(&conn, kb_buf_ptr(out), kb_buf_len(out));
	shutdown(conn.fd, SHUT_WR);
	r = KB_OK;
 out:
	if (have_offer)
		kb_kexinit_free(&offer);
	kb_buf_free(out);
	if (conn.fd != -1)
		close(conn.fd);
	result->sniffer = conn.sniffer;
	return r;
}

void
probe_result_free(struct probe_result *result)
{
	kb_sniffer_free(result->sniffer);
	result->sniffer = NULL;
}
