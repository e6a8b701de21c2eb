/*
 * libFuzzer harness for the INI configuration reader: the input is a
 * configuration file, loaded with kb_conf_load_file() through an in-memory
 * file (memfd), printed when it loads, and freed.
 *
 * Loading must not touch the network. kb_conf_load_file() runs
 * kb_conf_finish(), which parses listen addresses as numeric only, splits
 * upstreams without resolving them, and looks algorithm names up in libssh2
 * and OpenSSL in memory. kb_conf_resolve_upstreams(), which calls
 * getaddrinfo(3) on host names, is never called here. Three keys reach
 * outside the input: hostkey and moduli test their files with access(2),
 * hostkey_algorithms then loads the host key files, and user looks the
 * account up with getpwnam(3), which NSS may send over the network. Lines
 * that could set one of those keys are removed before loading. state_dir and
 * known_hosts stay, because the loader only stores them. Besides the input,
 * bridge routes test /etc/ssh/moduli with access(2), and a legacy cipher in
 * an upstream list loads OpenSSL's legacy provider.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kexbridge/conf.h"
#include "kexbridge/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys whose values name files or accounts the loader looks up. */
static const char *const filtered_keys[] = { "hostkey", "moduli", "user", NULL };

static int fuzz_fd = -1;
static char fuzz_path[64];
static FILE *fuzz_null;

static int
is_ini_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Whether the line may set the key: the key's name followed by optional
 * white space and '=', ':', NUL or the end of the line. The whole line is
 * searched, not only its start, because inih reads a line longer than its
 * buffer as several lines, and bytes after a NUL may begin such a piece.
 */
static int
line_sets_key(const uint8_t *line, size_t len, const char *key)
{
	size_t klen = strlen(key), i, j;

	for (i = 0; i + klen <= len; i++) {
		if (memcmp(line + i, key, klen) != 0)
			continue;
		for (j = i + klen; j < len && is_ini_space(line[j]); j++)
			;
		if (j == len || line[j] == '=' || line[j] == ':' || line[j] == '\0')
			return 1;
	}
	return 0;
}

/* Copies data to out without the lines that may set a filtered key. */
static size_t
filter_lines(const uint8_t *data, size_t size, uint8_t *out)
{
	const uint8_t *line, *nl;
	size_t len, used = 0, k;
	int drop;

	for (line = data; line < data + size; line += len) {
		nl = memchr(line, '\n', (size_t)(data + size - line));
		len = nl != NULL ? (size_t)(nl - line) + 1 : (size_t)(data + size - line);
		drop = 0;
		for (k = 0; filtered_keys[k] != NULL && !drop; k++)
			drop = line_sets_key(line, len, filtered_keys[k]);
		if (!drop) {
			memcpy(out + used, line, len);
			used += len;
		}
	}
	return used;
}

static void
fuzz_init(void)
{
	if ((fuzz_fd = memfd_create("fuzz_config", MFD_CLOEXEC)) < 0)
		abort();
	snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
	if ((fuzz_null = fopen("/dev/null", "w")) == NULL)
		abort();
}

/* Replaces the in-memory file's contents. */
static void
fuzz_write_file(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;

	if (ftruncate(fuzz_fd, 0) != 0)
		abort();
	while (off < size) {
		if ((n = pwrite(fuzz_fd, data + off, size - off, (off_t)off)) <= 0)
			abort();
		off += (size_t)n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_conf conf;
	char err[1024];
	uint8_t *filtered;
	size_t len;
	int r;

	if (fuzz_fd < 0)
		fuzz_init();
	if ((filtered = malloc(size + 1)) == NULL)
		abort();
	len = filter_lines(data, size, filtered);
	fuzz_write_file(filtered, len);
	free(filtered);

	kb_conf_init(&conf);
	err[0] = '\0';
	r = kb_conf_load_file(&conf, fuzz_path, err, sizeof(err));
	if (r == 0) {
		if (conf.route_count == 0)
			abort();	/* kb_conf_check() requires a route */
		kb_conf_print(fuzz_null, &conf);
		(void)kb_conf_state_dir(&conf);
	} else if (err[0] == '\0') {
		abort();	/* every failure explains itself */
	}
	kb_conf_free(&conf);
	return 0;
}
