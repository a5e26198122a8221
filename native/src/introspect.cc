// SPDX-License-Identifier: Apache-2.0
/* Introspection: listTopics, topicInfo, listProcesses. No join needed. */
#include <cstdlib>
#include <cstring>

#include "addon.h"

namespace agnocast {

namespace {

Napi::Value ListTopics(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_topic_name *names = nullptr;
	uint32_t n = 0;

	Check(env, agnocast_list_topics(&names, &n));
	Napi::Array out = Napi::Array::New(env, n);
	for (uint32_t i = 0; i < n; i++)
		out.Set(i, Napi::String::New(env, names[i].name,
					     strnlen(names[i].name, AGNOCAST_TOPIC_NAME_MAX)));
	free(names);
	return out;
}

Napi::Value Endpoints(Napi::Env env, const struct agnocast_endpoint_info *v, uint32_t n)
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
	std::string topic = ArgTopic(info, 0, "AGNOCAST_TOPIC_INFO_CMD");
	struct agnocast_topic t;
	int r = agnocast_topic_info(topic.c_str(), &t);

	if (r == -ENOENT)
		return env.Null();
	Check(env, r);
	Napi::Object o = Napi::Object::New(env);
	o.Set("publishers", Endpoints(env, t.pubs, t.nr_pubs));
	o.Set("subscribers", Endpoints(env, t.subs, t.nr_subs));
	o.Set("entries", U64Number(env, t.nr_entries));
	o.Set("lastSeq", Napi::BigInt::New(env, static_cast<uint64_t>(t.last_seq)));
	agnocast_topic_free(&t);
	return o;
}

Napi::Value ListProcesses(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct agnocast_process_info *procs = nullptr;
	uint32_t n = 0;

	Check(env, agnocast_list_processes(&procs, &n));
	Napi::Array out = Napi::Array::New(env, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct agnocast_process_info &p = procs[i];
		Napi::Object o = PoolInfoObject(env, p.pool);
		o.Set("exited", Napi::Boolean::New(env, p.flags & AGNOCAST_PROC_EXITED));
		o.Set("attached", Napi::Boolean::New(env, p.flags & AGNOCAST_PROC_ATTACHED));
		o.Set("publishers", Napi::Number::New(env, p.nr_publishers));
		o.Set("subscribers", Napi::Number::New(env, p.nr_subscribers));
		o.Set("mappers", Napi::Number::New(env, p.nr_mappers));
		out.Set(i, o);
	}
	free(procs);
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
