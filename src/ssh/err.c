/* Messages for the codes in kexbridge/err.h. */
#include "config.h"

#include <stddef.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"

static const struct {
	int code;
	const char *msg;
} err_messages[] = {
	{ KB_OK,			N_("success") },
	{ KB_ERR_INTERNAL,		N_("internal error") },
	{ KB_ERR_ALLOC_FAIL,		N_("memory allocation failed") },
	{ KB_ERR_INVALID_ARGUMENT,	N_("invalid argument") },
	{ KB_ERR_INCOMPLETE,		N_("incomplete message: more data needed") },
	{ KB_ERR_MESSAGE_TRUNCATED,	N_("message truncated") },
	{ KB_ERR_TRAILING_DATA,		N_("unexpected data after the end of the message") },
	{ KB_ERR_STRING_TOO_LARGE,	N_("string too large") },
	{ KB_ERR_STRING_HAS_NUL,	N_("string contains a NUL byte") },
	{ KB_ERR_BUFFER_LIMIT,		N_("buffer size limit exceeded") },
	{ KB_ERR_BUFFER_READ_ONLY,	N_("buffer is read-only") },
	{ KB_ERR_MPINT_INVALID,		N_("invalid mpint") },
	{ KB_ERR_NOT_SSH,		N_("peer is not speaking SSH") },
	{ KB_ERR_VERSION_TOO_LONG,	N_("identification line longer than 255 bytes") },
	{ KB_ERR_VERSION_INVALID,	N_("invalid identification line") },
	{ KB_ERR_PROTOCOL_1,		N_("peer speaks only SSH protocol 1") },
	{ KB_ERR_PREBANNER_FROM_CLIENT,	N_("client sent lines before its identification line") },
	{ KB_ERR_TOO_MANY_PREBANNER_LINES, N_("too many lines before the identification line") },
	{ KB_ERR_PREBANNER_LINE_TOO_LONG, N_("line before the identification line too long") },
	{ KB_ERR_PACKET_TOO_LARGE,	N_("packet too large") },
	{ KB_ERR_PACKET_TOO_SMALL,	N_("packet too small") },
	{ KB_ERR_PADDING_INVALID,	N_("invalid packet padding") },
	{ KB_ERR_UNEXPECTED_MESSAGE,	N_("unexpected message type") },
	{ KB_ERR_PEER_DISCONNECTED,	N_("peer sent a disconnect message") },
	{ KB_ERR_MAC_INVALID,		N_("invalid MAC or authentication tag") },
	{ KB_ERR_CRYPTO,		N_("cryptographic operation failed in OpenSSL") },
	{ KB_ERR_KEX_FAILED,		N_("key exchange failed") },
	{ KB_ERR_SIGNATURE_INVALID,	N_("invalid signature") },
	{ KB_ERR_KEY_INVALID,		N_("invalid key") },
	{ KB_ERR_KEXINIT_INVALID,	N_("invalid KEXINIT message") },
	{ KB_ERR_NAMELIST_INVALID,	N_("invalid name-list") },
	{ KB_ERR_NO_MATCH,		N_("no matching algorithm") },
	{ KB_ERR_SYSTEM,		N_("system call failed") },
	{ KB_ERR_TIMEOUT,		N_("timed out") },
	{ KB_ERR_CONNECTION_CLOSED,	N_("connection closed") },
	{ KB_ERR_CONNECT_FAILED,	N_("connection failed") },
	{ KB_ERR_CONFIG_INVALID,	N_("invalid configuration") },
	{ KB_ERR_NOT_FOUND,		N_("not found") },
};

const char *
kb_err_msgid(int err)
{
	size_t i;

	for (i = 0; i < sizeof(err_messages) / sizeof(err_messages[0]); i++) {
		if (err_messages[i].code == err)
			return err_messages[i].msg;
	}
	return N_("unknown error");
}

const char *
kb_err_str(int err)
{
	return _(kb_err_msgid(err));
}
