// SPDX-License-Identifier: Apache-2.0
/*
 * Mapping a pool at its address, and what occupies an address range of
 * this process when that fails: a pool cannot be mapped where something
 * else is, and the reader of the error wants to know what that is. Reads
 * /proc/self/maps with read(2) into a stack buffer (no stdio, no malloc:
 * the heaphook may be the allocator, and its pool may be what failed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* Does the maps line at s (ends at end) intersect [addr, addr + len)? */
static bool line_overlaps(const char *s, const char *end, uint64_t addr, uint64_t len)
{
	char *dash, *sp;
	uint64_t lo, hi;

	lo = strtoull(s, &dash, 16);
	if (dash >= end || *dash != '-')
		return false;
	hi = strtoull(dash + 1, &sp, 16);
	return sp < end && *sp == ' ' && lo < addr + len && hi > addr;
}

/* Copy a maps line to out, its runs of spaces squeezed to one, none at the end. */
static void copy_line(const char *s, const char *end, char *out, size_t n)
{
	size_t o = 0;

	for (; s < end && o + 1 < n; s++)
		if (*s != ' ' || (o && out[o - 1] != ' '))
			out[o++] = *s;
	while (o && out[o - 1] == ' ')
		o--;	/* an anonymous mapping's line ends in spaces */
	out[o] = '\0';
}

void lib_mapping_at(uint64_t addr, uint64_t len, char *out, size_t n)
{
	char buf[4096], *s, *end, *nl, *eol;
	size_t have = 0;
	ssize_t r;
	bool eof = false;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	snprintf(out, n, "not listed in /proc/self/maps");
	if (fd < 0)
		return;
	do {
		r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		eof = r <= 0;
		have += eof ? 0 : (size_t)r;
		buf[have] = '\0';	/* strtoull stops here at the latest */
		end = buf + have;
		for (s = buf; s < end; s = eol + !!nl) {
			nl = memchr(s, '\n', (size_t)(end - s));
			if (!nl && !eof)
				break;	/* a partial line: read the rest first */
			eol = nl ? nl : end;
			if (line_overlaps(s, eol, addr, len)) {
				copy_line(s, eol, out, n);
				close(fd);
				return;
			}
		}
		have = (size_t)(end - s);
		if (have == sizeof(buf) - 1)
			have = 0;	/* a line longer than the buffer: skip it */
		memmove(buf, s, have);
	} while (!eof);
	close(fd);
}

int lib_mmap_at(uint64_t addr, uint64_t len, int prot, int fd, char *in_way, size_t n)
{
	void *m = mmap(U2P(addr), len, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	int err = errno;

	if (m == U2P(addr))
		return 0;
	if (m != MAP_FAILED) {
		munmap(m, len);	/* a kernel without MAP_FIXED_NOREPLACE put it elsewhere */
		err = EEXIST;
	}
	if (err == EEXIST)
		lib_mapping_at(addr, len, in_way, n);
	return -err;
}
