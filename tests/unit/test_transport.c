/*
 * Unit tests for the server transport (kexbridge/transport.h). An in-memory
 * client built from kb_kex_client, kb_packet_codec and the KEXINIT helpers
 * talks to the server. The tests cover handshakes for every kex method and
 * several cipher and MAC pairs, the service request, rekey, strict kex,
 * ext-info, guesses, the allowed-message table, MAC errors and bad version
 * lines.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kexbridge/buf.h"
#include "kexbridge/cipher.h"
#include "kexbridge/connection.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/kex.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/packet.h"
#include "kexbridge/transport.h"

#include "../../src/ssh/transport_internal.h"

#define CLIENT_VERSION	"SSH-2.0-TestClient_1.0"
#define MSG_USERAUTH_REQUEST	50
#define MSG_USERAUTH_FAILURE	51
#define MSG_CHANNEL_DATA	94

static struct kb_hostkey *test_hostkey;

struct client_opts {
	const char *kex;
	const char *hostkey;
	const char *cipher;
	const char *mac;	/* NULL under an AEAD cipher */
	bool strict;
	bool ext_info;
	bool guess;		/* first_kex_packet_follows */
};

struct client {
	struct client_opts opts;
	struct kb_transport *t;
	struct kb_packet_codec *codec;
	struct kb_buf *in;		/* server bytes not yet parsed */
	struct kb_buf *out;		/* our bytes not yet fed */
	struct kb_buf *kexinit;		/* I_C */
	struct kb_buf *server_kexinit;	/* I_S */
	char server_version[256];
	bool have_version;
	struct kb_kex_client *kex;
	uint8_t session_id[64];
	size_t session_id_len;
};

static const struct kb_transport_config *
server_config(const char *kex)
{
	static struct kb_hostkey *keys[1];
	static struct kb_transport_config config;

	keys[0] = test_hostkey;
	memset(&config, 0, sizeof(config));
	config.hostkeys = keys;
	config.hostkey_count = 1;
	config.kex = kex;
	return &config;
}

static const struct client_opts default_opts = {
	"curve25519-sha256", "ssh-ed25519", "aes128-ctr", "hmac-sha2-256",
	false, false, false,
};

/* Moves every byte the server wants sent into the client's input. */
static void
client_take_output(struct client *c)
{
	struct kb_buf *out = kb_transport_output(c->t);

	if (kb_buf_len(out) == 0)
		return;
	assert_int_equal(kb_buf_put(c->in, kb_buf_ptr(out), kb_buf_len(out)), KB_OK);
	kb_buf_consume(out, kb_buf_len(out));
}

/* Feeds the client's bytes to the server and returns the result of kb_transport_feed. */
static int
client_flush(struct client *c)
{
	int r;

	r = kb_transport_feed(c->t, kb_buf_ptr(c->out), kb_buf_len(c->out));
	kb_buf_consume(c->out, kb_buf_len(c->out));
	client_take_output(c);
	return r;
}

static int
client_send(struct client *c, const uint8_t *payload, size_t len)
{
	assert_int_equal(kb_packet_codec_send(c->codec, payload, len, c->out), KB_OK);
	return client_flush(c);
}

/* Takes the server's next packet, or returns KB_ERR_INCOMPLETE when there is none. */
static int
client_recv(struct client *c, struct kb_buf *payload)
{
	const uint8_t *p;
	size_t i;

	client_take_output(c);
	kb_buf_reset(payload);
	if (!c->have_version) {
		p = kb_buf_ptr(c->in);
		for (i = 0; i < kb_buf_len(c->in) && p[i] != '\n'; i++)
			;
		if (i == kb_buf_len(c->in))
			return KB_ERR_INCOMPLETE;
		assert_true(i > 1 && i < sizeof(c->server_version));
		memcpy(c->server_version, p, i - 1);
		c->server_version[i - 1] = '\0';
		kb_buf_consume(c->in, i + 1);
		c->have_version = true;
	}
	return kb_packet_codec_recv(c->codec, c->in, payload);
}

static uint8_t
client_expect(struct client *c, struct kb_buf *payload)
{
	assert_int_equal(client_recv(c, payload), KB_OK);
	assert_true(kb_buf_len(payload) > 0);
	return kb_buf_ptr(payload)[0];
}

static void
client_send_kexinit(struct client *c, bool first)
{
	struct kb_kexinit k;
	char kex[512];

	memset(&k, 0, sizeof(k));
	snprintf(kex, sizeof(kex), "%s%s%s", c->opts.kex,
	    first && c->opts.ext_info ? ",ext-info-c" : "",
	    first && c->opts.strict ? ",kex-strict-c-v00@openssh.com" : "");
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_KEX, kex), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_HOSTKEY, c->opts.hostkey), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_CIPHER_C2S, c->opts.cipher), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_CIPHER_S2C, c->opts.cipher), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_MAC_C2S,
	    c->opts.mac == NULL ? "hmac-sha2-256" : c->opts.mac), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_MAC_S2C,
	    c->opts.mac == NULL ? "hmac-sha2-256" : c->opts.mac), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_COMP_C2S, "none"), KB_OK);
	assert_int_equal(kb_kexinit_set_list(&k, KB_CAT_COMP_S2C, "none"), KB_OK);
	k.first_kex_follows = c->opts.guess;
	kb_buf_reset(c->kexinit);
	assert_int_equal(kb_kexinit_write(&k, c->kexinit), KB_OK);
	kb_kexinit_free(&k);
	assert_int_equal(kb_packet_codec_send(c->codec, kb_buf_ptr(c->kexinit),
	    kb_buf_len(c->kexinit), c->out), KB_OK);
}

static void
client_init(struct client *c, const struct client_opts *opts,
    const struct kb_transport_config *config)
{
	memset(c, 0, sizeof(*c));
	c->opts = *opts;
	assert_int_equal(kb_transport_new(config, &c->t), KB_OK);
	assert_non_null(c->codec = kb_packet_codec_new());
	assert_non_null(c->in = kb_buf_new(KB_BUF_SIZE_MAX));
	assert_non_null(c->out = kb_buf_new(KB_BUF_SIZE_MAX));
	assert_non_null(c->kexinit = kb_buf_new(KB_BUF_SIZE_DEFAULT));
	assert_non_null(c->server_kexinit = kb_buf_new(KB_BUF_SIZE_DEFAULT));
}

static void
client_free(struct client *c)
{
	kb_transport_free(c->t);
	kb_packet_codec_free(c->codec);
	kb_buf_free(c->in);
	kb_buf_free(c->out);
	kb_buf_free(c->kexinit);
	kb_buf_free(c->server_kexinit);
	kb_kex_client_free(c->kex);
}

/* Sends the version line and KEXINIT, and reads the server's two. */
static void
client_start(struct client *c)
{
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);

	assert_int_equal(kb_buf_put(c->out, CLIENT_VERSION "\r\n",
	    strlen(CLIENT_VERSION) + 2), KB_OK);
	client_send_kexinit(c, true);
	assert_int_equal(client_flush(c), KB_OK);
	assert_int_equal(client_expect(c, payload), SSH_MSG_KEXINIT);
	kb_buf_reset(c->server_kexinit);
	assert_int_equal(kb_buf_put(c->server_kexinit, kb_buf_ptr(payload),
	    kb_buf_len(payload)), KB_OK);
	kb_buf_free(payload);
}

static void
client_switch_keys(struct client *c, bool client_to_server)
{
	struct kb_newkeys keys;
	const char *mac = c->opts.mac;

	assert_int_equal(kb_kex_client_derive(c->kex, c->session_id, c->session_id_len,
	    client_to_server, kb_cipher_lookup(c->opts.cipher),
	    mac == NULL ? NULL : kb_mac_lookup(mac), &keys), KB_OK);
	assert_int_equal(kb_packet_codec_set_keys(c->codec,
	    client_to_server ? KB_DIR_OUT : KB_DIR_IN, &keys), KB_OK);
	if (c->opts.strict)
		kb_packet_codec_reset_seqnr(c->codec, client_to_server ? KB_DIR_OUT : KB_DIR_IN);
}

