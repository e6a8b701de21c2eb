/*
 * libFuzzer harness for the server transport and the connection layer after
 * user authentication. An in-memory client (kb_kex_client and
 * kb_packet_codec) runs the handshake with curve25519-sha256, ssh-ed25519,
 * aes128-ctr and hmac-sha2-256, requests ssh-userauth and logs in with a
 * password, which the harness accepts. The fuzz input then drives the
 * session:
 *
 *   byte 0      bridge behaviour flags (BRIDGE_* below)
 *   then        payloads, each a 2-byte big-endian length and that many
 *               bytes (the last one may be cut short), which the client
 *               encrypts and sends as packets
 *
 * The harness handles every event kb_conn_next() raises as the bridge would:
 * it replies to exec and subsystem requests, reports channel data as
 * consumed, echoes it, and closes a channel after the client's EOF, each as
 * the flags in the first input byte select. It also decrypts
 * everything the server sends until a rekey starts, so a packet the client
 * cannot read is caught. Padding is random (RAND_bytes) on both sides, so
 * the ciphertext differs between runs, but the messages do not.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/buf.h"
#include "kexbridge/cipher.h"
#include "kexbridge/connection.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/kex.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/packet.h"
#include "kexbridge/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLIENT_VERSION	"SSH-2.0-FuzzClient_1.0"
#define FUZZ_KEX	"curve25519-sha256"
#define FUZZ_HOSTKEY	"ssh-ed25519"
#define FUZZ_CIPHER	"aes128-ctr"
#define FUZZ_MAC	"hmac-sha2-256"

/* Bits of the first input byte: how the simulated bridge responds. */
#define BRIDGE_REJECT_REQUESTS	0x01	/* exec and subsystem fail upstream */
#define BRIDGE_CLOSE_ON_EOF	0x02	/* EOF, exit status and CLOSE after the client's EOF */
#define BRIDGE_EXIT_SIGNAL	0x04	/* exit-signal instead of exit-status */
#define BRIDGE_NO_ECHO		0x08	/* consume the client's data without echoing it */
#define BRIDGE_NO_CONSUME	0x10	/* never reopen the client's window */
#define BRIDGE_ECHO_STDERR	0x20	/* echo as extended data (stderr) */

static const char *const fuzz_exec_allow[] = { "scp -t *", "scp -f *", NULL };

/* Generated once per process: key generation would dominate every run. */
static struct kb_hostkey *fuzz_hostkey;

struct fuzz_session {
	struct kb_transport *t;
	struct kb_conn *conn;
	struct kb_packet_codec *codec;	/* the client's */
	struct kb_buf *in;		/* server bytes the client has not parsed */
	struct kb_buf *out;		/* client bytes not yet fed */
	struct kb_buf *payload;		/* scratch for one message */
	struct kb_buf *kexinit;		/* I_C */
	struct kb_buf *server_kexinit;	/* I_S */
	char server_version[256];
	bool have_version;
	bool rekey_started;		/* the server's output is no longer checked */
	unsigned int flags;		/* BRIDGE_* */
};

static void
session_free(struct fuzz_session *s)
{
	kb_conn_free(s->conn);
	kb_transport_free(s->t);
	kb_packet_codec_free(s->codec);
	kb_buf_free(s->in);
	kb_buf_free(s->out);
	kb_buf_free(s->payload);
	kb_buf_free(s->kexinit);
	kb_buf_free(s->server_kexinit);
}

