// SPDX-License-Identifier: Apache-2.0
/* Module init: the functions of src/native.ts's NativeBinding. */
#include "addon.h"

/* For NODE_MODULE_VERSION. Node 20's copy also defines NAPI_VERSION (9,
 * what that Node provides), which must not replace the version the addon
 * is built against (binding.gyp: 8). */
#pragma push_macro("NAPI_VERSION")
#undef NAPI_VERSION
#include <node_version.h>
#undef NAPI_VERSION
#pragma pop_macro("NAPI_VERSION")

/*
 * The addon registers through Node-API, which any Node would accept, but
 * memory.cc calls V8's C++ API, whose ABI changes with every Node major
 * (NODE_MODULE_VERSION, process.versions.modules): built for one and run
 * in another, it would crash on the first pool buffer. So it refuses to
 * load into a Node whose ABI is not the one of the headers it was built
 * with. src/native.ts turns the error (code ERR_AGNOCAST_NODE_ABI) into
 * one that names the rebuild command for where the package is.
 */
static void CheckNodeAbi(Napi::Env env)
{
	Napi::Object process = env.Global().Get("process").As<Napi::Object>();
	Napi::Object versions = process.Get("versions").As<Napi::Object>();
	std::string running = versions.Get("modules").ToString().Utf8Value();
	std::string node = versions.Get("node").ToString().Utf8Value();
	std::string built = std::to_string(NODE_MODULE_VERSION);
	if (running == built)
		return;
	std::string msg = "the agnocast addon was built for Node.js " NODE_VERSION_STRING " (ABI ";
	msg += built;
	msg += ") and cannot run in Node.js ";
	msg += node;
	msg += " (ABI ";
	msg += running;
	msg += "): rebuild it with this Node: npm rebuild agnocast";
	Napi::Error e = Napi::Error::New(env, msg);
	e.Set("code", Napi::String::New(env, "ERR_AGNOCAST_NODE_ABI"));
	e.Set("builtFor", Napi::String::New(env, built));
	e.Set("running", Napi::String::New(env, running));
	throw e;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	CheckNodeAbi(env);
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
