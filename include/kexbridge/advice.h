/*
 * Advice for an operator: for each failed category, what either side would
 * need to add, and on success a warning for each weak agreed algorithm.
 *
 * Items are data; kb_advice_format() renders one as English (for the JSON
 * stream) or translated through gettext (for people).
 */
#ifndef KEXBRIDGE_ADVICE_H
#define KEXBRIDGE_ADVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/version.h"

enum kb_advice_kind {
	/* The server should add one of names; config_line says how. */
	KB_ADVICE_SERVER_ADD,
	/* The client should offer one of names (taken from the server's list). */
	KB_ADVICE_CLIENT_ADD,
	/* The server software supports none of the client's names. */
	KB_ADVICE_SERVER_UPGRADE,
	/* The host key lists share nothing although a kex was agreed. */
	KB_ADVICE_HOSTKEY_FILE,
	/* An agreed algorithm is weak; reason in weak. */
	KB_ADVICE_WEAK,
	/* A name-list is malformed; the flags are in weak. */
	KB_ADVICE_MALFORMED_LIST,
};

struct kb_advice_item {
	enum kb_advice_kind kind;
	enum kb_category category;
	/* Comma-separated names, strongest first; may be NULL. */
	char *names;
	/* e.g. "KexAlgorithms +diffie-hellman-group-exchange-sha256"; may be NULL. */
	char *config_line;
	/* Server software as recognised from its version line, e.g. "OpenSSH 7.4"; may be NULL. */
	char *software;
	unsigned int weak;
	/* For KB_ADVICE_MALFORMED_LIST: true when the client's list is malformed. */
	bool client_side;
	/*
	 * The item covers both directions of a cipher, MAC or compression
	 * category (category is then the client-to-server one), because both
	 * directions failed with the same lists and the same remedy.
	 */
	bool both_directions;
};

struct kb_advice {
	struct kb_advice_item *items;
	size_t count;
};

/*
 * Builds the advice for one negotiation. server_version may be NULL; when it
 * names OpenSSH, the advice keeps to what that release supports and uses the
 * sshd_config syntax it understands.
 */
int kb_advice_build(const struct kb_kexinit *client, const struct kb_kexinit *server,
    const struct kb_version *server_version, const struct kb_negotiation *neg,
    struct kb_advice *out);
void kb_advice_free(struct kb_advice *advice);

/*
 * Renders one item as a sentence: English when translate is false, else in
 * the user's language. Returns a new string the caller frees, or NULL.
 */
char *kb_advice_format(const struct kb_advice_item *item, bool translate);

#endif
