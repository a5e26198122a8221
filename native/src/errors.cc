// SPDX-License-Identifier: Apache-2.0
/* Errors with errno properties (the library's, or the addon's own), argument checks. */
#include <cmath>
#include <cstdio>
#include <cstring>

#include "addon.h"

namespace agnocast {

std::string ErrnoName(int err)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	const char *name = strerrorname_np(err);
	if (name)
		return name;
#else
	static const struct {
		int err;
		const char *name;
	} names[] = {
		{ EPERM, "EPERM" },	{ ENOENT, "ENOENT" },	{ ESRCH, "ESRCH" },
		{ EINTR, "EINTR" },	{ EIO, "EIO" },		{ ENXIO, "ENXIO" },
		{ E2BIG, "E2BIG" },	{ EBADF, "EBADF" },	{ EAGAIN, "EAGAIN" },
		{ ENOMEM, "ENOMEM" },	{ EACCES, "EACCES" },	{ EFAULT, "EFAULT" },
		{ EBUSY, "EBUSY" },	{ EEXIST, "EEXIST" },	{ ENODEV, "ENODEV" },
		{ EINVAL, "EINVAL" },	{ EMFILE, "EMFILE" },	{ ENFILE, "ENFILE" },
		{ ENOTTY, "ENOTTY" },	{ ENOSPC, "ENOSPC" },	{ ERANGE, "ERANGE" },
		{ ENAMETOOLONG, "ENAMETOOLONG" },		{ ENOSYS, "ENOSYS" },
		{ ENOBUFS, "ENOBUFS" },	{ EMSGSIZE, "EMSGSIZE" },
		{ EADDRINUSE, "EADDRINUSE" },
	};
	for (const auto &n : names)
		if (n.err == err)
			return n.name;
#endif
	/* Formatted in place: GCC 12 with Node 24's flags (-O3, C++20) sees a
	 * false overlap (-Wrestrict) in "E" + std::to_string(err)'s insert. */
	char unknown[16];
	snprintf(unknown, sizeof(unknown), "E%d", err);
	return unknown;
}

void ThrowErrno(Napi::Env env, int err, const char *syscall, const std::string &detail)
{
	std::string msg = std::string(syscall) + ": " + std::strerror(err);
	if (!detail.empty())
		msg += " (" + detail + ")";
	Napi::Error e = Napi::Error::New(env, msg);
	e.Set("code", Napi::String::New(env, ErrnoName(err)));
	e.Set("errno", Napi::Number::New(env, err));
	e.Set("syscall", Napi::String::New(env, syscall));
	throw e;
}

void ThrowLib(Napi::Env env, int r)
{
	int err = -r;
	const char *op = agnocast_last_error_op();
	Napi::Error e = Napi::Error::New(env, agnocast_last_error());
	e.Set("code", Napi::String::New(env, ErrnoName(err)));
	e.Set("errno", Napi::Number::New(env, err));
	e.Set("syscall", Napi::String::New(env, op));
	throw e;
}

Napi::Object PoolInfoObject(Napi::Env env, const struct agnocast_pool_info &p)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set("pid", Napi::Number::New(env, p.pid));
	o.Set("addr", Napi::BigInt::New(env, static_cast<uint64_t>(p.addr)));
	o.Set("size", U64Number(env, p.size));
	o.Set("max", U64Number(env, p.max));
	return o;
}

[[noreturn]] static void ThrowArg(Napi::Env env, bool range, const char *name,
				  const char *what)
{
	std::string msg = std::string("The \"") + name + "\" argument " + what;
	if (range) {
		Napi::RangeError e = Napi::RangeError::New(env, msg);
		e.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
		throw e;
	}
	Napi::TypeError e = Napi::TypeError::New(env, msg);
	e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
	throw e;
}

static double ArgInteger(const Napi::CallbackInfo &info, size_t i, const char *name,
			 double min, double max)
{
	if (i >= info.Length() || !info[i].IsNumber())
		ThrowArg(info.Env(), false, name, "must be a number");
	double d = info[i].As<Napi::Number>().DoubleValue();
	if (!std::isfinite(d) || std::trunc(d) != d || d < min || d > max)
		ThrowArg(info.Env(), true, name, "must be an integer in range");
	return d;
}

uint32_t ArgU32(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	return static_cast<uint32_t>(ArgInteger(info, i, name, 0, 4294967295.0));
}

int32_t ArgI32(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	return static_cast<int32_t>(ArgInteger(info, i, name, -2147483648.0, 2147483647.0));
}

uint64_t ArgU64(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	if (i < info.Length() && info[i].IsBigInt()) {
		bool lossless = false;
		uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
		if (!lossless)
			ThrowArg(info.Env(), true, name, "must be a BigInt in [0, 2^64)");
		return v;
	}
	return static_cast<uint64_t>(ArgInteger(info, i, name, 0, 9007199254740991.0));
}

bool ArgBool(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	if (i >= info.Length() || !info[i].IsBoolean())
		ThrowArg(info.Env(), false, name, "must be a boolean");
	return info[i].As<Napi::Boolean>().Value();
}

std::string ArgString(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	if (i >= info.Length() || !info[i].IsString())
		ThrowArg(info.Env(), false, name, "must be a string");
	return info[i].As<Napi::String>().Utf8Value();
}

Napi::ArrayBuffer ArgArrayBuffer(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	if (i >= info.Length() || !info[i].IsArrayBuffer())
		ThrowArg(info.Env(), false, name, "must be an ArrayBuffer");
	return info[i].As<Napi::ArrayBuffer>();
}

Napi::Uint8Array ArgBytes(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	if (i >= info.Length() || !info[i].IsTypedArray() ||
	    info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
		ThrowArg(info.Env(), false, name, "must be a Uint8Array");
	return info[i].As<Napi::Uint8Array>();
}

double *ArgOptF64Out(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	napi_typedarray_type type;
	size_t length = 0;
	void *data = nullptr;

	if (i >= info.Length() || info[i].IsUndefined())
		return nullptr;
	/* One napi call for type, length and data (the wrapper makes several). */
	if (!info[i].IsTypedArray() ||
	    napi_get_typedarray_info(info.Env(), info[i], &type, &length, &data, nullptr,
				     nullptr) != napi_ok ||
	    type != napi_float64_array || length < 1)
		ThrowArg(info.Env(), false, name, "must be a Float64Array of at least one element");
	return static_cast<double *>(data);
}

Napi::Function ArgFunction(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	if (i >= info.Length() || !info[i].IsFunction())
		ThrowArg(info.Env(), false, name, "must be a function");
	return info[i].As<Napi::Function>();
}

std::string ArgTopic(const Napi::CallbackInfo &info, size_t i, const char *syscall)
{
	std::string topic = ArgString(info, i, "topic");

	if (topic.find('\0') != std::string::npos)
		ThrowErrno(info.Env(), EINVAL, syscall, "the topic name contains a NUL byte");
	return topic;
}

}  // namespace agnocast
