/*
 * Client profiles: what a known client offers in its KEXINIT, so a server can
 * be checked without that client present. Built-in profiles ship with
 * kexbridge; more load from INI files (format in doc/profiles.md).
 *
 * File format, one section per profile:
 *
 *   [ucsm-4.0]
 *   description = Cisco UCS FI, UCS Manager 4.0(2a) and later
 *   version = SSH-2.0-...            (optional)
 *   kex = name,name
 *   hostkey = name,name              (a category left out matches anything)
 *   cipher = name,name               (both directions; or cipher_c2s, cipher_s2c)
 *   mac = name,name                  (or mac_c2s, mac_s2c)
 *   comp = name,name                 (or comp_c2s, comp_s2c)
 */
#ifndef KEXBRIDGE_PROFILE_H
#define KEXBRIDGE_PROFILE_H

#include <stddef.h>
#include <stdio.h>

#include "kexbridge/kexinit.h"
#include "kexbridge/version.h"

struct kb_profile {
	char *name;
	char *description;
	char *version;		/* identification line, or NULL */
	struct kb_kexinit offer;	/* offer.unrestricted marks open categories */
};

struct kb_profile_set {
	struct kb_profile *profiles;
	size_t count;
};

/* Adds the built-in profiles to set. */
int kb_profile_add_builtins(struct kb_profile_set *set);
/*
 * Adds the profiles in an INI file. On error, writes "FILE:LINE: what is
 * wrong" to err and returns KB_ERR_CONFIG_INVALID.
 */
int kb_profile_load_file(struct kb_profile_set *set, const char *path, char *err, size_t errlen);
/* Returns the profile called name, or NULL. */
const struct kb_profile *kb_profile_find(const struct kb_profile_set *set, const char *name);
void kb_profile_set_free(struct kb_profile_set *set);

/*
 * Writes a captured client offer as a profile section that
 * kb_profile_load_file() reads back unchanged.
 */
int kb_profile_write(FILE *out, const char *name, const char *description,
    const struct kb_version *version, const struct kb_kexinit *offer);

#endif
