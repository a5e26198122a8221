// SPDX-License-Identifier: Apache-2.0
/* Parser of /proc/driver/agnocast (format in kmod/uapi/agnocast.h). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "status.h"

static const char *const total_keys[6] = {
	"processes", "topics", "publishers", "subscribers", "entries", "mappings",
};

static char *read_all(const char *path, size_t *len, int *err)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	ssize_t r;
	int fd;

	*err = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		*err = errno;
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				*err = ENOMEM;
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = errno;
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}

static int parse_kv(struct st_rec *r, char **w, int nw, char *err,
		    size_t errlen)
{
	int i;

	if (nw % 2) {
		snprintf(err, errlen, "odd number of key/value words in a %s line",
			 r->kind);
		return -1;
	}
	for (i = 0; i < nw; i += 2) {
		if (r->nkv == ST_MAX_KV) {
			snprintf(err, errlen, "too many fields in a %s line", r->kind);
			return -1;
		}
		snprintf(r->kv[r->nkv].key, sizeof(r->kv[0].key), "%s", w[i]);
		snprintf(r->kv[r->nkv].val, sizeof(r->kv[0].val), "%s", w[i + 1]);
		r->nkv++;
	}
	return 0;
}

int status_load(struct status *st, char *err, size_t errlen)
{
	char *copy, *line, *save, *w[2 * ST_MAX_KV + 4], *ws;
	int rc, nw, cur_topic = -1, lineno = 0, got_totals = 0, i;
	size_t len, nlines = 1, k;

	/* The override only serves to try the harness without the module. */
	const char *path = getenv("AGNOCAST_KTEST_STATUS_FILE");

	if (!path)
		path = AGNOCAST_STATUS_PATH;
	memset(st, 0, sizeof(*st));
	st->raw = read_all(path, &len, &rc);
	if (!st->raw) {
		snprintf(err, errlen, "cannot read %s: %s", path, errname(rc));
		return -1;
	}
	for (k = 0; k < len; k++)
		nlines += st->raw[k] == '\n';
	st->recs = calloc(nlines, sizeof(*st->recs));
	copy = strdup(st->raw);
	if (!st->recs || !copy) {
		snprintf(err, errlen, "out of memory");
		free(copy);
		status_free(st);
		return -1;
	}
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct st_rec *r = &st->recs[st->n];

		lineno++;
		nw = 0;
		for (ws = strtok(line, " \t"); ws && nw < (int)(sizeof(w) / sizeof(w[0]));
		     ws = strtok(NULL, " \t"))
			w[nw++] = ws;
		if (nw == 0)
			continue;
		snprintf(r->kind, sizeof(r->kind), "%s", w[0]);
		r->topic = -1;
		if (lineno == 1) {
			if (strcmp(w[0], "agnocast") || nw != 4 || strcmp(w[2], "abi")) {
				snprintf(err, errlen, "first line is not \"agnocast X.Y.Z abi N\"");
				goto bad;
			}
			snprintf(st->version, sizeof(st->version), "%s", w[1]);
			st->abi = strtoull(w[3], NULL, 10);
			continue;
		}
		if (!strcmp(w[0], "topic")) {
			if (nw < 2) {
				snprintf(err, errlen, "line %d: topic without a name", lineno);
				goto bad;
			}
			snprintf(r->name, sizeof(r->name), "%s", w[1]);
			if (parse_kv(r, w + 2, nw - 2, err, errlen))
				goto bad;
			cur_topic = st->n;
		} else {
			if (parse_kv(r, w + 1, nw - 1, err, errlen))
				goto bad;
			if (!strcmp(w[0], "publisher") || !strcmp(w[0], "subscriber") ||
			    !strcmp(w[0], "entry") || !strcmp(w[0], "more-entries")) {
				if (cur_topic < 0) {
					snprintf(err, errlen, "line %d: %s line before any topic line",
						 lineno, w[0]);
					goto bad;
				}
				r->topic = cur_topic;
			} else if (!strcmp(w[0], "totals")) {
				for (i = 0; i < 6; i++) {
					const char *v = st_str(r, total_keys[i]);

					if (!v) {
						snprintf(err, errlen, "totals line has no \"%s\"",
							 total_keys[i]);
						goto bad;
					}
					st->totals[i] = strtoull(v, NULL, 0);
				}
				got_totals = 1;
			}
		}
		st->n++;
	}
	free(copy);
	if (!got_totals) {
		snprintf(err, errlen, "no totals line");
		status_free(st);
		return -1;
	}
	return 0;
