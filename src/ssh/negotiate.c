/*
 * Algorithm negotiation (RFC 4253 section 7.1), computed the way OpenSSH's
 * kex.c applies it, but for every category instead of stopping at the first
 * failure.
 */
#include "config.h"

#include <string.h>

#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"

#define PSEUDO_KEX_STRICT_C	"kex-strict-c-v00@openssh.com"
#define PSEUDO_KEX_STRICT_S	"kex-strict-s-v00@openssh.com"

static const char *const pseudo_names[] = {
	"ext-info-c",			/* RFC 8308 section 2.1 */
	"ext-info-s",
	PSEUDO_KEX_STRICT_C,		/* OpenSSH PROTOCOL, "strict key exchange" */
	PSEUDO_KEX_STRICT_S,
	"kexguess2@matt.ucc.asn.au",	/* Dropbear's guess signal */
};

static const char *const aead_ciphers[] = {
	"aes128-gcm@openssh.com",
	"aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com",
};

bool
kb_name_is_pseudo(const char *name)
{
	size_t i;

	if (name == NULL)
		return false;
	for (i = 0; i < sizeof(pseudo_names) / sizeof(pseudo_names[0]); i++) {
		if (strcmp(name, pseudo_names[i]) == 0)
			return true;
	}
	return false;
}

/*
 * OpenSSH (cipher.c, flag CFLAG_AEAD) skips MAC negotiation for these. The
 * RFC 5647 names "aes128-gcm" and "aes256-gcm" are not here: that RFC makes
 * the MAC list carry the same name instead.
 */
bool
kb_cipher_is_aead(const char *name)
{
	size_t i;

	if (name == NULL)
		return false;
	for (i = 0; i < sizeof(aead_ciphers) / sizeof(aead_ciphers[0]); i++) {
		if (strcmp(name, aead_ciphers[i]) == 0)
			return true;
	}
	return false;
}

static bool
negotiate_is_candidate(const char *name)
{
	return name[0] != '\0' && !kb_name_is_pseudo(name);
}

/* The first name of list that can be chosen, or NULL. */
static const char *
negotiate_first_candidate(const struct kb_namelist *list)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		if (negotiate_is_candidate(list->names[i]))
			return list->names[i];
	}
	return NULL;
}

/*
 * RFC 4253 section 7.1: the first name on the client's list that is also on
 * the server's list. A side that leaves the category unrestricted (a client
 * profile) takes the other side's first name; two such sides have no name to
 * agree on.
 */
static const char *
negotiate_category(const struct kb_kexinit *client, const struct kb_kexinit *server,
    enum kb_category cat)
{
	const struct kb_namelist *clist = &client->lists[cat];
	const struct kb_namelist *slist = &server->lists[cat];
	bool copen = (client->unrestricted & (1u << cat)) != 0;
	bool sopen = (server->unrestricted & (1u << cat)) != 0;
	size_t i;

	if (copen && sopen)
		return NULL;
	if (copen)
		return negotiate_first_candidate(slist);
	if (sopen)
		return negotiate_first_candidate(clist);
	for (i = 0; i < clist->count; i++) {
		if (negotiate_is_candidate(clist->names[i]) &&
		    kb_namelist_contains(slist, clist->names[i]))
			return clist->names[i];
	}
	return NULL;
}

static bool
negotiate_list_has(const struct kb_kexinit *kexinit, enum kb_category cat,
    const char *name)
{
	if ((kexinit->unrestricted & (1u << cat)) != 0)
		return false;
	return kb_namelist_contains(&kexinit->lists[cat], name);
}

/* The first name exactly as sent, or "" for an empty or unrestricted list. */
static const char *
negotiate_first_name(const struct kb_kexinit *kexinit, enum kb_category cat)
{
	const struct kb_namelist *list = &kexinit->lists[cat];

	if ((kexinit->unrestricted & (1u << cat)) != 0 || list->count == 0)
		return "";
	return list->names[0];
}

/*
 * RFC 4253 section 7: a side that sets first_kex_packet_follows sends its
 * first kex packet for its preferred kex and host key algorithms. OpenSSH
 * (kex.c, proposals_match) judges that guess right when the first kex name
 * and the first host key name of both proposals are equal, comparing the
 * names as sent, and otherwise ignores the guessed packet. The RFC also calls
 * a guess wrong when some other category cannot be agreed. Such an exchange
 * fails anyway, so a failed negotiation reports every guess as wrong.
 */
static bool
negotiate_guess_right(const struct kb_kexinit *client, const struct kb_kexinit *server,
    unsigned int failed)
{
	const char *ckex = negotiate_first_name(client, KB_CAT_KEX);
	const char *skex = negotiate_first_name(server, KB_CAT_KEX);
	const char *chk = negotiate_first_name(client, KB_CAT_HOSTKEY);
	const char *shk = negotiate_first_name(server, KB_CAT_HOSTKEY);

	if (failed != 0 || *ckex == '\0' || *chk == '\0')
		return false;
	return strcmp(ckex, skex) == 0 && strcmp(chk, shk) == 0;
}

/* MAC categories follow the cipher of the same direction. */
static enum kb_category
negotiate_cipher_for_mac(enum kb_category mac)
{
	return mac == KB_CAT_MAC_C2S ? KB_CAT_CIPHER_C2S : KB_CAT_CIPHER_S2C;
}

void
kb_negotiate(const struct kb_kexinit *client, const struct kb_kexinit *server,
    struct kb_negotiation *out)
{
	enum kb_category cat;
	const char *name, *cipher;

	memset(out, 0, sizeof(*out));

	/*
	 * Each category on its own, in wire order. Key exchange looks at the
	 * kex lists only (OpenSSH choose_kex); a host key mismatch is the host
	 * key category's failure.
	 */
	for (cat = KB_CAT_KEX; cat < KB_CAT_NEGOTIATED; cat++) {
		if (cat == KB_CAT_MAC_C2S || cat == KB_CAT_MAC_S2C) {
			/* No MAC under an AEAD cipher (OpenSSH PROTOCOL.chacha20poly1305). */
			cipher = out->chosen[negotiate_cipher_for_mac(cat)];
			if (kb_cipher_is_aead(cipher)) {
				out->status[cat] = KB_CHOICE_IMPLICIT;
				continue;
			}
		}
		name = negotiate_category(client, server, cat);
		if (name == NULL) {
			out->status[cat] = KB_CHOICE_FAILED;
			out->failed |= 1u << cat;
			continue;
		}
		out->status[cat] = KB_CHOICE_AGREED;
		out->chosen[cat] = name;
	}

	/* Signals carried in the kex lists. */
	out->strict_kex = negotiate_list_has(client, KB_CAT_KEX, PSEUDO_KEX_STRICT_C) &&
	    negotiate_list_has(server, KB_CAT_KEX, PSEUDO_KEX_STRICT_S);
	out->ext_info_c = negotiate_list_has(client, KB_CAT_KEX, "ext-info-c");
	out->ext_info_s = negotiate_list_has(server, KB_CAT_KEX, "ext-info-s");

	out->client_guessed = client->first_kex_follows;
	out->server_guessed = server->first_kex_follows;
	if (out->client_guessed)
		out->client_guess_right = negotiate_guess_right(client, server, out->failed);
	if (out->server_guessed)
		out->server_guess_right = negotiate_guess_right(client, server, out->failed);
}
