/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parser of the module's status file (format in kmod/uapi/agnocast.h).
 * Each line becomes a record: its kind (first word), for a topic its name,
 * and its "key value" pairs. Publisher, subscriber and entry records point
 * to the topic record above them.
 */
#ifndef AGNOCAST_TAP_STATUS_H
#define AGNOCAST_TAP_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast.h"

#define ST_MAX_KV 16

struct st_kv {
	char key[32];
	char val[64];
};

struct st_rec {
	char kind[16];
	char name[AGNOCAST_TOPIC_NAME_MAX];	/* topic records */
	int topic;	/* index of the owning topic record, or -1 */
	int nkv;
	struct st_kv kv[ST_MAX_KV];
};

struct status {
	char *raw;	/* the whole file, NUL-terminated */
	size_t n;
	struct st_rec *recs;
	char version[32];	/* from the "agnocast" line */
	uint64_t abi;
	uint64_t totals[6];	/* processes topics publishers subscribers entries mappings */
};

/* Non-fatal: 0, or -1 with a message in err. */
int status_load(struct status *st, char *err, size_t errlen);
void status_free(struct status *st);

void status_read_at(const char *f, int l, struct status *st);
/* Read and parse the status file; fail the test on any error. */
#define STATUS_READ(st) status_read_at(__FILE__, __LINE__, st)

/* Write the raw status file to the report as notes (for diagnosis). */
void status_dump(const struct status *st);

/* First record of kind whose numeric key equals val, or NULL. */
const struct st_rec *st_find(const struct status *st, const char *kind,
			     const char *key, uint64_t val);
const struct st_rec *st_proc_at(const char *f, int l, const struct status *st,
			       pid_t pid);
/* The process record of pid; fails when there is none. */
#define ST_PROC(st, pid) st_proc_at(__FILE__, __LINE__, st, pid)
const struct st_rec *st_topic_at(const char *f, int l, const struct status *st,
				const char *name);
/* The topic record called name; fails when there is none. */
#define ST_TOPIC(st, name) st_topic_at(__FILE__, __LINE__, st, name)

/* The topic record called name, or NULL. */
const struct st_rec *st_topic(const struct status *st, const char *name);
/* Record of kind under topic t whose key equals val, or NULL. */
const struct st_rec *st_find_in(const struct status *st,
				const struct st_rec *t, const char *kind,
				const char *key, uint64_t val);
/* Number of records of kind (under topic t if t is not NULL). */
int st_count(const struct status *st, const char *kind,
	     const struct st_rec *t);
/* Index of a record in st->recs. */
int st_index(const struct status *st, const struct st_rec *r);

const char *st_str(const struct st_rec *r, const char *key);
uint64_t st_u64_at(const char *f, int l, const struct st_rec *r,
		   const char *key);
/* A numeric field of a record (decimal or 0x-hex); fails when missing. */
#define ST_U64(r, key) st_u64_at(__FILE__, __LINE__, r, key)

void check_totals_at(const char *f, int l, const struct status *st,
		     uint64_t processes, uint64_t topics, uint64_t publishers,
		     uint64_t subscribers, uint64_t entries, uint64_t mappings);
/* Check the totals line (dumps the whole file on mismatch). */
#define CHECK_TOTALS(st, p, t, pu, su, e, m) \
	check_totals_at(__FILE__, __LINE__, st, p, t, pu, su, e, m)

/* Read the file and check the totals in one go. */
#define CHECK_STATUS_TOTALS(p, t, pu, su, e, m)                           \
	do {                                                              \
		struct status st_;                                        \
		STATUS_READ(&st_);                                        \
		CHECK_TOTALS(&st_, p, t, pu, su, e, m);                   \
		status_free(&st_);                                        \
	} while (0)

#endif
