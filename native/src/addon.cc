// SPDX-License-Identifier: Apache-2.0
/* Module init: the functions of src/native.ts's NativeBinding. */
#include "addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	agnocast::InitDevice(env, exports);
	agnocast::InitTopics(env, exports);
	agnocast::InitMemory(env, exports);
	agnocast::InitWatch(env, exports);
	agnocast::InitMqueue(env, exports);
	agnocast::InitIntrospect(env, exports);
	agnocast::InitPidfd(env, exports);
	return exports;
}

NODE_API_MODULE(agnocast, Init)