/* Runs the kex method after KEXINITs were exchanged, through both NEWKEYS. */
static void
client_run_kex(struct client *c)
{
	struct kb_kex_client_params params;
	struct kb_buf *msg = kb_buf_new(KB_BUF_SIZE_MAX);
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	const uint8_t *hash;
	size_t hash_len;
	bool done = false;

	memset(&params, 0, sizeof(params));
	params.client_version = CLIENT_VERSION;
	params.server_version = c->server_version;
	params.client_kexinit = kb_buf_ptr(c->kexinit);
	params.client_kexinit_len = kb_buf_len(c->kexinit);
	params.server_kexinit = kb_buf_ptr(c->server_kexinit);
	params.server_kexinit_len = kb_buf_len(c->server_kexinit);
	params.hostkey_alg = c->opts.hostkey;
	kb_kex_client_free(c->kex);
	c->kex = NULL;
	assert_int_equal(kb_kex_client_new(kb_kex_lookup(c->opts.kex), &params, &c->kex), KB_OK);
	assert_int_equal(kb_kex_client_start(c->kex, msg), KB_OK);
	assert_int_equal(client_send(c, kb_buf_ptr(msg), kb_buf_len(msg)), KB_OK);

	while (!done) {
		assert_int_equal(client_recv(c, payload), KB_OK);
		kb_buf_reset(msg);
		assert_int_equal(kb_kex_client_input(c->kex, kb_buf_ptr(payload),
		    kb_buf_len(payload), msg, &done), KB_OK);
		if (kb_buf_len(msg) > 0)
			assert_int_equal(client_send(c, kb_buf_ptr(msg), kb_buf_len(msg)), KB_OK);
	}
	hash = kb_kex_client_hash(c->kex, &hash_len);
	if (c->session_id_len == 0) {
		memcpy(c->session_id, hash, hash_len);
		c->session_id_len = hash_len;
	}

	assert_int_equal(client_expect(c, payload), SSH_MSG_NEWKEYS);
	client_switch_keys(c, false);
	kb_buf_reset(msg);
	kb_buf_put_u8(msg, SSH_MSG_NEWKEYS);
	assert_int_equal(client_send(c, kb_buf_ptr(msg), kb_buf_len(msg)), KB_OK);
	client_switch_keys(c, true);
	kb_buf_free(msg);
	kb_buf_free(payload);
}

static void
client_handshake(struct client *c)
{
	client_start(c);
	client_run_kex(c);
}

/* SERVICE_REQUEST for ssh-userauth, and its SERVICE_ACCEPT. */
static void
client_request_userauth(struct client *c)
{
	struct kb_buf *msg = kb_buf_new(256);
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	uint8_t type;

	kb_buf_put_u8(msg, SSH_MSG_SERVICE_REQUEST);
	kb_buf_put_cstring(msg, "ssh-userauth");
	assert_int_equal(client_send(c, kb_buf_ptr(msg), kb_buf_len(msg)), KB_OK);
	type = client_expect(c, payload);
	if (type == SSH_MSG_EXT_INFO)
		type = client_expect(c, payload);
	assert_int_equal(type, SSH_MSG_SERVICE_ACCEPT);
	kb_buf_free(msg);
	kb_buf_free(payload);
}

/* Expects a DISCONNECT from the server and returns its reason code. */
static uint32_t
client_expect_disconnect(struct client *c)
{
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	uint32_t reason = 0;
	int r;

	while ((r = client_recv(c, payload)) == KB_OK &&
	    kb_buf_ptr(payload)[0] != SSH_MSG_DISCONNECT)
		;
	assert_int_equal(r, KB_OK);
	assert_int_equal(kb_packet_parse_disconnect(kb_buf_ptr(payload), kb_buf_len(payload),
	    &reason, NULL, NULL), KB_OK);
	kb_buf_free(payload);
	return reason;
}

static void
check_ready(struct client *c)
{
	const uint8_t *sid;
	size_t sid_len;

	assert_int_equal(kb_transport_state(c->t), KB_TRANSPORT_READY);
	assert_int_equal(kb_transport_error(c->t), 0);
	sid = kb_transport_session_id(c->t, &sid_len);
	assert_non_null(sid);
	assert_int_equal(sid_len, c->session_id_len);
	assert_memory_equal(sid, c->session_id, sid_len);
	assert_string_equal(kb_transport_agreed(c->t, KB_CAT_KEX), c->opts.kex);
	assert_string_equal(kb_transport_agreed(c->t, KB_CAT_CIPHER_C2S), c->opts.cipher);
	assert_string_equal(kb_transport_agreed(c->t, KB_CAT_CIPHER_S2C), c->opts.cipher);
	if (c->opts.mac == NULL)
		assert_null(kb_transport_agreed(c->t, KB_CAT_MAC_C2S));
	else
		assert_string_equal(kb_transport_agreed(c->t, KB_CAT_MAC_C2S), c->opts.mac);
	assert_string_equal(kb_transport_client_version(c->t), CLIENT_VERSION);
}

/* A message of the layer above goes up through kb_transport_next and back down. */
static void
check_message_round_trip(struct client *c, uint8_t type)
{
	uint8_t msg[64];
	struct kb_buf *got = kb_buf_new(KB_BUF_SIZE_MAX);
	size_t i;

	msg[0] = type;
	for (i = 1; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	assert_int_equal(client_send(c, msg, sizeof(msg)), KB_OK);
	assert_int_equal(kb_transport_next(c->t, got), KB_OK);
	assert_int_equal(kb_buf_len(got), sizeof(msg));
	assert_memory_equal(kb_buf_ptr(got), msg, sizeof(msg));
	kb_buf_reset(got);
	assert_int_equal(kb_transport_next(c->t, got), KB_ERR_INCOMPLETE);

	assert_int_equal(kb_transport_send(c->t, msg, sizeof(msg)), KB_OK);
	assert_int_equal(client_recv(c, got), KB_OK);
	assert_int_equal(kb_buf_len(got), sizeof(msg));
	assert_memory_equal(kb_buf_ptr(got), msg, sizeof(msg));
	kb_buf_free(got);
}

static void
transport_handshake_each_kex_method(void **state)
{
	static const char *const methods[] = {
		"curve25519-sha256", "curve25519-sha256@libssh.org",
		"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
		"diffie-hellman-group-exchange-sha256",
		"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
		"diffie-hellman-group14-sha256",
	};
	struct client_opts opts = default_opts;
	struct client c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		opts.kex = methods[i];
		client_init(&c, &opts, server_config(NULL));
		client_handshake(&c);
		check_ready(&c);
		assert_int_equal(kb_transport_kex_count(c.t), 1);
		client_request_userauth(&c);
		check_message_round_trip(&c, MSG_USERAUTH_REQUEST);
		client_free(&c);
	}
}

static void
transport_handshake_cipher_mac_pairs(void **state)
{
	static const struct {
		const char *cipher;
		const char *mac;
	} pairs[] = {
		{ "aes128-ctr", "hmac-sha2-256" },
		{ "aes192-ctr", "hmac-sha2-512" },
		{ "aes256-ctr", "hmac-sha2-256-etm@openssh.com" },
		{ "aes128-ctr", "hmac-sha2-512-etm@openssh.com" },
		{ "aes128-gcm@openssh.com", NULL },
		{ "aes256-gcm@openssh.com", NULL },
		{ "chacha20-poly1305@openssh.com", NULL },
	};
	struct client_opts opts = default_opts;
	struct client c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		opts.cipher = pairs[i].cipher;
		opts.mac = pairs[i].mac;
		client_init(&c, &opts, server_config(NULL));
		client_handshake(&c);
		check_ready(&c);
		client_request_userauth(&c);
		check_message_round_trip(&c, MSG_CHANNEL_DATA);
		client_free(&c);
	}
}

