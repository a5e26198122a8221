// SPDX-License-Identifier: GPL-2.0
/*
 * agnocast: the /dev/agnocast device, ioctl dispatch and module life.
 * The lock order and object lifetimes are described in agnocast_internal.h.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "agnocast_internal.h"

DEFINE_MUTEX(agnocast_lock);
struct workqueue_struct *agnocast_wq;

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
		return agnocast_map_pool(uarg, true);
	case AGNOCAST_UNMAP_POOL_CMD:
		return agnocast_map_pool(uarg, false);
	case AGNOCAST_LIST_TOPICS_CMD:
		return agnocast_list_topics(uarg);
	case AGNOCAST_TOPIC_INFO_CMD:
		return agnocast_topic_info(uarg);
	case AGNOCAST_LIST_PROCESSES_CMD:
		return agnocast_list_processes(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations agnocast_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = agnocast_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice agnocast_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = AGNOCAST_DEVICE_NAME,
	.fops = &agnocast_fops,
	.mode = 0666,
};

static int __init agnocast_init(void)
{
	int err;

	agnocast_wq = alloc_workqueue("agnocast", WQ_UNBOUND, 0);
	if (!agnocast_wq)
		return -ENOMEM;
	err = agnocast_status_init();
	if (err)
		goto out_wq;
	err = misc_register(&agnocast_misc);
	if (err)
		goto out_status;
	pr_info("agnocast %d.%d.%d loaded (abi %d)\n", AGNOCAST_VERSION_MAJOR,
		AGNOCAST_VERSION_MINOR, AGNOCAST_VERSION_PATCH,
		AGNOCAST_ABI_VERSION);
	return 0;

out_status:
	agnocast_status_exit();
out_wq:
	destroy_workqueue(agnocast_wq);
	return err;
}

/*
 * Every open file and every joined process holds a module reference, so
 * nothing is registered any more when this runs; what may still be in
 * flight are free works and the mmu notifier core's deferred frees.
 */
static void __exit agnocast_exit(void)
{
	misc_deregister(&agnocast_misc);
	agnocast_status_exit();
	destroy_workqueue(agnocast_wq);
	mmu_notifier_synchronize();
	agnocast_process_exit();
}

module_init(agnocast_init);
module_exit(agnocast_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("agnocast: zero-copy publish/subscribe between processes");
MODULE_VERSION("0.1.0");
