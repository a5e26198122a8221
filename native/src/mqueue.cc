// SPDX-License-Identifier: Apache-2.0
/*
 * POSIX message queues, for the "/new_publisher@<pid>" notices. On Linux an
 * mqd_t is a file descriptor, so watch() can poll it like any other.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <sys/stat.h>

#include <cstring>
#include <vector>

#include "addon.h"

namespace agnocast {

namespace {

/*
 * Ours to read, anyone's to post to: publishers of other users must be able
 * to notify us, so the queue is 0622 (owner read/write, others write only).
 * A stranger can fill it (EAGAIN for real publishers) or post garbage; a
 * notice is only a hint to look at the module's registry, which is the
 * authority, so neither can make us map the wrong pool.
 */
constexpr mode_t kQueueMode = 0622;

Napi::Value MqCreate(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string name = ArgString(info, 0, "name");
	struct mq_attr attr = {};
	mqd_t q = -1;

	/* fs.mqueue.msg_max is usually 10: more is EINVAL for non-root users. */
	attr.mq_maxmsg = ArgU32(info, 1, "maxMessages");
	attr.mq_msgsize = ArgU32(info, 2, "messageSize");
	for (int tries = 0; tries < 2; tries++) {
		q = mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDONLY | O_NONBLOCK | O_CLOEXEC,
			    kQueueMode, &attr);
		if (q >= 0 || errno != EEXIST)
			break;
		/* Left by a dead process that had our pid: stale, and maybe full. */
		mq_unlink(name.c_str());
	}
	if (q < 0)
		ThrowErrno(env, errno, "mq_open", name);
	/* The umask (typically 022) took the others' write bit: put it back. */
	if (fchmod(q, kQueueMode) < 0) {
		int err = errno;
		mq_close(q);
		mq_unlink(name.c_str());
		ThrowErrno(env, err, "fchmod", name);
	}
	return Napi::Number::New(env, q);
}

Napi::Value MqSend(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string name = ArgString(info, 0, "name");

	if (info.Length() < 2 || !info[1].IsTypedArray() ||
	    info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
		throw Napi::TypeError::New(env, "The \"message\" argument must be a Uint8Array");
	Napi::Uint8Array msg = info[1].As<Napi::Uint8Array>();
	mqd_t q = mq_open(name.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (q < 0) {
		if (errno == ENOENT)
			return Napi::Boolean::New(env, false);
		ThrowErrno(env, errno, "mq_open", name);
	}
	int r;
	do
		r = mq_send(q, reinterpret_cast<const char *>(msg.Data()), msg.ByteLength(), 0);
	while (r < 0 && errno == EINTR);
	int err = errno;
	mq_close(q);
	if (r < 0) {
		if (err == EAGAIN)
			return Napi::Boolean::New(env, false);
		ThrowErrno(env, err, "mq_send", name);
	}
	return Napi::Boolean::New(env, true);
}

Napi::Value MqReceiveAll(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	mqd_t q = ArgI32(info, 0, "fd");
	struct mq_attr attr;

	if (mq_getattr(q, &attr) < 0)
		ThrowErrno(env, errno, "mq_getattr");
	std::vector<char> buf(static_cast<size_t>(attr.mq_msgsize));
	Napi::Array out = Napi::Array::New(env);
	uint32_t n = 0;
	for (;;) {
		ssize_t len = mq_receive(q, buf.data(), buf.size(), nullptr);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			ThrowErrno(env, errno, "mq_receive");
		}
		Napi::Uint8Array m = Napi::Uint8Array::New(env, static_cast<size_t>(len));
		if (len)
			std::memcpy(m.Data(), buf.data(), static_cast<size_t>(len));
		out.Set(n++, m);
	}
	return out;
}

Napi::Value MqUnlink(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string name = ArgString(info, 0, "name");

	if (mq_unlink(name.c_str()) < 0)
		ThrowErrno(env, errno, "mq_unlink", name);
	return env.Undefined();
}

}  // namespace

void InitMqueue(Napi::Env env, Napi::Object exports)
{
	exports.Set("mqCreate", Napi::Function::New(env, MqCreate, "mqCreate"));
	exports.Set("mqSend", Napi::Function::New(env, MqSend, "mqSend"));
	exports.Set("mqReceiveAll", Napi::Function::New(env, MqReceiveAll, "mqReceiveAll"));
	exports.Set("mqUnlink", Napi::Function::New(env, MqUnlink, "mqUnlink"));
}

}  // namespace agnocast
