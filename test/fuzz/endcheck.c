// SPDX-License-Identifier: Apache-2.0
/*
 * What must hold once every participant was killed and reaped: the
 * status file's totals are all zero, no /dev/shm/agnocast@* name is left
 * (but those of processes killed between shm_open and ATTACH_POOL, which
 * only their owner could have removed), no /dev/mqueue/new_publisher@*.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"
#include "shared.h"
#include "super.h"

/* Was pid caught between shm_open and ATTACH_POOL when it died? */
static int in_join_window(pid_t pid)
{
	unsigned int i;

	for (i = 0; i < NJW; i++)
		if (__atomic_load_n(&S->jw_pid[i], __ATOMIC_ACQUIRE) == pid)
			return 1;
	return 0;
}

static void check_shm(struct report *rep)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	char path[300];
	int pid;

	if (!d)
		return;
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		if (!strncmp(de->d_name, "agnocast-fz@", 12)) {
			unlink(path);	/* a probe's wrongly named file */
		} else if (sscanf(de->d_name, "agnocast@%d", &pid) == 1) {
			if (in_join_window(pid)) {
				unlink(path);
				win_hit(W_killed_in_join);
			} else {
				note_to(rep->leftovers, sizeof(rep->leftovers),
					"# /dev/shm/%s is left (its process is gone)\n",
					de->d_name);
			}
		}
	}
	closedir(d);
}

static void check_mqueue(struct report *rep)
{
	DIR *d = opendir("/dev/mqueue");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "new_publisher@", 14))
			note_to(rep->leftovers, sizeof(rep->leftovers),
				"# /dev/mqueue/%s is left\n", de->d_name);
	closedir(d);
}

static void check_totals(struct report *rep)
{
	static const char *const names[6] = { "processes", "topics", "publishers",
					      "subscribers", "entries", "mappings" };
	char msg[256];
	int i;

	if (status_totals(rep->final, msg, sizeof(msg))) {
		note_to(rep->leftovers, sizeof(rep->leftovers), "# %s\n", msg);
		return;
	}
	for (i = 0; i < 6; i++)
		if (rep->final[i])
			note_to(rep->leftovers, sizeof(rep->leftovers),
				"# status totals: %s %llu after every participant was reaped\n",
				names[i], (unsigned long long)rep->final[i]);
}

void end_checks(struct report *rep)
{
	check_totals(rep);
	check_shm(rep);
	check_mqueue(rep);
}
