/*
 * Key exchange for the server transport: our offer, SSH_MSG_KEXINIT in both
 * directions, negotiation, the kex method's messages, NEWKEYS with the key
 * switch, strict key exchange and SSH_MSG_EXT_INFO (RFC 4253 sections 7 and
 * 9, RFC 8308, OpenSSH PROTOCOL "kex-strict").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "kexbridge/buf.h"
#include "kexbridge/cipher.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/i18n.h"
#include "kexbridge/kex.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/log.h"
#include "kexbridge/negotiate.h"
#include "kexbridge/packet.h"

#include "transport_internal.h"

/*
 * OpenSSH 9.6 and later put this in every KEXINIT and honour it in the
 * first exchange only, and so do we. We do not signal ext-info-s: RFC 8308
 * section 2.1 makes that an invitation for the client's EXT_INFO, which
 * kexbridge has no use for.
 */
#define KEX_STRICT_SERVER	"kex-strict-s-v00@openssh.com"
/* RFC 8308 section 3.1: the signature algorithms kexbridge implements. */
#define SERVER_SIG_ALGS		"ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256,ssh-rsa"
/* Maximum length of the host key algorithm list we build. */
#define HOSTKEY_OFFER_MAX	1024
/* Packets in either direction after which a rekey starts: MAX_PACKETS in OpenSSH's packet.c. */
#define REKEY_PACKETS_MAX	((uint64_t)1 << 31)

static const char *const category_names[KB_CAT_NEGOTIATED] = {
	N_("key exchange"),
	N_("host key"),
	N_("cipher (client to server)"),
	N_("cipher (server to client)"),
	N_("MAC (client to server)"),
	N_("MAC (server to client)"),
	N_("compression (client to server)"),
	N_("compression (server to client)"),
};

static int64_t
rekey_now(const struct kb_transport *t)
{
	struct timespec ts;

	if (t->clock != NULL)
		return t->clock();
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec;
}

static bool
offer_kex_known(const char *name)
{
	return kb_kex_lookup(name) != NULL;
}

static bool
offer_cipher_known(const char *name)
{
	return kb_cipher_lookup(name) != NULL;
}

static bool
offer_mac_known(const char *name)
{
	return kb_mac_lookup(name) != NULL;
}

/*
 * Copies a configured list, or the default one, after checking that every
 * name is implemented; "none" never is.
 */
