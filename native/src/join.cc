// SPDX-License-Identifier: Apache-2.0
/*
 * The module and the process: version(), join(), leave(). join() is
 * agnocast_join(): under the heaphook the library forwards it to the
 * heaphook's copy, which joined before main, and the answer is its pool.
 */
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "addon.h"

namespace agnocast {

namespace {

std::atomic<bool> g_joined{false};

/*
 * join() and leave() are counted per process, over every environment (main
 * thread, workers): the library's state is the process's, so one thread's
 * leave() must not remove what another thread still uses. The last leave()
 * (or the teardown of the last environment that joined) calls
 * agnocast_leave().
 */
std::mutex g_join_mutex;
size_t g_joins;
std::unordered_map<napi_env, size_t> g_env_joins;

void LeaveLocked(napi_env env, size_t n)
{
	auto it = g_env_joins.find(env);
	if (it == g_env_joins.end() || n == 0)
		return;
	it->second -= n;
	if (it->second == 0)
		g_env_joins.erase(it);
	g_joins -= n;
}

void JoinCleanup(void *arg)
{
	napi_env env = static_cast<napi_env>(arg);
	std::lock_guard<std::mutex> lock(g_join_mutex);
	auto it = g_env_joins.find(env);
	if (it == g_env_joins.end())
		return;
	LeaveLocked(env, it->second);
	if (g_joins == 0)
		agnocast_leave();
}

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
	{
		std::lock_guard<std::mutex> lock(g_join_mutex);
		g_joins++;
		g_env_joins[env]++;
	}
	Napi::Object o = Napi::Object::New(env);
	o.Set("pid", Napi::Number::New(env, pool.pid));
	o.Set("addr", Napi::BigInt::New(env, static_cast<uint64_t>(pool.addr)));
	o.Set("size", U64Number(env, pool.size));
	o.Set("max", U64Number(env, pool.max));
	o.Set("heaphook", Napi::Boolean::New(env, pool.flags & AGNOCAST_POOL_IS_HEAP));
	return o;
}

/* Leaves for real (agnocast_leave) only when no other join() of the process is open. */
Napi::Value Leave(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int r = 0;
	{
		std::lock_guard<std::mutex> lock(g_join_mutex);
		LeaveLocked(env, 1);
		if (g_joins == 0)
			r = agnocast_leave();
	}
	Check(env, r);
	return env.Undefined();
}

/* How many join()s of the process are open (every thread's). */
Napi::Value Joins(const Napi::CallbackInfo &info)
{
	std::lock_guard<std::mutex> lock(g_join_mutex);
	return Napi::Number::New(info.Env(), static_cast<double>(g_joins));
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
	exports.Set("joins", Napi::Function::New(env, Joins, "joins"));
	napi_add_env_cleanup_hook(env, JoinCleanup, static_cast<napi_env>(env));
}

}  // namespace agnocast
