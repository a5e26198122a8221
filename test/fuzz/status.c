// SPDX-License-Identifier: Apache-2.0
/*
 * The status file: read in random-sized pieces (so the module's seq_file
 * fills several buffers) and every line checked against the header's
 * record formats. Records of one read may come from different moments,
 * so only each line on its own is checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "reader.h"

#define MAXW 32

struct fmt {
	const char *kind;
	int indent;		/* record under a topic */
	int skip;		/* words before the key/value pairs */
	const char *keys[12];
};

static const struct fmt fmts[] = {
	{ "totals", 0, 1, { "processes", "topics", "publishers", "subscribers",
			    "entries", "mappings" } },
	{ "process", 0, 1, { "pid", "uid", "addr", "size", "max", "state",
			     "attached", "publishers", "subscribers", "mappers",
			     "reclaimable" } },
	{ "topic", 0, 2, { "publishers", "subscribers", "entries", "last-seq" } },
	{ "publisher", 1, 1, { "id", "pid", "depth", "transient-local", "retained" } },
	{ "subscriber", 1, 1, { "id", "pid", "depth", "transient-local", "held",
				"pending", "reliable", "queued" } },
	{ "entry", 1, 1, { "seq", "publisher", "pid", "addr", "len", "refs",
			   "retained" } },
	{ "more-entries", 1, 1, { "count" } },
};

static int split(char *line, char **w)
{
	int n = 0;
	char *save, *tok;

	for (tok = strtok_r(line, " ", &save); tok && n < MAXW;
	     tok = strtok_r(NULL, " ", &save))
		w[n++] = tok;
	return n;
}

static int num(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, strncmp(s, "0x", 2) ? 10 : 16);
	return !errno && *s && !*end && (*s != '-');
}

/* The value of key in a record whose values all parsed, or UINT64_MAX. */
static uint64_t val(const struct fmt *f, char **w, const char *key)
{
	uint64_t v;
	int k;

	for (k = 0; f->keys[k]; k++)
		if (!strcmp(f->keys[k], key) && num(w[f->skip + 2 * k + 1], &v))
			return v;
	return UINT64_MAX;
}

/* Value bounds the header states; NULL when fine. */
static const char *bounds(const struct fmt *f, char **w)
{
	const char *k = f->kind;
	uint64_t d = val(f, w, "depth");

	if (!strcmp(k, "process")) {
		const char *st = w[f->skip + 2 * 5 + 1];

		if (strcmp(st, "live") && strcmp(st, "exited"))
			return "state is neither live nor exited";
		if (val(f, w, "addr") % AGNOCAST_POOL_ALIGN ||
		    val(f, w, "addr") < AGNOCAST_POOL_BASE ||
		    val(f, w, "size") > val(f, w, "max") || val(f, w, "attached") > 1)
			return "pool geometry";
	}
	if ((!strcmp(k, "publisher") || !strcmp(k, "subscriber")) &&
	    (d < 1 || d > AGNOCAST_DEPTH_MAX || val(f, w, "transient-local") > 1))
		return "depth or transient-local";
	if (!strcmp(k, "publisher") && val(f, w, "retained") > d)
		return "retained above depth";
	if (!strcmp(k, "subscriber") &&
	    (val(f, w, "held") > AGNOCAST_HOLD_MAX || val(f, w, "pending") > 1 ||
	     val(f, w, "reliable") > 1 || val(f, w, "queued") > d))
		return "held, pending, reliable or queued";
	if (!strcmp(k, "entry") &&
	    (val(f, w, "refs") > AGNOCAST_TOPIC_SUBS_MAX || val(f, w, "retained") > 1 ||
	     val(f, w, "addr") < AGNOCAST_POOL_BASE || val(f, w, "seq") == 0))
		return "refs, retained, addr or seq";
	return NULL;
}

/* Check one record line against its format; NULL when fine. */
static const char *check_record(char *line, int *in_topic)
{
	int indent = !strncmp(line, "  ", 2), n, k;
	char *w[MAXW];
	const struct fmt *f = NULL;
	uint64_t v;
	size_t i;

	n = split(line, w);
	if (!n)
		return "empty line";
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]) && !f; i++)
		if (!strcmp(w[0], fmts[i].kind))
			f = &fmts[i];
	if (!f)
		return "unknown record";
	if (f->indent != indent || (indent && !*in_topic))
		return "indentation";
	if (!strcmp(f->kind, "topic"))
		*in_topic = 1;
	else if (!indent)
		*in_topic = 0;
	for (k = 0; f->keys[k]; k++)
		if (f->skip + 2 * k + 1 >= n || strcmp(w[f->skip + 2 * k], f->keys[k]) ||
		    (strcmp(f->keys[k], "state") && !num(w[f->skip + 2 * k + 1], &v)))
			return "keys or values";
	if (f->skip + 2 * k != n)
		return "trailing words";
	if (!strcmp(w[0], "more-entries"))
		win_hit(W_more_entries);
	return bounds(f, w);
}

static const char *check_header(const char *line)
{
	unsigned int a, b, c, abi;

	if (sscanf(line, "agnocast %u.%u.%u abi %u", &a, &b, &c, &abi) != 4)
		return "first line";
	return abi == AGNOCAST_ABI_VERSION ? NULL : "abi";
}

/* Read the whole file with reads of random sizes. */
static char *slurp(struct tctx *t, size_t *len)
{
	int fd = open(AGNOCAST_STATUS_PATH, O_RDONLY | O_CLOEXEC);
	size_t cap = 1 << 16, n = 0, chunk;
	char *buf = malloc(cap + 1);
	ssize_t r;

	if (fd < 0 || !buf)
		fz_fail(t, "open %s: %s", AGNOCAST_STATUS_PATH, errname(errno));
	for (;;) {
		chunk = rng_pct(&t->r, 50) ? 1 + rng_small(&t->r, 200) : 4096;
		if (n + chunk > cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				fz_fail(t, "out of memory reading the status file");
		}
		r = read(fd, buf + n, chunk);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}

void op_status_read(struct tctx *t)
{
	size_t len;
	char *buf = slurp(t, &len), *line, *save, copy[1024];
	const char *bad;
	int no = 0, in_topic = 0;

	OBSERVE(t, len && buf[len - 1] == '\n', "status file of %zu bytes does not end a line", len);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		snprintf(copy, sizeof(copy), "%s", line);
		bad = no++ ? check_record(line, &in_topic) : check_header(line);
		if (no == 2 && !bad && strncmp(copy, "totals ", 7))
			bad = "second line is not the totals";
		OBSERVE(t, !bad, "status file line %d: %s: \"%s\"", no, bad, copy);
	}
	free(buf);
	trace_add(t, TR_STATUS, 0, len, no, 0);
	win_hit(W_status_read);
}

int status_totals(uint64_t tot[6], char *msg, size_t len)
{
	char line[512];
	FILE *f = fopen(AGNOCAST_STATUS_PATH, "r");
	int ok = 0;

	if (!f) {
		snprintf(msg, len, "open %s: %s", AGNOCAST_STATUS_PATH, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "totals processes %lu topics %lu publishers %lu subscribers %lu entries %lu mappings %lu",
			   &tot[0], &tot[1], &tot[2], &tot[3], &tot[4], &tot[5]) == 6) {
			ok = 1;
			break;
		}
	fclose(f);
	if (!ok)
		snprintf(msg, len, "no totals line in %s", AGNOCAST_STATUS_PATH);
	return ok ? 0 : -1;
}
