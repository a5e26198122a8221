// SPDX-License-Identifier: Apache-2.0
/*
 * Memory: loans, publish, reclaim, views over mapped pools.
 *
 * A loan is an external ArrayBuffer over a block of our pool. Each has a
 * Loan record, owned by the buffer's finalizer, in one of three states:
 *   LIVE       the block belongs to the JS buffer (listed in g_loans by
 *              address, so publish()/free() find the record);
 *   PUBLISHED  the module owns the block; it comes back through the
 *              reclaimed addresses of PUBLISH or RECLAIM, and is freed then;
 *   FREED      free() gave it back.
 * publish() and free() accept a buffer only if it is the loan's very own:
 * its backing store is the one loan() made (a view() over the same block
 * has another). They detach it, which revokes every view of it.
 * The finalizer (main thread, at GC or environment teardown; it never calls
 * JS) frees the block only if the loan is still LIVE, then drops the record.
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
 * store has the empty deleter. The loan's finalizer hangs on the buffer
 * object instead (napi_add_finalizer). The price: the addon uses V8's C++
 * API for this one call, so it is built per Node major (npm install does).
 */
#include <v8.h>

#include <memory>
#include <mutex>
#include <unordered_map>

#include <cstring>

#include "addon.h"

namespace agnocast {

namespace {

enum class LoanState { kLive, kPublished, kFreed };

struct Loan {
	void *ptr;
	size_t size;
	LoanState state;
	/*
	 * The loan buffer's store, held so that its address stays taken
	 * until the finalizer: no other buffer's store can have it while the
	 * record exists (the empty deleter: holding it holds no memory).
	 */
	std::shared_ptr<v8::BackingStore> store;
};

std::mutex g_loans_mutex;
std::unordered_map<uintptr_t, Loan *> g_loans;	/* LIVE loans by address */

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
		agnocast_free(loan->ptr);
	delete loan;
}

/* The LIVE loan whose own buffer this is, or throws EINVAL. */
Loan *LiveLoan(Napi::Env env, Napi::ArrayBuffer buffer, const char *op)
{
	v8::Local<v8::ArrayBuffer> ab = AsArrayBuffer(buffer);
	std::shared_ptr<v8::BackingStore> store = ab->GetBackingStore();
	void *data = ab->WasDetached() ? nullptr : store->Data();
	std::lock_guard<std::mutex> lock(g_loans_mutex);
	auto it = data ? g_loans.find(reinterpret_cast<uintptr_t>(data)) : g_loans.end();
	if (it == g_loans.end() || it->second->state != LoanState::kLive)
		ThrowErrno(env, EINVAL, op, "not a live loan: it was published or freed, or is not an ArrayBuffer that loan() returned");
	if (it->second->store != store)
		ThrowErrno(env, EINVAL, op, "not a loan: pass the ArrayBuffer that loan() returned, not another view of its memory");
	return it->second;
}

void Detach(Napi::Env env, Napi::ArrayBuffer buffer, const char *op)
{
	if (!DetachPoolBuffer(buffer))
		ThrowErrno(env, EINVAL, op, "the ArrayBuffer cannot be detached");
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
	void *p = agnocast_alloc(static_cast<size_t>(size));
	if (!p)
		ThrowLib(env, -errno);
	Loan *loan = new Loan{ p, static_cast<size_t>(size), LoanState::kLive, nullptr };
	napi_value ab = PoolArrayBuffer(p, loan->size, &loan->store);
	{
		std::lock_guard<std::mutex> lock(g_loans_mutex);
		g_loans[reinterpret_cast<uintptr_t>(p)] = loan;
	}
	napi_status st = napi_add_finalizer(env, ab, loan, LoanFinalize, nullptr, nullptr);
	if (st != napi_ok) {
		{
			std::lock_guard<std::mutex> lock(g_loans_mutex);
			g_loans.erase(reinterpret_cast<uintptr_t>(p));
		}
		DetachPoolBuffer(ab);
		agnocast_free(p);
		delete loan;
		NAPI_THROW_IF_FAILED(env, st, Napi::Value());
	}
	/* From here on the finalizer owns loan. */
	if (address)
		*address = static_cast<double>(reinterpret_cast<uintptr_t>(p));
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
	agnocast_free(loan->ptr);
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
	Loan *loan = LiveLoan(env, buffer, "AGNOCAST_PUBLISH_CMD");
	uint64_t seq = 0;

	if (length > loan->size)
		ThrowErrno(env, ERANGE, "AGNOCAST_PUBLISH_CMD",
			   "length " + std::to_string(length) + " is past the loan's " +
				   std::to_string(loan->size) + " bytes");
	Check(env, agnocast_publish(pub, loan->ptr, static_cast<size_t>(length), &seq));
	{
		std::lock_guard<std::mutex> lock(g_loans_mutex);
		loan->state = LoanState::kPublished;
		g_loans.erase(reinterpret_cast<uintptr_t>(loan->ptr));
	}
	Detach(env, buffer, "AGNOCAST_PUBLISH_CMD");
	return Napi::BigInt::New(env, seq);
}

/*
 * publish(bytes) without a loan: copies a Uint8Array into a fresh block
 * and publishes that, in one call (no ArrayBuffer over the block, no
 * finalizer). The block goes back to the pool if the publish is refused.
 */
Napi::Value PublishCopyFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_publisher *pub =
		PublisherOf(env, ArgU32(info, 0, "publisherId"), "AGNOCAST_PUBLISH_CMD");
	Napi::Uint8Array bytes = ArgBytes(info, 1, "bytes");
	uint64_t seq = 0;
	size_t len = bytes.ByteLength();
	void *p = agnocast_alloc(len);

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
	return Napi::Number::New(env, Check(env, agnocast_reclaim()));
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
