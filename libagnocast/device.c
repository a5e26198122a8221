// SPDX-License-Identifier: Apache-2.0
/*
 * The device: one /dev/agnocast descriptor per process (the module knows a
 * process by its mm, so one is enough), opened on first use, or the one a
 * caller lends to agnocast_join().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int dev_fd = -1;
static bool dev_borrowed;

static int open_failed(int err)
{
	if (err == ENOENT || err == ENXIO || err == ENODEV)
		return lib_fail(ENOENT, "open " AGNOCAST_DEVICE_PATH,
				"the agnocast.ko module is not loaded (load it: sudo insmod kmod/agnocast.ko, see README)");
	if (err == EACCES || err == EPERM)
		return lib_fail(EACCES, "open " AGNOCAST_DEVICE_PATH,
				"the device is not readable and writable by this user: join the group of the udev rule kmod/99-agnocast.rules, or load the module with device_mode=0666");
	return lib_fail(err, "open " AGNOCAST_DEVICE_PATH, NULL);
}

int lib_device(void)
{
	int fd = atomic_load_explicit(&dev_fd, memory_order_acquire);

	if (fd >= 0)
		return fd;
	pthread_mutex_lock(&dev_lock);
	fd = atomic_load(&dev_fd);
	if (fd < 0) {
		fd = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fd = open_failed(errno);
		else
			atomic_store_explicit(&dev_fd, fd, memory_order_release);
	}
	pthread_mutex_unlock(&dev_lock);
	return fd;
}

void lib_device_borrow(int fd)
{
	pthread_mutex_lock(&dev_lock);
	if (atomic_load(&dev_fd) < 0 && fd >= 0) {
		dev_borrowed = true;
		atomic_store(&dev_fd, fd);
	}
	pthread_mutex_unlock(&dev_lock);
}

void lib_device_forked(void)
{
	int fd = atomic_load(&dev_fd);

	if (fd >= 0 && !dev_borrowed) {
		close(fd);
		atomic_store(&dev_fd, -1);
	}
	pthread_mutex_init(&dev_lock, NULL);
}

int lib_ioctl(unsigned long cmd, void *arg)
{
	int fd = lib_device(), r;

	if (fd < 0)
		return fd;
	do
		r = ioctl(fd, cmd, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

int lib_version(struct agnocast_version_args *out)
{
	int r = lib_device();

	if (r < 0)
		return r;
	r = lib_ioctl(AGNOCAST_VERSION_CMD, out);
	return r < 0 ? lib_ioctl_fail(-r, "AGNOCAST_VERSION_CMD", NULL) : 0;
}
