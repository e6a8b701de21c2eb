/*
 * libFuzzer harness: two KEXINIT payloads through negotiation, advice, the
 * JSON report and the text line.
 *
 * Input layout: one byte selecting the server version line, a 16-bit
 * big-endian length n, n bytes of the client's KEXINIT payload, then the
 * server's KEXINIT payload in the remaining bytes.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/advice.h"
#include "kexbridge/json.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/report.h"
#include "kexbridge/version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Versions that take each advice path: no "+", "+", upgrade, unknown. */
static const char *const server_versions[] = {
	"SSH-2.0-OpenSSH_5.3",
	"SSH-2.0-OpenSSH_7.4p1 Debian-10",
	"SSH-2.0-OpenSSH_9.2p1",
	"SSH-2.0-OpenSSH_3.0",
	"SSH-2.0-dropbear_2022.83",
};

static void
fuzz_report(const struct kb_kexinit *client, const struct kb_kexinit *server,
    const struct kb_version *version)
{
	struct kb_negotiation neg;
	struct kb_advice advice;
	struct kb_report report;
	struct kb_json *json;
	size_t i;

	kb_negotiate(client, server, &neg);
	if (kb_advice_build(client, server, version, &neg, &advice) != 0)
		return;
	for (i = 0; i < advice.count; i++) {
		free(kb_advice_format(&advice.items[i], false));
		free(kb_advice_format(&advice.items[i], true));
	}
	memset(&report, 0, sizeof(report));
	report.server_version = version;
	report.client = client;
	report.server = server;
	report.neg = &neg;
	report.advice = &advice;
	if ((json = kb_json_new()) != NULL) {
		kb_report_json(json, &report);
		(void)kb_json_finish(json);
		kb_json_free(json);
	}
	free(kb_report_line(&report, false));
	kb_advice_free(&advice);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_kexinit client, server;
	struct kb_version version;
	const struct kb_version *v = NULL;
	const char *line;
	size_t n;

	if (size < 3)
		return 0;
	line = server_versions[data[0] % (sizeof(server_versions) /
	    sizeof(server_versions[0]))];
	if (kb_version_parse_line(line, strlen(line), &version) == 0)
		v = &version;
	n = ((size_t)data[1] << 8) | data[2];
	data += 3;
	size -= 3;
	if (n > size)
		return 0;

	memset(&client, 0, sizeof(client));
	memset(&server, 0, sizeof(server));
	if (kb_kexinit_parse(&client, data, n) == 0 &&
	    kb_kexinit_parse(&server, data + n, size - n) == 0) {
		fuzz_report(&client, &server, v);
		/* The same offers as client profiles with open categories. */
		client.unrestricted = data[0] & 0xffu;
		server.unrestricted = n & 0xffu;
		fuzz_report(&client, &server, v);
	}
	kb_kexinit_free(&client);
	kb_kexinit_free(&server);
	return 0;
}
