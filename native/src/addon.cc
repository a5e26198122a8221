// SPDX-License-Identifier: Apache-2.0
/* Module init: the functions of src/native.ts's NativeBinding. */
#include "addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	/* Watch before endpoints: cleanup hooks run in reverse (endpoints.cc). */
	agnocast::InitWatch(env, exports);
	agnocast::InitJoin(env, exports);
	agnocast::InitEndpoints(env, exports);
	agnocast::InitMemory(env, exports);
	agnocast::InitPools(env, exports);
	agnocast::InitIntrospect(env, exports);
	return exports;
}

NODE_API_MODULE(agnocast, Init)
