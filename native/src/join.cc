// SPDX-License-Identifier: Apache-2.0
/*
 * The module and the process: version(), join(), leave(). join() is
 * agnocast_join(): under the heaphook the library forwards it to the
 * heaphook's copy, which joined before main, and the answer is its pool.
 */
#include <atomic>

#include "addon.h"

namespace agnocast {

namespace {

std::atomic<bool> g_joined{false};

Napi::Value Version(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_version_args v = {};

	Check(env, agnocast_version(&v));
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
	struct agnocast_join_opts opts = {};
	struct agnocast_pool pool = {};

	opts.pool_size = ArgU64(info, 0, "poolSize");
	opts.pool_max = ArgU64(info, 1, "poolMax");
	opts.dev_fd = -1;
	Check(env, agnocast_join(&opts));
	Check(env, agnocast_pool_info(&pool));
	g_joined.store(true, std::memory_order_release);
	Napi::Object o = Napi::Object::New(env);
	o.Set("pid", Napi::Number::New(env, pool.pid));
	o.Set("addr", Napi::BigInt::New(env, static_cast<uint64_t>(pool.addr)));
	o.Set("size", U64Number(env, pool.size));
	o.Set("max", U64Number(env, pool.max));
	o.Set("heaphook", Napi::Boolean::New(env, pool.flags & AGNOCAST_POOL_IS_HEAP));
	return o;
}

Napi::Value Leave(const Napi::CallbackInfo &info)
{
	Check(info.Env(), agnocast_leave());
	return info.Env().Undefined();
}

}  // namespace

void RequireJoin(Napi::Env env, const char *op)
{
	if (!g_joined.load(std::memory_order_acquire))
		ThrowErrno(env, ESRCH, op, "this process has not joined: call join() first");
}

void InitJoin(Napi::Env env, Napi::Object exports)
{
	exports.Set("version", Napi::Function::New(env, Version, "version"));
	exports.Set("join", Napi::Function::New(env, Join, "join"));
	exports.Set("leave", Napi::Function::New(env, Leave, "leave"));
}

}  // namespace agnocast
