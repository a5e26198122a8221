/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ioctls as the header describes them: command, argument size, the
 * errors it allows, whether it acts for a process (ESRCH when unjoined,
 * EPERM from a CLONE_VM child) and a formatter of its argument for
 * failure reports.
 */
#ifndef FUZZ_IOC_H
#define FUZZ_IOC_H

#include <stddef.h>
#include <stdint.h>

#include "agnocast.h"

/* A set of errno values (0 stands for success). */
typedef unsigned __int128 errset_t;
#define ERRSET_BITS 128
#define ES(e) ((errset_t)1 << (e))

enum ioc {
	IOC_VERSION, IOC_ADD_PROCESS, IOC_ATTACH_POOL, IOC_ADD_PUBLISHER,
	IOC_ADD_SUBSCRIBER, IOC_REMOVE_PUBLISHER, IOC_REMOVE_SUBSCRIBER,
	IOC_PUBLISH, IOC_RECEIVE, IOC_TAKE, IOC_RELEASE, IOC_RECLAIM,
	IOC_MAP_POOL, IOC_UNMAP_POOL, IOC_LIST_TOPICS, IOC_TOPIC_INFO,
	IOC_LIST_PROCESSES, IOC_PUBLISHER_STATE, IOC_SUBSCRIBER_STATE,
	IOC_UNKNOWN, NIOC
};

struct iocdesc {
	const char *name;
	unsigned long cmd;
	size_t size;
	errset_t allowed;	/* what the header lets it fail with */
	int acts;		/* acts for a process: ESRCH / EPERM apply */
	void (*fmt)(char *buf, size_t len, const void *arg);
};

extern const struct iocdesc iocs[NIOC];

/* Name of an errno value ("0" for success). */
const char *errname(int err);
/* "EPERM|ENOENT" into buf. */
const char *errset_str(errset_t s, char *buf, size_t len);

#endif
