// SPDX-License-Identifier: Apache-2.0
/*
 * Publishers and subscribers: add/remove, receive, take, release.
 *
 * The addon remembers each subscriber's pollable descriptor, so that
 * removeSubscriber() can stop the watches on it and close it.
 */
#include <unistd.h>

#include <cstddef>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "addon.h"

namespace agnocast {

namespace {

std::mutex g_subs_mutex;
std::unordered_map<uint32_t, int> g_sub_fds;	/* subscriber id -> its fd */

/*
 * The caller's buffer for `max` entries (struct agnocast_entry, as the
 * module writes them): receive() and take() fill it and return how many,
 * so a message costs no JavaScript object here.
 */
/* src/native.ts (EntryBuffer) decodes entries with this layout. */
static_assert(sizeof(struct agnocast_entry) == 40 &&
		      offsetof(struct agnocast_entry, timestamp_ns) == 24 &&
		      offsetof(struct agnocast_entry, pid) == 32 &&
		      offsetof(struct agnocast_entry, publisher_id) == 36,
	      "struct agnocast_entry changed: update EntryBuffer in src/native.ts");

struct agnocast_entry *EntryBuffer(const Napi::CallbackInfo &info, size_t i, uint32_t max,
				   const char *syscall)
{
	Napi::ArrayBuffer into = ArgArrayBuffer(info, i, "into");

	if (into.IsDetached() || into.ByteLength() < max * sizeof(struct agnocast_entry))
		ThrowErrno(info.Env(), EINVAL, syscall,
			   "`into` holds fewer than " + std::to_string(max) + " entries of " +
				   std::to_string(sizeof(struct agnocast_entry)) + " bytes");
	return static_cast<struct agnocast_entry *>(into.Data());
}

struct agnocast_qos Qos(const Napi::CallbackInfo &info)
{
	struct agnocast_qos q = {};
	q.depth = ArgU32(info, 1, "depth");
	q.flags = ArgBool(info, 2, "transientLocal") ? AGNOCAST_QOS_TRANSIENT_LOCAL : 0;
	return q;
}

Napi::Value AddPublisher(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_add_publisher_args a = {};
	/* A topic has at most AGNOCAST_TOPIC_SUBS_MAX subscribers: never truncated. */
	int32_t pids[AGNOCAST_TOPIC_SUBS_MAX];

	SetTopic(env, a.topic, ArgString(info, 0, "topic"), "AGNOCAST_ADD_PUBLISHER_CMD");
	a.qos = Qos(info);
	a.sub_pids = reinterpret_cast<uintptr_t>(pids);
	a.sub_pids_cap = AGNOCAST_TOPIC_SUBS_MAX;
	AG_IOCTL(env, AGNOCAST_ADD_PUBLISHER_CMD, &a);

	uint32_t n = std::min<uint32_t>(a.nr_sub_pids, a.sub_pids_cap);
	Napi::Array arr = Napi::Array::New(env, n);
	for (uint32_t i = 0; i < n; i++)
		arr.Set(i, Napi::Number::New(env, pids[i]));
	Napi::Object o = Napi::Object::New(env);
	o.Set("id", Napi::Number::New(env, a.publisher_id));
	o.Set("subscriberPids", arr);
	return o;
}

Napi::Value AddSubscriber(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_add_subscriber_args a = {};
	/* At most AGNOCAST_TOPIC_PUBS_MAX publisher processes: never truncated. */
	std::vector<struct agnocast_pool_info> pubs(AGNOCAST_TOPIC_PUBS_MAX);

	SetTopic(env, a.topic, ArgString(info, 0, "topic"), "AGNOCAST_ADD_SUBSCRIBER_CMD");
	a.qos = Qos(info);
	a.pubs = reinterpret_cast<uintptr_t>(pubs.data());
	a.pubs_cap = AGNOCAST_TOPIC_PUBS_MAX;
	AG_IOCTL(env, AGNOCAST_ADD_SUBSCRIBER_CMD, &a);
	{
		std::lock_guard<std::mutex> lock(g_subs_mutex);
		g_sub_fds[a.subscriber_id] = a.fd;
	}

	uint32_t n = std::min<uint32_t>(a.nr_pubs, a.pubs_cap);
	Napi::Array arr = Napi::Array::New(env, n);
	for (uint32_t i = 0; i < n; i++)
		arr.Set(i, PoolInfoObject(env, pubs[i]));
	Napi::Object o = Napi::Object::New(env);
	o.Set("id", Napi::Number::New(env, a.subscriber_id));
	o.Set("fd", Napi::Number::New(env, a.fd));
	o.Set("publishers", arr);
	return o;
}

Napi::Value RemovePublisher(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_remove_args a = {};

	a.id = ArgU32(info, 0, "id");
	AG_IOCTL(env, AGNOCAST_REMOVE_PUBLISHER_CMD, &a);
	return env.Undefined();
}

Napi::Value RemoveSubscriber(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_remove_args a = {};

	a.id = ArgU32(info, 0, "id");
	int r = Ioctl(Device(env), AGNOCAST_REMOVE_SUBSCRIBER_CMD, &a);
	int err = errno;
	/* ENOENT: already gone in the module; still drop our descriptor. */
	if (r == 0 || err == ENOENT) {
		int fd = -1;
		{
			std::lock_guard<std::mutex> lock(g_subs_mutex);
			auto it = g_sub_fds.find(a.id);
			if (it != g_sub_fds.end()) {
				fd = it->second;
				g_sub_fds.erase(it);
			}
		}
		if (fd >= 0) {
			/* Never close a descriptor libuv still polls. */
			StopWatchesOnFd(env, fd);
			close(fd);
		}
	}
	if (r)
		ThrowErrno(env, err, "AGNOCAST_REMOVE_SUBSCRIBER_CMD");
	return env.Undefined();
}

Napi::Value Receive(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_receive_args a = {};

	a.subscriber_id = ArgU32(info, 0, "subscriberId");
	a.entries_cap = ArgU32(info, 1, "max");
	a.entries = reinterpret_cast<uintptr_t>(
		EntryBuffer(info, 2, a.entries_cap, "AGNOCAST_RECEIVE_CMD"));
	if (Ioctl(Device(env), AGNOCAST_RECEIVE_CMD, &a)) {
		if (errno == EAGAIN)
			return Napi::Number::New(env, 0);
		ThrowErrno(env, errno, "AGNOCAST_RECEIVE_CMD");
	}
	return Napi::Number::New(env, std::min(a.nr_entries, a.entries_cap));
}

Napi::Value Take(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_take_args a = {};

	a.subscriber_id = ArgU32(info, 0, "subscriberId");
	struct agnocast_entry *into = EntryBuffer(info, 1, 1, "AGNOCAST_TAKE_CMD");
	if (Ioctl(Device(env), AGNOCAST_TAKE_CMD, &a)) {
		if (errno == EAGAIN)
			return Napi::Number::New(env, 0);
		ThrowErrno(env, errno, "AGNOCAST_TAKE_CMD");
	}
	*into = a.entry;
	return Napi::Number::New(env, 1);
}

Napi::Value Release(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_release_args a = {};

	a.subscriber_id = ArgU32(info, 0, "subscriberId");
	a.seq = ArgU64(info, 1, "seq");
	/* Revoke the view first: after RELEASE the publisher may reuse the block. */
	if (info.Length() > 2 && !info[2].IsUndefined()) {
		Napi::ArrayBuffer view = ArgArrayBuffer(info, 2, "view");
		if (!view.IsDetached())
			view.Detach();
	}
	AG_IOCTL(env, AGNOCAST_RELEASE_CMD, &a);
	return env.Undefined();
}

}  // namespace

Napi::Value PoolInfoObject(Napi::Env env, const struct agnocast_pool_info &p)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set("pid", Napi::Number::New(env, p.pid));
	o.Set("addr", Napi::BigInt::New(env, static_cast<uint64_t>(p.addr)));
	o.Set("size", U64Number(env, p.size));
	o.Set("max", U64Number(env, p.max));
	return o;
}

void InitTopics(Napi::Env env, Napi::Object exports)
{
	exports.Set("addPublisher", Napi::Function::New(env, AddPublisher, "addPublisher"));
	exports.Set("addSubscriber", Napi::Function::New(env, AddSubscriber, "addSubscriber"));
	exports.Set("removePublisher", Napi::Function::New(env, RemovePublisher, "removePublisher"));
	exports.Set("removeSubscriber", Napi::Function::New(env, RemoveSubscriber, "removeSubscriber"));
	exports.Set("receive", Napi::Function::New(env, Receive, "receive"));
	exports.Set("take", Napi::Function::New(env, Take, "take"));
	exports.Set("release", Napi::Function::New(env, Release, "release"));
}

}  // namespace agnocast
