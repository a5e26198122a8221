// SPDX-License-Identifier: Apache-2.0
/* Module init: the functions of src/native.ts's NativeBinding. */
#include "addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	agnocast::InitJoin(env, exports);
	agnocast::InitEndpoints(env, exports);
	agnocast::InitMemory(env, exports);
	agnocast::InitPools(env, exports);
	agnocast::InitIntrospect(env, exports);
	agnocast::InitWatch(env, exports);
	return exports;
}

NODE_API_MODULE(agnocast, Init)
