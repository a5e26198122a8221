// SPDX-License-Identifier: Apache-2.0
/*
 * The device and the pool: version(), join().
 *
 * One /dev/agnocast descriptor per process, opened on first use (or the
 * heaphook's, when the heaphook is preloaded and joined: the module knows
 * a process by its mm, not by the descriptor, so one is enough).
 *
 * join() either adopts the heaphook's pool and allocator (shm_malloc and
 * shm_free, found with dlsym) or joins by itself, the way the heaphook does:
 * ADD_PROCESS, create "/agnocast@<pid>" mode 0444, size it, map it
 * MAP_SHARED at the assigned address for the whole reserved length,
 * ATTACH_POOL, and run the same TLSF allocator (pool_thread.c, compiled in)
 * over it, growing the file with ftruncate.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "addon.h"
#include "agnocast_heap.h"

extern "C" {
#include "pool_thread.h"
}

namespace agnocast {

namespace {

std::mutex g_dev_mutex;
std::atomic<int> g_dev{-1};

/* The heaphook's entry points, when it is preloaded. */
struct Heaphook {
	int (*info)(struct agnocast_heap_info *);
	void *(*malloc)(size_t);
	void (*free)(void *);
};

/* Join state. Stages let a join that failed half-way be retried. */
enum Stage { kNone, kAdded, kAttached, kReady };

std::mutex g_join_mutex;
std::atomic<bool> g_joined{false};
Stage g_stage = kNone;
PoolRef g_pool{};
Heaphook g_hook{};
int g_pool_fd = -1;
std::atomic<uint64_t> g_size{0};
struct pool_mt *g_mt = nullptr;

/* The heaphook's pool, if it is preloaded and joined. */
bool HeaphookInfo(Heaphook *hook, struct agnocast_heap_info *info)
{
	auto fn = reinterpret_cast<int (*)(struct agnocast_heap_info *)>(
		dlsym(RTLD_DEFAULT, "agnocast_heap_info"));
	if (!fn || fn(info) != 0)
		return false;
	if (hook) {
		hook->info = fn;
		hook->malloc = reinterpret_cast<void *(*)(size_t)>(dlsym(RTLD_DEFAULT, "shm_malloc"));
		hook->free = reinterpret_cast<void (*)(void *)>(dlsym(RTLD_DEFAULT, "shm_free"));
		if (!hook->malloc || !hook->free)
			return false;
	}
	return true;
}

/* The allocator's grow callback: pages past the old end become valid. */
int GrowPool(void *, size_t new_size)
{
	if (ftruncate(g_pool_fd, static_cast<off_t>(new_size)) < 0)
		return -1;
	g_size.store(new_size);
	return 0;
}

std::string PoolName(pid_t pid)
{
	return "/agnocast@" + std::to_string(pid);
}

/* ADD_PROCESS .. ATTACH_POOL and the allocator; g_join_mutex held. */
void JoinOwn(Napi::Env env, uint64_t size, uint64_t max)
{
	int dev = Device(env);

	if (g_stage == kNone) {
		struct agnocast_add_process_args a = {};
		a.pool_size = size;
		a.pool_max = max;
		if (Ioctl(dev, AGNOCAST_ADD_PROCESS_CMD, &a))
			ThrowErrno(env, errno, "AGNOCAST_ADD_PROCESS_CMD");
		if (a.flags & AGNOCAST_JOIN_EXISTING)
			ThrowErrno(env, EBUSY, "AGNOCAST_ADD_PROCESS_CMD",
				   "this process joined agnocast outside this addon "
				   "(a heaphook that failed half-way, or another library)");
		g_pool.addr = a.pool_addr;
		g_pool.max = a.pool_max;
		g_pool.heaphook = false;
		g_size.store(a.pool_size);
		g_stage = kAdded;
	}
	if (g_stage == kAdded) {
		std::string name = PoolName(getpid());
		void *want = reinterpret_cast<void *>(static_cast<uintptr_t>(g_pool.addr));
		int fd = -1;

		/* 0444 from the start: we still get a writable fd, nobody else can. */
		for (int tries = 0; tries < 2; tries++) {
			fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
			if (fd >= 0 || errno != EEXIST)
				break;
			/* Left by a dead process that had our pid: stale. */
			shm_unlink(name.c_str());
		}
		if (fd < 0)
			ThrowErrno(env, errno, "shm_open", name);
		const char *failed = nullptr;
		int err = 0;
		void *p = MAP_FAILED;
		if (ftruncate(fd, static_cast<off_t>(g_size.load())) < 0) {
			failed = "ftruncate";
			err = errno;
		} else {
			p = mmap(want, g_pool.max, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
			if (p != want) {
				failed = "mmap";
				err = p == MAP_FAILED ? errno : EEXIST;
			} else {
				struct agnocast_attach_pool_args at = {};
				at.fd = fd;
				if (Ioctl(dev, AGNOCAST_ATTACH_POOL_CMD, &at)) {
					failed = "AGNOCAST_ATTACH_POOL_CMD";
					err = errno;
				}
			}
		}
		if (failed) {
			if (p != MAP_FAILED)
				munmap(p, g_pool.max);
			close(fd);
			shm_unlink(name.c_str());
			ThrowErrno(env, err, failed, name);
		}
		g_pool_fd = fd;
		g_stage = kAttached;
	}
	if (g_stage == kAttached) {
		g_mt = pool_mt_init(reinterpret_cast<void *>(static_cast<uintptr_t>(g_pool.addr)),
				    g_size.load(), g_pool.max, GrowPool, nullptr);
		if (!g_mt)
			ThrowErrno(env, errno ? errno : ENOMEM, "pool_mt_init");
		g_stage = kReady;
	}
}

Napi::Value JoinInfo(Napi::Env env)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set("pid", Napi::Number::New(env, getpid()));
	o.Set("addr", Napi::BigInt::New(env, g_pool.addr));
	o.Set("size", U64Number(env, PoolSize()));
	o.Set("max", U64Number(env, g_pool.max));
	o.Set("heaphook", Napi::Boolean::New(env, g_pool.heaphook));
	return o;
}