static void
transport_service_request_passes_userauth_up(void **state)
{
	struct client c;
	struct kb_buf *got = kb_buf_new(KB_BUF_SIZE_MAX);
	const uint8_t early[] = { MSG_USERAUTH_REQUEST, 1, 2, 3 };

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	client_handshake(&c);
	/* Nothing above the transport may be sent before the service runs. */
	assert_int_equal(kb_transport_send(c.t, early, sizeof(early)), KB_ERR_INVALID_ARGUMENT);
	client_request_userauth(&c);
	assert_int_equal(kb_transport_next(c.t, got), KB_ERR_INCOMPLETE);
	check_message_round_trip(&c, MSG_USERAUTH_REQUEST);
	kb_buf_free(got);
	client_free(&c);
}

static void
transport_service_request_unknown_disconnects(void **state)
{
	struct client c;
	struct kb_buf *msg = kb_buf_new(256);

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	client_handshake(&c);
	kb_buf_put_u8(msg, SSH_MSG_SERVICE_REQUEST);
	kb_buf_put_cstring(msg, "ssh-connection");
	assert_int_not_equal(client_send(&c, kb_buf_ptr(msg), kb_buf_len(msg)), KB_OK);
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_CLOSED);
	assert_int_equal(client_expect_disconnect(&c), 7);
	assert_non_null(strstr(kb_transport_error_text(c.t), "ssh-connection"));
	kb_buf_free(msg);
	client_free(&c);
}

static void
transport_userauth_before_service_rejected(void **state)
{
	struct client c;
	const uint8_t msg[] = { MSG_USERAUTH_REQUEST, 0, 0, 0, 0 };

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	client_handshake(&c);
	assert_int_equal(client_send(&c, msg, sizeof(msg)), KB_ERR_UNEXPECTED_MESSAGE);
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_CLOSED);
	assert_int_equal(client_expect_disconnect(&c), SSH_DISCONNECT_PROTOCOL_ERROR);
	client_free(&c);
}

static void
transport_rekey_flushes_queued_messages(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	const uint8_t queued[] = { MSG_CHANNEL_DATA, 0, 0, 0, 7, 'q' };
	const uint8_t *sid_ptr;
	uint8_t sid[64];
	size_t sid_len;

	(void)state;
	client_init(&c, &opts, server_config(NULL));
	client_handshake(&c);
	client_request_userauth(&c);
	sid_ptr = kb_transport_session_id(c.t, &sid_len);
	assert_true(sid_len <= sizeof(sid));
	memcpy(sid, sid_ptr, sid_len);

	/* The client starts a rekey with another method and cipher. */
	c.opts.kex = "ecdh-sha2-nistp256";
	c.opts.cipher = "chacha20-poly1305@openssh.com";
	c.opts.mac = NULL;
	client_send_kexinit(&c, false);
	assert_int_equal(client_flush(&c), KB_OK);
	assert_int_equal(client_expect(&c, payload), SSH_MSG_KEXINIT);
	kb_buf_reset(c.server_kexinit);
	kb_buf_put(c.server_kexinit, kb_buf_ptr(payload), kb_buf_len(payload));

	/* A message sent now waits for our NEWKEYS. */
	assert_int_equal(kb_transport_send(c.t, queued, sizeof(queued)), KB_OK);
	client_take_output(&c);
	assert_int_equal(kb_buf_len(c.in), 0);

	/* Run the exchange by hand to see the order of the server's packets. */
	{
		struct kb_kex_client_params params;
		struct kb_buf *msg = kb_buf_new(KB_BUF_SIZE_MAX);
		bool done = false;

		memset(&params, 0, sizeof(params));
		params.client_version = CLIENT_VERSION;
		params.server_version = c.server_version;
		params.client_kexinit = kb_buf_ptr(c.kexinit);
		params.client_kexinit_len = kb_buf_len(c.kexinit);
		params.server_kexinit = kb_buf_ptr(c.server_kexinit);
		params.server_kexinit_len = kb_buf_len(c.server_kexinit);
		params.hostkey_alg = c.opts.hostkey;
		kb_kex_client_free(c.kex);
		assert_int_equal(kb_kex_client_new(kb_kex_lookup(c.opts.kex), &params, &c.kex), KB_OK);
		assert_int_equal(kb_kex_client_start(c.kex, msg), KB_OK);
		assert_int_equal(client_send(&c, kb_buf_ptr(msg), kb_buf_len(msg)), KB_OK);
		while (!done) {
			assert_int_equal(client_recv(&c, payload), KB_OK);
			kb_buf_reset(msg);
			assert_int_equal(kb_kex_client_input(c.kex, kb_buf_ptr(payload),
			    kb_buf_len(payload), msg, &done), KB_OK);
		}
		kb_buf_free(msg);
	}
	assert_int_equal(client_expect(&c, payload), SSH_MSG_NEWKEYS);
	client_switch_keys(&c, false);
	/* The queued message follows NEWKEYS under the new keys. */
	assert_int_equal(client_expect(&c, payload), MSG_CHANNEL_DATA);
	assert_int_equal(kb_buf_len(payload), sizeof(queued));
	assert_memory_equal(kb_buf_ptr(payload), queued, sizeof(queued));
	kb_buf_reset(payload);
	kb_buf_put_u8(payload, SSH_MSG_NEWKEYS);
	assert_int_equal(client_send(&c, kb_buf_ptr(payload), kb_buf_len(payload)), KB_OK);
	client_switch_keys(&c, true);

	assert_int_equal(kb_transport_kex_count(c.t), 2);
	assert_string_equal(kb_transport_agreed(c.t, KB_CAT_KEX), "ecdh-sha2-nistp256");
	assert_string_equal(kb_transport_agreed(c.t, KB_CAT_CIPHER_S2C),
	    "chacha20-poly1305@openssh.com");
	/* The session id stays the H of the first exchange. */
	sid_ptr = kb_transport_session_id(c.t, &sid_len);
	assert_int_equal(sid_len, c.session_id_len);
	assert_memory_equal(sid_ptr, sid, sid_len);
	check_message_round_trip(&c, MSG_CHANNEL_DATA);
	kb_buf_free(payload);
	client_free(&c);
}

static void
transport_rekey_rejects_channel_data_midway(void **state)
{
	struct client c;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	const uint8_t data[] = { MSG_CHANNEL_DATA, 0, 0, 0, 0 };

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	client_handshake(&c);
	client_request_userauth(&c);
	client_send_kexinit(&c, false);
	assert_int_equal(client_flush(&c), KB_OK);
	assert_int_equal(client_expect(&c, payload), SSH_MSG_KEXINIT);
	/* RFC 4253 section 7.1: only transport messages until NEWKEYS. */
	assert_int_equal(client_send(&c, data, sizeof(data)), KB_ERR_UNEXPECTED_MESSAGE);
	assert_int_equal(client_expect_disconnect(&c), SSH_DISCONNECT_PROTOCOL_ERROR);
	kb_buf_free(payload);
	client_free(&c);
}

static void
transport_strict_kex_ignore_is_fatal(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;
	const uint8_t ignore[] = { SSH_MSG_IGNORE, 0, 0, 0, 0 };

	(void)state;
	opts.strict = true;
	client_init(&c, &opts, server_config(NULL));
	client_start(&c);
	assert_int_equal(client_send(&c, ignore, sizeof(ignore)), KB_ERR_UNEXPECTED_MESSAGE);
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_CLOSED);
	assert_true(kb_transport_strict_kex(c.t));
	assert_int_equal(client_expect_disconnect(&c), SSH_DISCONNECT_PROTOCOL_ERROR);
	client_free(&c);

	/* Without strict kex the same IGNORE is counted and skipped. */
	opts.strict = false;
	client_init(&c, &opts, server_config(NULL));
	client_start(&c);
	assert_int_equal(client_send(&c, ignore, sizeof(ignore)), KB_OK);
	client_run_kex(&c);
	check_ready(&c);
	assert_false(kb_transport_strict_kex(c.t));
	{
		struct kb_transport_counters counters;

		kb_transport_counters(c.t, &counters);
		assert_int_equal(counters.ignore_received, 1);
	}
	client_free(&c);
}

