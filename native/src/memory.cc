// SPDX-License-Identifier: Apache-2.0
/*
 * Memory: loans, publish, reclaim, views over mapped pools.
 *
 * A loan is an external ArrayBuffer over a block of our pool. While the
 * JS buffer owns the block, g_loans lists it by address, with the buffer's
 * backing store. publish() and free() accept a buffer only if it is the
 * loan's very own: its backing store is the one loan() made (a view() over
 * the same block has another). They forget the record, then detach the
 * buffer, which revokes every view of it; the block is then the module's
 * (published: it comes back through the reclaimed addresses of PUBLISH or
 * RECLAIM) or the allocator's again (freed).
 *
 * A loan dropped without either goes back to the pool once V8 collected
 * its buffer, without a finalizer (a weak handle per loan, processed by
 * every collection, cost more than the rest of a loan together): the record
 * holds a reference to the backing store, and the buffer holds the only
 * other one, so a store only the record holds belongs to a collected
 * buffer. SweepLoans() frees those blocks; loan() runs it once the live
 * loans have doubled in number or in bytes since the last sweep (before
 * allocating, so that it may reuse the blocks), and reclaim() and a failed
 * allocation (loan() or publishCopy()) always. Nothing else holds a pool
 * buffer's store: its detach key keeps it from being transferred.
 *
 * A loan's memory comes from the library's allocator (agnocast_alloc); a
 * published block is the library's until the module hands it back.
 *
 * Views are external ArrayBuffers over mapped memory with no finalizer: the
 * memory is the pool's, and the subscriber's release() detaches the view.
 * view() only accepts ranges the library says are readable (our pool, or a
 * pool it maps), so a stray address throws instead of faulting.
 *
 * Both are made by PoolArrayBuffer, through V8's own API rather than
 * napi_create_external_arraybuffer: N-API gives an external buffer a
 * deleter, and V8 counts the bytes of every buffer with a deleter as memory
 * of its heap; once 64 MiB more are counted than after the last full
 * collection it starts one. A 64 MiB message would then cost a mark-compact
 * in the publisher (the loan) and in every subscriber (the view), every
 * time (measured: 18 ms a message instead of 0.3). Pool memory is not the
 * heap's and no collection can free it: V8 counts no buffer whose backing
 * store has the empty deleter (a dropped loan is found by its store
 * instead, above). The price: the addon uses V8's C++ API for this one
 * call, so it is built per Node major (npm install does).
 */
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <cstring>

#include "addon.h"

