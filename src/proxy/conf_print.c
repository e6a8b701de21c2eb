/*
 * The effective settings, in the configuration file's own format, that
 * kexbridge run -t prints.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "kexbridge/cipher.h"
#include "kexbridge/conf.h"
#include "kexbridge/i18n.h"
#include "kexbridge/kex.h"
#include "kexbridge/net.h"
#include "kexbridge/upstream.h"
#include "conf_internal.h"

static const char *
conf_level_str(enum kb_log_level level)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	return names[level];
}

static void
conf_print_list(FILE *out, const char *key, char *const *list)
{
	size_t i;

	fprintf(out, "%s = ", key);
	for (i = 0; list != NULL && list[i] != NULL; i++)
		fprintf(out, "%s%s", i > 0 ? "," : "", list[i]);
	fprintf(out, "\n");
}

static void
conf_print_bridge(FILE *out, const struct kb_route *r)
{
	static const char *const up_keys[KB_UP_ALG_COUNT] = {
		"upstream_kex", "upstream_hostkey", "upstream_ciphers", "upstream_macs",
	};
	int cat;

	if (r->hostkey_count > 0)
		conf_print_list(out, "hostkey", r->hostkeys);
	else
		fprintf(out, "%s", _("# hostkey: none; ssh-ed25519 and RSA keys in the state directory\n"));
	fprintf(out, "known_hosts = %s\n", r->known_hosts != NULL ? r->known_hosts : "");
	fprintf(out, "hostkey_policy = %s\n", kb_up_hostkey_policy_str(r->hostkey_policy));
	for (cat = 0; cat < KB_UP_ALG_COUNT; cat++) {
		if (r->upstream_spec[cat] != NULL)
			fprintf(out, _("# %s as written: %s\n"), up_keys[cat], r->upstream_spec[cat]);
		fprintf(out, "%s = %s\n", up_keys[cat],
		    r->upstream_algs.list[cat] != NULL ? r->upstream_algs.list[cat] : "");
	}
	fprintf(out, "kex = %s\n", r->kex != NULL ? r->kex : kb_kex_names());
	fprintf(out, "ciphers = %s\n", r->ciphers != NULL ? r->ciphers : kb_cipher_names());
	fprintf(out, "macs = %s\n", r->macs != NULL ? r->macs : kb_mac_names());
	if (r->hostkey_algorithms != NULL)
		fprintf(out, "hostkey_algorithms = %s\n", r->hostkey_algorithms);
	if (r->moduli != NULL)
		fprintf(out, "moduli = %s\n", r->moduli);
	else
		fprintf(out, "%s", _("# moduli: none; the built-in RFC 3526 groups\n"));
	fprintf(out, "auth_methods = %s%s%s\n", r->auth_password ? "password" : "",
	    r->auth_password && r->auth_kbdint ? "," : "",
	    r->auth_kbdint ? "keyboard-interactive" : "");
	fprintf(out, "max_auth_tries = %u\n", r->max_auth_tries);
	fprintf(out, "auth_failure_delay = %u\n", r->auth_failure_delay);
	fprintf(out, "%s", _("# exec: scp -t or scp -f with one path is always allowed\n"));
	if (r->exec_allow != NULL)
		conf_print_list(out, "exec_allow", r->exec_allow);
	fprintf(out, "sftp = %s\n", r->sftp ? "yes" : "no");
	fprintf(out, "window_size = %u\n", (unsigned int)r->window_size);
	fprintf(out, "session_memory_limit = %zu\n", r->session_memory_limit);
	fprintf(out, "upstream_handshake_timeout = %u\n", r->upstream_handshake_timeout);
	fprintf(out, "upstream_auth_timeout = %u\n", r->upstream_auth_timeout);
	if (r->rekey_bytes == 0)
		fprintf(out, "rekey_limit = default");
	else
		fprintf(out, "rekey_limit = %llu", (unsigned long long)r->rekey_bytes);
	if (r->rekey_seconds == 0)
		fprintf(out, " none\n");
	else
		fprintf(out, " %u\n", (unsigned int)r->rekey_seconds);
}

/* Writes "upstream = HOST:PORT", the default port filled in, and the address. */
static void
conf_print_upstream(FILE *out, const struct kb_route *r)
{
	char host[KB_NET_HOST_MAX], port[KB_NET_PORT_MAX], why[256];

	if (r->transparent != KB_TRANSPARENT_NO) {
		fprintf(out, "%s", _("# upstream: each connection's original destination\n"));
		fprintf(out, "transparent = %s\n", kb_transparent_str(r->transparent));
		fprintf(out, "allow = %s\n", r->allow_spec != NULL ? r->allow_spec : "");
		return;
	}
	if (kb_net_split(r->upstream, "22", host, port, why, sizeof(why)) != 0)
		fprintf(out, "upstream = %s", r->upstream);
	else if (strchr(host, ':') != NULL)
		fprintf(out, "upstream = [%s]:%s", host, port);
	else
		fprintf(out, "upstream = %s:%s", host, port);
	if (r->upstream_addr != NULL)
		fprintf(out, " (%s)", r->upstream_addr);
	fprintf(out, "\n");
}

void
kb_conf_print(FILE *out, const struct kb_conf *conf)
{
	const struct kb_route *r;
	size_t i;

	fprintf(out, "[global]\n");
	fprintf(out, "log_format = %s\n", conf->log_format == KB_LOG_JSON ? "json" : "text");
	fprintf(out, "log_target = %s\n",
	    conf->log_target == KB_LOG_SYSLOG ? "syslog" : "stderr");
	fprintf(out, "log_level = %s\n", conf_level_str(conf->log_level));
	fprintf(out, "state_dir = %s\n", kb_conf_state_dir(conf));
	fprintf(out, "max_sessions = %u\n", conf->max_sessions);
	fprintf(out, "drain_timeout = %u\n", conf->drain_timeout);
	if (conf->user != NULL)
		fprintf(out, "user = %s\n", conf->user);
	for (i = 0; i < conf->route_count; i++) {
		r = &conf->routes[i];
		fprintf(out, "\n[route %s]\n", r->name);
		fprintf(out, "listen = %s\n", r->listen);
		conf_print_upstream(out, r);
		fprintf(out, "mode = %s\n", kb_conf_mode_str(r->mode));
		fprintf(out, "connect_timeout = %u\n", r->connect_timeout);
		fprintf(out, "handshake_timeout = %u\n", r->handshake_timeout);
		fprintf(out, "idle_timeout = %u\n", r->idle_timeout);
		fprintf(out, "buffer_limit = %zu\n", r->buffer_limit);
		fprintf(out, "max_sessions = %u\n", r->max_sessions);
		fprintf(out, "max_per_source = %u\n", r->max_per_source);
		fprintf(out, "max_startups = %u\n", r->max_startups);
		if (conf_route_bridges(r))
			conf_print_bridge(out, r);
	}
}