static void
transport_strict_kex_kexinit_must_be_first(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;
	const uint8_t ignore[] = { SSH_MSG_IGNORE, 0, 0, 0, 0 };

	(void)state;
	opts.strict = true;
	client_init(&c, &opts, server_config(NULL));
	assert_int_equal(kb_buf_put(c.out, CLIENT_VERSION "\r\n",
	    strlen(CLIENT_VERSION) + 2), KB_OK);
	assert_int_equal(client_send(&c, ignore, sizeof(ignore)), KB_OK);
	client_send_kexinit(&c, true);
	assert_int_equal(client_flush(&c), KB_ERR_UNEXPECTED_MESSAGE);
	assert_int_equal(client_expect_disconnect(&c), SSH_DISCONNECT_PROTOCOL_ERROR);
	client_free(&c);
}

static void
transport_strict_kex_resets_sequence_numbers(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;

	(void)state;
	opts.strict = true;
	client_init(&c, &opts, server_config(NULL));
	client_handshake(&c);
	assert_true(kb_transport_strict_kex(c.t));
	/* Both sides restarted at 0 after NEWKEYS, and nothing came since. */
	assert_int_equal(kb_packet_codec_seqnr(c.t->codec, KB_DIR_IN), 0);
	assert_int_equal(kb_packet_codec_seqnr(c.t->codec, KB_DIR_OUT), 0);
	client_request_userauth(&c);
	assert_int_equal(kb_packet_codec_seqnr(c.t->codec, KB_DIR_IN), 1);
	assert_int_equal(kb_packet_codec_seqnr(c.t->codec, KB_DIR_OUT), 1);
	check_message_round_trip(&c, MSG_USERAUTH_REQUEST);
	client_free(&c);

	/* Without strict kex the numbers run on: KEXINIT, ECDH_INIT, NEWKEYS. */
	opts.strict = false;
	client_init(&c, &opts, server_config(NULL));
	client_handshake(&c);
	assert_int_equal(kb_packet_codec_seqnr(c.t->codec, KB_DIR_IN), 3);
	client_free(&c);
}

static void
transport_ext_info_only_when_offered(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	struct kb_buf *view;
	uint32_t count;
	char *name, *value;

	(void)state;
	opts.ext_info = true;
	client_init(&c, &opts, server_config(NULL));
	client_handshake(&c);
	assert_int_equal(client_expect(&c, payload), SSH_MSG_EXT_INFO);
	view = kb_buf_from(kb_buf_ptr(payload), kb_buf_len(payload));
	assert_int_equal(kb_buf_consume(view, 1), KB_OK);
	assert_int_equal(kb_buf_get_u32(view, &count), KB_OK);
	assert_int_equal(count, 1);
	assert_int_equal(kb_buf_get_cstring(view, &name, NULL), KB_OK);
	assert_int_equal(kb_buf_get_cstring(view, &value, NULL), KB_OK);
	assert_string_equal(name, "server-sig-algs");
	assert_string_equal(value,
	    "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256,ssh-rsa");
	assert_int_equal(kb_buf_expect_end(view), KB_OK);
	free(name);
	free(value);
	kb_buf_free(view);
	client_free(&c);

	/* Without ext-info-c, SERVICE_ACCEPT is the first packet after NEWKEYS. */
	opts.ext_info = false;
	client_init(&c, &opts, server_config(NULL));
	client_handshake(&c);
	assert_int_equal(client_recv(&c, payload), KB_ERR_INCOMPLETE);
	kb_buf_reset(payload);
	kb_buf_put_u8(payload, SSH_MSG_SERVICE_REQUEST);
	kb_buf_put_cstring(payload, "ssh-userauth");
	assert_int_equal(client_send(&c, kb_buf_ptr(payload), kb_buf_len(payload)), KB_OK);
	assert_int_equal(client_expect(&c, payload), SSH_MSG_SERVICE_ACCEPT);
	kb_buf_free(payload);
	client_free(&c);
}

static void
transport_wrong_guess_is_skipped(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;
	const uint8_t guess[] = { 30, 0, 0, 0, 3, 'b', 'a', 'd' };

	(void)state;
	/* The server prefers curve25519; the client guesses with nistp256 first. */
	opts.kex = "ecdh-sha2-nistp256";
	opts.guess = true;
	client_init(&c, &opts, server_config("curve25519-sha256,ecdh-sha2-nistp256"));
	client_start(&c);
	/* A bogus guessed packet: the server must drop it unread. */
	assert_int_equal(client_send(&c, guess, sizeof(guess)), KB_OK);
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_KEX);
	client_run_kex(&c);
	check_ready(&c);
	client_free(&c);
}

static void
transport_right_guess_is_processed(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;

	(void)state;
	/* Same first kex and host key names: the guessed packet counts. */
	opts.guess = true;
	client_init(&c, &opts, server_config("curve25519-sha256,ecdh-sha2-nistp256"));
	client_handshake(&c);
	check_ready(&c);
	client_free(&c);
}

/*
 * Auto mode hands over a client that already has the upstream's
 * identification line and may have sent its KEXINIT and a guessed packet.
 * The transport sends no line of its own, takes the client's stream from its
 * first byte in one piece, skips the wrong guess, and hashes the upstream's
 * line as V_S, which the client checks with the host key signature.
 */
static void
transport_auto_handoff_uses_relayed_version(void **state)
{
	static const char upstream_version[] = "SSH-2.0-Upstream_7.4";
	struct kb_transport_config config = *server_config("curve25519-sha256,ecdh-sha2-nistp256");
	struct client_opts opts = default_opts;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	const uint8_t guess[] = { 30, 0, 0, 0, 3, 'b', 'a', 'd' };
	struct kb_buf *out;
	struct client c;

	(void)state;
	config.server_version = upstream_version;
	config.version_sent = true;
	opts.kex = "ecdh-sha2-nistp256";
	opts.guess = true;
	opts.strict = true;
	client_init(&c, &opts, &config);

	/* Only our KEXINIT is waiting: the line went out from the upstream. */
	out = kb_transport_output(c.t);
	assert_true(kb_buf_len(out) > 4);
	assert_memory_not_equal(kb_buf_ptr(out), "SSH-", 4);
	memcpy(c.server_version, upstream_version, sizeof(upstream_version));
	c.have_version = true;

	/* The held client stream: line, KEXINIT and a wrong guess, fed at once. */
	assert_int_equal(kb_buf_put(c.out, CLIENT_VERSION "\r\n",
	    strlen(CLIENT_VERSION) + 2), KB_OK);
	client_send_kexinit(&c, true);
	assert_int_equal(kb_packet_codec_send(c.codec, guess, sizeof(guess), c.out), KB_OK);
	assert_int_equal(client_flush(&c), KB_OK);
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_KEX);
	assert_string_equal(kb_transport_client_version(c.t), CLIENT_VERSION);

	assert_int_equal(client_expect(&c, payload), SSH_MSG_KEXINIT);
	assert_int_equal(kb_buf_put(c.server_kexinit, kb_buf_ptr(payload),
	    kb_buf_len(payload)), KB_OK);
	client_run_kex(&c);
	check_ready(&c);
	assert_true(kb_transport_strict_kex(c.t));
	client_request_userauth(&c);
	check_message_round_trip(&c, MSG_USERAUTH_REQUEST);
	kb_buf_free(payload);
	client_free(&c);
}

static void
transport_flipped_byte_is_mac_error(void **state)
{
	static const char *const ciphers[] = {
		"aes128-ctr", "aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com",
	};
	struct client_opts opts = default_opts;
	struct client c;
	const uint8_t ignore[] = { SSH_MSG_IGNORE, 0, 0, 0, 4, 'a', 'b', 'c', 'd' };
	uint8_t *packet;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		opts.cipher = ciphers[i];
		opts.mac = i == 0 ? "hmac-sha2-256" : NULL;
		client_init(&c, &opts, server_config(NULL));
		client_handshake(&c);
		assert_int_equal(kb_packet_codec_send(c.codec, ignore, sizeof(ignore), c.out), KB_OK);
		len = kb_buf_len(c.out);
		assert_non_null(packet = malloc(len));
		memcpy(packet, kb_buf_ptr(c.out), len);
		kb_buf_consume(c.out, len);
		/* A byte in the middle of the encrypted body. */
		packet[10] ^= 0x01;
		assert_int_equal(kb_transport_feed(c.t, packet, len), KB_ERR_MAC_INVALID);
		free(packet);
		assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_CLOSED);
		assert_int_equal(kb_transport_error(c.t), KB_ERR_MAC_INVALID);
		assert_int_equal(client_expect_disconnect(&c), 5);
		client_free(&c);
	}
}

