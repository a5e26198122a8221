// SPDX-License-Identifier: Apache-2.0
/*
 * Publishers and subscribers by id: add/remove, receive, take, release.
 * The library's handles are kept here by the ids the module gave them
 * (ids are the process's, shared by every environment).
 */
#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "addon.h"

namespace agnocast {

namespace {

/*
 * The library's handles of one kind by id, each with the environment
 * (thread) that made it: that environment's teardown destroys it. Take()
 * finds and forgets under one lock, so one handle is destroyed once.
 */
template <class T> class Registry {
public:
	explicit Registry(const char *kind) : kind_(kind) {}

	void Put(uint32_t id, T *handle, napi_env env)
	{
		std::lock_guard<std::mutex> lock(mutex_);
		map_[id] = { handle, env };
	}

	T *Get(Napi::Env env, uint32_t id, const char *syscall)
	{
		std::lock_guard<std::mutex> lock(mutex_);
		return Find(env, id, syscall)->second.first;
	}

	T *Take(Napi::Env env, uint32_t id, const char *syscall)
	{
		std::lock_guard<std::mutex> lock(mutex_);
		auto it = Find(env, id, syscall);
		T *handle = it->second.first;
		map_.erase(it);
		return handle;
	}

	std::vector<T *> TakeAll(napi_env env)
	{
		std::vector<T *> out;
		std::lock_guard<std::mutex> lock(mutex_);
		for (auto it = map_.begin(); it != map_.end();) {
			if (it->second.second == env) {
				out.push_back(it->second.first);
				it = map_.erase(it);
			} else {
				++it;
			}
		}
		return out;
	}

private:
	using Map = std::unordered_map<uint32_t, std::pair<T *, napi_env>>;

	typename Map::iterator Find(Napi::Env env, uint32_t id, const char *syscall)
	{
		auto it = map_.find(id);
		if (it == map_.end())
			ThrowErrno(env, ENOENT, syscall,
				   std::string("no ") + kind_ + " " + std::to_string(id) + " in this process");
		return it;
	}

	std::mutex mutex_;
	Map map_;
	const char *kind_;
};

Registry<struct agnocast_publisher> g_pubs("publisher");
Registry<struct agnocast_subscriber> g_subs("subscriber");

/* src/native.ts (EntryBuffer) decodes entries with this layout. */
static_assert(sizeof(struct agnocast_entry) == 40 &&
		      offsetof(struct agnocast_entry, timestamp_ns) == 24 &&
		      offsetof(struct agnocast_entry, pid) == 32 &&
		      offsetof(struct agnocast_entry, publisher_id) == 36,
	      "struct agnocast_entry changed: update EntryBuffer in src/native.ts");

struct agnocast_subscriber *SubscriberOf(Napi::Env env, uint32_t id, const char *syscall)
{
	return g_subs.Get(env, id, syscall);
}

/*
 * The caller's buffer for `max` entries (struct agnocast_entry, as the
 * module writes them): receive() and take() fill it and return how many,
 * so a message costs no JavaScript object here.
 */
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
	/* Subscribers only (the module refuses it for a publisher: EINVAL). */
	if (info.Length() > 3 && !info[3].IsUndefined() && ArgBool(info, 3, "reliable"))
		q.flags |= AGNOCAST_QOS_RELIABLE;
	return q;
}

Napi::Value AddPublisher(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string topic = ArgTopic(info, 0, "AGNOCAST_ADD_PUBLISHER_CMD");
	struct agnocast_qos qos = Qos(info);
	struct agnocast_publisher *pub;

	Check(env, agnocast_publisher_create(topic.c_str(), &qos, &pub));
	uint32_t id = agnocast_publisher_id(pub);
	g_pubs.Put(id, pub, env);
	Napi::Object o = Napi::Object::New(env);
	o.Set("id", Napi::Number::New(env, id));
	return o;
}

Napi::Value AddSubscriber(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string topic = ArgTopic(info, 0, "AGNOCAST_ADD_SUBSCRIBER_CMD");
	struct agnocast_qos qos = Qos(info);
	struct agnocast_subscriber *sub;

	Check(env, agnocast_subscriber_create(topic.c_str(), &qos, &sub));
	uint32_t id = agnocast_subscriber_id(sub);
	g_subs.Put(id, sub, env);
	Napi::Object o = Napi::Object::New(env);
	o.Set("id", Napi::Number::New(env, id));
	o.Set("fd", Napi::Number::New(env, agnocast_subscriber_fd(sub)));
	return o;
}

Napi::Value RemovePublisher(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint32_t id = ArgU32(info, 0, "id");
	struct agnocast_publisher *pub = g_pubs.Take(env, id, "AGNOCAST_REMOVE_PUBLISHER_CMD");
	StopWatchesOnFd(env, agnocast_publisher_fd(pub));
	Check(env, agnocast_publisher_destroy(pub));
	return env.Undefined();
}

/* Also stops the watches on the subscriber's descriptor before the library closes it. */
Napi::Value RemoveSubscriber(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint32_t id = ArgU32(info, 0, "id");
	struct agnocast_subscriber *sub = g_subs.Take(env, id, "AGNOCAST_REMOVE_SUBSCRIBER_CMD");
	StopWatchesOnFd(env, agnocast_subscriber_fd(sub));
	Check(env, agnocast_subscriber_destroy(sub));
	return env.Undefined();
}

/*
 * receive(id, max, into[, release, nrelease]): the first nrelease entries of
 * `release` (an EntryBuffer: seq and addr read) are released by the same
 * RECEIVE (their views were detached when they were released in JS).
 */
Napi::Value Receive(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_subscriber *sub =
		SubscriberOf(env, ArgU32(info, 0, "subscriberId"), "AGNOCAST_RECEIVE_CMD");
	uint32_t max = ArgU32(info, 1, "max");
	struct agnocast_entry *into = EntryBuffer(info, 2, max, "AGNOCAST_RECEIVE_CMD");
	uint32_t nrel = info.Length() > 4 ? ArgU32(info, 4, "nrelease") : 0;

	if (nrel == 0)
		return Napi::Number::New(env, Check(env, agnocast_receive(sub, into, max)));
	struct agnocast_entry *rel = EntryBuffer(info, 3, nrel, "AGNOCAST_RECEIVE_CMD");
	return Napi::Number::New(env, Check(env, agnocast_receive_release(sub, rel, nrel, into, max)));
}

Napi::Value Take(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_subscriber *sub =
		SubscriberOf(env, ArgU32(info, 0, "subscriberId"), "AGNOCAST_TAKE_CMD");
	struct agnocast_entry *into = EntryBuffer(info, 1, 1, "AGNOCAST_TAKE_CMD");

	return Napi::Number::New(env, Check(env, agnocast_take(sub, into)));
}

/* Revokes the view first: after RELEASE the publisher may reuse the block. */
Napi::Value Release(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_subscriber *sub =
		SubscriberOf(env, ArgU32(info, 0, "subscriberId"), "AGNOCAST_RELEASE_CMD");
	struct agnocast_entry e = {};

	e.seq = ArgU64(info, 1, "seq");
	e.addr = ArgU64(info, 2, "addr");
	if (info.Length() > 3 && !info[3].IsUndefined()) {
		Napi::ArrayBuffer view = ArgArrayBuffer(info, 3, "view");
		DetachPoolBuffer(view);
	}
	Check(env, agnocast_release(sub, &e));
	return env.Undefined();
}

Napi::Object StateObject(Napi::Env env, const struct agnocast_endpoint_state_args &s)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set("publishers", Napi::Number::New(env, s.nr_publishers));
	o.Set("subscribers", Napi::Number::New(env, s.nr_subscribers));
	o.Set("full", Napi::Number::New(env, s.nr_full));
	o.Set("queued", Napi::Number::New(env, s.queued));
	return o;
}

