// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: the /dev/agnocast device, ioctl dispatch and module life.
 * The lock order and object lifetimes are described in agnocast_internal.h.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/stringify.h>
#include <linux/uaccess.h>

#include "agnocast_internal.h"

DEFINE_MUTEX(agnocast_lock);

/* Bounds on what one process or one user can make the module hold. */
unsigned int agnocast_max_procs_per_user = 1024;
module_param_named(max_procs_per_user, agnocast_max_procs_per_user, uint, 0644);
MODULE_PARM_DESC(max_procs_per_user, "joined processes of one user, exited ones with a reserved range included");

unsigned long agnocast_max_window_per_user = 4UL << 40;
module_param_named(max_window_per_user, agnocast_max_window_per_user, ulong, 0644);
MODULE_PARM_DESC(max_window_per_user, "bytes of the shared address window one user's pools may reserve");

unsigned int agnocast_max_endpoints_per_process = 1024;
module_param_named(max_endpoints_per_process, agnocast_max_endpoints_per_process, uint, 0644);
MODULE_PARM_DESC(max_endpoints_per_process, "publishers plus subscribers of one process");

unsigned int agnocast_max_entries_per_process = 65536;
module_param_named(max_entries_per_process, agnocast_max_entries_per_process, uint, 0644);
MODULE_PARM_DESC(max_entries_per_process, "entries of one process's pool the module tracks (alive or reclaimable)");

unsigned int agnocast_max_mappings_per_process = 4096;
module_param_named(max_mappings_per_process, agnocast_max_mappings_per_process, uint, 0644);
MODULE_PARM_DESC(max_mappings_per_process, "pools one process declares it maps");

unsigned int agnocast_status_entries_max = 64;
module_param_named(status_entries_max, agnocast_status_entries_max, uint, 0644);
MODULE_PARM_DESC(status_entries_max, "entry lines the status file prints per topic");

static ushort agnocast_device_mode = 0660;
module_param_named(device_mode, agnocast_device_mode, ushort, 0444);
MODULE_PARM_DESC(device_mode, "mode of /dev/agnocast (default 0660: root, or the group a udev rule gives)");

/*
 * A topic name is 1 .. AGNOCAST_TOPIC_NAME_MAX - 1 bytes, NUL-terminated
 * inside its field, with no space or control byte (the status file is
 * whitespace separated).
 */
bool agnocast_topic_name_ok(const char *name, int *err)
{
	size_t len = strnlen(name, AGNOCAST_TOPIC_NAME_MAX);
	size_t i;

	if (len == AGNOCAST_TOPIC_NAME_MAX) {
		*err = -ENAMETOOLONG;
		return false;
	}
	if (len == 0) {
		*err = -EINVAL;
		return false;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = name[i];

		if (c <= ' ' || c == 0x7f) {
			*err = -EINVAL;
			return false;
		}
	}
	return true;
}

bool agnocast_qos_ok(const struct agnocast_qos *qos, u32 flags)
{
	return qos->depth >= 1 && qos->depth <= AGNOCAST_DEPTH_MAX &&
	       !(qos->flags & ~flags);
}

static long agnocast_version(void __user *arg)
{
	struct agnocast_version_args args = {
		.abi = AGNOCAST_ABI_VERSION,
		.major = AGNOCAST_VERSION_MAJOR,
		.minor = AGNOCAST_VERSION_MINOR,
		.patch = AGNOCAST_VERSION_PATCH,
	};

	return copy_to_user(arg, &args, sizeof(args)) ? -EFAULT : 0;
}