static void
transport_garbage_version_closes(void **state)
{
	struct client c;
	const char garbage[] = "GET / HTTP/1.1\r\n";
	size_t before;

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	before = kb_buf_len(kb_transport_output(c.t));
	assert_int_equal(kb_transport_feed(c.t, (const uint8_t *)garbage, strlen(garbage)),
	    KB_ERR_NOT_SSH);
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_CLOSED);
	assert_int_equal(kb_transport_error(c.t), KB_ERR_NOT_SSH);
	/* No DISCONNECT packet: the client never spoke SSH. */
	assert_int_equal(kb_buf_len(kb_transport_output(c.t)), before);
	/* The reader stops at the first byte that cannot start "SSH-". */
	assert_non_null(strstr(kb_transport_error_text(c.t), "\"G\""));
	assert_null(kb_transport_client_version(c.t));
	client_free(&c);
}

static void
transport_no_common_cipher_fails_kex(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;

	(void)state;
	opts.cipher = "aes128-cbc";
	client_init(&c, &opts, server_config(NULL));
	assert_int_equal(kb_buf_put(c.out, CLIENT_VERSION "\r\n",
	    strlen(CLIENT_VERSION) + 2), KB_OK);
	client_send_kexinit(&c, true);
	assert_int_equal(client_flush(&c), KB_ERR_NO_MATCH);
	assert_int_equal(client_expect_disconnect(&c), SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
	assert_non_null(strstr(kb_transport_error_text(c.t), "aes128-cbc"));
	client_free(&c);
}

static void
transport_client_disconnect_is_escaped(void **state)
{
	struct client c;
	struct kb_buf *msg = kb_buf_new(256);

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	client_handshake(&c);
	kb_packet_put_disconnect(msg, 11, "bye\x1b[2J");
	assert_int_equal(client_send(&c, kb_buf_ptr(msg), kb_buf_len(msg)),
	    KB_ERR_PEER_DISCONNECTED);
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_CLOSED);
	assert_int_equal(kb_transport_disconnect_reason(c.t), 11);
	assert_non_null(strstr(kb_transport_error_text(c.t), "bye\\x1b[2J"));
	assert_null(strchr(kb_transport_error_text(c.t), '\x1b'));
	kb_buf_free(msg);
	client_free(&c);
}

/*
 * The table as this test expects it, written out independently of
 * transport.c: phase, message number and strictness to a verdict.
 */
static enum transport_verdict
expected_verdict(enum transport_phase phase, unsigned int type, bool strict)
{
	bool generic = type >= 2 && type <= 4;

	if (type == SSH_MSG_DISCONNECT &&
	    phase >= PHASE_KEXINIT && phase <= PHASE_OPEN)
		return VERDICT_HANDLE;
	switch (phase) {
	case PHASE_KEXINIT:
		if (generic)
			return strict ? VERDICT_REJECT : VERDICT_HANDLE;
		return type == SSH_MSG_KEXINIT ? VERDICT_HANDLE : VERDICT_REJECT;
	case PHASE_KEX:
		if (generic)
			return strict ? VERDICT_REJECT : VERDICT_HANDLE;
		return type >= 30 && type <= 49 ? VERDICT_HANDLE : VERDICT_REJECT;
	case PHASE_NEWKEYS:
		if (generic)
			return strict ? VERDICT_REJECT : VERDICT_HANDLE;
		return type == SSH_MSG_NEWKEYS ? VERDICT_HANDLE : VERDICT_REJECT;
	case PHASE_SERVICE:
		if (generic || type == SSH_MSG_SERVICE_REQUEST || type == SSH_MSG_KEXINIT)
			return VERDICT_HANDLE;
		if (type == SSH_MSG_NEWKEYS || (type >= 50 && type <= 127))
			return VERDICT_REJECT;
		return VERDICT_UNIMPLEMENTED;
	case PHASE_OPEN:
		if (generic || type == SSH_MSG_KEXINIT)
			return VERDICT_HANDLE;
		if (type == SSH_MSG_NEWKEYS || type == SSH_MSG_SERVICE_REQUEST)
			return VERDICT_REJECT;
		if (type >= 50 && type <= 127)
			return VERDICT_PASS_UP;
		return VERDICT_UNIMPLEMENTED;
	case PHASE_VERSION:
	case PHASE_CLOSED:
	case PHASE_COUNT:
	default:
		return VERDICT_REJECT;
	}
}

/* Unassigned message numbers of the layer above. */

/*
 * The sequence number kb_transport_next_seqnr() returns is the one of the
 * message moved up, even after the transport handled the IGNORE behind it.
 */
static void
transport_next_seqnr_names_moved_message(void **state)
{
	struct client c;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	const uint8_t unknown[] = { 54, 1, 2, 3 };
	const uint8_t ignore[] = { SSH_MSG_IGNORE, 0, 0, 0, 0 };
	struct kb_buf *view;
	uint32_t seqnr, named;
	uint8_t type;

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	client_handshake(&c);
	client_request_userauth(&c);

	seqnr = kb_packet_codec_seqnr(c.codec, KB_DIR_OUT);
	assert_int_equal(kb_packet_codec_send(c.codec, unknown, sizeof(unknown), c.out), KB_OK);
	assert_int_equal(kb_packet_codec_send(c.codec, ignore, sizeof(ignore), c.out), KB_OK);
	assert_int_equal(client_flush(&c), KB_OK);
	assert_int_equal(kb_transport_next(c.t, payload), KB_OK);
	assert_int_equal(kb_buf_ptr(payload)[0], 54);
	assert_int_equal(kb_transport_next_seqnr(c.t), seqnr);

	assert_int_equal(kb_transport_send_unimplemented(c.t, kb_transport_next_seqnr(c.t)),
	    KB_OK);
	assert_int_equal(client_expect(&c, payload), SSH_MSG_UNIMPLEMENTED);
	view = kb_buf_from(kb_buf_ptr(payload), kb_buf_len(payload));
	assert_int_equal(kb_buf_get_u8(view, &type), KB_OK);
	assert_int_equal(kb_buf_get_u32(view, &named), KB_OK);
	assert_int_equal(named, seqnr);
	assert_int_equal(kb_buf_expect_end(view), KB_OK);
	kb_buf_free(view);
	check_message_round_trip(&c, MSG_CHANNEL_DATA);
	kb_buf_free(payload);
	client_free(&c);
}

/*
 * The connection layer over the real transport: UNIMPLEMENTED for an
 * unassigned number, and authentication goes on afterwards.
 */