static void
session_init(struct fuzz_session *s, unsigned int flags)
{
	static struct kb_hostkey *keys[1];
	struct kb_transport_config tconfig;
	struct kb_conn_config cconfig;

	memset(s, 0, sizeof(*s));
	s->flags = flags;
	keys[0] = fuzz_hostkey;
	memset(&tconfig, 0, sizeof(tconfig));
	tconfig.hostkeys = keys;
	tconfig.hostkey_count = 1;
	tconfig.kex = FUZZ_KEX;
	tconfig.hostkey_algorithms = FUZZ_HOSTKEY;
	tconfig.ciphers = FUZZ_CIPHER;
	tconfig.macs = FUZZ_MAC;

	/* A small window, so that window exhaustion and adjustment are reached. */
	memset(&cconfig, 0, sizeof(cconfig));
	cconfig.allow_password = true;
	cconfig.allow_kbdint = true;
	cconfig.max_auth_tries = 6;
	cconfig.exec_allow = fuzz_exec_allow;
	cconfig.allow_sftp = true;
	cconfig.window_size = 64 * 1024;
	cconfig.max_packet = 32 * 1024;
	cconfig.max_channels = 4;

	if (kb_transport_new(&tconfig, &s->t) != KB_OK ||
	    kb_conn_new(s->t, &cconfig, &s->conn) != KB_OK ||
	    (s->codec = kb_packet_codec_new()) == NULL ||
	    (s->in = kb_buf_new(KB_BUF_SIZE_MAX)) == NULL ||
	    (s->out = kb_buf_new(KB_BUF_SIZE_MAX)) == NULL ||
	    (s->payload = kb_buf_new(KB_BUF_SIZE_MAX)) == NULL ||
	    (s->kexinit = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL ||
	    (s->server_kexinit = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		abort();
}

/* Moves what the server wants sent into the client's input. */
static void
session_take_output(struct fuzz_session *s)
{
	struct kb_buf *out = kb_transport_output(s->t);

	if (kb_buf_len(out) == 0)
		return;
	if (kb_buf_put(s->in, kb_buf_ptr(out), kb_buf_len(out)) != KB_OK)
		abort();
	kb_buf_consume(out, kb_buf_len(out));
}

/* Takes the server's next packet, or returns KB_ERR_INCOMPLETE when none is complete. */
static int
session_recv(struct fuzz_session *s)
{
	const uint8_t *p;
	size_t i;

	session_take_output(s);
	kb_buf_reset(s->payload);
	if (!s->have_version) {
		p = kb_buf_ptr(s->in);
		for (i = 0; i < kb_buf_len(s->in) && p[i] != '\n'; i++)
			;
		if (i == kb_buf_len(s->in))
			return KB_ERR_INCOMPLETE;
		if (i < 2 || i >= sizeof(s->server_version))
			abort();
		memcpy(s->server_version, p, i - 1);
		s->server_version[i - 1] = '\0';
		kb_buf_consume(s->in, i + 1);
		s->have_version = true;
	}
	return kb_packet_codec_recv(s->codec, s->in, s->payload);
}

/* The next server message during the handshake, which must arrive. */
static uint8_t
session_expect(struct fuzz_session *s)
{
	if (session_recv(s) != KB_OK || kb_buf_len(s->payload) == 0)
		abort();
	return kb_buf_ptr(s->payload)[0];
}

/* Feeds the client's bytes in one piece; only for the handshake. */
static void
session_flush(struct fuzz_session *s)
{
	if (kb_transport_feed(s->t, kb_buf_ptr(s->out), kb_buf_len(s->out)) != KB_OK)
		abort();
	kb_buf_consume(s->out, kb_buf_len(s->out));
}

static void
session_send_handshake(struct fuzz_session *s, const uint8_t *payload, size_t len)
{
	if (kb_packet_codec_send(s->codec, payload, len, s->out) != KB_OK)
		abort();
	session_flush(s);
}

static void
session_send_kexinit(struct fuzz_session *s)
{
	struct kb_kexinit k;

	memset(&k, 0, sizeof(k));
	if (kb_kexinit_set_list(&k, KB_CAT_KEX, FUZZ_KEX) != KB_OK ||
	    kb_kexinit_set_list(&k, KB_CAT_HOSTKEY, FUZZ_HOSTKEY) != KB_OK ||
	    kb_kexinit_set_list(&k, KB_CAT_CIPHER_C2S, FUZZ_CIPHER) != KB_OK ||
	    kb_kexinit_set_list(&k, KB_CAT_CIPHER_S2C, FUZZ_CIPHER) != KB_OK ||
	    kb_kexinit_set_list(&k, KB_CAT_MAC_C2S, FUZZ_MAC) != KB_OK ||
	    kb_kexinit_set_list(&k, KB_CAT_MAC_S2C, FUZZ_MAC) != KB_OK ||
	    kb_kexinit_set_list(&k, KB_CAT_COMP_C2S, "none") != KB_OK ||
	    kb_kexinit_set_list(&k, KB_CAT_COMP_S2C, "none") != KB_OK ||
	    kb_kexinit_write(&k, s->kexinit) != KB_OK)
		abort();
	kb_kexinit_free(&k);
	if (kb_packet_codec_send(s->codec, kb_buf_ptr(s->kexinit), kb_buf_len(s->kexinit),
	    s->out) != KB_OK)
		abort();
}

static void
session_switch_keys(struct fuzz_session *s, const struct kb_kex_client *kex,
    const uint8_t *session_id, size_t session_id_len, bool client_to_server)
{
	struct kb_newkeys keys;

	if (kb_kex_client_derive(kex, session_id, session_id_len, client_to_server,
	    kb_cipher_lookup(FUZZ_CIPHER), kb_mac_lookup(FUZZ_MAC), &keys) != KB_OK ||
	    kb_packet_codec_set_keys(s->codec, client_to_server ? KB_DIR_OUT : KB_DIR_IN,
	    &keys) != KB_OK)
		abort();
	memset(&keys, 0, sizeof(keys));
}

/* Runs the key exchange after both KEXINITs, through both NEWKEYS. */
static void
session_run_kex(struct fuzz_session *s)
{
	struct kb_kex_client_params params;
	struct kb_kex_client *kex = NULL;
	struct kb_buf *msg;
	const uint8_t *hash;
	uint8_t newkeys = SSH_MSG_NEWKEYS;
	size_t hash_len;
	bool done = false;

	memset(&params, 0, sizeof(params));
	params.client_version = CLIENT_VERSION;
	params.server_version = s->server_version;
	params.client_kexinit = kb_buf_ptr(s->kexinit);
	params.client_kexinit_len = kb_buf_len(s->kexinit);
	params.server_kexinit = kb_buf_ptr(s->server_kexinit);
	params.server_kexinit_len = kb_buf_len(s->server_kexinit);
	params.hostkey_alg = FUZZ_HOSTKEY;
	if ((msg = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL ||
	    kb_kex_client_new(kb_kex_lookup(FUZZ_KEX), &params, &kex) != KB_OK ||
	    kb_kex_client_start(kex, msg) != KB_OK)
		abort();
	session_send_handshake(s, kb_buf_ptr(msg), kb_buf_len(msg));

	while (!done) {
		if (session_recv(s) != KB_OK)
			abort();
		kb_buf_reset(msg);
		if (kb_kex_client_input(kex, kb_buf_ptr(s->payload), kb_buf_len(s->payload),
		    msg, &done) != KB_OK)
			abort();
		if (kb_buf_len(msg) > 0)
			session_send_handshake(s, kb_buf_ptr(msg), kb_buf_len(msg));
	}

	/* The first exchange's hash is the session identifier (RFC 4253 section 7.2). */
	hash = kb_kex_client_hash(kex, &hash_len);
	if (session_expect(s) != SSH_MSG_NEWKEYS)
		abort();
	session_switch_keys(s, kex, hash, hash_len, false);
	session_send_handshake(s, &newkeys, 1);
	session_switch_keys(s, kex, hash, hash_len, true);
	kb_kex_client_free(kex);
	kb_buf_free(msg);
}

/* Version lines, KEXINITs, key exchange and the ssh-userauth service. */
static void
session_handshake(struct fuzz_session *s)
{
	struct kb_buf *msg;

	if (kb_buf_put(s->out, CLIENT_VERSION "\r\n", strlen(CLIENT_VERSION) + 2) != KB_OK)
		abort();
	session_send_kexinit(s);
	session_flush(s);
	if (session_expect(s) != SSH_MSG_KEXINIT ||
	    kb_buf_put(s->server_kexinit, kb_buf_ptr(s->payload),
	    kb_buf_len(s->payload)) != KB_OK)
		abort();
	session_run_kex(s);

	if ((msg = kb_buf_new(256)) == NULL ||
	    kb_buf_put_u8(msg, SSH_MSG_SERVICE_REQUEST) != KB_OK ||
	    kb_buf_put_cstring(msg, "ssh-userauth") != KB_OK)
		abort();
	session_send_handshake(s, kb_buf_ptr(msg), kb_buf_len(msg));
	if (session_expect(s) != SSH_MSG_SERVICE_ACCEPT)
		abort();
	kb_buf_free(msg);
}

/* USERAUTH_REQUEST with a password (RFC 4252 section 8), accepted at once. */
static void
session_login(struct fuzz_session *s)
{
	struct kb_conn_event ev;
	struct kb_buf *msg;

	if ((msg = kb_buf_new(256)) == NULL ||
	    kb_buf_put_u8(msg, SSH_MSG_USERAUTH_REQUEST) != KB_OK ||
	    kb_buf_put_cstring(msg, "fuzz") != KB_OK ||
	    kb_buf_put_cstring(msg, "ssh-connection") != KB_OK ||
	    kb_buf_put_cstring(msg, "password") != KB_OK ||
	    kb_buf_put_u8(msg, 0) != KB_OK ||
	    kb_buf_put_cstring(msg, "not-a-secret") != KB_OK)
		abort();
	session_send_handshake(s, kb_buf_ptr(msg), kb_buf_len(msg));
	kb_buf_free(msg);

	if (kb_conn_next(s->conn, &ev) != KB_OK || ev.type != KB_CONN_EV_AUTH_PASSWORD ||
	    kb_conn_auth_success(s->conn) != KB_OK || !kb_conn_authenticated(s->conn))
		abort();
	if (session_expect(s) != SSH_MSG_USERAUTH_SUCCESS)
		abort();
}

/*
 * Decrypts what the server sent. Every packet must decrypt under the keys in
 * use until the server starts a rekey with its KEXINIT. The client does not
 * follow the rekey, so everything after that KEXINIT is discarded.
 */
static void
session_check_output(struct fuzz_session *s)
{
	int r = KB_ERR_INCOMPLETE;

	while (!s->rekey_started && (r = session_recv(s)) == KB_OK) {
		if (kb_buf_len(s->payload) == 0)
			abort();
		if (kb_buf_ptr(s->payload)[0] == SSH_MSG_KEXINIT)
			s->rekey_started = true;
	}
	if (!s->rekey_started && r != KB_ERR_INCOMPLETE)
		abort();
	if (s->rekey_started)
		kb_buf_reset(s->in);
}

/* Sends data on a channel as the bridge would, within the client's window. */
static void
bridge_send(struct fuzz_session *s, uint32_t channel, uint32_t ext,
    const uint8_t *data, size_t len)
{
	size_t window = kb_conn_channel_send_window(s->conn, channel), taken = 0;

	if (kb_conn_channel_send(s->conn, channel, ext, data, len, &taken) == KB_OK &&
	    (taken > len || taken > window))
		abort();
}

static void
bridge_on_data(struct fuzz_session *s, const struct kb_conn_event *ev)
{
	if (!(s->flags & BRIDGE_NO_CONSUME))
		(void)kb_conn_channel_consumed(s->conn, ev->channel, ev->len);
	if (!(s->flags & BRIDGE_NO_ECHO))
		bridge_send(s, ev->channel, s->flags & BRIDGE_ECHO_STDERR ? 1 : 0, ev->data,
		    ev->len);
}

static void
bridge_on_eof(struct fuzz_session *s, uint32_t channel)
{
	if (!(s->flags & BRIDGE_CLOSE_ON_EOF))
		return;
	(void)kb_conn_channel_send_eof(s->conn, channel);
	if (s->flags & BRIDGE_EXIT_SIGNAL)
		(void)kb_conn_channel_exit_signal(s->conn, channel, "TERM", false,
		    "upstream closed");
	else
		(void)kb_conn_channel_exit_status(s->conn, channel, 0);
	(void)kb_conn_channel_close(s->conn, channel);
}

/* Handles one event as the bridge would. */
static void
bridge_handle(struct fuzz_session *s, const struct kb_conn_event *ev)
{
	static const uint8_t reply[] = "C0644 4 file\n";
	static const char *const prompts[] = { "Password: " };
	static const bool echo[] = { false };

	switch (ev->type) {
	case KB_CONN_EV_AUTH_PASSWORD:
	case KB_CONN_EV_AUTH_KBDINT_RESPONSE:
		(void)kb_conn_auth_success(s->conn);
		break;
	case KB_CONN_EV_AUTH_KBDINT:
		(void)kb_conn_auth_kbdint_prompts(s->conn, "upstream", "", prompts, echo, 1);
		break;
	case KB_CONN_EV_CHANNEL_EXEC:
	case KB_CONN_EV_CHANNEL_SUBSYSTEM:
		(void)kb_conn_channel_request_reply(s->conn, ev->channel,
		    !(s->flags & BRIDGE_REJECT_REQUESTS));
		break;
	case KB_CONN_EV_CHANNEL_DATA:
		bridge_on_data(s, ev);
		break;
	case KB_CONN_EV_CHANNEL_EOF:
		bridge_on_eof(s, ev->channel);
		break;
	case KB_CONN_EV_CHANNEL_WINDOW:
		bridge_send(s, ev->channel, 0, reply, sizeof(reply) - 1);
		break;
	case KB_CONN_EV_CHANNEL_CLOSE:
		(void)kb_conn_channel_closed(s->conn, ev->channel);
		break;
	case KB_CONN_EV_NONE:
	case KB_CONN_EV_CHANNEL_OPEN:
	case KB_CONN_EV_REFUSED:
		break;
	}
}

/* Passes events to bridge_handle() until the connection layer has no message left. */
static void
session_pump(struct fuzz_session *s)
{
	struct kb_conn_event ev;
	int r;

	while ((r = kb_conn_next(s->conn, &ev)) == KB_OK) {
		bridge_handle(s, &ev);
		session_check_output(s);
	}
	/* A protocol error must have disconnected the transport. */
	if (r != KB_ERR_INCOMPLETE && kb_transport_state(s->t) != KB_TRANSPORT_CLOSED)
		abort();
	session_check_output(s);
}

/* Feeds the client's bytes no faster than the transport takes them. */
static void
session_feed(struct fuzz_session *s)
{
	size_t chunk;

	while (kb_buf_len(s->out) > 0 && kb_transport_state(s->t) != KB_TRANSPORT_CLOSED) {
		chunk = kb_transport_input_space(s->t);
		if (chunk == 0) {
			session_pump(s);
			if ((chunk = kb_transport_input_space(s->t)) == 0)
				break;
		}
		if (chunk > kb_buf_len(s->out))
			chunk = kb_buf_len(s->out);
		(void)kb_transport_feed(s->t, kb_buf_ptr(s->out), chunk);
		kb_buf_consume(s->out, chunk);
		session_pump(s);
	}
	kb_buf_reset(s->out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_session s;
	size_t off = 1, len;

	if (size < 1)
		return 0;
	if (fuzz_hostkey == NULL &&
	    kb_hostkey_generate(KB_HOSTKEY_ED25519, 0, &fuzz_hostkey) != KB_OK)
		abort();
	session_init(&s, data[0]);
	session_handshake(&s);
	session_login(&s);

	while (off + 2 <= size && kb_transport_state(s.t) != KB_TRANSPORT_CLOSED) {
		len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		if (len > 0 && kb_packet_codec_send(s.codec, data + off, len, s.out) == KB_OK)
			session_feed(&s);
		off += len;
	}

	/* Whatever state it ended in, the getters must be safe to call. */
	(void)kb_transport_error(s.t);
	(void)kb_transport_error_text(s.t);
	(void)kb_transport_disconnect_reason(s.t);
	(void)kb_transport_kex_count(s.t);
	(void)kb_conn_user(s.conn);
	session_free(&s);
	return 0;
}
