// SPDX-License-Identifier: Apache-2.0
/*
 * agnocast native addon: what the source files share.
 *
 * The addon is thin: system calls and memory, no policy (src/native.ts is the
 * interface it implements). State is of two kinds:
 *   - per process (device.cc, memory.cc, topics.cc): the /dev/agnocast
 *     descriptor, the pool and its allocator, live loans, mapped peer pools,
 *     subscriber descriptors. The module knows a process, not an isolate, so
 *     every Node environment of the process (main thread, workers) shares
 *     them; each is guarded by its own mutex.
 *   - per environment (watch.cc): uv_poll handles live on that
 *     environment's event loop and are closed when it is torn down.
 * Locks: join() holds the join lock while it opens the device (join before
 * device); the loan, mapping and subscriber tables' locks are never nested.
 * No lock is held while calling into JavaScript.
 */
#ifndef AGNOCAST_ADDON_H
#define AGNOCAST_ADDON_H

#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "agnocast.h"

namespace agnocast {

/* ---- errors.cc ---------------------------------------------------------- */

/*
 * Throws an Error whose message is "<syscall>: <strerror>[ (<detail>)]" and
 * whose properties are code (errno name), errno (positive) and syscall.
 */
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char *syscall,
			     const std::string &detail = std::string());
/* The errno name ("ENOENT"), or "E<number>" for an unknown one. */
std::string ErrnoName(int err);

/* Argument checks: TypeError / RangeError with Node's ERR_* codes. */
uint32_t ArgU32(const Napi::CallbackInfo &info, size_t i, const char *name);
int32_t ArgI32(const Napi::CallbackInfo &info, size_t i, const char *name);
/* A non-negative safe integer (Number) or a BigInt below 2^64. */
uint64_t ArgU64(const Napi::CallbackInfo &info, size_t i, const char *name);
bool ArgBool(const Napi::CallbackInfo &info, size_t i, const char *name);
std::string ArgString(const Napi::CallbackInfo &info, size_t i, const char *name);
Napi::ArrayBuffer ArgArrayBuffer(const Napi::CallbackInfo &info, size_t i,
				 const char *name);
Napi::Function ArgFunction(const Napi::CallbackInfo &info, size_t i, const char *name);

/* A safe integer as a JS Number (pool sizes, lengths). */
inline Napi::Value U64Number(Napi::Env env, uint64_t v)
{
	return Napi::Number::New(env, static_cast<double>(v));
}

/* ioctl, retried on EINTR; returns 0 or -1 with errno set. */
int Ioctl(int fd, unsigned long cmd, void *arg);
/* ioctl that throws with syscall = the command's name on failure. */
#define AG_IOCTL(env, cmd, arg)                                         \
	do {                                                            \
		if (::agnocast::Ioctl(::agnocast::Device(env), cmd, arg)) \
			::agnocast::ThrowErrno(env, errno, #cmd);       \
	} while (0)

/* ---- device.cc ----------------------------------------------------------- */

/* The process's /dev/agnocast descriptor, opened on first use. */
int Device(Napi::Env env);

/*
 * The process's pool once join() succeeded. addr/max never change; size
 * only grows. alloc/free are the heaphook's shm_malloc/shm_free when the
 * heaphook owns the pool, else the allocator compiled into the addon.
 */
struct PoolRef {
	uint64_t addr;
	uint64_t max;
	bool heaphook;
};
/* Throws ESRCH (syscall op) when the process has not joined. */
PoolRef JoinedPool(Napi::Env env, const char *op);
bool PoolJoined();
void *PoolAlloc(size_t n);
void PoolFree(void *p);
/* Is addr inside our pool's reserved range (false before join)? */
bool PoolOwns(uint64_t addr);
uint64_t PoolBase();
uint64_t PoolSize();

/* ---- topics.cc ----------------------------------------------------------- */

Napi::Value PoolInfoObject(Napi::Env env, const struct agnocast_pool_info &p);

/* ---- memory.cc ----------------------------------------------------------- */

/* Is [addr, addr + len) inside our pool or a pool mapped by mapPool()? */
bool AddressMapped(uint64_t addr, uint64_t len);

/* ---- watch.cc ------------------------------------------------------------ */

/* Stops and closes every watch of this environment on fd. */
void StopWatchesOnFd(napi_env env, int fd);
void InitWatch(Napi::Env env, Napi::Object exports);

/* ---- module init per file ------------------------------------------------ */

void InitDevice(Napi::Env env, Napi::Object exports);
void InitTopics(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitMqueue(Napi::Env env, Napi::Object exports);
void InitIntrospect(Napi::Env env, Napi::Object exports);
void InitPidfd(Napi::Env env, Napi::Object exports);

/* Topic name into the fixed-size uapi field (EINVAL on an embedded NUL). */
void SetTopic(Napi::Env env, char (&field)[AGNOCAST_TOPIC_NAME_MAX],
	      const std::string &topic, const char *syscall);

}  // namespace agnocast

#endif  // AGNOCAST_ADDON_H
