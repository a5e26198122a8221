// SPDX-License-Identifier: Apache-2.0
/*
 * Memory: loans, publish, reclaim, views over mapped pools, mapPool.
 *
 * A loan is an external ArrayBuffer over a block of our pool, type-tagged
 * so that only loan() buffers are accepted back. Each has a Loan record,
 * owned by the buffer's finalizer, in one of three states:
 *   LIVE       the block belongs to the JS buffer (listed in g_loans by
 *              address, so publish()/free() find the record);
 *   PUBLISHED  the module owns the block; it comes back through the
 *              reclaimed addresses of PUBLISH or RECLAIM, and is freed then;
 *   FREED      free() gave it back.
 * publish() and free() detach the buffer, which revokes every view of it.
 * The finalizer (main thread, at GC or environment teardown; it never calls
 * JS) frees the block only if the loan is still LIVE, then drops the record.
 *
 * Views are external ArrayBuffers over mapped memory with no finalizer: the
 * memory is the pool's, and the subscriber's release() detaches the view.
 * view() only accepts ranges inside our pool or a pool mapped by mapPool(),
 * so a stray address throws instead of faulting.
 *
 * Both are made by PoolArrayBuffer, through V8's own API rather than
 * napi_create_external_arraybuffer: N-API gives an external buffer a
 * deleter, and V8 counts the bytes of every buffer with a deleter as memory
 * of its heap; once 64 MiB more are counted than after the last full
 * collection it starts one. A 64 MiB message would then cost a mark-compact
 * in the publisher (the loan) and in every subscriber (the view), every
 * time (measured: 18 ms a message instead of 0.3). Pool memory is not the
 * heap's and no collection can free it: V8 counts no buffer whose backing
 * store has the empty deleter. The loan's finalizer hangs on the buffer
 * object instead (napi_add_finalizer). The price: the addon uses V8's C++
 * API for this one call, so it is built per Node major (npm install does).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <v8.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "addon.h"

namespace agnocast {

namespace {

enum class LoanState { kLive, kPublished, kFreed };

struct Loan {
	void *ptr;
	size_t size;
	LoanState state;
};

const napi_type_tag kLoanTag = { 0x61676e6f63617374ULL, 0x6c6f616e2d763031ULL };

std::mutex g_loans_mutex;
std::unordered_map<uintptr_t, Loan *> g_loans;	/* LIVE loans by address */

struct Mapping {
	int32_t pid;
	uint64_t addr;
	uint64_t max;
};
std::mutex g_maps_mutex;
std::vector<Mapping> g_maps;	/* pools mapped by mapPool() */

/* Reclaimed addresses go in batches of this many. */
constexpr uint32_t kReclaimBatch = 64;

/*
 * An ArrayBuffer over [p, p + len) of pool memory, with the empty deleter
 * (see the top). Only in a callback from JavaScript: the handle lives in
 * its scope. napi_value is a v8::Local<v8::Value> in every Node.
 */
napi_value PoolArrayBuffer(void *p, size_t len)
{
	v8::Isolate *isolate = v8::Isolate::GetCurrent();
	std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(
		p, len, v8::BackingStore::EmptyDeleter, nullptr);
	v8::Local<v8::Value> ab = v8::ArrayBuffer::New(isolate, std::move(store));
	return reinterpret_cast<napi_value>(*ab);
}

void *U2P(uint64_t addr)
{
	return reinterpret_cast<void *>(static_cast<uintptr_t>(addr));
}

/* napi_add_finalizer's callback: data is the Loan. */
void LoanFinalize(napi_env, void *data, void *)
{
	Loan *loan = static_cast<Loan *>(data);
	bool live;
	{
		std::lock_guard<std::mutex> lock(g_loans_mutex);
		live = loan->state == LoanState::kLive;
		if (live)
			g_loans.erase(reinterpret_cast<uintptr_t>(loan->ptr));
	}
	if (live)
		PoolFree(loan->ptr);
	delete loan;
}

/* The LIVE loan behind buffer, or throws EINVAL. */
Loan *LiveLoan(Napi::Env env, Napi::ArrayBuffer buffer, const char *op)
{
	bool tagged = false;
	if (napi_check_object_type_tag(env, buffer, &kLoanTag, &tagged) != napi_ok || !tagged)
		ThrowErrno(env, EINVAL, op, "not a loan: pass an ArrayBuffer that loan() returned");
	void *data = buffer.IsDetached() ? nullptr : buffer.Data();
	std::lock_guard<std::mutex> lock(g_loans_mutex);
	auto it = data ? g_loans.find(reinterpret_cast<uintptr_t>(data)) : g_loans.end();
	if (it == g_loans.end() || it->second->state != LoanState::kLive)
		ThrowErrno(env, EINVAL, op, "the loan was already published or freed");
	return it->second;
}

void Detach(Napi::Env env, Napi::ArrayBuffer buffer, const char *op)
{
	napi_status st = napi_detach_arraybuffer(env, buffer);
	if (st != napi_ok)
		ThrowErrno(env, EINVAL, op, "the ArrayBuffer cannot be detached");
}

