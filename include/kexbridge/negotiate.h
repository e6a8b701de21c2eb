/*
 * Algorithm negotiation as RFC 4253 section 7.1 defines it and OpenSSH
 * applies it.
 *
 * Every category gets a result, even after another one failed, so a report
 * can name every mismatch at once.
 */
#ifndef KEXBRIDGE_NEGOTIATE_H
#define KEXBRIDGE_NEGOTIATE_H

#include <stdbool.h>

#include "kexbridge/kexinit.h"

enum kb_choice {
	KB_CHOICE_AGREED,
	KB_CHOICE_FAILED,
	/* MAC under an AEAD cipher: not negotiated, the cipher authenticates. */
	KB_CHOICE_IMPLICIT,
};

struct kb_negotiation {
	enum kb_choice status[KB_CAT_NEGOTIATED];
	/*
	 * The chosen name for KB_CHOICE_AGREED, else NULL. Points into the
	 * client's or the server's kexinit, which must outlive this result.
	 */
	const char *chosen[KB_CAT_NEGOTIATED];
	/* Bit (1 << cat) for every failed category. */
	unsigned int failed;
	/* kex-strict-c-v00 from the client and kex-strict-s-v00 from the server. */
	bool strict_kex;
	/* ext-info-c / ext-info-s signalled (RFC 8308). */
	bool ext_info_c;
	bool ext_info_s;
	/*
	 * first_kex_packet_follows per side and whether that guess was right:
	 * the first kex and first host key names of both sides agree and every
	 * category can be agreed (RFC 4253 section 7).
	 */
	bool client_guessed;
	bool client_guess_right;
	bool server_guessed;
	bool server_guess_right;
};

/* Computes the negotiation between a client's and a server's KEXINIT. */
void kb_negotiate(const struct kb_kexinit *client, const struct kb_kexinit *server,
    struct kb_negotiation *out);

/* Name of an AEAD cipher, under which no MAC is negotiated. */
bool kb_cipher_is_aead(const char *name);
/* ext-info-c/-s, kex-strict-*-v00@openssh.com, kexguess2@matt.ucc.asn.au. */
bool kb_name_is_pseudo(const char *name);

#endif
