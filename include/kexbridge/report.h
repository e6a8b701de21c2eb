/*
 * Renders a negotiation result for logs and machines: the JSON members of the
 * "negotiation" event, and a one-line text summary.
 */
#ifndef KEXBRIDGE_REPORT_H
#define KEXBRIDGE_REPORT_H

#include <stdbool.h>

#include "kexbridge/advice.h"
#include "kexbridge/json.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/version.h"

struct kb_report {
	const struct kb_version *client_version;	/* may be NULL */
	const struct kb_version *server_version;	/* may be NULL */
	const struct kb_kexinit *client;
	const struct kb_kexinit *server;
	const struct kb_negotiation *neg;
	const struct kb_advice *advice;
};

/*
 * Adds client_version, server_version, client_offer, server_offer, result,
 * failed, strict_kex, guess and advice (English) to the open JSON object.
 */
void kb_report_json(struct kb_json *json, const struct kb_report *report);

/*
 * One line for the text log: the agreed algorithms, or every failed category
 * with both offers, then the advice. translate selects the user's language.
 * Returns a new string the caller frees, or NULL.
 */
char *kb_report_line(const struct kb_report *report, bool translate);

#endif