Napi::Value Version(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_version_args v = {};

	AG_IOCTL(env, AGNOCAST_VERSION_CMD, &v);
	Napi::Object o = Napi::Object::New(env);
	o.Set("abi", Napi::Number::New(env, v.abi));
	o.Set("major", Napi::Number::New(env, v.major));
	o.Set("minor", Napi::Number::New(env, v.minor));
	o.Set("patch", Napi::Number::New(env, v.patch));
	return o;
}

Napi::Value Join(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint64_t size = ArgU64(info, 0, "poolSize");
	uint64_t max = ArgU64(info, 1, "poolMax");
	std::lock_guard<std::mutex> lock(g_join_mutex);

	if (!g_joined.load()) {
		struct agnocast_heap_info hi;
		Heaphook hook{};
		if (g_stage == kNone && HeaphookInfo(&hook, &hi)) {
			g_hook = hook;
			g_pool.addr = hi.addr;
			g_pool.max = hi.max;
			g_pool.heaphook = true;
		} else {
			JoinOwn(env, size, max);
		}
		g_joined.store(true);
	}
	return JoinInfo(env);
}

}  // namespace

int Device(Napi::Env env)
{
	int fd = g_dev.load(std::memory_order_acquire);
	if (fd >= 0)
		return fd;

	std::lock_guard<std::mutex> lock(g_dev_mutex);
	fd = g_dev.load();
	if (fd >= 0)
		return fd;
	struct agnocast_heap_info hi;
	if (HeaphookInfo(nullptr, &hi)) {
		fd = hi.dev_fd;	/* the heaphook's; never closed */
	} else {
		fd = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			ThrowErrno(env, errno, "open " AGNOCAST_DEVICE_PATH);
	}
	g_dev.store(fd, std::memory_order_release);
	return fd;
}

bool PoolJoined()
{
	return g_joined.load(std::memory_order_acquire);
}

PoolRef JoinedPool(Napi::Env env, const char *op)
{
	if (!PoolJoined())
		ThrowErrno(env, ESRCH, op, "this process has not joined: call join() first");
	return g_pool;
}

uint64_t PoolSize()
{
	if (g_pool.heaphook) {
		struct agnocast_heap_info hi;
		return g_hook.info(&hi) == 0 ? hi.size : 0;
	}
	return g_size.load();
}

void *PoolAlloc(size_t n)
{
	return g_pool.heaphook ? g_hook.malloc(n) : pool_mt_malloc(g_mt, n);
}

void PoolFree(void *p)
{
	if (g_pool.heaphook)
		g_hook.free(p);
	else
		pool_mt_free(g_mt, p);
}

uint64_t PoolBase()
{
	return g_pool.addr;
}

bool PoolOwns(uint64_t addr)
{
	return PoolJoined() && addr >= g_pool.addr && addr - g_pool.addr < g_pool.max;
}

void InitDevice(Napi::Env env, Napi::Object exports)
{
	exports.Set("version", Napi::Function::New(env, Version, "version"));
	exports.Set("join", Napi::Function::New(env, Join, "join"));
}

}  // namespace agnocast
