/*
 * Host keys of a bridge route: the configured files, or, when none is
 * configured, ssh_host_ed25519_key and ssh_host_rsa_key in the state
 * directory, created on first start as sshd-keygen does for sshd.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "bridge.h"

#define HOSTKEYS_RSA_BITS	3072

static const char *
hostkeys_type_str(const struct kb_hostkey *key)
{
	switch (kb_hostkey_type(key)) {
	case KB_HOSTKEY_ED25519:
		return "ED25519";
	case KB_HOSTKEY_ECDSA_P256:
		return "ECDSA";
	case KB_HOSTKEY_RSA:
		return "RSA";
	}
	return "?";
}

/* Logs "3072 SHA256:... (RSA)"-style lines, as ssh-keygen -l prints them. */
static void
hostkeys_log(const struct kb_bridge_route *br, const struct kb_hostkey *key,
    const char *path, bool created)
{
	char fp[128];

	if (kb_hostkey_fingerprint(key, fp, sizeof(fp)) != 0)
		snprintf(fp, sizeof(fp), "?");
	if (created)
		kb_log(KB_LOG_INFO, NULL, "route %s: created host key %s: %s (%s)",
		    br->route->name, path, fp, hostkeys_type_str(key));
	else
		kb_log(KB_LOG_INFO, NULL, "route %s: host key %s: %s (%s)", br->route->name,
		    path, fp, hostkeys_type_str(key));
}

static int
hostkeys_add(struct kb_bridge_route *br, const char *path, char *err, size_t errlen)
{
	struct kb_hostkey *key = NULL;
	int r;

	if (br->hostkey_count >= KB_BRIDGE_HOSTKEYS_MAX) {
		snprintf(err, errlen, _("route %s: too many host keys; at most %d"),
		    br->route->name, KB_BRIDGE_HOSTKEYS_MAX);
		return KB_ERR_CONFIG_INVALID;
	}
	if ((r = kb_hostkey_load(path, &key)) != 0) {
		snprintf(err, errlen, _("route %s: cannot load host key %s: %s"),
		    br->route->name, path, kb_err_str(r));
		return r;
	}
	br->hostkeys[br->hostkey_count++] = key;
	hostkeys_log(br, key, path, false);
	return 0;
}

/* Creates the state directory (mode 0700) unless it exists. */
static int
hostkeys_make_state_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
		if ((st.st_mode & 077) != 0)
			kb_log(KB_LOG_WARN, NULL, "state directory %s is accessible by other "
			    "users (mode %03o); it holds private host keys, run chmod 700 on it",
			    dir, (unsigned int)(st.st_mode & 0777));
		return 0;
	}
	snprintf(err, errlen, _("cannot create state directory %s: %s; create it or set "
	    "state_dir"), dir, strerror(errno));
	return KB_ERR_SYSTEM;
}

/* Loads path, or creates a key of type there when it does not exist. */
static int
hostkeys_load_or_create(struct kb_bridge_route *br, const char *path,
    enum kb_hostkey_type type, char *err, size_t errlen)
{
	struct kb_hostkey *key = NULL;
	int r;

	if (access(path, F_OK) == 0)
		return hostkeys_add(br, path, err, errlen);
	if ((r = kb_hostkey_generate(type, type == KB_HOSTKEY_RSA ? HOSTKEYS_RSA_BITS : 0,
	    &key)) != 0 || (r = kb_hostkey_save(key, path)) != 0) {
		snprintf(err, errlen, _("route %s: cannot create host key %s: %s"),
		    br->route->name, path, kb_err_str(r));
		kb_hostkey_free(key);
		return r;
	}
	br->hostkeys[br->hostkey_count++] = key;
	hostkeys_log(br, key, path, true);
	return 0;
}

int
kb_bridge_hostkeys_load(struct kb_bridge_route *br, const char *state_dir,
    char *err, size_t errlen)
{
	const struct kb_route *route = br->route;
	char path[4096];
	size_t i;
	int r;

	for (i = 0; i < route->hostkey_count; i++) {
		if ((r = hostkeys_add(br, route->hostkeys[i], err, errlen)) != 0)
			return r;
	}
	if (route->hostkey_count > 0)
		return 0;

	if ((r = hostkeys_make_state_dir(state_dir, err, errlen)) != 0)
		return r;
	snprintf(path, sizeof(path), "%s/ssh_host_ed25519_key", state_dir);
	if ((r = hostkeys_load_or_create(br, path, KB_HOSTKEY_ED25519, err, errlen)) != 0)
		return r;
	snprintf(path, sizeof(path), "%s/ssh_host_rsa_key", state_dir);
	return hostkeys_load_or_create(br, path, KB_HOSTKEY_RSA, err, errlen);
}
