// SPDX-License-Identifier: Apache-2.0
/*
 * agnocast native addon: what the source files share.
 *
 * The addon is a thin layer over libagnocast (libagnocast/libagnocast.h,
 * compiled in from the library's own list of sources): it makes N-API
 * objects of what the library returns, watches descriptors with libuv and
 * turns the library's errors into JavaScript ones. The protocol (joining,
 * mapping pools, discovery) is the library's alone; under the heaphook the
 * library forwards every call to the heaphook's copy, so the addon uses
 * the heaphook's pool, allocator and mappings.
 *
 * State is of two kinds:
 *   - per process (endpoints.cc, memory.cc): the library's handles by id
 *     and the live loans; every Node environment of the process (main
 *     thread, workers) shares them, each table guarded by its own mutex;
 *   - per environment (watch.cc): uv_poll handles live on that
 *     environment's event loop and are closed when it is torn down.
 * No lock is held while calling into JavaScript.
 */
#ifndef AGNOCAST_ADDON_H
#define AGNOCAST_ADDON_H

#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "libagnocast.h"

namespace agnocast {

/* ---- errors.cc ---------------------------------------------------------- */

/*
 * Throws an Error whose message is "<syscall>: <strerror>[ (<detail>)]" and
 * whose properties are code (errno name), errno (positive) and syscall.
 */
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char *syscall,
			     const std::string &detail = std::string());
/*
 * Throws what the library reported for r (a negative errno): its message
 * (what happened and what to do), code, errno and the failing operation
 * as syscall.
 */
[[noreturn]] void ThrowLib(Napi::Env env, int r);
/* r when it is not negative; else ThrowLib. */
inline int Check(Napi::Env env, int r)
{
	if (r < 0)
		ThrowLib(env, r);
	return r;
}
/* The errno name ("ENOENT"), or "E<number>" for an unknown one. */
std::string ErrnoName(int err);

/* Argument checks: TypeError / RangeError with Node's ERR_* codes. */
uint32_t ArgU32(const Napi::CallbackInfo &info, size_t i, const char *name);
int32_t ArgI32(const Napi::CallbackInfo &info, size_t i, const char *name);
/* A non-negative safe integer (Number) or a BigInt below 2^64. */
uint64_t ArgU64(const Napi::CallbackInfo &info, size_t i, const char *name);
bool ArgBool(const Napi::CallbackInfo &info, size_t i, const char *name);
std::string ArgString(const Napi::CallbackInfo &info, size_t i, const char *name);
/*
 * Detaches a pool ArrayBuffer (a loan or a received view) with the addon's
 * detach key (memory.cc); true when it is detached now. The one way to
 * revoke pool memory: napi_detach_arraybuffer cannot (no key).
 */
bool DetachPoolBuffer(napi_value buffer);

Napi::ArrayBuffer ArgArrayBuffer(const Napi::CallbackInfo &info, size_t i,
				 const char *name);
Napi::Uint8Array ArgBytes(const Napi::CallbackInfo &info, size_t i, const char *name);
/*
 * An optional out-parameter: the first element of a Float64Array, or
 * nullptr when argument i is absent or undefined.
 */
double *ArgOptF64Out(const Napi::CallbackInfo &info, size_t i, const char *name);
Napi::Function ArgFunction(const Napi::CallbackInfo &info, size_t i, const char *name);
/* A topic name without NUL bytes (the library checks the rest). */
std::string ArgTopic(const Napi::CallbackInfo &info, size_t i, const char *syscall);

/* A safe integer as a JS Number (pool sizes, lengths). */
inline Napi::Value U64Number(Napi::Env env, uint64_t v)
{
	return Napi::Number::New(env, static_cast<double>(v));
}

/* { pid, addr (BigInt), size, max } */
Napi::Object PoolInfoObject(Napi::Env env, const struct agnocast_pool_info &p);

/* ---- join.cc ------------------------------------------------------------- */

/*
 * The binding's own precondition: join() was called in this process (under
 * the heaphook the process is joined before main, but the binding's calls
 * still wait for join(), as without it). Throws ESRCH naming op otherwise.
 */
void RequireJoin(Napi::Env env, const char *op);

/* ---- endpoints.cc -------------------------------------------------------- */

/* The library's handle of publisher id, or throws ENOENT naming syscall. */
struct agnocast_publisher *PublisherOf(Napi::Env env, uint32_t id, const char *syscall);

/* ---- watch.cc ------------------------------------------------------------ */

/* Stops and closes every watch of this environment on fd. */
void StopWatchesOnFd(napi_env env, int fd);

/* ---- module init per file ------------------------------------------------ */

void InitJoin(Napi::Env env, Napi::Object exports);
void InitEndpoints(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitPools(Napi::Env env, Napi::Object exports);
void InitIntrospect(Napi::Env env, Napi::Object exports);
void InitWatch(Napi::Env env, Napi::Object exports);

}  // namespace agnocast

#endif  // AGNOCAST_ADDON_H