static void
transport_connection_replies_unimplemented(void **state)
{
	static const struct kb_conn_config conn_config = {
		.allow_password = true,
		.max_auth_tries = 3,
		.window_size = 65536,
		.max_packet = 32768,
		.max_channels = 1,
	};
	struct client c;
	struct kb_conn *conn;
	struct kb_conn_event ev;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	struct kb_buf *view;
	const uint8_t unknown[] = { 113, 0 };
	uint32_t seqnr, named;
	uint8_t type;

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	client_handshake(&c);
	client_request_userauth(&c);
	assert_int_equal(kb_conn_new(c.t, &conn_config, &conn), KB_OK);

	seqnr = kb_packet_codec_seqnr(c.codec, KB_DIR_OUT);
	assert_int_equal(client_send(&c, unknown, sizeof(unknown)), KB_OK);
	assert_int_equal(kb_conn_next(conn, &ev), KB_ERR_INCOMPLETE);
	assert_int_equal(client_expect(&c, payload), SSH_MSG_UNIMPLEMENTED);
	view = kb_buf_from(kb_buf_ptr(payload), kb_buf_len(payload));
	assert_int_equal(kb_buf_get_u8(view, &type), KB_OK);
	assert_int_equal(kb_buf_get_u32(view, &named), KB_OK);
	assert_int_equal(named, seqnr);
	kb_buf_free(view);

	kb_buf_reset(payload);
	kb_buf_put_u8(payload, MSG_USERAUTH_REQUEST);
	kb_buf_put_cstring(payload, "backup");
	kb_buf_put_cstring(payload, "ssh-connection");
	kb_buf_put_cstring(payload, "none");
	assert_int_equal(client_send(&c, kb_buf_ptr(payload), kb_buf_len(payload)), KB_OK);
	assert_int_equal(kb_conn_next(conn, &ev), KB_ERR_INCOMPLETE);
	assert_int_equal(client_expect(&c, payload), MSG_USERAUTH_FAILURE);
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_READY);
	kb_conn_free(conn);
	kb_buf_free(payload);
	client_free(&c);
}

/* Server-started rekeying. */

/*
 * 1024 bytes under aes128-ctr are 64 blocks. A CHANNEL_DATA of 200 bytes
 * is a packet of 4 + 1 + 200 bytes padded to 224, which is 14 blocks. So
 * the fifth one crosses the limit with 70 blocks, or with 72 under the
 * first keys, which also carried the SERVICE_REQUEST (2 blocks).
 */
#define TINY_REKEY_BYTES	1024
#define TINY_PACKETS_UNDER	4
#define TINY_DATA_LEN		200

static int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

static const struct kb_transport_config *
rekey_config(uint64_t bytes, uint32_t seconds)
{
	static struct kb_transport_config config;

	config = *server_config("curve25519-sha256,ecdh-sha2-nistp256");
	config.rekey_bytes = bytes;
	config.rekey_seconds = seconds;
	config.clock = fake_clock;
	return &config;
}

/* Sends one CHANNEL_DATA of len bytes and takes it from the transport. */
static void
client_send_data(struct client *c, size_t len)
{
	uint8_t msg[1024];
	struct kb_buf *got = kb_buf_new(KB_BUF_SIZE_MAX);

	assert_true(len <= sizeof(msg));
	memset(msg, 'd', len);
	msg[0] = MSG_CHANNEL_DATA;
	assert_int_equal(client_send(c, msg, len), KB_OK);
	assert_int_equal(kb_transport_next(c->t, got), KB_OK);
	assert_int_equal(kb_buf_len(got), len);
	kb_buf_free(got);
}

/* Returns whether the server sent its KEXINIT, and keeps it as I_S. */
static bool
client_got_kexinit(struct client *c)
{
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	bool got = false;
	int r;

	r = client_recv(c, payload);
	if (r == KB_OK) {
		assert_int_equal(kb_buf_ptr(payload)[0], SSH_MSG_KEXINIT);
		kb_buf_reset(c->server_kexinit);
		assert_int_equal(kb_buf_put(c->server_kexinit, kb_buf_ptr(payload),
		    kb_buf_len(payload)), KB_OK);
		got = true;
	} else {
		assert_int_equal(r, KB_ERR_INCOMPLETE);
	}
	kb_buf_free(payload);
	return got;
}

/* Brings the transport to where a login leaves it: keys, ssh-userauth, authenticated. */
static void
client_ready_authenticated(struct client *c, const struct client_opts *opts,
    const struct kb_transport_config *config)
{
	client_init(c, opts, config);
	client_handshake(c);
	client_request_userauth(c);
	kb_transport_set_authenticated(c->t);
}

static uint64_t
rekeys_started(const struct client *c)
{
	struct kb_transport_counters counters;

	kb_transport_counters(c->t, &counters);
	return counters.rekeys_started;
}

static void
transport_rekey_after_bytes_received(void **state)
{
	struct client c;
	const uint8_t *sid_ptr;
	uint8_t sid[64];
	size_t sid_len;
	int i;

	(void)state;
	client_ready_authenticated(&c, &default_opts, rekey_config(TINY_REKEY_BYTES, 0));
	sid_ptr = kb_transport_session_id(c.t, &sid_len);
	memcpy(sid, sid_ptr, sid_len);

	for (i = 0; i < TINY_PACKETS_UNDER; i++) {
		client_send_data(&c, TINY_DATA_LEN);
		assert_false(client_got_kexinit(&c));
	}
	client_send_data(&c, TINY_DATA_LEN);
	assert_true(client_got_kexinit(&c));
	assert_int_equal(rekeys_started(&c), 1);
	/* The connection stays ready for the layer above. */
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_READY);

	/* The client replies. The hash must take the KEXINIT the server sent. */
	client_send_kexinit(&c, false);
	assert_int_equal(client_flush(&c), KB_OK);
	client_run_kex(&c);
	assert_int_equal(kb_transport_kex_count(c.t), 2);
	assert_int_equal(rekeys_started(&c), 1);
	sid_ptr = kb_transport_session_id(c.t, &sid_len);
	assert_memory_equal(sid_ptr, sid, sid_len);

	/* New keys, new counts: four more packets stay under the limit. */
	for (i = 0; i < TINY_PACKETS_UNDER; i++) {
		client_send_data(&c, TINY_DATA_LEN);
		assert_false(client_got_kexinit(&c));
	}
	client_send_data(&c, TINY_DATA_LEN);
	assert_true(client_got_kexinit(&c));
	assert_int_equal(rekeys_started(&c), 2);
	client_free(&c);
}

/*
 * Until the client's KEXINIT arrives its messages still pass up, while the
 * server's wait for NEWKEYS; the message that crossed the limit is first.
 */
static void
transport_rekey_after_bytes_sent_queues(void **state)
{
	struct client c;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	uint8_t msg[TINY_DATA_LEN];
	int i, sent = 0;

	(void)state;
	memset(msg, 's', sizeof(msg));
	msg[0] = MSG_CHANNEL_DATA;
	client_ready_authenticated(&c, &default_opts, rekey_config(TINY_REKEY_BYTES, 0));
	for (i = 0; i < 10 && !client_got_kexinit(&c); i++) {
		msg[1] = (uint8_t)i;
		assert_int_equal(kb_transport_send(c.t, msg, sizeof(msg)), KB_OK);
		client_take_output(&c);
		/* Read what went out before a KEXINIT appears. */
		while (kb_buf_len(c.in) > 0 && client_recv(&c, payload) == KB_OK) {
			if (kb_buf_ptr(payload)[0] == SSH_MSG_KEXINIT) {
				kb_buf_reset(c.server_kexinit);
				kb_buf_put(c.server_kexinit, kb_buf_ptr(payload),
				    kb_buf_len(payload));
				goto started;
			}
			assert_int_equal(kb_buf_ptr(payload)[0], MSG_CHANNEL_DATA);
			sent++;
		}
	}
	fail_msg("no KEXINIT after %d messages", i);
 started:
	assert_int_equal(rekeys_started(&c), 1);
	/* The message that crossed the limit was held back. */
	assert_int_equal(sent, i);
	assert_int_equal(client_recv(&c, payload), KB_ERR_INCOMPLETE);

	/* The client's data still passes up before its KEXINIT. */
	client_send_data(&c, 64);
	msg[1] = 0xee;
	assert_int_equal(kb_transport_send(c.t, msg, sizeof(msg)), KB_OK);
	assert_int_equal(client_recv(&c, payload), KB_ERR_INCOMPLETE);

	client_send_kexinit(&c, false);
	assert_int_equal(client_flush(&c), KB_OK);
	/* client_run_kex fails on any second KEXINIT of the server's. */
	client_run_kex(&c);
	assert_int_equal(client_expect(&c, payload), MSG_CHANNEL_DATA);
	assert_int_equal(kb_buf_ptr(payload)[1], (uint8_t)i);
	assert_int_equal(client_expect(&c, payload), MSG_CHANNEL_DATA);
	assert_int_equal(kb_buf_ptr(payload)[1], 0xee);
	assert_int_equal(kb_transport_kex_count(c.t), 2);
	check_message_round_trip(&c, MSG_CHANNEL_DATA);
	kb_buf_free(payload);
	client_free(&c);
}