bad:
	free(copy);
	status_free(st);
	return -1;
}

void status_free(struct status *st)
{
	free(st->raw);
	free(st->recs);
	st->raw = NULL;
	st->recs = NULL;
	st->n = 0;
}

void status_read_at(const char *f, int l, struct status *st)
{
	char err[256];

	if (status_load(st, err, sizeof(err)))
		fail_at(f, l, "status file: %s", err);
}

void status_dump(const struct status *st)
{
	const char *p = st->raw, *e;
	int lines = 0;

	while (p && *p && lines < 200) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		note("| %.*s", (int)(e - p), p);
		lines++;
		p = *e ? e + 1 : e;
	}
	if (p && *p)
		note("| ... (truncated)");
}

const char *st_str(const struct st_rec *r, const char *key)
{
	int i;

	for (i = 0; i < r->nkv; i++)
		if (!strcmp(r->kv[i].key, key))
			return r->kv[i].val;
	return NULL;
}

uint64_t st_u64_at(const char *f, int l, const struct st_rec *r,
		   const char *key)
{
	const char *v = st_str(r, key);
	char *end;
	uint64_t x;

	if (!v)
		fail_at(f, l, "status: %s line has no \"%s\"", r->kind, key);
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end || end == v)
		fail_at(f, l, "status: %s line: \"%s %s\" is not a number",
			r->kind, key, v);
	return x;
}

static int rec_matches(const struct st_rec *r, const char *key, uint64_t val)
{
	const char *v = st_str(r, key);
	char *end;

	return v && strtoull(v, &end, 0) == val && !*end;
}

const struct st_rec *st_find(const struct status *st, const char *kind,
			     const char *key, uint64_t val)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (!strcmp(st->recs[i].kind, kind) &&
		    rec_matches(&st->recs[i], key, val))
			return &st->recs[i];
	return NULL;
}

const struct st_rec *st_topic(const struct status *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (!strcmp(st->recs[i].kind, "topic") &&
		    !strcmp(st->recs[i].name, name))
			return &st->recs[i];
	return NULL;
}

int st_index(const struct status *st, const struct st_rec *r)
{
	return (int)(r - st->recs);
}

const struct st_rec *st_find_in(const struct status *st,
				const struct st_rec *t, const char *kind,
				const char *key, uint64_t val)
{
	int ti = st_index(st, t);
	size_t i;

	for (i = 0; i < st->n; i++)
		if (st->recs[i].topic == ti && !strcmp(st->recs[i].kind, kind) &&
		    rec_matches(&st->recs[i], key, val))
			return &st->recs[i];
	return NULL;
}

int st_count(const struct status *st, const char *kind,
	     const struct st_rec *t)
{
	int n = 0, ti = t ? st_index(st, t) : -1;
	size_t i;

	for (i = 0; i < st->n; i++)
		if (!strcmp(st->recs[i].kind, kind) && (!t || st->recs[i].topic == ti))
			n++;
	return n;
}

void check_totals_at(const char *f, int l, const struct status *st,
		     uint64_t processes, uint64_t topics, uint64_t publishers,
		     uint64_t subscribers, uint64_t entries, uint64_t mappings)
{
	uint64_t want[6] = { processes, topics, publishers, subscribers,
			     entries, mappings };
	int i;

	for (i = 0; i < 6; i++) {
		if (st->totals[i] != want[i]) {
			status_dump(st);
			fail_at(f, l,
				"status totals: %s is %llu, expected %llu (want processes %llu topics %llu publishers %llu subscribers %llu entries %llu mappings %llu)",
				total_keys[i], (unsigned long long)st->totals[i],
				(unsigned long long)want[i],
				(unsigned long long)processes,
				(unsigned long long)topics,
				(unsigned long long)publishers,
				(unsigned long long)subscribers,
				(unsigned long long)entries,
				(unsigned long long)mappings);
		}
	}
}

const struct st_rec *st_proc_at(const char *f, int l, const struct status *st,
			       pid_t pid)
{
	const struct st_rec *r = st_find(st, "process", "pid", (uint64_t)pid);

	if (!r) {
		status_dump(st);
		fail_at(f, l, "status: no process line for pid %d", (int)pid);
	}
	return r;
}

const struct st_rec *st_topic_at(const char *f, int l, const struct status *st,
				const char *name)
{
	const struct st_rec *r = st_topic(st, name);

	if (!r) {
		status_dump(st);
		fail_at(f, l, "status: no topic line for %s", name);
	}
	return r;
}