/* Frees reclaimed blocks of our pool; returns how many. */
uint32_t FreeReclaimed(const uint64_t *addrs, uint32_t n)
{
	uint32_t freed = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!PoolOwns(addrs[i]))
			continue;	/* never: the module checks publish addresses */
		PoolFree(U2P(addrs[i]));
		freed++;
	}
	return freed;
}

/* RECLAIM until the module has nothing more to hand back. */
uint32_t DrainReclaim(Napi::Env env)
{
	uint64_t addrs[kReclaimBatch];
	uint32_t total = 0;
	struct agnocast_reclaim_args a = {};

	do {
		a.addrs = reinterpret_cast<uintptr_t>(addrs);
		a.addrs_cap = kReclaimBatch;
		a.nr_addrs = 0;
		AG_IOCTL(env, AGNOCAST_RECLAIM_CMD, &a);
		total += FreeReclaimed(addrs, std::min(a.nr_addrs, kReclaimBatch));
	} while (a.nr_addrs == kReclaimBatch);
	return total;
}

Napi::Value LoanFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint64_t size = ArgU64(info, 0, "size");

	JoinedPool(env, "loan");
	errno = 0;
	void *p = PoolAlloc(static_cast<size_t>(size));
	if (!p)
		ThrowErrno(env, errno ? errno : ENOMEM, "loan",
			   std::to_string(size) + " bytes: the pool is exhausted");
	Loan *loan = new Loan{ p, static_cast<size_t>(size), LoanState::kLive };
	{
		std::lock_guard<std::mutex> lock(g_loans_mutex);
		g_loans[reinterpret_cast<uintptr_t>(p)] = loan;
	}
	napi_value ab = PoolArrayBuffer(p, loan->size);
	napi_status st = napi_add_finalizer(env, ab, loan, LoanFinalize, nullptr, nullptr);
	if (st != napi_ok) {
		{
			std::lock_guard<std::mutex> lock(g_loans_mutex);
			g_loans.erase(reinterpret_cast<uintptr_t>(p));
		}
		napi_detach_arraybuffer(env, ab);
		PoolFree(p);
		delete loan;
		NAPI_THROW_IF_FAILED(env, st, Napi::Value());
	}
	/* From here on the finalizer owns loan, even if tagging fails. */
	NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, ab, &kLoanTag), Napi::Value());
	return Napi::Value(env, ab);
}

Napi::Value FreeFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 0, "loan");
	Loan *loan = LiveLoan(env, buffer, "free");

	Detach(env, buffer, "free");
	{
		std::lock_guard<std::mutex> lock(g_loans_mutex);
		loan->state = LoanState::kFreed;
		g_loans.erase(reinterpret_cast<uintptr_t>(loan->ptr));
	}
	PoolFree(loan->ptr);
	return env.Undefined();
}

/*
 * The ioctl comes before the detach so that a refused publish (bad id,
 * ERANGE, …) leaves the loan usable; no JavaScript can run in between, and
 * an ArrayBuffer belongs to one thread, so nothing writes into the block
 * after the module has it.
 */
Napi::Value PublishFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint32_t id = ArgU32(info, 0, "publisherId");
	Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 1, "loan");
	uint64_t length = ArgU64(info, 2, "length");
	Loan *loan = LiveLoan(env, buffer, "AGNOCAST_PUBLISH_CMD");
	uint64_t reclaimed[kReclaimBatch];
	struct agnocast_publish_args a = {};

	if (length > loan->size)
		ThrowErrno(env, ERANGE, "AGNOCAST_PUBLISH_CMD",
			   "length " + std::to_string(length) + " is past the loan's " +
				   std::to_string(loan->size) + " bytes");
	a.publisher_id = id;
	a.addr = reinterpret_cast<uintptr_t>(loan->ptr);
	a.len = length;
	a.reclaimed = reinterpret_cast<uintptr_t>(reclaimed);
	a.reclaimed_cap = kReclaimBatch;
	int r = Ioctl(Device(env), AGNOCAST_PUBLISH_CMD, &a);
	/* EFAULT with a seq: published, the reclaimed addresses stay queued. */
	if (r && !(errno == EFAULT && a.seq != 0))
		ThrowErrno(env, errno, "AGNOCAST_PUBLISH_CMD");
	{
		std::lock_guard<std::mutex> lock(g_loans_mutex);
		loan->state = LoanState::kPublished;
		g_loans.erase(reinterpret_cast<uintptr_t>(loan->ptr));
	}
	Detach(env, buffer, "AGNOCAST_PUBLISH_CMD");
	if (r == 0) {
		uint32_t n = std::min(a.nr_reclaimed, kReclaimBatch);
		FreeReclaimed(reclaimed, n);
		if (n == kReclaimBatch)
			DrainReclaim(env);
	}
	return Napi::BigInt::New(env, static_cast<uint64_t>(a.seq));
}

Napi::Value ReclaimFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();

	JoinedPool(env, "reclaim");
	return Napi::Number::New(env, DrainReclaim(env));
}

