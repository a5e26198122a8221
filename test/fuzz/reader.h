/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Introspection: the LIST_TOPICS / TOPIC_INFO / LIST_PROCESSES ioctls and
 * the status file, made concurrently with everything else and checked
 * line by line against the header's formats and bounds.
 */
#ifndef FUZZ_READER_H
#define FUZZ_READER_H

#include <stdint.h>

#include "proc.h"

/* Geometry of a pool as the header promises it (unattached: size 0 ok). */
void check_pool_info(struct tctx *t, const struct agnocast_pool_info *i,
		     const char *what, int may_be_unattached);

void op_list_topics(struct tctx *t);
void op_topic_info(struct tctx *t);
void op_list_processes(struct tctx *t);
/* Read the status file in random-sized reads and check every line. */
void op_status_read(struct tctx *t);

/* The totals line of the status file (6 numbers); 0 or -1 (msg set). */
int status_totals(uint64_t tot[6], char *msg, size_t len);

#endif