static long agnocast_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case AGNOCAST_VERSION_CMD:
		return agnocast_version(uarg);
	case AGNOCAST_ADD_PROCESS_CMD:
		return agnocast_add_process(uarg);
	case AGNOCAST_ATTACH_POOL_CMD:
		return agnocast_attach_pool(uarg);
	case AGNOCAST_ADD_PUBLISHER_CMD:
		return agnocast_add_publisher(uarg);
	case AGNOCAST_ADD_SUBSCRIBER_CMD:
		return agnocast_add_subscriber(uarg);
	case AGNOCAST_REMOVE_PUBLISHER_CMD:
		return agnocast_remove_publisher(uarg);
	case AGNOCAST_REMOVE_SUBSCRIBER_CMD:
		return agnocast_remove_subscriber(uarg);
	case AGNOCAST_PUBLISH_CMD:
		return agnocast_publish(uarg);
	case AGNOCAST_RECEIVE_CMD:
		return agnocast_receive(uarg);
	case AGNOCAST_TAKE_CMD:
		return agnocast_take(uarg);
	case AGNOCAST_RELEASE_CMD:
		return agnocast_release(uarg);
	case AGNOCAST_RECLAIM_CMD:
		return agnocast_reclaim(uarg);
	case AGNOCAST_MAP_POOL_CMD:
		return agnocast_map_pool(uarg);
	case AGNOCAST_UNMAP_POOL_CMD:
		return agnocast_unmap_pool(uarg);
	case AGNOCAST_LIST_TOPICS_CMD:
		return agnocast_list_topics(uarg);
	case AGNOCAST_TOPIC_INFO_CMD:
		return agnocast_topic_info(uarg);
	case AGNOCAST_LIST_PROCESSES_CMD:
		return agnocast_list_processes(uarg);
	case AGNOCAST_PUBLISHER_STATE_CMD:
		return agnocast_endpoint_state(uarg, true);
	case AGNOCAST_SUBSCRIBER_STATE_CMD:
		return agnocast_endpoint_state(uarg, false);
	default:
		return -ENOTTY;
	}
}

/*
 * The layouts are the same for 32- and 64-bit callers (user pointers are
 * __u64), so compat callers go through unchanged; ADD_PROCESS refuses them.
 */
static const struct file_operations agnocast_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = agnocast_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice agnocast_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = AGNOCAST_DEVICE_NAME,
	.fops = &agnocast_fops,
};

static int __init agnocast_init(void)
{
	int err;

	if (agnocast_device_mode & ~0777) {
		pr_err("agnocast: device_mode=%#o is not a file mode (0000 to 0777)\n",
		       agnocast_device_mode);
		return -EINVAL;
	}
	agnocast_misc.mode = agnocast_device_mode;
	err = agnocast_msg_cache_init();
	if (err)
		return err;
	err = agnocast_status_init();
	if (err)
		goto out_cache;
	err = misc_register(&agnocast_misc);
	if (err)
		goto out_status;
	pr_info("agnocast %d.%d.%d loaded (abi %d, device mode %#o)\n",
		AGNOCAST_VERSION_MAJOR, AGNOCAST_VERSION_MINOR,
		AGNOCAST_VERSION_PATCH, AGNOCAST_ABI_VERSION,
		agnocast_device_mode);
	return 0;

out_status:
	agnocast_status_exit();
out_cache:
	agnocast_msg_cache_exit();
	return err;
}

/*
 * Every open file and every joined process holds a module reference, so
 * nothing is registered any more when this runs. Release callbacks may
 * still be returning (they run inside the mmu notifiers' SRCU section) and
 * the notifier core may still have frees queued: wait for both.
 */
static void __exit agnocast_exit(void)
{
	misc_deregister(&agnocast_misc);
	agnocast_status_exit();
	mmu_notifier_synchronize();
	WARN_ON(!list_empty(&agnocast_procs));
	agnocast_msg_cache_exit();
}

module_init(agnocast_init);
module_exit(agnocast_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("agnocast: zero-copy publish/subscribe between processes");
MODULE_VERSION(__stringify(AGNOCAST_VERSION_MAJOR) "."
	       __stringify(AGNOCAST_VERSION_MINOR) "."
	       __stringify(AGNOCAST_VERSION_PATCH));