namespace agnocast {

namespace {

struct Loan {
	size_t size;
	/*
	 * The loan buffer's store. Holding it also keeps its address taken
	 * while the record exists: no other buffer's store can have it (the
	 * empty deleter: holding it holds no memory).
	 */
	std::shared_ptr<v8::BackingStore> store;
};

/*
 * The LIVE loans of every environment, by address, with their bytes and
 * when to sweep next. g_loans_mutex is the addon's only lock around them.
 */
std::mutex g_loans_mutex;
std::unordered_map<uintptr_t, Loan> g_loans;
size_t g_loan_bytes;
constexpr size_t kSweepCount = 64;
constexpr size_t kSweepBytes = 4u << 20;
size_t g_sweep_count = kSweepCount;
size_t g_sweep_bytes = kSweepBytes;

/*
 * Every pool ArrayBuffer carries this detach key: V8 detaches it only when
 * given the key, so postMessage / structuredClone cannot transfer it away
 * (Node 22 and later throw; Node 20 copies what src/ marked untransferable)
 * and napi_detach_arraybuffer, which passes no key, must not be used on it:
 * DetachPoolBuffer() is. V8 compares keys with StrictEquals: a string does.
 */
static v8::Local<v8::String> DetachKey(v8::Isolate *isolate)
{
	/*
	 * Made once per isolate (a worker thread has its own): an Eternal
	 * lives as long as its isolate and needs no teardown, and comparing
	 * a string with itself is V8's fast path.
	 */
	thread_local v8::Isolate *owner;
	thread_local v8::Eternal<v8::String> key;

	if (owner != isolate || key.IsEmpty()) {
		key.Set(isolate, v8::String::NewFromUtf8Literal(isolate, "agnocast: pool memory",
								 v8::NewStringType::kInternalized));
		owner = isolate;
	}
	return key.Get(isolate);
}

/*
 * An ArrayBuffer over [p, p + len) of pool memory, with the empty deleter
 * (see the top). Only in a callback from JavaScript: the handle lives in
 * its scope. napi_value is a v8::Local<v8::Value> in every Node.
 */
napi_value PoolArrayBuffer(void *p, size_t len, std::shared_ptr<v8::BackingStore> *made = nullptr)
{
	v8::Isolate *isolate = v8::Isolate::GetCurrent();
	std::shared_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(
		p, len, v8::BackingStore::EmptyDeleter, nullptr);
	if (made)
		*made = store;
	v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(isolate, std::move(store));
	ab->SetDetachKey(DetachKey(isolate));
	return reinterpret_cast<napi_value>(*ab);
}

/* The ArrayBuffer behind value, or an empty handle. */
v8::Local<v8::ArrayBuffer> AsArrayBuffer(napi_value value)
{
	v8::Local<v8::Value> v;
	static_assert(sizeof(v) == sizeof(value), "napi_value is a v8::Local");
	memcpy(static_cast<void *>(&v), &value, sizeof(value));
	if (v.IsEmpty() || !v->IsArrayBuffer())
		return v8::Local<v8::ArrayBuffer>();
	return v.As<v8::ArrayBuffer>();
}

}  // namespace

bool DetachPoolBuffer(napi_value value)
{
	v8::Isolate *isolate = v8::Isolate::GetCurrent();
	v8::Local<v8::ArrayBuffer> ab = AsArrayBuffer(value);
	if (ab.IsEmpty())
		return false;
	if (ab->WasDetached())
		return true;
	v8::TryCatch tc(isolate);	/* a wrong key throws: say false instead */
	return ab->Detach(DetachKey(isolate)).IsJust();
}

namespace {

void *U2P(uint64_t addr)
{
	return reinterpret_cast<void *>(static_cast<uintptr_t>(addr));
}

/*
 * Frees the blocks of loans whose buffers were collected; returns how
 * many. Any thread: a collected buffer's store may be let go by V8's
 * sweeper thread, and the acquire fence orders its last use before the
 * block is reused.
 */
int SweepLoans()
{
	std::vector<void *> dead;
	{
		std::lock_guard<std::mutex> lock(g_loans_mutex);
		for (auto it = g_loans.begin(); it != g_loans.end();) {
			if (it->second.store.use_count() == 1) {
				dead.push_back(reinterpret_cast<void *>(it->first));
				g_loan_bytes -= it->second.size;
				it = g_loans.erase(it);
			} else {
				++it;
			}
		}
		g_sweep_count = std::max(kSweepCount, 2 * g_loans.size());
		g_sweep_bytes = std::max(kSweepBytes, 2 * g_loan_bytes);
	}
	std::atomic_thread_fence(std::memory_order_acquire);
	for (void *p : dead)
		agnocast_free(p);
	return static_cast<int>(dead.size());
}

/*
 * The LIVE loan whose own buffer this is (its address and size), or throws
 * EINVAL. The record stays until Forget(): while the caller holds the
 * buffer, its store is held twice and no sweep takes it.
 */
std::pair<void *, size_t> LiveLoan(Napi::Env env, Napi::ArrayBuffer buffer, const char *op)
{
	v8::Local<v8::ArrayBuffer> ab = AsArrayBuffer(buffer);
	std::shared_ptr<v8::BackingStore> store = ab->GetBackingStore();
	void *data = ab->WasDetached() ? nullptr : store->Data();
	std::lock_guard<std::mutex> lock(g_loans_mutex);
	auto it = data ? g_loans.find(reinterpret_cast<uintptr_t>(data)) : g_loans.end();
	if (it == g_loans.end())
		ThrowErrno(env, EINVAL, op, "not a live loan: it was published or freed, or is not an ArrayBuffer that loan() returned");
	if (it->second.store != store)
		ThrowErrno(env, EINVAL, op, "not a loan: pass the ArrayBuffer that loan() returned, not another view of its memory");
	return { data, it->second.size };
}

/* Drops the record of the loan at p: the block is no longer the buffer's. */
void Forget(void *p)
{
	std::lock_guard<std::mutex> lock(g_loans_mutex);
	auto it = g_loans.find(reinterpret_cast<uintptr_t>(p));
	g_loan_bytes -= it->second.size;
	g_loans.erase(it);
}

void Detach(Napi::Env env, Napi::ArrayBuffer buffer, const char *op)
{
	if (!DetachPoolBuffer(buffer))
		ThrowErrno(env, EINVAL, op, "the ArrayBuffer cannot be detached");
}

/* Whether loan() should sweep first: the live loans doubled since the last sweep. */
bool SweepDue()
{
	std::lock_guard<std::mutex> lock(g_loans_mutex);
	return g_loans.size() >= g_sweep_count || g_loan_bytes >= g_sweep_bytes;
}

/* A block of size bytes; when the pool is full, after sweeping collected loans. */
void *AllocSwept(size_t size)
{
	void *p = agnocast_alloc(size);
	if (!p && errno == ENOMEM && SweepLoans() > 0)
		p = agnocast_alloc(size);
	return p;
}

/*
 * loan(size, address?): with a Float64Array, the block's address goes
 * into its first element too (exact: user addresses are below 2^53), so
 * that the library needs no second call (addressOf) per loan.
 */
Napi::Value LoanFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint64_t size = ArgU64(info, 0, "size");
	double *address = ArgOptF64Out(info, 1, "address");