static void
transport_rekey_after_seconds(void **state)
{
	struct client c;

	(void)state;
	fake_now = 1000;
	client_ready_authenticated(&c, &default_opts, rekey_config(0, 60));
	fake_now = 1059;
	client_send_data(&c, 64);
	assert_false(client_got_kexinit(&c));
	fake_now = 1060;
	client_send_data(&c, 64);
	assert_true(client_got_kexinit(&c));
	assert_int_equal(rekeys_started(&c), 1);

	client_send_kexinit(&c, false);
	assert_int_equal(client_flush(&c), KB_OK);
	client_run_kex(&c);
	/* The time limit runs again from the new NEWKEYS. */
	fake_now = 1100;
	client_send_data(&c, 64);
	assert_false(client_got_kexinit(&c));
	check_message_round_trip(&c, MSG_CHANNEL_DATA);
	client_free(&c);
}

/* Like sshd, no rekey starts before authentication, whatever the counts. */
static void
transport_rekey_waits_for_authentication(void **state)
{
	struct client c;
	int i;

	(void)state;
	fake_now = 0;
	client_init(&c, &default_opts, rekey_config(TINY_REKEY_BYTES, 1));
	client_handshake(&c);
	client_request_userauth(&c);
	fake_now = 100;
	for (i = 0; i < 3 * TINY_PACKETS_UNDER; i++) {
		client_send_data(&c, TINY_DATA_LEN);
		assert_false(client_got_kexinit(&c));
	}
	kb_transport_set_authenticated(c.t);
	client_send_data(&c, TINY_DATA_LEN);
	assert_true(client_got_kexinit(&c));
	client_free(&c);
}

/* The default limit is far away: 2^32 blocks for aes128-ctr. */
static void
transport_rekey_default_limit(void **state)
{
	struct client c;
	int i;

	(void)state;
	client_ready_authenticated(&c, &default_opts, rekey_config(0, 0));
	for (i = 0; i < 50; i++)
		client_send_data(&c, 1000);
	assert_false(client_got_kexinit(&c));
	assert_int_equal(c.t->rekey_count[KB_DIR_IN].max_blocks, (uint64_t)1 << 32);
	client_free(&c);

	/* chacha20-poly1305 counts 8-byte blocks: 1 GiB. */
	{
		struct client_opts opts = default_opts;

		opts.cipher = "chacha20-poly1305@openssh.com";
		opts.mac = NULL;
		client_ready_authenticated(&c, &opts, rekey_config(0, 0));
		assert_int_equal(c.t->rekey_count[KB_DIR_IN].max_blocks, ((uint64_t)1 << 30) / 8);
		assert_int_equal(c.t->rekey_count[KB_DIR_OUT].max_blocks, ((uint64_t)1 << 30) / 8);
		client_free(&c);

		/* A configured limit lowers it. */
		client_ready_authenticated(&c, &opts, rekey_config(1 << 20, 0));
		assert_int_equal(c.t->rekey_count[KB_DIR_OUT].max_blocks, (1 << 20) / 8);
		client_free(&c);
	}
}

/* A rekey the client starts resets the counts as well. */
static void
transport_client_rekey_resets_counts(void **state)
{
	struct client c;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	int i;

	(void)state;
	client_ready_authenticated(&c, &default_opts, rekey_config(TINY_REKEY_BYTES, 0));
	for (i = 0; i < TINY_PACKETS_UNDER; i++)
		client_send_data(&c, TINY_DATA_LEN);
	assert_false(client_got_kexinit(&c));

	client_send_kexinit(&c, false);
	assert_int_equal(client_flush(&c), KB_OK);
	assert_int_equal(client_expect(&c, payload), SSH_MSG_KEXINIT);
	kb_buf_reset(c.server_kexinit);
	kb_buf_put(c.server_kexinit, kb_buf_ptr(payload), kb_buf_len(payload));
	client_run_kex(&c);
	assert_int_equal(rekeys_started(&c), 0);

	for (i = 0; i < TINY_PACKETS_UNDER; i++) {
		client_send_data(&c, TINY_DATA_LEN);
		assert_false(client_got_kexinit(&c));
	}
	assert_int_equal(rekeys_started(&c), 0);
	kb_buf_free(payload);
	client_free(&c);
}

/*
 * Strict kex: a rekey the server starts keeps resetting sequence numbers
 * at NEWKEYS, as OpenSSH does for the whole connection, and sends no second
 * EXT_INFO.
 */
static void
transport_rekey_strict_no_second_ext_info(void **state)
{
	struct client_opts opts = default_opts;
	struct client c;
	struct kb_buf *payload = kb_buf_new(KB_BUF_SIZE_MAX);
	int i;

	(void)state;
	opts.strict = true;
	opts.ext_info = true;
	client_ready_authenticated(&c, &opts, rekey_config(TINY_REKEY_BYTES, 0));
	for (i = 0; i <= TINY_PACKETS_UNDER; i++)
		client_send_data(&c, TINY_DATA_LEN);
	assert_true(client_got_kexinit(&c));
	client_send_kexinit(&c, false);
	assert_int_equal(client_flush(&c), KB_OK);
	client_run_kex(&c);
	assert_int_equal(kb_packet_codec_seqnr(c.t->codec, KB_DIR_IN), 0);
	assert_int_equal(kb_packet_codec_seqnr(c.t->codec, KB_DIR_OUT), 0);
	assert_int_equal(client_recv(&c, payload), KB_ERR_INCOMPLETE);
	check_message_round_trip(&c, MSG_CHANNEL_DATA);
	kb_buf_free(payload);
	client_free(&c);
}

/* The client's reply to our KEXINIT may guess wrong; that packet is dropped. */
static void
transport_rekey_wrong_guess_is_skipped(void **state)
{
	struct client c;
	const uint8_t guess[] = { 30, 0, 0, 0, 3, 'b', 'a', 'd' };
	int i;

	(void)state;
	client_ready_authenticated(&c, &default_opts, rekey_config(TINY_REKEY_BYTES, 0));
	for (i = 0; i <= TINY_PACKETS_UNDER; i++)
		client_send_data(&c, TINY_DATA_LEN);
	assert_true(client_got_kexinit(&c));

	/* The server prefers curve25519; the client guesses with nistp256 first. */
	c.opts.kex = "ecdh-sha2-nistp256";
	c.opts.guess = true;
	client_send_kexinit(&c, false);
	assert_int_equal(client_flush(&c), KB_OK);
	assert_int_equal(client_send(&c, guess, sizeof(guess)), KB_OK);
	client_run_kex(&c);
	assert_string_equal(kb_transport_agreed(c.t, KB_CAT_KEX), "ecdh-sha2-nistp256");
	check_message_round_trip(&c, MSG_CHANNEL_DATA);
	client_free(&c);
}

static void
transport_table_matches_expected(void **state)
{
	enum transport_phase phase;
	unsigned int type;
	int strict;

	(void)state;
	for (phase = PHASE_VERSION; phase < PHASE_COUNT; phase++) {
		for (type = 0; type < 256; type++) {
			for (strict = 0; strict <= 1; strict++) {
				enum transport_verdict want = expected_verdict(phase, type, strict);
				enum transport_verdict got = transport_lookup_verdict(phase,
				    (uint8_t)type, strict);

				if (got != want)
					fail_msg("phase %d message %u strict %d: verdict %d, expected %d",
					    (int)phase, type, strict, (int)got, (int)want);
			}
		}
	}
}

