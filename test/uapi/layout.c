// SPDX-License-Identifier: Apache-2.0
/*
 * Compiled by test/uapi_layout.test.ts with -Wpadded -Werror: any implicit
 * padding in the uapi structs fails the build, and the sizes below pin the
 * ABI (a change must bump AGNOCAST_ABI_VERSION and these numbers together).
 */
#include <stddef.h>
#include "agnocast.h"

#define SIZE(type, n) _Static_assert(sizeof(struct type) == (n), #type " size")
#define AT(type, field, n) \
	_Static_assert(offsetof(struct type, field) == (n), #type "." #field)

_Static_assert(AGNOCAST_ABI_VERSION == 4, "ABI version");
SIZE(agnocast_version_args, 16);
SIZE(agnocast_add_process_args, 32);
SIZE(agnocast_attach_pool_args, 8);
SIZE(agnocast_qos, 8);
SIZE(agnocast_add_publisher_args, 288);
SIZE(agnocast_pool_info, 32);
SIZE(agnocast_add_subscriber_args, 288);
SIZE(agnocast_remove_args, 8);
SIZE(agnocast_publish_args, 48);
SIZE(agnocast_entry, 40);
SIZE(agnocast_receive_args, 32);
SIZE(agnocast_take_args, 48);
SIZE(agnocast_release_args, 16);
SIZE(agnocast_reclaim_args, 16);
SIZE(agnocast_map_pool_args, 40);
SIZE(agnocast_unmap_pool_args, 16);
SIZE(agnocast_endpoint_state_args, 24);
SIZE(agnocast_topic_name, 256);
SIZE(agnocast_list_topics_args, 16);
SIZE(agnocast_endpoint_info, 24);
SIZE(agnocast_topic_info_args, 304);
SIZE(agnocast_process_info, 48);
SIZE(agnocast_list_processes_args, 16);
AT(agnocast_add_publisher_args, qos, 256);
AT(agnocast_add_publisher_args, nr_sub_pids, 276);
AT(agnocast_add_subscriber_args, fd, 284);
AT(agnocast_publish_args, seq, 32);
AT(agnocast_take_args, entry, 8);
AT(agnocast_receive_args, release, 16);
AT(agnocast_receive_args, nr_entries, 28);
AT(agnocast_map_pool_args, fd, 32);

int main(void)
{
	return 0;
}
