// SPDX-License-Identifier: Apache-2.0
/*
 * Process descriptors (pidfd_open): readable once the process has exited,
 * so the library learns that a publisher whose pool it maps is gone from
 * the event loop (watch()), without polling.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

namespace agnocast {

namespace {

/* A descriptor for process pid, or -1 if it is gone already (ESRCH). */
Napi::Value PidfdOpen(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int32_t pid = ArgI32(info, 0, "pid");

	if (pid <= 0)
		ThrowErrno(env, EINVAL, "pidfd_open", "pid must be positive");
	int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
	if (fd < 0 && errno != ESRCH)
		ThrowErrno(env, errno, "pidfd_open");
	if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int err = errno;
		close(fd);
		ThrowErrno(env, err, "fcntl");
	}
	return Napi::Number::New(env, fd);
}

/* Has the process exited (is its descriptor readable right now)? */
Napi::Value PidfdExited(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct pollfd p = { ArgI32(info, 0, "fd"), POLLIN, 0 };

	if (poll(&p, 1, 0) < 0)
		ThrowErrno(env, errno, "poll");
	if (p.revents & POLLNVAL)
		ThrowErrno(env, EBADF, "poll");
	return Napi::Boolean::New(env, (p.revents & POLLIN) != 0);
}

}  // namespace

void InitPidfd(Napi::Env env, Napi::Object exports)
{
	exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
	exports.Set("pidfdExited", Napi::Function::New(env, PidfdExited, "pidfdExited"));
}

}  // namespace agnocast
