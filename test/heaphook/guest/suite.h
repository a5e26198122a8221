/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The heaphook guest suite: it runs programs under the hook (LD_PRELOAD)
 * and checks them from outside; the suite binary itself never runs under
 * the hook. The harness is test/tap's (tap.h: TEST, CHECK, the after-test
 * checks; programs.h: prog_start with PROG_PRELOAD = HOOK, tell, hear,
 * expect, reap); what is the heaphook's own is here: the hook's stats line,
 * how a process maps a pool (smaps), its line in the status file.
 */
#ifndef AGNOCAST_HH_SUITE_H
#define AGNOCAST_HH_SUITE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../tap/programs.h"
#include "../../tap/tap.h"

/* Options (run-in-guest.sh passes them); g_preload is --so, g_bindir --bindir. */
extern const char *g_srcdir;	/* test/heaphook/guest (the scripts) */
extern const char *g_node, *g_python;

#define HOOK PROG_PRELOAD	/* run under LD_PRELOAD=libagnocast_heaphook.so */

/* ---- what the hook and the kernel say ----------------------------------- */

struct hook_stats {
	int found;
	uint64_t pool, glibc, grows, pool_size, joined;
};
/* Parse "agnocast heaphook: pool N glibc N ..." out of a stderr text. */
void parse_stats(const char *err, struct hook_stats *st);
/* Fail unless found and joined, note the line. */
struct hook_stats require_stats(struct program *c);

/* The mappings of /dev/shm/agnocast@<owner> in process pid, from smaps. */
struct pool_map {
	int vmas;
	uint64_t start, end;	/* lowest start, highest end */
	uint64_t rss_kb, size_kb;
	char perms[8];		/* of the first vma */
};
void pool_map(pid_t pid, pid_t owner, struct pool_map *pm);

/* The status file's "process pid <pid> ..." line into line: 0, or -1. */
int status_process(pid_t pid, char *line, size_t len);

#endif
