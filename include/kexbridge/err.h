/*
 * Error codes shared by every part of kexbridge.
 *
 * Functions return 0 (KB_OK) on success or one of the negative codes below.
 * kb_err_str() turns a code into a translated, human-readable message.
 */
#ifndef KEXBRIDGE_ERR_H
#define KEXBRIDGE_ERR_H

enum kb_err {
	KB_OK = 0,
	KB_ERR_INTERNAL = -1,
	KB_ERR_ALLOC_FAIL = -2,
	KB_ERR_INVALID_ARGUMENT = -3,
	/* More bytes are needed before the message can be decoded. */
	KB_ERR_INCOMPLETE = -4,
	KB_ERR_MESSAGE_TRUNCATED = -5,
	KB_ERR_TRAILING_DATA = -6,
	KB_ERR_STRING_TOO_LARGE = -7,
	KB_ERR_STRING_HAS_NUL = -8,
	KB_ERR_BUFFER_LIMIT = -9,
	KB_ERR_BUFFER_READ_ONLY = -10,
	KB_ERR_MPINT_INVALID = -11,

	/* Version exchange (RFC 4253 section 4.2). */
	KB_ERR_NOT_SSH = -20,
	KB_ERR_VERSION_TOO_LONG = -21,
	KB_ERR_VERSION_INVALID = -22,
	KB_ERR_PROTOCOL_1 = -23,
	KB_ERR_PREBANNER_FROM_CLIENT = -24,
	KB_ERR_TOO_MANY_PREBANNER_LINES = -25,
	KB_ERR_PREBANNER_LINE_TOO_LONG = -26,

	/* Binary packets (RFC 4253 section 6). */
	KB_ERR_PACKET_TOO_LARGE = -30,
	KB_ERR_PACKET_TOO_SMALL = -31,
	KB_ERR_PADDING_INVALID = -32,
	KB_ERR_UNEXPECTED_MESSAGE = -33,
	KB_ERR_PEER_DISCONNECTED = -34,
	KB_ERR_MAC_INVALID = -35,
	KB_ERR_CRYPTO = -36,
	KB_ERR_KEX_FAILED = -37,
	KB_ERR_SIGNATURE_INVALID = -38,
	KB_ERR_KEY_INVALID = -39,

	/* KEXINIT (RFC 4253 section 7.1). */
	KB_ERR_KEXINIT_INVALID = -40,
	KB_ERR_NAMELIST_INVALID = -41,
	KB_ERR_NO_MATCH = -42,

	/* Outside the protocol core. */
	KB_ERR_SYSTEM = -50,
	KB_ERR_TIMEOUT = -51,
	KB_ERR_CONNECTION_CLOSED = -52,
	KB_ERR_CONNECT_FAILED = -53,
	KB_ERR_CONFIG_INVALID = -54,
	KB_ERR_NOT_FOUND = -55,
};

/* Returns a translated message for err; never NULL. */
const char *kb_err_str(int err);
/* Returns the English message for err, for the JSON stream; never NULL. */
const char *kb_err_msgid(int err);

#endif
