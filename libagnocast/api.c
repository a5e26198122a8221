// SPDX-License-Identifier: Apache-2.0
/*
 * The public names and the one state per process (libagnocast.h): every
 * agnocast_*() function calls through the table of the first copy of the
 * library in the process's global scope, this copy's own when there is
 * none. The table is exported as AGNOCAST_API_SYMBOL (api.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "api.h"
#include "internal.h"

const struct agnocast_api lib_table = {
	.magic = AGNOCAST_API_MAGIC,
	.size = sizeof(struct agnocast_api),
	.last_error = lib_last_error,
	.last_error_op = lib_last_error_op,
	.version = lib_version,
	.join = lib_join,
	.leave = lib_leave,
	.env_sizes = lib_env_sizes,
	.parse_size = lib_parse_size,
	.pool_info = lib_pool_info,
	.alloc = lib_alloc,
	.calloc = lib_calloc,
	.realloc = lib_realloc,
	.memalign = lib_memalign,
	.free = lib_free,
	.usable_size = lib_usable_size,
	.owns = lib_owns_int,
	.readable = lib_readable,
	.publisher_create = lib_publisher_create,
	.publisher_id = lib_publisher_id,
	.publish = lib_publish,
	.reclaim = lib_reclaim,
	.publisher_destroy = lib_publisher_destroy,
	.subscriber_create = lib_subscriber_create,
	.subscriber_id = lib_subscriber_id,
	.subscriber_fd = lib_subscriber_fd,
	.receive = lib_receive,
	.take = lib_take,
	.release = lib_release,
	.subscriber_destroy = lib_subscriber_destroy,
	.map_pool = lib_map_pool,
	.unmap_pool = lib_unmap_pool,
	.mapped_pools = lib_mapped_pools,
	.discovery_create = lib_discovery_create,
	.discovery_drain = lib_discovery_drain,
	.announce = lib_announce,
	.events_fd = lib_events_fd,
	.handle_events = lib_handle_events,
	.list_topics = lib_list_topics,
	.topic_info = lib_topic_info,
	.topic_free = lib_topic_free,
	.list_processes = lib_list_processes,
	.status = lib_status,
	.totals = lib_totals,
	.publisher_fd = lib_publisher_fd,
	.publisher_state = lib_publisher_state,
	.subscriber_state = lib_subscriber_state,
	.discovery_unlink = lib_discovery_unlink,
	.receive_release = lib_receive_release,
};

/* The exported name of the table (the object itself stays this copy's). */
extern const struct agnocast_api agnocast_api_v1
	__attribute__((alias("lib_table"), visibility("default")));

static const struct agnocast_api *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

/* Another copy's table, if one comes first and is at least as complete. */
static void choose(void)
{
	const struct agnocast_api *t = dlsym(RTLD_DEFAULT, AGNOCAST_API_SYMBOL);

	if (!t || t == &lib_table || t->magic != AGNOCAST_API_MAGIC ||
	    t->size < sizeof(struct agnocast_api))
		t = &lib_table;
	__atomic_store_n(&chosen, t, __ATOMIC_RELEASE);
}

static inline const struct agnocast_api *api(void)
{
	const struct agnocast_api *t = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);

	if (__builtin_expect(t != NULL, 1))
		return t;
	pthread_once(&chosen_once, choose);
	return chosen;
}

PUBLIC const char *agnocast_last_error(void)
{
	return api()->last_error();
}

PUBLIC const char *agnocast_last_error_op(void)
{
	return api()->last_error_op();
}

PUBLIC int agnocast_version(struct agnocast_version_args *out)
{
	return api()->version(out);
}

PUBLIC int agnocast_join(const struct agnocast_join_opts *opts)
{
	return api()->join(opts);
}

PUBLIC int agnocast_leave(void)
{
	return api()->leave();
}

PUBLIC int agnocast_env_sizes(uint64_t *size, uint64_t *max)
{
	return api()->env_sizes(size, max);
}

PUBLIC int agnocast_parse_size(const char *s, uint64_t *out)
{
	return api()->parse_size(s, out);
}

PUBLIC int agnocast_pool_info(struct agnocast_pool *out)
{
	return api()->pool_info(out);
}

PUBLIC void *agnocast_alloc(size_t size)
{
	return api()->alloc(size);
}

PUBLIC void *agnocast_calloc(size_t nmemb, size_t size)
{
	return api()->calloc(nmemb, size);
}

PUBLIC void *agnocast_realloc(void *block, size_t size)
{
	return api()->realloc(block, size);
}

PUBLIC void *agnocast_memalign(size_t align, size_t size)
{
	return api()->memalign(align, size);
}

PUBLIC void agnocast_free(void *block)
{
	api()->free(block);
}

