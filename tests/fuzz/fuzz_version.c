/*
 * libFuzzer harness for the version exchange reader: the input is fed as a
 * server stream and as a client stream, whole and then in two pieces split
 * at a point taken from the first byte, and both feeds must agree.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
feed_split(enum kb_role sender, const uint8_t *data, size_t size, size_t split,
    struct kb_version *out)
{
	struct kb_version_reader reader;
	size_t used;
	int r;

	kb_version_reader_init(&reader, sender);
	r = kb_version_reader_feed(&reader, data, split, &used, out);
	if (r != KB_ERR_INCOMPLETE)
		return r;
	return kb_version_reader_feed(&reader, data + split, size - split, &used, out);
}

static void
check_roles(enum kb_role sender, const uint8_t *data, size_t size)
{
	struct kb_version whole, split;
	size_t at = size == 0 ? 0 : data[0] % (size + 1);
	int r1, r2;

	r1 = feed_split(sender, data, size, size, &whole);
	r2 = feed_split(sender, data, size, at, &split);
	if (r1 != r2)
		abort();
	if (r1 == KB_OK) {
		if (strcmp(whole.line, split.line) != 0 ||
		    strlen(whole.line) > KB_VERSION_MAX - 2)
			abort();
		if (whole.proto_major != 2 && !(whole.proto_major == 1 &&
		    whole.proto_minor == 99))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_version v;
	char line[KB_VERSION_MAX];

	check_roles(KB_ROLE_SERVER, data, size);
	check_roles(KB_ROLE_CLIENT, data, size);

	/* The line parser alone, on inputs within its length limit. */
	if (size <= KB_VERSION_MAX - 2) {
		memcpy(line, data, size);
		(void)kb_version_parse_line(line, size, &v);
	}
	return 0;
}