static int
offer_copy_list(const char *list, const char *fallback, bool (*known)(const char *),
    const char *suffix, char **outp)
{
	struct kb_namelist names;
	size_t i, len;
	int r;

	if (list == NULL)
		list = fallback;
	if ((r = kb_namelist_from_str(&names, list)) != 0)
		return KB_ERR_CONFIG_INVALID;
	for (i = 0, r = KB_OK; i < names.count; i++) {
		if (names.names[i][0] == '\0' || !known(names.names[i]))
			r = KB_ERR_CONFIG_INVALID;
	}
	if (names.count == 0)
		r = KB_ERR_CONFIG_INVALID;
	kb_namelist_free(&names);
	if (r != 0)
		return r;

	len = strlen(list) + (suffix == NULL ? 0 : strlen(suffix) + 1) + 1;
	if ((*outp = malloc(len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	snprintf(*outp, len, "%s%s%s", list, suffix == NULL ? "" : ",",
	    suffix == NULL ? "" : suffix);
	return KB_OK;
}

/* Appends name to the comma-separated list in buf unless already there. */
static int
offer_append_name(char *buf, size_t buflen, const char *name)
{
	struct kb_namelist have;
	bool dup;
	size_t used = strlen(buf);
	int n;

	if (kb_namelist_from_str(&have, buf) != 0)
		return KB_ERR_ALLOC_FAIL;
	dup = kb_namelist_contains(&have, name);
	kb_namelist_free(&have);
	if (dup)
		return KB_OK;
	n = snprintf(buf + used, buflen - used, "%s%s", used > 0 ? "," : "", name);
	if (n < 0 || (size_t)n >= buflen - used)
		return KB_ERR_CONFIG_INVALID;
	return KB_OK;
}

/*
 * Host key algorithms: those of each configured key, in key order, kept
 * when the configured list names them (or when there is none).
 */
static int
offer_hostkey_algorithms(struct kb_transport *t, const char *filter, char **outp)
{
	struct kb_namelist allowed, algs;
	char buf[HOSTKEY_OFFER_MAX] = "";
	size_t k, i;
	int r = KB_OK;

	memset(&allowed, 0, sizeof(allowed));
	if (filter != NULL && kb_namelist_from_str(&allowed, filter) != 0)
		return KB_ERR_CONFIG_INVALID;
	for (k = 0; k < t->hostkey_count && r == KB_OK; k++) {
		if (kb_namelist_from_str(&algs, kb_hostkey_algorithms(t->hostkeys[k])) != 0) {
			r = KB_ERR_ALLOC_FAIL;
			break;
		}
		for (i = 0; i < algs.count && r == KB_OK; i++) {
			if (filter == NULL || kb_namelist_contains(&allowed, algs.names[i]))
				r = offer_append_name(buf, sizeof(buf), algs.names[i]);
		}
		kb_namelist_free(&algs);
	}
	kb_namelist_free(&allowed);
	if (r != 0)
		return r;
	if (buf[0] == '\0')
		return KB_ERR_CONFIG_INVALID;
	if ((*outp = strdup(buf)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	return KB_OK;
}

int
transport_build_offer(struct kb_transport *t, const struct kb_transport_config *config)
{
	int r;

	if ((r = offer_copy_list(config->kex, kb_kex_names(), offer_kex_known,
	    KEX_STRICT_SERVER, &t->offer[KB_CAT_KEX])) != 0 ||
	    (r = offer_hostkey_algorithms(t, config->hostkey_algorithms,
	    &t->offer[KB_CAT_HOSTKEY])) != 0 ||
	    (r = offer_copy_list(config->ciphers, kb_cipher_names(), offer_cipher_known,
	    NULL, &t->offer[KB_CAT_CIPHER_C2S])) != 0 ||
	    (r = offer_copy_list(config->ciphers, kb_cipher_names(), offer_cipher_known,
	    NULL, &t->offer[KB_CAT_CIPHER_S2C])) != 0 ||
	    (r = offer_copy_list(config->macs, kb_mac_names(), offer_mac_known,
	    NULL, &t->offer[KB_CAT_MAC_C2S])) != 0 ||
	    (r = offer_copy_list(config->macs, kb_mac_names(), offer_mac_known,
	    NULL, &t->offer[KB_CAT_MAC_S2C])) != 0)
		return r;
	if ((t->offer[KB_CAT_COMP_C2S] = strdup("none")) == NULL ||
	    (t->offer[KB_CAT_COMP_S2C] = strdup("none")) == NULL ||
	    (t->offer[KB_CAT_LANG_C2S] = strdup("")) == NULL ||
	    (t->offer[KB_CAT_LANG_S2C] = strdup("")) == NULL)
		return KB_ERR_ALLOC_FAIL;
	return KB_OK;
}

/* Sends our KEXINIT with a fresh cookie and keeps its payload as I_S. */
int
transport_send_kexinit(struct kb_transport *t)
{
	int i, r;

	kb_kexinit_free(&t->ours);
	if (RAND_bytes(t->ours.cookie, sizeof(t->ours.cookie)) != 1)
		return KB_ERR_CRYPTO;
	for (i = 0; i < KB_CAT_COUNT; i++) {
		if ((r = kb_kexinit_set_list(&t->ours, i, t->offer[i])) != 0)
			return r;
	}
	kb_buf_reset(t->kexinit_ours);
	if ((r = kb_kexinit_write(&t->ours, t->kexinit_ours)) != 0 ||
	    (r = transport_send_payload(t, kb_buf_ptr(t->kexinit_ours),
	    kb_buf_len(t->kexinit_ours))) != 0)
		return r;
	t->kexinit_sent = true;
	return KB_OK;
}

void
transport_kex_clear(struct kb_transport *t)
{
	kb_kex_server_free(t->kex);
	t->kex = NULL;
	kb_kexinit_free(&t->ours);
	kb_kexinit_free(&t->peer);
	memset(&t->neg, 0, sizeof(t->neg));
	t->skip_guess = false;
}

#define KEX_NO_MATCH_FORMAT	N_("no matching %s algorithm; the client offered \"%s\"")

/* Fails the exchange for the first category without a common algorithm. */
static int
kex_fail_negotiation(struct kb_transport *t)
{
	const struct kb_namelist *offer;
	char text[256], wire[TRANSPORT_ERROR_TEXT_MAX], tr[TRANSPORT_ERROR_TEXT_MAX];
	int cat;

	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		if ((t->neg.failed & (1u << cat)) != 0)
			break;
	}
	if (cat == KB_CAT_NEGOTIATED)
		cat = KB_CAT_KEX;
	offer = &t->peer.lists[cat];
	transport_escape(text, sizeof(text), (const uint8_t *)offer->raw, offer->raw_len);
	/* The category name is translated too, so transport_fail() cannot format this. */
	snprintf(wire, sizeof(wire), KEX_NO_MATCH_FORMAT, category_names[cat], text);
	snprintf(tr, sizeof(tr), _(KEX_NO_MATCH_FORMAT), _(category_names[cat]), text);
	return transport_fail_texts(t, KB_ERR_NO_MATCH, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
	    wire, tr);
}

/* Looks up the agreed algorithms, which all come from our own offer. */
static int
kex_choose_algorithms(struct kb_transport *t)
{
	const char *const *chosen = t->neg.chosen;
	int dir;

	for (dir = KB_DIR_IN; dir <= KB_DIR_OUT; dir++) {
		enum kb_category ccat = dir == KB_DIR_IN ? KB_CAT_CIPHER_C2S : KB_CAT_CIPHER_S2C;
		enum kb_category mcat = dir == KB_DIR_IN ? KB_CAT_MAC_C2S : KB_CAT_MAC_S2C;

		t->cipher[dir] = kb_cipher_lookup(chosen[ccat]);
		t->mac[dir] = NULL;
		if (t->neg.status[mcat] == KB_CHOICE_AGREED)
			t->mac[dir] = kb_mac_lookup(chosen[mcat]);
		if (t->cipher[dir] == NULL ||
		    (t->mac[dir] == NULL && !t->cipher[dir]->aead))
			return KB_ERR_INTERNAL;
	}
	if (kb_kex_lookup(chosen[KB_CAT_KEX]) == NULL)
		return KB_ERR_INTERNAL;
	return KB_OK;
}

static const struct kb_hostkey *
kex_find_hostkey(const struct kb_transport *t, const char *alg)
{
	size_t i;

	for (i = 0; i < t->hostkey_count; i++) {
		if (kb_hostkey_supports(t->hostkeys[i], alg))
			return t->hostkeys[i];
	}
	return NULL;
}

/* Negotiates, picks the host key and starts the kex method. */
static int
kex_start(struct kb_transport *t)
{
	struct kb_kex_params params;
	int r;

	if (t->neg.failed != 0)
		return kex_fail_negotiation(t);
	if ((r = kex_choose_algorithms(t)) != 0)
		return transport_fail(t, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
		    N_("agreed algorithm not implemented"));

	memset(&params, 0, sizeof(params));
	params.client_version = t->client_version.line;
	params.server_version = t->server_version;
	params.client_kexinit = kb_buf_ptr(t->kexinit_peer);
	params.client_kexinit_len = kb_buf_len(t->kexinit_peer);
	params.server_kexinit = kb_buf_ptr(t->kexinit_ours);
	params.server_kexinit_len = kb_buf_len(t->kexinit_ours);
	params.hostkey_alg = t->neg.chosen[KB_CAT_HOSTKEY];
	params.hostkey = kex_find_hostkey(t, params.hostkey_alg);
	params.moduli = t->moduli;
	if (params.hostkey == NULL)
		return transport_fail(t, KB_ERR_INTERNAL, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
		    N_("no host key for the agreed algorithm"));
	if ((r = kb_kex_server_new(kb_kex_lookup(t->neg.chosen[KB_CAT_KEX]), &params,
	    &t->kex)) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
		    N_("cannot start the key exchange"));

	/* RFC 4253 section 7: a wrong guess means the next kex packet is ignored. */
	t->skip_guess = t->neg.client_guessed && !t->neg.client_guess_right;
	t->phase = PHASE_KEX;
	return KB_OK;
}

/*
 * Handles the client's KEXINIT: the first one, or a rekey from SERVICE or OPEN,
 * for which we send a fresh KEXINIT of ours (RFC 4253 section 9).
 */
int
recv_msg_kexinit(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	int r;

	kb_kexinit_free(&t->peer);
	if ((r = kb_kexinit_parse(&t->peer, payload, len)) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_PROTOCOL_ERROR,
		    N_("invalid KEXINIT from the client"));
	kb_buf_reset(t->kexinit_peer);
	if ((r = kb_buf_put(t->kexinit_peer, payload, len)) != 0)
		return transport_fail_code(t, r, SSH_DISCONNECT_BY_APPLICATION);

	/*
	 * In a rekey we started, our KEXINIT went out already, and the hash
	 * takes that one as I_S.
	 */
	if (!t->initial) {
		t->resume_phase = t->phase;
		if (!t->kexinit_sent && (r = transport_send_kexinit(t)) != 0)
			return transport_fail_err(t, r, SSH_DISCONNECT_BY_APPLICATION,
			    N_("cannot send KEXINIT"));
	}

	/* Strict key exchange and ext-info count in the first exchange only. */
	kb_negotiate(&t->peer, &t->ours, &t->neg);
	if (t->initial) {
		t->strict = t->neg.strict_kex;
		t->ext_info_c = t->neg.ext_info_c;
		if (t->strict && t->recv_seqnr != 0)
			return transport_fail(t, KB_ERR_UNEXPECTED_MESSAGE,
			    SSH_DISCONNECT_PROTOCOL_ERROR,
			    N_("strict key exchange violated: KEXINIT was not the first packet"));
	}
	return kex_start(t);
}

/* RFC 8308 section 2.3: sent right after our first NEWKEYS. */
static int
send_msg_ext_info(struct kb_transport *t)
{
	struct kb_buf *msg;
	int r;

	if ((msg = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_buf_put_u8(msg, SSH_MSG_EXT_INFO)) == 0 &&
	    (r = kb_buf_put_u32(msg, 1)) == 0 &&
	    (r = kb_buf_put_cstring(msg, "server-sig-algs")) == 0 &&
	    (r = kb_buf_put_cstring(msg, SERVER_SIG_ALGS)) == 0)
		r = transport_send_payload(t, kb_buf_ptr(msg), kb_buf_len(msg));
	kb_buf_free(msg);
	return r;
}

/* Switches one direction to the keys of the finished exchange. */
static int
kex_switch_keys(struct kb_transport *t, enum kb_direction dir)
{
	struct kb_newkeys keys;
	int r;

	memset(&keys, 0, sizeof(keys));
	if ((r = kb_kex_server_derive(t->kex, t->session_id, t->session_id_len,
	    dir == KB_DIR_IN, t->cipher[dir], t->mac[dir], &keys)) == 0)
		r = kb_packet_codec_set_keys(t->codec, dir, &keys);
	OPENSSL_cleanse(&keys, sizeof(keys));
	if (r != 0)
		return r;
	transport_rekey_reset(t, dir, t->cipher[dir], t->mac[dir]);
	/* Strict key exchange: numbering restarts after every NEWKEYS. */
	if (t->strict)
		kb_packet_codec_reset_seqnr(t->codec, dir);
	return KB_OK;
}

/* Sends NEWKEYS, switches our direction and releases what waited for it. */
static int
send_msg_newkeys(struct kb_transport *t)
{
	static const uint8_t newkeys[] = { SSH_MSG_NEWKEYS };
	const uint8_t *hash;
	size_t hash_len;
	int r;

	if ((hash = kb_kex_server_hash(t->kex, &hash_len)) == NULL ||
	    hash_len == 0 || hash_len > sizeof(t->session_id))
		return KB_ERR_INTERNAL;
	/* RFC 4253 section 7.2: the session id is H of the first exchange. */
	if (t->initial) {
		memcpy(t->session_id, hash, hash_len);
		t->session_id_len = hash_len;
	}
	if ((r = transport_send_payload(t, newkeys, sizeof(newkeys))) != 0 ||
	    (r = kex_switch_keys(t, KB_DIR_OUT)) != 0)
		return r;
	t->kexinit_sent = false;
	/* sshd's time limit, too, runs from the NEWKEYS it sent. */
	t->rekey_time = rekey_now(t);
	if (t->initial && t->ext_info_c && (r = send_msg_ext_info(t)) != 0)
		return r;
	t->phase = PHASE_NEWKEYS;
	return transport_flush_queue(t);
}

int
recv_msg_kex_method(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	struct kb_buf *reply;
	bool done = false;
	int r;

	if (t->skip_guess) {
		t->skip_guess = false;
		return KB_OK;
	}
	if ((reply = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		return transport_fail_code(t, KB_ERR_ALLOC_FAIL,
		    SSH_DISCONNECT_BY_APPLICATION);
	r = kb_kex_server_input(t->kex, payload, len, reply, &done);
	if (r == 0 && kb_buf_len(reply) > 0)
		r = transport_send_payload(t, kb_buf_ptr(reply), kb_buf_len(reply));
	kb_buf_free(reply);
	if (r == KB_ERR_UNEXPECTED_MESSAGE || r == KB_ERR_MESSAGE_TRUNCATED ||
	    r == KB_ERR_TRAILING_DATA)
		return transport_fail_err(t, r, SSH_DISCONNECT_PROTOCOL_ERROR,
		    N_("invalid key exchange message %u"), (unsigned int)payload[0]);
	if (r != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
		    N_("key exchange failed"));
	if (!done)
		return KB_OK;
	if ((r = send_msg_newkeys(t)) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
		    N_("cannot switch to the new keys"));
	return KB_OK;
}

/*
 * The limits follow ssh_set_newkeys() in OpenSSH 10.5's packet.c: a cipher
 * with 16-byte blocks may run 2^(2 * 16) blocks, one with smaller blocks
 * 1 GiB, and chacha20-poly1305 counts as 8-byte blocks there. A configured
 * byte limit can only lower that. Before the first NEWKEYS of a direction
 * no limit applies to it.
 */
void
transport_rekey_reset(struct kb_transport *t, enum kb_direction dir,
    const struct kb_cipher_info *cipher, const struct kb_mac_info *mac)
{
	struct transport_rekey_count *count = &t->rekey_count[dir];
	uint64_t limit;

	memset(count, 0, sizeof(*count));
	if (cipher == NULL) {
		count->block_size = KB_PACKET_BLOCK;
		return;
	}
	count->block_size = cipher->block_size;
	count->auth_len = cipher->aead || mac == NULL ? cipher->tag_len : mac->mac_len;
	if (cipher->block_size >= 16)
		count->max_blocks = (uint64_t)1 << (cipher->block_size * 2 < 64 ?
		    cipher->block_size * 2 : 63);
	else
		count->max_blocks = ((uint64_t)1 << 30) / cipher->block_size;
	if (t->rekey_bytes != 0) {
		limit = t->rekey_bytes / cipher->block_size;
		if (limit < count->max_blocks)
			count->max_blocks = limit;
	}
}

/*
 * Follows ssh_packet_need_rekeying() in OpenSSH 10.5's packet.c. It checks
 * nothing before authentication, during a key exchange, or before one
 * packet went either way under the current keys, so that tiny limits still
 * make progress. Then come the time limit, 2^31 packets, and the block
 * limits.
 *
 * NOTE: OpenSSH 10.5 adds the packet about to be sent as its length in
 * bytes rounded up to the block size (misc.h ROUNDUP), not in blocks. With
 * 16-byte blocks a 32 KiB packet then counts as 512 KiB, so sshd's bulk
 * output rekeys up to 480 KiB early. kexbridge adds blocks.
 */
bool
transport_need_rekey(const struct kb_transport *t, size_t outbound_len)
{
	const struct transport_rekey_count *in = &t->rekey_count[KB_DIR_IN];
	const struct transport_rekey_count *out = &t->rekey_count[KB_DIR_OUT];
	uint64_t out_blocks = 0;

	if (!t->authenticated || t->initial || t->phase != PHASE_OPEN || t->kexinit_sent)
		return false;
	if (in->packets == 0 && out->packets == 0)
		return false;
	if (t->rekey_seconds != 0 && t->rekey_time + t->rekey_seconds <= rekey_now(t))
		return true;
	if (in->packets > REKEY_PACKETS_MAX || out->packets > REKEY_PACKETS_MAX)
		return true;
	/* The unpadded packet, as OpenSSH measures it: length, padding length, payload. */
	if (outbound_len != 0)
		out_blocks = (4 + 1 + (uint64_t)outbound_len + out->block_size - 1) /
		    out->block_size;
	return (out->max_blocks != 0 && out->blocks + out_blocks > out->max_blocks) ||
	    (in->max_blocks != 0 && in->blocks > in->max_blocks);
}

int
transport_start_rekey(struct kb_transport *t)
{
	const struct transport_rekey_count *in = &t->rekey_count[KB_DIR_IN];
	const struct transport_rekey_count *out = &t->rekey_count[KB_DIR_OUT];
	int r;

	/* Logged first, so that the counts leave out our KEXINIT. */
	if (t->rekey_seconds != 0 && t->rekey_time + t->rekey_seconds <= rekey_now(t))
		kb_log(KB_LOG_INFO, t->log_session,
		    "rekey time limit of %u s reached; starting key exchange %u",
		    (unsigned int)t->rekey_seconds, t->kex_count + 1);
	else
		kb_log(KB_LOG_INFO, t->log_session,
		    "rekey data limit reached after %llu bytes received and %llu bytes "
		    "sent under the current keys; starting key exchange %u",
		    (unsigned long long)(in->blocks * in->block_size),
		    (unsigned long long)(out->blocks * out->block_size), t->kex_count + 1);

	if ((r = transport_send_kexinit(t)) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_BY_APPLICATION,
		    N_("cannot send KEXINIT"));
	t->resume_phase = PHASE_OPEN;
	t->counters.rekeys_started++;
	return KB_OK;
}

static void
kex_record_agreed(struct kb_transport *t)
{
	int cat;

	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		t->agreed_set[cat] = t->neg.status[cat] == KB_CHOICE_AGREED;
		if (t->agreed_set[cat])
			snprintf(t->agreed[cat], sizeof(t->agreed[cat]), "%s",
			    t->neg.chosen[cat]);
	}
}

/* The client's NEWKEYS: its direction switches before the next packet is read. */
int
recv_msg_newkeys(struct kb_transport *t, const uint8_t *payload, size_t len)
{
	int r;

	(void)payload;
	if (len != 1)
		return transport_fail_err(t, KB_ERR_TRAILING_DATA,
		    SSH_DISCONNECT_PROTOCOL_ERROR, N_("invalid NEWKEYS message"));
	if ((r = kex_switch_keys(t, KB_DIR_IN)) != 0)
		return transport_fail_err(t, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
		    N_("cannot switch to the new keys"));
	kex_record_agreed(t);
	t->kex_count++;
	t->phase = t->initial ? PHASE_SERVICE : t->resume_phase;
	t->initial = false;
	transport_kex_clear(t);
	return KB_OK;
}
