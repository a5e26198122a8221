// SPDX-License-Identifier: Apache-2.0
/*
 * fork (the rules are in libagnocast.h). The parent's locks are held
 * across fork, and its allocator until the child has made its copy of the
 * pool private, so the copy is consistent; the child then closes what is
 * its parent's and keeps its mappings as plain memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static int fork_pipe[2] = { -1, -1 };
static bool pool_held;	/* the parent has an attached pool: the child copies it */

static void prepare(void)
{
	pthread_mutex_lock(&lib.lock);
	peers_lock();
	pool_held = !lib.forked && lib.pool_fd >= 0;
	if (!pool_held)
		return;
	if (pipe2(fork_pipe, O_CLOEXEC) < 0)
		fork_pipe[0] = fork_pipe[1] = -1;
	if (lib.mt)
		pool_mt_lock(lib.mt);
}

static void parent(void)
{
	char c;

	if (pool_held && fork_pipe[0] >= 0) {
		/* EOF once the child wrote or exited (or fork failed: no child). */
		close(fork_pipe[1]);
		while (read(fork_pipe[0], &c, 1) < 0 && errno == EINTR)
			;
		close(fork_pipe[0]);
	}
	if (pool_held && lib.mt)
		pool_mt_unlock(lib.mt);
	peers_unlock();
	pthread_mutex_unlock(&lib.lock);
}

/*
 * The child's pool: a private copy, or (when the copy cannot be made) no
 * pool at all rather than the parent's writable one. false then.
 */
static bool child_pool(void)
{
	bool copied = pool_privatize();

	if (!copied) {
		munmap(U2P(lib.addr), lib.max);	/* its locks went with it */
		if (lib.mt)
			pool_mt_abandon(lib.mt);
		lib.mt = NULL;
	}
	close(lib.pool_fd);
	lib.pool_fd = -1;
	if (fork_pipe[0] >= 0) {
		close(fork_pipe[0]);
		if (write(fork_pipe[1], "", 1) < 0) {
			/* The parent sees EOF instead: it goes on either way. */
		}
		close(fork_pipe[1]);
	}
	if (lib.mt)
		pool_mt_unlock(lib.mt);
	return copied;
}

static void child(void)
{
	lib.forked = pool_held && child_pool();
	lib.stage = lib.forked ? STAGE_READY : STAGE_NONE;
	atomic_store(&lib.joined, false);
	lib_device_forked();
	if (lib.events_fd >= 0)
		close(lib.events_fd);	/* an epoll instance is shared across fork */
	lib.events_fd = -1;
	discovery_forked();
	endpoints_forked();
	peers_forked();
	peers_unlock();
	pthread_mutex_unlock(&lib.lock);
}

void fork_register(void)
{
	if (lib.atfork)
		return;
	if (pthread_atfork(prepare, parent, child) == 0)
		lib.atfork = true;
}