/* Builds a well-formed message of type for the handlers that parse a body. */
static void
build_message(struct kb_buf *msg, unsigned int type)
{
	kb_buf_reset(msg);
	kb_buf_put_u8(msg, (uint8_t)type);
	switch (type) {
	case SSH_MSG_DISCONNECT:
		kb_buf_put_u32(msg, 11);
		kb_buf_put_cstring(msg, "bye");
		kb_buf_put_cstring(msg, "");
		break;
	case SSH_MSG_IGNORE:
		kb_buf_put_cstring(msg, "pad");
		break;
	case SSH_MSG_UNIMPLEMENTED:
		kb_buf_put_u32(msg, 0);
		break;
	case SSH_MSG_DEBUG:
		kb_buf_put_u8(msg, 0);
		kb_buf_put_cstring(msg, "note");
		kb_buf_put_cstring(msg, "");
		break;
	case SSH_MSG_SERVICE_REQUEST:
		kb_buf_put_cstring(msg, "ssh-userauth");
		break;
	default:
		kb_buf_put_u32(msg, 0);
		break;
	}
}

/* Brings a fresh client and server to phase, returning the client ready to send. */
static void
walk_setup(struct client *c, enum transport_phase phase)
{
	client_init(c, &default_opts, server_config(NULL));
	if (phase == PHASE_KEXINIT) {
		assert_int_equal(kb_buf_put(c->out, CLIENT_VERSION "\r\n",
		    strlen(CLIENT_VERSION) + 2), KB_OK);
		assert_int_equal(client_flush(c), KB_OK);
		return;
	}
	if (phase == PHASE_KEX) {
		client_start(c);
		return;
	}
	client_handshake(c);
	if (phase == PHASE_OPEN)
		client_request_userauth(c);
	assert_int_equal(c->t->phase, phase);
}

/* Sends one message in one phase and checks the outcome the table predicts. */
static void
walk_one(enum transport_phase phase, unsigned int type)
{
	enum transport_verdict want = expected_verdict(phase, type, false);
	struct kb_transport_counters counters;
	struct kb_buf *msg = kb_buf_new(256);
	struct kb_buf *got = kb_buf_new(KB_BUF_SIZE_MAX);
	struct client c;
	uint32_t seqnr;
	int r;

	walk_setup(&c, phase);
	seqnr = kb_packet_codec_seqnr(c.codec, KB_DIR_OUT);
	build_message(msg, type);
	r = client_send(&c, kb_buf_ptr(msg), kb_buf_len(msg));

	switch (want) {
	case VERDICT_REJECT:
		assert_int_equal(r, KB_ERR_UNEXPECTED_MESSAGE);
		assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_CLOSED);
		assert_int_equal(client_expect_disconnect(&c), SSH_DISCONNECT_PROTOCOL_ERROR);
		break;
	case VERDICT_UNIMPLEMENTED:
		assert_int_equal(r, KB_OK);
		assert_int_equal(client_expect(&c, got), SSH_MSG_UNIMPLEMENTED);
		assert_int_equal(kb_buf_len(got), 5);
		assert_int_equal((uint32_t)kb_buf_ptr(got)[1] << 24 | kb_buf_ptr(got)[2] << 16 |
		    kb_buf_ptr(got)[3] << 8 | kb_buf_ptr(got)[4], seqnr);
		kb_transport_counters(c.t, &counters);
		assert_int_equal(counters.unimplemented_sent, 1);
		break;
	case VERDICT_PASS_UP:
		assert_int_equal(r, KB_OK);
		assert_int_equal(kb_transport_next(c.t, got), KB_OK);
		assert_memory_equal(kb_buf_ptr(got), kb_buf_ptr(msg), kb_buf_len(msg));
		break;
	case VERDICT_HANDLE:
	case VERDICT_HANDLE_UNLESS_STRICT:
	default:
		/* Handled: never the table's protocol error, whatever the handler decides. */
		if (type == SSH_MSG_DISCONNECT)
			assert_int_equal(r, KB_ERR_PEER_DISCONNECTED);
		else if (type >= 2 && type <= 5)
			assert_int_equal(r, KB_OK);
		else
			assert_null(strstr(kb_transport_error_text(c.t), "not allowed"));
		break;
	}
	kb_buf_free(msg);
	kb_buf_free(got);
	client_free(&c);
}

static void
transport_walk_every_message_every_phase(void **state)
{
	static const enum transport_phase phases[] = {
		PHASE_KEXINIT, PHASE_KEX, PHASE_SERVICE, PHASE_OPEN,
	};
	size_t i;
	unsigned int type;

	(void)state;
	for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		for (type = 0; type < 256; type++)
			walk_one(phases[i], type);
	}
}

static void
transport_input_is_bounded(void **state)
{
	struct client c;
	uint8_t *big;
	size_t space;

	(void)state;
	client_init(&c, &default_opts, server_config(NULL));
	space = kb_transport_input_space(c.t);
	assert_true(space > KB_PACKET_MAX);
	assert_non_null(big = calloc(1, space + 1));
	assert_int_equal(kb_transport_feed(c.t, big, space + 1), KB_ERR_BUFFER_LIMIT);
	/* Rejected input leaves the transport as it was. */
	assert_int_equal(kb_transport_state(c.t), KB_TRANSPORT_VERSION);
	free(big);
	client_free(&c);
}

static void
transport_config_rejects_unknown_names(void **state)
{
	struct kb_transport_config config = *server_config(NULL);
	struct kb_transport *t = NULL;

	(void)state;
	config.ciphers = "aes128-ctr,none";
	assert_int_equal(kb_transport_new(&config, &t), KB_ERR_CONFIG_INVALID);
	assert_null(t);
	config.ciphers = NULL;
	config.kex = "diffie-hellman-group1-sha1";
	assert_int_equal(kb_transport_new(&config, &t), KB_ERR_CONFIG_INVALID);
	config.kex = NULL;
	config.hostkey_algorithms = "rsa-sha2-512";
	assert_int_equal(kb_transport_new(&config, &t), KB_ERR_CONFIG_INVALID);
}

static int
group_setup(void **state)
{
	(void)state;
	return kb_hostkey_generate(KB_HOSTKEY_ED25519, 0, &test_hostkey) == KB_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	kb_hostkey_free(test_hostkey);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transport_handshake_each_kex_method),
		cmocka_unit_test(transport_handshake_cipher_mac_pairs),
		cmocka_unit_test(transport_service_request_passes_userauth_up),
		cmocka_unit_test(transport_service_request_unknown_disconnects),
		cmocka_unit_test(transport_userauth_before_service_rejected),
		cmocka_unit_test(transport_rekey_flushes_queued_messages),
		cmocka_unit_test(transport_rekey_rejects_channel_data_midway),
		cmocka_unit_test(transport_strict_kex_ignore_is_fatal),
		cmocka_unit_test(transport_strict_kex_kexinit_must_be_first),
		cmocka_unit_test(transport_strict_kex_resets_sequence_numbers),
		cmocka_unit_test(transport_ext_info_only_when_offered),
		cmocka_unit_test(transport_wrong_guess_is_skipped),
		cmocka_unit_test(transport_right_guess_is_processed),
		cmocka_unit_test(transport_auto_handoff_uses_relayed_version),
		cmocka_unit_test(transport_flipped_byte_is_mac_error),
		cmocka_unit_test(transport_garbage_version_closes),
		cmocka_unit_test(transport_no_common_cipher_fails_kex),
		cmocka_unit_test(transport_client_disconnect_is_escaped),
		cmocka_unit_test(transport_next_seqnr_names_moved_message),
		cmocka_unit_test(transport_connection_replies_unimplemented),
		cmocka_unit_test(transport_rekey_after_bytes_received),
		cmocka_unit_test(transport_rekey_after_bytes_sent_queues),
		cmocka_unit_test(transport_rekey_after_seconds),
		cmocka_unit_test(transport_rekey_waits_for_authentication),
		cmocka_unit_test(transport_rekey_default_limit),
		cmocka_unit_test(transport_client_rekey_resets_counts),
		cmocka_unit_test(transport_rekey_strict_no_second_ext_info),
		cmocka_unit_test(transport_rekey_wrong_guess_is_skipped),
		cmocka_unit_test(transport_table_matches_expected),
		cmocka_unit_test(transport_walk_every_message_every_phase),
		cmocka_unit_test(transport_input_is_bounded),
		cmocka_unit_test(transport_config_rejects_unknown_names),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
