// SPDX-License-Identifier: Apache-2.0
/*
 * The calling thread's last failure (agnocast_last_error): what happened
 * and what to do. For ioctls the "what to do" comes from the contract's
 * error lists (kmod/uapi/agnocast.h), by errno and command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static LIB_TLS char last_op[48];
static LIB_TLS char last_msg[400];

const char *lib_last_error(void)
{
	return last_msg;
}

const char *lib_last_error_op(void)
{
	return last_op;
}

static const char *lib_strerror(int err)
{
	const char *s = strerrordesc_np(err);

	return s ? s : "unknown error";
}

static void record(int err, const char *op, const char *fmt, va_list ap)
{
	int n;

	snprintf(last_op, sizeof(last_op), "%s", op);
	n = snprintf(last_msg, sizeof(last_msg), "%s: %s", op, lib_strerror(err));
	if (fmt && n > 0 && (size_t)n < sizeof(last_msg) - 2) {
		last_msg[n++] = ':';
		last_msg[n++] = ' ';
		vsnprintf(last_msg + n, sizeof(last_msg) - (size_t)n, fmt, ap);
	}
}

int lib_fail(int err, const char *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(err, op, fmt, ap);
	va_end(ap);
	return -err;
}

void *lib_fail_null(int err, const char *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(err, op, fmt, ap);
	va_end(ap);
	errno = err;
	return NULL;
}

/* What to do about an EDQUOT: the module parameter that was reached. */
static const char *edquot_hint(const char *op)
{
	if (strstr(op, "PUBLISH"))
		return "this process owns max_entries_per_process entries: reclaim (agnocast_reclaim) and release what its subscribers hold";
	if (strstr(op, "ADD_PUBLISHER") || strstr(op, "ADD_SUBSCRIBER"))
		return "this process has max_endpoints_per_process publishers and subscribers: remove some it no longer uses";
	if (strstr(op, "MAP_POOL"))
		return "this process maps max_mappings_per_process pools: unmap pools whose owners are gone (see /sys/module/agnocast/parameters)";
	return "this user has max_procs_per_user processes or max_window_per_user of address window: ask for a smaller pool_max, or end processes of this user (see /sys/module/agnocast/parameters)";
}

/* What to do, by errno, for the errors every ioctl may give. */
static const char *hint(int err, const char *op)
{
	switch (err) {
	case ESRCH:
		return "this process has not joined: call agnocast_join() first (a forked child must join on its own)";
	case EPERM:
		if (strstr(op, "ADD_PROCESS"))
			return "this process's memory serves or served another thread group (it is a vfork or clone(CLONE_VM) child, or made one before joining): join before spawning children that share memory (posix_spawn, vfork), or from a fork() child";
		return "the id belongs to another process, or this task shares a joined process's memory without being one of its threads (clone(CLONE_VM)): ids cannot be shared between processes";
	case EDQUOT:
		return edquot_hint(op);
	case ENOSPC:
		return strstr(op, "ADD_PROCESS") ?
			"no free address range that large: ask for a smaller pool_max" :
			"the topic has the most publishers (256) or subscribers (64) the module allows";
	case ENOBUFS:
		return "this subscriber holds AGNOCAST_HOLD_MAX (4096) entries: release some before receiving more";
	case ENXIO:
		return "that process has not attached its pool yet: try again once it has joined";
	case ERANGE:
		return "the range is not inside this process's pool as it is now: publish blocks of the pool only";
	case ENAMETOOLONG:
	case EINVAL:
		return "an argument is out of its documented bounds (topic: 1-255 bytes, no space or control byte; depth 1-1024; see kmod/uapi/agnocast.h)";
	case E2BIG:
		return "a size above AGNOCAST_POOL_SIZE_MAX (1 TiB)";
	case EMFILE:
	case ENFILE:
		return "no file descriptor free: close some, or raise RLIMIT_NOFILE";
	case ENOMEM:
		return "the kernel is out of memory, or this process's memory cgroup is at its limit";
	case EINTR:
		return "a fatal signal arrived";
	case EAGAIN:
		return strstr(op, "PUBLISH") ?
			"a reliable subscriber's queue is full, nothing was published: wait for POLLOUT on agnocast_publisher_fd(), or give up" :
			NULL;
	case ENOTTY:
		return "the module does not know this command: its ABI differs from this library's (compare agnocast_version())";
	default:
		return NULL;
	}
}

int lib_ioctl_fail(int err, const char *op, const char *what)
{
	const char *h = hint(err, op);

	if (what && h)
		return lib_fail(err, op, "%s: %s", what, h);
	if (what || h)
		return lib_fail(err, op, "%s", what ? what : h);
	return lib_fail(err, op, NULL);
}
