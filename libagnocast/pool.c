// SPDX-License-Identifier: Apache-2.0
/*
 * This process's pool: the file "/agnocast@<pid>" (mode 0444 from birth:
 * only this process ever holds a writable descriptor), mapped MAP_SHARED
 * at the address the module assigned for the whole reserved length and
 * handed over with ATTACH_POOL; growth by ftruncate; in a forked child, a
 * private copy at the same address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static void pool_name(char *buf, size_t len)
{
	snprintf(buf, len, "/agnocast@%d", (int)getpid());
}

static int create_file(const char *name)
{
	int fd = -1, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
		if (fd >= 0 || errno != EEXIST)
			break;
		/* Left by a dead process that had our pid: stale. */
		shm_unlink(name);
	}
	if (fd < 0)
		return lib_fail(errno, "shm_open",
				"cannot create the pool %s in /dev/shm: check that /dev/shm is a writable tmpfs", name);
	return fd;
}

/* Size the file and map it at the assigned address; 0 or -errno. */
static int map_file(int fd, const char *name)
{
	char line[120];
	int r;

	if (ftruncate(fd, (off_t)atomic_load(&lib.size)) < 0)
		return lib_fail(errno, "ftruncate", "cannot size the pool %s to %llu bytes (is /dev/shm full?)",
				name, (unsigned long long)atomic_load(&lib.size));
	r = lib_mmap_at(lib.addr, lib.max, PROT_READ | PROT_WRITE, fd, line, sizeof(line));
	if (r == -EEXIST)
		return lib_fail(EEXIST, "mmap",
				"cannot map the pool at its assigned address 0x%llx: something is mapped there already (%s)",
				(unsigned long long)lib.addr, line);
	if (r < 0)
		return lib_fail(-r, "mmap", "cannot map the pool at its assigned address 0x%llx",
				(unsigned long long)lib.addr);
	return 0;
}

int pool_create_attach(void)
{
	struct agnocast_attach_pool_args at = { 0 };
	char name[40];
	int fd, r;

	pool_name(name, sizeof(name));
	fd = create_file(name);
	if (fd < 0)
		return fd;
	r = map_file(fd, name);
	if (r == 0) {
		at.fd = fd;
		r = lib_ioctl(AGNOCAST_ATTACH_POOL_CMD, &at);
		if (r < 0) {
			r = lib_ioctl_fail(-r, "AGNOCAST_ATTACH_POOL_CMD", "the module refused the pool");
			munmap(U2P(lib.addr), lib.max);
		}
	}
	if (r < 0) {
		close(fd);
		shm_unlink(name);
		return r;
	}
	lib.pool_fd = fd;
	return 0;
}

int pool_allocator_init(void)
{
	struct pool_mt *mt;

	if (lib.mt)
		return 0;
	mt = pool_mt_init(U2P(lib.addr), atomic_load(&lib.size), lib.max, pool_grow, NULL);
	if (!mt)
		return lib_fail(errno ? errno : ENOMEM, "pool_mt_init",
				"cannot set up the allocator in the pool");
	__atomic_store_n(&lib.mt, mt, __ATOMIC_RELEASE);
	return 0;
}

int pool_grow(void *ctx, size_t new_size)
{
	(void)ctx;
	/* A forked child's copy is private memory for the whole range. */
	if (!lib.forked && ftruncate(lib.pool_fd, (off_t)new_size) < 0)
		return -1;
	atomic_store(&lib.size, new_size);
	atomic_fetch_add_explicit(&lib.grows, 1, memory_order_relaxed);
	return 0;
}

uint64_t pool_size_now(void)
{
	struct stat st;

	if (lib.pool_fd >= 0 && fstat(lib.pool_fd, &st) == 0 &&
	    (uint64_t)st.st_size > atomic_load(&lib.size))
		return (uint64_t)st.st_size;
	return atomic_load(&lib.size);
}

/*
 * Replace the shared mapping by a private copy at the same address. Only
 * the file's data extents are copied: reading a hole through a shared
 * tmpfs mapping would allocate it in the parent's pool file.
 */
bool pool_privatize(void)
{
	uint64_t size = atomic_load(&lib.size);
	char *base = U2P(lib.addr), *copy;
	off_t data, hole = 0;

	copy = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy == MAP_FAILED)
		return false;
	while ((uint64_t)hole < size && (data = lseek(lib.pool_fd, hole, SEEK_DATA)) >= 0 &&
	       (uint64_t)data < size) {
		hole = lseek(lib.pool_fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		memcpy(copy + data, base + data, (size_t)(hole - data));
	}
	if (mremap(copy, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, base) != base)
		return false;
	if (lib.max > size &&
	    mmap(base + size, lib.max - size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		return false;
	return true;
}

void pool_drop_copy(void)
{
	/* The copy may be unmapped already, and the parent's must not be written. */
	if (lib.mt)
		pool_mt_abandon(lib.mt);
	lib.mt = NULL;
	munmap(U2P(lib.addr), lib.max);
	lib.addr = lib.max = 0;
	atomic_store(&lib.size, 0);
}
