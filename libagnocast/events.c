// SPDX-License-Identifier: Apache-2.0
/*
 * The events descriptor: an epoll instance over the discovery queue and
 * the pidfd of every mapped pool's owner, so that a program (or libuv)
 * watches one descriptor for everything the library handles by itself.
 * It is level-triggered; agnocast_handle_events() consumes what made it
 * readable (drains the queue, drops the pidfds of exited owners).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/epoll.h>

#include "internal.h"

int events_open(void)
{
	if (lib.events_fd >= 0)
		return 0;
	lib.events_fd = epoll_create1(EPOLL_CLOEXEC);
	if (lib.events_fd < 0)
		return lib_fail(errno, "epoll_create1",
				"cannot create the events descriptor: close some descriptors, or raise RLIMIT_NOFILE");
	return 0;
}

void events_add(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	/* Without it the library still works: owners are checked on release. */
	if (lib.events_fd >= 0)
		epoll_ctl(lib.events_fd, EPOLL_CTL_ADD, fd, &ev);
}

void events_del(int fd)
{
	if (lib.events_fd >= 0)
		epoll_ctl(lib.events_fd, EPOLL_CTL_DEL, fd, NULL);
}

int lib_events_fd(void)
{
	int r = lib_acting("agnocast_events_fd");

	return r ? r : lib.events_fd;
}

int lib_handle_events(void)
{
	int r = lib_acting("agnocast_handle_events");

	if (r)
		return r;
	r = discovery_drain();
	peers_settle();
	return r < 0 ? r : 0;
}
