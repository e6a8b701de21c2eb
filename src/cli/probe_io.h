/*
 * Socket work shared by `kexbridge probe` and `kexbridge capture`: target
 * parsing, the blocking client exchange of probe, the broad offers both
 * commands send so the peer proceeds to its KEXINIT, and JSON for an offer.
 */
#ifndef KEXBRIDGE_CLI_PROBE_IO_H
#define KEXBRIDGE_CLI_PROBE_IO_H

#include <stddef.h>

#include "kexbridge/kexinit.h"
#include "kexbridge/sniffer.h"
#include "kexbridge/version.h"

struct kb_buf;
struct kb_json;

/* A host and a port as the user wrote them, and "host:port" for messages. */
struct probe_target {
	char host[256];
	char port[16];
	/* "host:port", or "[v6addr]:port"; shown in every message. */
	char label[280];
};

/*
 * Parses "host", "host:port", "[v6addr]", "[v6addr]:port" or a bare IPv6
 * address (which then takes default_port); the port must be 1 to 65535.
 * Unlike kb_net_split() it accepts an IPv6 address without brackets, as
 * people paste them. Returns KB_OK or KB_ERR_INVALID_ARGUMENT.
 */
int probe_target_parse(const char *arg, const char *default_port,
    struct probe_target *target);

/* Reason a probe ended without the server's KEXINIT. */
enum probe_failure {
	PROBE_FAIL_NONE,
	PROBE_FAIL_RESOLVE,
	PROBE_FAIL_REFUSED,
	PROBE_FAIL_CONNECT,
	PROBE_FAIL_TIMEOUT,
	PROBE_FAIL_NOT_SSH,
	PROBE_FAIL_CLOSED,
	PROBE_FAIL_DISCONNECTED,
	PROBE_FAIL_PROTOCOL,
	PROBE_FAIL_SYSTEM,
};

struct probe_result {
	enum probe_failure failure;
	/* Translated explanation of the failure, for people. */
	char message[768];
	/* Server side of the stream; in KB_SNIFF_DONE on success. Owned. */
	struct kb_sniffer *sniffer;
};

/*
 * Connects to target, exchanges identification lines and KEXINIT, then
 * sends SSH_MSG_DISCONNECT and closes. timeout_ms bounds the connect and
 * every read and write. Returns KB_OK with result->sniffer holding the
 * server's offer, or a negative code with result->failure and
 * result->message set. The caller frees result with probe_result_free().
 */
int probe_run(const struct probe_target *target, int timeout_ms,
    struct probe_result *result);
void probe_result_free(struct probe_result *result);
/* Stable English key for JSON: "connection_refused", "timeout", ... */
const char *probe_failure_key(enum probe_failure failure);

/*
 * Fills offer with a broad list per category: every name a real peer of the
 * other role might need before it sends its own KEXINIT. sender is the role
 * we play. The caller frees offer with kb_kexinit_free().
 */
int probe_offer_init(struct kb_kexinit *offer, enum kb_role sender);

/* Appends offer to out as one unencrypted SSH_MSG_KEXINIT packet. */
int probe_put_kexinit(struct kb_buf *out, const struct kb_kexinit *offer);
/* Appends an SSH_MSG_DISCONNECT packet, reason SSH_DISCONNECT_BY_APPLICATION. */
int probe_put_disconnect(struct kb_buf *out, const char *description);

/* Adds key: {"kex": [names], ..., "first_kex_follows": bool} to json. */
void probe_json_offer(struct kb_json *json, const char *key,
    const struct kb_kexinit *offer);

#endif
