// SPDX-License-Identifier: Apache-2.0
/*
 * Introspection: listTopics, topicInfo, listProcesses. No join needed.
 * Each asks with a guess of the capacity and asks again with the total the
 * module reported until everything fit (the registry may grow in between).
 */
#include <cstring>
#include <vector>

#include "addon.h"

namespace agnocast {

namespace {

/* Room for what the module reported plus some growth, within its bound. */
uint32_t Grow(uint32_t total)
{
	uint64_t cap = static_cast<uint64_t>(total) + total / 4 + 8;
	return static_cast<uint32_t>(std::min<uint64_t>(cap, AGNOCAST_ARRAY_MAX));
}

Napi::Value ListTopics(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::vector<struct agnocast_topic_name> names(16);
	struct agnocast_list_topics_args a = {};

	for (;;) {
		a.topics = reinterpret_cast<uintptr_t>(names.data());
		a.topics_cap = static_cast<uint32_t>(names.size());
		AG_IOCTL(env, AGNOCAST_LIST_TOPICS_CMD, &a);
		if (a.nr_topics <= a.topics_cap || a.topics_cap == AGNOCAST_ARRAY_MAX)
			break;
		names.resize(Grow(a.nr_topics));
	}
	uint32_t n = std::min(a.nr_topics, a.topics_cap);
	Napi::Array out = Napi::Array::New(env, n);
	for (uint32_t i = 0; i < n; i++)
		out.Set(i, Napi::String::New(env, names[i].name,
					     strnlen(names[i].name, AGNOCAST_TOPIC_NAME_MAX)));
	return out;
}

Napi::Value Endpoints(Napi::Env env, const std::vector<struct agnocast_endpoint_info> &v,
		      uint32_t n)
{
	Napi::Array out = Napi::Array::New(env, n);
	for (uint32_t i = 0; i < n; i++) {
		Napi::Object o = Napi::Object::New(env);
		o.Set("id", Napi::Number::New(env, v[i].id));
		o.Set("pid", Napi::Number::New(env, v[i].pid));
		o.Set("depth", Napi::Number::New(env, v[i].qos.depth));
		o.Set("transientLocal",
		      Napi::Boolean::New(env, v[i].qos.flags & AGNOCAST_QOS_TRANSIENT_LOCAL));
		o.Set("count", Napi::Number::New(env, v[i].count));
		out.Set(i, o);
	}
	return out;
}

Napi::Value TopicInfo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string topic = ArgString(info, 0, "topic");
	std::vector<struct agnocast_endpoint_info> pubs(8), subs(8);
	struct agnocast_topic_info_args a = {};

	for (;;) {
		SetTopic(env, a.topic, topic, "AGNOCAST_TOPIC_INFO_CMD");
		a.pubs = reinterpret_cast<uintptr_t>(pubs.data());
		a.subs = reinterpret_cast<uintptr_t>(subs.data());
		a.pubs_cap = static_cast<uint32_t>(pubs.size());
		a.subs_cap = static_cast<uint32_t>(subs.size());
		if (Ioctl(Device(env), AGNOCAST_TOPIC_INFO_CMD, &a)) {
			if (errno == ENOENT)
				return env.Null();
			ThrowErrno(env, errno, "AGNOCAST_TOPIC_INFO_CMD");
		}
		if (a.nr_pubs <= a.pubs_cap && a.nr_subs <= a.subs_cap)
			break;
		if (a.nr_pubs > a.pubs_cap)
			pubs.resize(Grow(a.nr_pubs));
		if (a.nr_subs > a.subs_cap)
			subs.resize(Grow(a.nr_subs));
	}
	Napi::Object o = Napi::Object::New(env);
	o.Set("publishers", Endpoints(env, pubs, a.nr_pubs));
	o.Set("subscribers", Endpoints(env, subs, a.nr_subs));
	o.Set("entries", U64Number(env, a.nr_entries));
	o.Set("lastSeq", Napi::BigInt::New(env, static_cast<uint64_t>(a.last_seq)));
	return o;
}

Napi::Value ListProcesses(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::vector<struct agnocast_process_info> procs(16);
	struct agnocast_list_processes_args a = {};

	for (;;) {
		a.procs = reinterpret_cast<uintptr_t>(procs.data());
		a.procs_cap = static_cast<uint32_t>(procs.size());
		AG_IOCTL(env, AGNOCAST_LIST_PROCESSES_CMD, &a);
		if (a.nr_procs <= a.procs_cap || a.procs_cap == AGNOCAST_ARRAY_MAX)
			break;
		procs.resize(Grow(a.nr_procs));
	}
	uint32_t n = std::min(a.nr_procs, a.procs_cap);
	Napi::Array out = Napi::Array::New(env, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct agnocast_process_info &p = procs[i];
		Napi::Object o = PoolInfoObject(env, p.pool).As<Napi::Object>();
		o.Set("exited", Napi::Boolean::New(env, p.flags & AGNOCAST_PROC_EXITED));
		o.Set("attached", Napi::Boolean::New(env, p.flags & AGNOCAST_PROC_ATTACHED));
		o.Set("publishers", Napi::Number::New(env, p.nr_publishers));
		o.Set("subscribers", Napi::Number::New(env, p.nr_subscribers));
		o.Set("mappers", Napi::Number::New(env, p.nr_mappers));
		out.Set(i, o);
	}
	return out;
}

}  // namespace

void InitIntrospect(Napi::Env env, Napi::Object exports)
{
	exports.Set("listTopics", Napi::Function::New(env, ListTopics, "listTopics"));
	exports.Set("topicInfo", Napi::Function::New(env, TopicInfo, "topicInfo"));
	exports.Set("listProcesses", Napi::Function::New(env, ListProcesses, "listProcesses"));
}

}  // namespace agnocast
