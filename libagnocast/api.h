/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table of entry points every copy of the library exports as the
 * symbol AGNOCAST_API_SYMBOL, so that a later copy in the same process
 * forwards every call to the first one (libagnocast.h, "One process, one
 * state"). Append-only: a new function goes at the end and raises
 * nothing; an incompatible change renames the symbol (_v2).
 */
#ifndef LIBAGNOCAST_API_H
#define LIBAGNOCAST_API_H

#include "libagnocast.h"

#define AGNOCAST_API_SYMBOL	"agnocast_api_v1"
#define AGNOCAST_API_MAGIC	0x61676e6f63617374ULL	/* "agnocast" */

struct agnocast_api {
	uint64_t magic;
	uint32_t size;		/* sizeof(struct agnocast_api) of the exporting copy */
	uint32_t reserved;
	const char *(*last_error)(void);
	const char *(*last_error_op)(void);
	int (*version)(struct agnocast_version_args *out);
	int (*join)(const struct agnocast_join_opts *opts);
	int (*leave)(void);
	int (*env_sizes)(uint64_t *size, uint64_t *max);
	int (*parse_size)(const char *s, uint64_t *out);
	int (*pool_info)(struct agnocast_pool *out);
	void *(*alloc)(size_t size);
	void *(*calloc)(size_t nmemb, size_t size);
	void *(*realloc)(void *block, size_t size);
	void *(*memalign)(size_t align, size_t size);
	void (*free)(void *block);
	size_t (*usable_size)(void *block);
	int (*owns)(const void *p);
	int (*readable)(const void *p, size_t len);
	int (*publisher_create)(const char *topic, const struct agnocast_qos *qos,
				struct agnocast_publisher **out);
	uint32_t (*publisher_id)(const struct agnocast_publisher *pub);
	int (*publish)(struct agnocast_publisher *pub, void *block, size_t len, uint64_t *seq);
	int (*reclaim)(void);
	int (*publisher_destroy)(struct agnocast_publisher *pub);
	int (*subscriber_create)(const char *topic, const struct agnocast_qos *qos,
				 struct agnocast_subscriber **out);
	uint32_t (*subscriber_id)(const struct agnocast_subscriber *sub);
	int (*subscriber_fd)(const struct agnocast_subscriber *sub);
	int (*receive)(struct agnocast_subscriber *sub, struct agnocast_entry *entries, uint32_t cap);
	int (*take)(struct agnocast_subscriber *sub, struct agnocast_entry *entry);
	int (*release)(struct agnocast_subscriber *sub, const struct agnocast_entry *entry);
	int (*subscriber_destroy)(struct agnocast_subscriber *sub);
	int (*map_pool)(pid_t pid, uint64_t addr, struct agnocast_pool_info *out);
	int (*unmap_pool)(uint64_t addr);
	int (*mapped_pools)(struct agnocast_pool_info *pools, uint32_t cap);
	int (*discovery_create)(void);
	int (*discovery_drain)(void);
	int (*announce)(pid_t pid, const char *topic);
	int (*events_fd)(void);
	int (*handle_events)(void);
	int (*list_topics)(struct agnocast_topic_name **names, uint32_t *count);
	int (*topic_info)(const char *topic, struct agnocast_topic *out);
	void (*topic_free)(struct agnocast_topic *t);
	int (*list_processes)(struct agnocast_process_info **procs, uint32_t *count);
	int (*status)(char **text, size_t *len);
	int (*totals)(struct agnocast_totals *out);
	int (*publisher_fd)(const struct agnocast_publisher *pub);
	int (*publisher_state)(struct agnocast_publisher *pub,
			       struct agnocast_endpoint_state_args *out);
	int (*subscriber_state)(struct agnocast_subscriber *sub,
				struct agnocast_endpoint_state_args *out);
	int (*discovery_unlink)(void);
	int (*receive_release)(struct agnocast_subscriber *sub, const struct agnocast_entry *rel,
			       uint32_t nrel, struct agnocast_entry *entries, uint32_t cap);
};

#endif /* LIBAGNOCAST_API_H */