Napi::Value PublisherFd(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_publisher *pub =
		PublisherOf(env, ArgU32(info, 0, "publisherId"), "agnocast_publisher_fd");
	return Napi::Number::New(env, agnocast_publisher_fd(pub));
}

/* PUBLISHER_STATE: clears the descriptor's POLLPRI. */
Napi::Value PublisherState(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_publisher *pub =
		PublisherOf(env, ArgU32(info, 0, "publisherId"), "AGNOCAST_PUBLISHER_STATE_CMD");
	struct agnocast_endpoint_state_args s = {};

	Check(env, agnocast_publisher_state(pub, &s));
	return StateObject(env, s);
}

/* SUBSCRIBER_STATE: clears the descriptor's POLLPRI. */
Napi::Value SubscriberState(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_subscriber *sub =
		SubscriberOf(env, ArgU32(info, 0, "subscriberId"), "AGNOCAST_SUBSCRIBER_STATE_CMD");
	struct agnocast_endpoint_state_args s = {};

	Check(env, agnocast_subscriber_state(sub, &s));
	return StateObject(env, s);
}

/*
 * A worker that ends without closing its node: its endpoints go with it
 * (a subscriber nobody reads would otherwise hold reliable publishers
 * back). Registered after watch.cc's teardown hook, so it runs first and
 * the watches on these descriptors are still there to stop.
 */
void EndpointsCleanup(void *arg)
{
	napi_env env = static_cast<napi_env>(arg);
	std::vector<struct agnocast_publisher *> pubs = g_pubs.TakeAll(env);
	std::vector<struct agnocast_subscriber *> subs = g_subs.TakeAll(env);

	for (auto *pub : pubs) {
		StopWatchesOnFd(env, agnocast_publisher_fd(pub));
		agnocast_publisher_destroy(pub);
	}
	for (auto *sub : subs) {
		StopWatchesOnFd(env, agnocast_subscriber_fd(sub));
		agnocast_subscriber_destroy(sub);
	}
}

}  // namespace

struct agnocast_publisher *PublisherOf(Napi::Env env, uint32_t id, const char *syscall)
{
	return g_pubs.Get(env, id, syscall);
}

void InitEndpoints(Napi::Env env, Napi::Object exports)
{
	napi_add_env_cleanup_hook(env, EndpointsCleanup, static_cast<napi_env>(env));
	exports.Set("addPublisher", Napi::Function::New(env, AddPublisher, "addPublisher"));
	exports.Set("addSubscriber", Napi::Function::New(env, AddSubscriber, "addSubscriber"));
	exports.Set("removePublisher", Napi::Function::New(env, RemovePublisher, "removePublisher"));
	exports.Set("removeSubscriber", Napi::Function::New(env, RemoveSubscriber, "removeSubscriber"));
	exports.Set("receive", Napi::Function::New(env, Receive, "receive"));
	exports.Set("take", Napi::Function::New(env, Take, "take"));
	exports.Set("release", Napi::Function::New(env, Release, "release"));
	exports.Set("publisherFd", Napi::Function::New(env, PublisherFd, "publisherFd"));
	exports.Set("publisherState", Napi::Function::New(env, PublisherState, "publisherState"));
	exports.Set("subscriberState", Napi::Function::New(env, SubscriberState, "subscriberState"));
}

}  // namespace agnocast
