// SPDX-License-Identifier: Apache-2.0
/* The module suite: its name, order and timeout (the harness is test/tap). */
#include "harness.h"

/* The basics first, so that their failures come first. */
static const char *const file_order[] = {
	"process_join", "topic_validation", "reserved_fields", "array_caps",
	"bad_pointers", "pool_attach", "map_pool", "address_assignment",
	"publish_receive", "depth_transient_local", "reclaim", "poll_wakeup",
	"owner_checks", "exit_cleanup", "ipc_namespace", "status_file",
	"stress", NULL,
};

__attribute__((constructor)) static void kmod_suite(void)
{
	tap_suite(&(struct tap_suite){
		.name = "the agnocast module tests",
		.timeout_s = 180,
		.name_with_file = 1,
		.file_order = file_order,
	});
}