	RequireJoin(env, "agnocast_alloc");
	if (SweepDue())
		SweepLoans();	/* before the allocation, which may then reuse the blocks */
	void *p = AllocSwept(static_cast<size_t>(size));
	if (!p)
		ThrowLib(env, -errno);
	Loan loan = { static_cast<size_t>(size), nullptr };
	napi_value ab = PoolArrayBuffer(p, loan.size, &loan.store);
	{
		std::lock_guard<std::mutex> lock(g_loans_mutex);
		g_loans.emplace(reinterpret_cast<uintptr_t>(p), std::move(loan));
		g_loan_bytes += static_cast<size_t>(size);
	}
	if (address)
		*address = static_cast<double>(reinterpret_cast<uintptr_t>(p));
	return Napi::Value(env, ab);
}

/* Forgets the record before the detach: from then on no sweep can see the block. */
Napi::Value FreeFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 0, "loan");
	void *p = LiveLoan(env, buffer, "free").first;

	Forget(p);
	Detach(env, buffer, "free");
	agnocast_free(p);
	return env.Undefined();
}

/*
 * The publish comes before the detach so that a refused publish (bad id,
 * ERANGE, …) leaves the loan usable; no JavaScript can run in between, and
 * an ArrayBuffer belongs to one thread, so nothing writes into the block
 * after the module has it.
 */
Napi::Value PublishFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_publisher *pub =
		PublisherOf(env, ArgU32(info, 0, "publisherId"), "AGNOCAST_PUBLISH_CMD");
	Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 1, "loan");
	uint64_t length = ArgU64(info, 2, "length");
	auto [p, size] = LiveLoan(env, buffer, "AGNOCAST_PUBLISH_CMD");
	uint64_t seq = 0;

	if (length > size)
		ThrowErrno(env, ERANGE, "AGNOCAST_PUBLISH_CMD",
			   "length " + std::to_string(length) + " is past the loan's " +
				   std::to_string(size) + " bytes");
	Check(env, agnocast_publish(pub, p, static_cast<size_t>(length), &seq));
	Forget(p);
	Detach(env, buffer, "AGNOCAST_PUBLISH_CMD");
	return Napi::BigInt::New(env, seq);
}

/*
 * publish(bytes) without a loan: copies a Uint8Array into a fresh block
 * and publishes that, in one call (no ArrayBuffer over the block, no
 * record). The block goes back to the pool if the publish is refused.
 */
Napi::Value PublishCopyFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_publisher *pub =
		PublisherOf(env, ArgU32(info, 0, "publisherId"), "AGNOCAST_PUBLISH_CMD");
	Napi::Uint8Array bytes = ArgBytes(info, 1, "bytes");
	uint64_t seq = 0;
	size_t len = bytes.ByteLength();
	void *p = AllocSwept(len);

	if (!p)
		ThrowLib(env, -errno);
	if (len)
		memcpy(p, bytes.Data(), len);
	int r = agnocast_publish(pub, p, len, &seq);
	if (r < 0) {
		agnocast_free(p);
		ThrowLib(env, r);
	}
	return Napi::BigInt::New(env, seq);
}

Napi::Value ReclaimFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();

	RequireJoin(env, "agnocast_reclaim");
	int n = Check(env, agnocast_reclaim());
	return Napi::Number::New(env, n + SweepLoans());
}

Napi::Value ViewFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint64_t addr = ArgU64(info, 0, "addr");
	uint64_t len = ArgU64(info, 1, "len");

	if (addr + len < addr || !agnocast_readable(U2P(addr), static_cast<size_t>(len)))
		ThrowErrno(env, EFAULT, "view",
			   "the range is not inside this process's pool or a pool the library maps");
	return Napi::Value(env, PoolArrayBuffer(U2P(addr), static_cast<size_t>(len)));
}

/* Revokes a view() buffer (and every view of it) without releasing anything. */
Napi::Value DetachFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();

	Detach(env, ArgArrayBuffer(info, 0, "view"), "detach");
	return env.Undefined();
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

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports)
{
	exports.Set("loan", Napi::Function::New(env, LoanFn, "loan"));
	exports.Set("free", Napi::Function::New(env, FreeFn, "free"));
	exports.Set("publish", Napi::Function::New(env, PublishFn, "publish"));
	exports.Set("publishCopy", Napi::Function::New(env, PublishCopyFn, "publishCopy"));
	exports.Set("reclaim", Napi::Function::New(env, ReclaimFn, "reclaim"));
	exports.Set("view", Napi::Function::New(env, ViewFn, "view"));
	exports.Set("detach", Napi::Function::New(env, DetachFn, "detach"));
	exports.Set("addressOf", Napi::Function::New(env, AddressOfFn, "addressOf"));
}

}  // namespace agnocast
