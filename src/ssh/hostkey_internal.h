/* Shared by hostkey.c and hostkey_file.c. */
#ifndef KEXBRIDGE_HOSTKEY_INTERNAL_H
#define KEXBRIDGE_HOSTKEY_INTERNAL_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "kexbridge/hostkey.h"

/*
 * Wraps pkey in a host key, taking ownership on success. Fails with
 * KB_ERR_KEY_INVALID for a type or size kexbridge does not serve.
 */
int hostkey_wrap_pkey(EVP_PKEY *pkey, bool has_private, struct kb_hostkey **keyp);
const EVP_PKEY *hostkey_get_pkey(const struct kb_hostkey *key);
bool hostkey_has_private(const struct kb_hostkey *key);
/* The key type name of the public blob and authorized_keys line. */
const char *hostkey_type_name(const struct kb_hostkey *key);

#endif