PUBLIC size_t agnocast_usable_size(void *block)
{
	return api()->usable_size(block);
}

PUBLIC int agnocast_owns(const void *p)
{
	return api()->owns(p);
}

PUBLIC int agnocast_readable(const void *p, size_t len)
{
	return api()->readable(p, len);
}

PUBLIC int agnocast_publisher_create(const char *topic, const struct agnocast_qos *qos, struct agnocast_publisher **out)
{
	return api()->publisher_create(topic, qos, out);
}

PUBLIC uint32_t agnocast_publisher_id(const struct agnocast_publisher *pub)
{
	return api()->publisher_id(pub);
}

PUBLIC int agnocast_publish(struct agnocast_publisher *pub, void *block, size_t len, uint64_t *seq)
{
	return api()->publish(pub, block, len, seq);
}

PUBLIC int agnocast_reclaim(void)
{
	return api()->reclaim();
}

PUBLIC int agnocast_publisher_destroy(struct agnocast_publisher *pub)
{
	return api()->publisher_destroy(pub);
}

PUBLIC int agnocast_subscriber_create(const char *topic, const struct agnocast_qos *qos, struct agnocast_subscriber **out)
{
	return api()->subscriber_create(topic, qos, out);
}

PUBLIC uint32_t agnocast_subscriber_id(const struct agnocast_subscriber *sub)
{
	return api()->subscriber_id(sub);
}

PUBLIC int agnocast_subscriber_fd(const struct agnocast_subscriber *sub)
{
	return api()->subscriber_fd(sub);
}

PUBLIC int agnocast_receive(struct agnocast_subscriber *sub, struct agnocast_entry *entries, uint32_t cap)
{
	return api()->receive(sub, entries, cap);
}

PUBLIC int agnocast_receive_release(struct agnocast_subscriber *sub, const struct agnocast_entry *rel,
				    uint32_t nrel, struct agnocast_entry *entries, uint32_t cap)
{
	return api()->receive_release(sub, rel, nrel, entries, cap);
}

PUBLIC int agnocast_take(struct agnocast_subscriber *sub, struct agnocast_entry *entry)
{
	return api()->take(sub, entry);
}

PUBLIC int agnocast_release(struct agnocast_subscriber *sub, const struct agnocast_entry *entry)
{
	return api()->release(sub, entry);
}

PUBLIC int agnocast_subscriber_destroy(struct agnocast_subscriber *sub)
{
	return api()->subscriber_destroy(sub);
}

PUBLIC int agnocast_map_pool(pid_t pid, uint64_t addr, struct agnocast_pool_info *out)
{
	return api()->map_pool(pid, addr, out);
}

PUBLIC int agnocast_unmap_pool(uint64_t addr)
{
	return api()->unmap_pool(addr);
}

PUBLIC int agnocast_mapped_pools(struct agnocast_pool_info *pools, uint32_t cap)
{
	return api()->mapped_pools(pools, cap);
}

PUBLIC int agnocast_discovery_create(void)
{
	return api()->discovery_create();
}

PUBLIC int agnocast_discovery_drain(void)
{
	return api()->discovery_drain();
}

PUBLIC int agnocast_announce(pid_t pid, const char *topic)
{
	return api()->announce(pid, topic);
}

PUBLIC int agnocast_events_fd(void)
{
	return api()->events_fd();
}

PUBLIC int agnocast_handle_events(void)
{
	return api()->handle_events();
}

PUBLIC int agnocast_list_topics(struct agnocast_topic_name **names, uint32_t *count)
{
	return api()->list_topics(names, count);
}

PUBLIC int agnocast_topic_info(const char *topic, struct agnocast_topic *out)
{
	return api()->topic_info(topic, out);
}

PUBLIC void agnocast_topic_free(struct agnocast_topic *t)
{
	api()->topic_free(t);
}

PUBLIC int agnocast_list_processes(struct agnocast_process_info **procs, uint32_t *count)
{
	return api()->list_processes(procs, count);
}

PUBLIC int agnocast_status(char **text, size_t *len)
{
	return api()->status(text, len);
}

PUBLIC int agnocast_totals(struct agnocast_totals *out)
{
	return api()->totals(out);
}

PUBLIC int agnocast_publisher_fd(const struct agnocast_publisher *pub)
{
	return api()->publisher_fd(pub);
}

PUBLIC int agnocast_publisher_state(struct agnocast_publisher *pub,
				    struct agnocast_endpoint_state_args *out)
{
	return api()->publisher_state(pub, out);
}

PUBLIC int agnocast_subscriber_state(struct agnocast_subscriber *sub,
				     struct agnocast_endpoint_state_args *out)
{
	return api()->subscriber_state(sub, out);
}

PUBLIC int agnocast_discovery_unlink(void)
{
	return api()->discovery_unlink();
}