Napi::Value ViewFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint64_t addr = ArgU64(info, 0, "addr");
	uint64_t len = ArgU64(info, 1, "len");

	if (!AddressMapped(addr, len))
		ThrowErrno(env, EFAULT, "view",
			   "the range is not inside this process's pool or a pool mapped by mapPool()");
	return Napi::Value(env, PoolArrayBuffer(U2P(addr), static_cast<size_t>(len)));
}

Napi::Value AddressOfFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uintptr_t addr;

	if (info.Length() > 0 && info[0].IsTypedArray()) {
		Napi::TypedArray t = info[0].As<Napi::TypedArray>();
		Napi::ArrayBuffer ab = t.ArrayBuffer();
		addr = reinterpret_cast<uintptr_t>(ab.IsDetached() ? nullptr : ab.Data());
		if (addr)
			addr += t.ByteOffset();
	} else if (info.Length() > 0 && info[0].IsDataView()) {
		Napi::DataView d = info[0].As<Napi::DataView>();
		Napi::ArrayBuffer ab = d.ArrayBuffer();
		addr = reinterpret_cast<uintptr_t>(ab.IsDetached() ? nullptr : ab.Data());
		if (addr)
			addr += d.ByteOffset();
	} else {
		Napi::ArrayBuffer ab = ArgArrayBuffer(info, 0, "buffer");
		addr = reinterpret_cast<uintptr_t>(ab.IsDetached() ? nullptr : ab.Data());
	}
	return Napi::BigInt::New(env, static_cast<uint64_t>(addr));
}

Napi::Value MapPoolFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int32_t pid = ArgI32(info, 0, "pid");
	struct agnocast_map_pool_args a = {};

	a.pool.pid = pid;
	AG_IOCTL(env, AGNOCAST_MAP_POOL_CMD, &a);
	if (pid == getpid())
		return PoolInfoObject(env, a.pool);	/* ours: mapped already, nothing declared */

	std::string name = "/agnocast@" + std::to_string(pid);
	void *want = U2P(a.pool.addr);
	const char *failed = nullptr;
	int err = 0;
	int fd = shm_open(name.c_str(), O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		failed = "shm_open";
		err = errno;
	} else {
		void *p = mmap(want, a.pool.max, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
		if (p != want) {
			failed = "mmap";
			err = p == MAP_FAILED ? errno : EEXIST;
			if (p != MAP_FAILED)
				munmap(p, a.pool.max);
		}
		close(fd);
	}
	if (failed) {
		struct agnocast_map_pool_args u = {};
		u.pool.pid = pid;
		Ioctl(Device(env), AGNOCAST_UNMAP_POOL_CMD, &u);
		ThrowErrno(env, err, failed, name);
	}
	{
		std::lock_guard<std::mutex> lock(g_maps_mutex);
		g_maps.push_back(Mapping{ pid, a.pool.addr, a.pool.max });
	}
	return PoolInfoObject(env, a.pool);
}

Napi::Value UnmapPoolFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int32_t pid = ArgI32(info, 0, "pid");
	uint64_t addr = ArgU64(info, 1, "addr");
	uint64_t max = ArgU64(info, 2, "max");

	if (pid == getpid())
		return env.Undefined();	/* mapPool() of our own pid mapped nothing */
	{
		/* Only what mapPool() mapped: never munmap anything else. */
		std::lock_guard<std::mutex> lock(g_maps_mutex);
		auto it = std::find_if(g_maps.begin(), g_maps.end(), [&](const Mapping &m) {
			return m.pid == pid && m.addr == addr && m.max == max;
		});
		if (it == g_maps.end())
			ThrowErrno(env, EINVAL, "unmapPool", "that pool is not mapped by mapPool()");
		g_maps.erase(it);
	}
	if (munmap(U2P(addr), max))
		ThrowErrno(env, errno, "munmap");
	struct agnocast_map_pool_args a = {};
	a.pool.pid = pid;
	AG_IOCTL(env, AGNOCAST_UNMAP_POOL_CMD, &a);
	return env.Undefined();
}

}  // namespace

bool AddressMapped(uint64_t addr, uint64_t len)
{
	if (addr + len < addr)
		return false;
	if (PoolOwns(addr))
		return addr + len <= PoolBase() + PoolSize();
	std::lock_guard<std::mutex> lock(g_maps_mutex);
	for (const Mapping &m : g_maps)
		if (addr >= m.addr && addr + len <= m.addr + m.max)
			return true;
	return false;
}

void InitMemory(Napi::Env env, Napi::Object exports)
{
	exports.Set("loan", Napi::Function::New(env, LoanFn, "loan"));
	exports.Set("free", Napi::Function::New(env, FreeFn, "free"));
	exports.Set("publish", Napi::Function::New(env, PublishFn, "publish"));
	exports.Set("reclaim", Napi::Function::New(env, ReclaimFn, "reclaim"));
	exports.Set("view", Napi::Function::New(env, ViewFn, "view"));
	exports.Set("addressOf", Napi::Function::New(env, AddressOfFn, "addressOf"));
	exports.Set("mapPool", Napi::Function::New(env, MapPoolFn, "mapPool"));
	exports.Set("unmapPool", Napi::Function::New(env, UnmapPoolFn, "unmapPool"));
}

}  // namespace agnocast
