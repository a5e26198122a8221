// SPDX-License-Identifier: Apache-2.0
/*
 * Other processes' pools and the library's events: mapPool(), unmapPool(),
 * mappedPools(), eventsFd(), handleEvents(). The library maps pools by
 * itself (listed publishers, announcements, entries); the events
 * descriptor, watched on the event loop, tells when to let it handle
 * announcements and exited owners.
 */
#include <vector>

#include "addon.h"

namespace agnocast {

namespace {

Napi::Value MapPool(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_pool_info p = {};

	Check(env, agnocast_map_pool(ArgI32(info, 0, "pid"), 0, &p));
	return PoolInfoObject(env, p);
}

Napi::Value UnmapPool(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();

	Check(env, agnocast_unmap_pool(ArgU64(info, 0, "addr")));
	return env.Undefined();
}

Napi::Value MappedPools(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::vector<struct agnocast_pool_info> pools(16);
	uint32_t n;

	for (;;) {
		n = static_cast<uint32_t>(Check(env, agnocast_mapped_pools(
			pools.data(), static_cast<uint32_t>(pools.size()))));
		if (n <= pools.size())
			break;
		pools.resize(n + 8);
	}
	Napi::Array out = Napi::Array::New(env, n);
	for (uint32_t i = 0; i < n; i++)
		out.Set(i, PoolInfoObject(env, pools[i]));
	return out;
}

Napi::Value EventsFd(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();

	RequireJoin(env, "agnocast_events_fd");
	return Napi::Number::New(env, Check(env, agnocast_events_fd()));
}

Napi::Value HandleEvents(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();

	Check(env, agnocast_handle_events());
	return env.Undefined();
}

}  // namespace

void InitPools(Napi::Env env, Napi::Object exports)
{
	exports.Set("mapPool", Napi::Function::New(env, MapPool, "mapPool"));
	exports.Set("unmapPool", Napi::Function::New(env, UnmapPool, "unmapPool"));
	exports.Set("mappedPools", Napi::Function::New(env, MappedPools, "mappedPools"));
	exports.Set("eventsFd", Napi::Function::New(env, EventsFd, "eventsFd"));
	exports.Set("handleEvents", Napi::Function::New(env, HandleEvents, "handleEvents"));
}

}  // namespace agnocast
