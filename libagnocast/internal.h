/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the library's files share. Nothing here is exported: the public
 * contract is libagnocast.h; the heaphook, compiled together with the
 * library, also uses the lib_* functions marked "for the heaphook".
 *
 * State: one struct lib_state per process (lib), see the fork rules in
 * libagnocast.h. Locks, always taken in this order, never the other way:
 *   lib.lock      joining, the endpoint list, the discovery queue
 *   peers lock    the table of mapped pools and subscribers' hold counts
 *                 (peers.c)
 *   allocator     pool_thread.c's own locks (malloc may run under the two
 *                 above; the allocator's grow callback takes no lock)
 * The atfork handlers (fork.c) take all three in that order.
 */
#ifndef LIBAGNOCAST_INTERNAL_H
#define LIBAGNOCAST_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "libagnocast.h"
#include "pool_thread.h"

#define PUBLIC __attribute__((visibility("default")))

/* The heaphook's copy lives in an LD_PRELOAD library: static TLS, no malloc. */
#ifdef AGNOCAST_TLS_INITIAL_EXEC
#define LIB_TLS __thread __attribute__((tls_model("initial-exec")))
#else
#define LIB_TLS __thread
#endif

#define U2P(a) ((void *)(uintptr_t)(a))
#define P2U(p) ((uint64_t)(uintptr_t)(p))

/* ---- error.c ---------------------------------------------------------------- */

/*
 * Record the calling thread's failure: "<op>: <strerror(err)>: <what to
 * do>" (no "what to do" when fmt is NULL). Return -err.
 */
int lib_fail(int err, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for an ioctl that failed with err: the hint comes from the contract. */
int lib_ioctl_fail(int err, const char *op, const char *what);
/* lib_fail for functions that return a pointer: sets errno, returns NULL. */
void *lib_fail_null(int err, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- maps.c ------------------------------------------------------------------- */

/*
 * The first line of /proc/self/maps that intersects [addr, addr + len),
 * into out (spaces squeezed), or a note that none does.
 */
void lib_mapping_at(uint64_t addr, uint64_t len, char *out, size_t n);
/*
 * Map fd's first len bytes MAP_SHARED at exactly addr, never over anything
 * (MAP_FIXED_NOREPLACE): 0, or -errno; for -EEXIST, in_way holds the
 * /proc/self/maps line of what is in the way.
 */
int lib_mmap_at(uint64_t addr, uint64_t len, int prot, int fd, char *in_way, size_t n);

/* ---- device.c ----------------------------------------------------------------- */

/* The library's /dev/agnocast descriptor (opened on first use), or -errno. */
int lib_device(void);
/* ioctl on it, retried on EINTR: the ioctl's result (>= 0) or -errno; no message. */
int lib_ioctl(unsigned long cmd, void *arg);
/* Use fd as the device unless the library has one already (join's dev_fd). */
void lib_device_borrow(int fd);
/* Forget the descriptor in a forked child (closed unless borrowed). */
void lib_device_forked(void);

/* ---- the process's state (join.c) ----------------------------------------------- */

enum lib_stage { STAGE_NONE, STAGE_ADDED, STAGE_ATTACHED, STAGE_READY };

struct lib_endpoint {
	struct lib_endpoint *next, *prev;	/* lib.endpoints, under lib.lock */
	uint32_t id;
	bool is_sub;
	_Atomic bool dead;	/* removed by leave(), or inherited across fork */
	char topic[AGNOCAST_TOPIC_NAME_MAX];
};

struct agnocast_publisher {
	struct lib_endpoint ep;
	int fd;
};

/* How many entries a subscriber holds over one mapped pool (peers.c). */
struct lib_hold {
	struct lib_peer *peer;
	uint32_t n;
};

struct agnocast_subscriber {
	struct lib_endpoint ep;
	int fd;
	struct lib_hold *holds;		/* under the peers lock */
	uint32_t nr_holds, cap_holds;
};

struct lib_state {
	pthread_mutex_t lock;
	enum lib_stage stage;
	_Atomic bool joined;	/* STAGE_READY in the process that joined */
	bool forked;		/* a forked child's copy of a joined state */
	bool heap;		/* the pool is the process's malloc heap */
	bool atfork;		/* handlers registered */
	pid_t pid;		/* the process that joined */
	uint32_t opts;		/* AGNOCAST_OPT_* */
	int pool_fd;
	uint64_t addr, max;
	_Atomic uint64_t size;
	_Atomic unsigned long grows;
	/*
	 * The allocator: set up by the first allocation (the heaphook's at
	 * join), so that a process that writes its pool by hand never has
	 * allocator state in it. Read with lib_allocator(). Also in a forked
	 * child (on its copy).
	 */
	struct pool_mt *mt;
	int events_fd;		/* epoll over the queue and the pidfds */
	int queue_fd;		/* /new_publisher@<pid>, or -1 */
	struct lib_endpoint endpoints;	/* list head */
};

extern struct lib_state lib;

/*
 * 0 when the process has joined (and is not a forked child), else -ESRCH
 * with a message naming op.
 */
int lib_acting(const char *op);
/* Is [p, p + len) inside our pool's current size? */
bool lib_own_range(uint64_t p, uint64_t len);
/* Does this process have a pool (joined, or a forked child's copy)? */
bool lib_has_pool(void);

/* ---- env.c --------------------------------------------------------------------------- */

int lib_env_sizes(uint64_t *size, uint64_t *max);
int lib_env_size(uint64_t *size);
/* AGNOCAST_MEMPOOL_MAX, else the default for size; -EINVAL below size. */
int lib_env_max(uint64_t size, uint64_t *max);
int lib_parse_size(const char *s, uint64_t *out);

/* ---- pool.c: this process's pool -------------------------------------------------------- */

/* Create "/agnocast@<pid>", size, map at lib.addr, ATTACH_POOL; sets lib.pool_fd. */
int pool_create_attach(void);
/* The allocator over the pool, set up now if it is not yet (lib.lock held). */
int pool_allocator_init(void);
/* The allocator's grow callback. */
int pool_grow(void *ctx, size_t new_size);
/* In a forked child: the pool becomes a private copy at the same address. */
bool pool_privatize(void);
/* A forked child that joins on its own: unmap its copy of the parent's pool. */
void pool_drop_copy(void);
/* Current size of the pool (the file's, else the allocator's). */
uint64_t pool_size_now(void);

/* ---- fork.c ------------------------------------------------------------------------------- */

/* Register the atfork handlers (once, at the first join). */
void fork_register(void);

/* ---- alloc.c ------------------------------------------------------------------------------ */

/*
 * The library's own memory (handles, tables, answers to the caller) never
 * lives in the pool, which every subscriber reads: it comes from the C
 * library's allocator. The heaphook, whose malloc is the pool's, hands the
 * library glibc's own functions (lib_sys_allocator) before joining.
 */
void *sys_calloc(size_t nmemb, size_t n);
void *sys_realloc(void *p, size_t n);
void sys_free(void *p);
void lib_sys_allocator(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *));

/* The allocator, or NULL while nothing was allocated (acquire load). */
static inline struct pool_mt *lib_allocator(void)
{
	return __atomic_load_n(&lib.mt, __ATOMIC_ACQUIRE);
}
void *lib_alloc(size_t n);
void lib_free(void *p);
bool lib_owns(const void *p);

/* ---- peers.c: other processes' pools ------------------------------------------------------- */

struct lib_peer {
	pid_t pid;		/* 0: not visible here */
	uint64_t addr, max;
	uint64_t size;		/* the file's size when MAP_POOL last answered */
	dev_t dev;		/* the file mapped, to tell pools apart */
	ino_t ino;
	int pidfd;		/* readable once the owner exited; -1 */
	uint32_t holds;		/* entries held over it, all subscribers */
	bool gone;		/* the owner exited */
	bool keep;		/* agnocast_map_pool(): until agnocast_unmap_pool() */
	bool inherited;		/* a forked child's copy: not declared by us */
};

void peers_lock(void);
void peers_unlock(void);
/* Map (if needed) the pool of a listed or announced publisher. */
int peers_map_pid(pid_t pid, const char *how);
/* Map (if needed) the pool entry e lies in, and count the hold. */
int peers_hold(struct agnocast_subscriber *sub, const struct agnocast_entry *e);
/* An entry over addr was released (or its hold undone). */
void peers_unhold(struct agnocast_subscriber *sub, uint64_t addr);
/* The subscriber is gone with everything it held. */
void peers_drop_sub(struct agnocast_subscriber *sub);
/* Unmap pools whose owner exited and that nothing holds. */
void peers_settle(void);
/* leave(): unmap every pool (nothing is held once subscribers are gone). */
void peers_unmap_all(void);
bool peers_readable(uint64_t addr, uint64_t len);
/* In a forked child, under the peers lock: mappings become inherited. */
void peers_forked(void);
int peers_map(pid_t pid, uint64_t addr, struct agnocast_pool_info *out);
int peers_unmap(uint64_t addr);

/* ---- events.c ------------------------------------------------------------------------------ */

int events_open(void);
void events_add(int fd);
void events_del(int fd);

/* ---- discovery.c ----------------------------------------------------------------------------- */

int discovery_create_locked(void);
int discovery_drain(void);
int discovery_announce(pid_t pid, const char *topic);
/* leave() and atexit: close and unlink our queue. */
void discovery_close(void);
/* In a forked child: close the parent's queue, keep its name. */
void discovery_forked(void);

/* ---- endpoints (publisher.c, subscriber.c) ------------------------------------------------------ */

void endpoint_link(struct lib_endpoint *ep);
void endpoint_unlink(struct lib_endpoint *ep);
/* 0, or -ESRCH when the handle was removed by leave() or is a forked child's. */
int endpoint_alive(const struct lib_endpoint *ep, const char *op);
/* Put a topic name into the uapi field: 0, or -EINVAL / -ENAMETOOLONG. */
int endpoint_topic(char field[AGNOCAST_TOPIC_NAME_MAX], const char *topic, const char *op);
struct agnocast_qos endpoint_qos(const struct agnocast_qos *qos);
/* leave(): remove every endpoint in the module, mark the handles dead. */
void endpoints_remove_all(void);
/* In a forked child: close the endpoints' descriptors, mark every handle dead. */
void endpoints_forked(void);

/* ---- for the heaphook ------------------------------------------------------------------------- */

/* Join with the pool as the process's malloc heap (the caller decides the sizes). */
int lib_join_heap(uint64_t size, uint64_t max);
unsigned long lib_grows(void);

/* ---- the implementations behind the public names (api.c) --------------------------------------- */

const char *lib_last_error(void);
const char *lib_last_error_op(void);
int lib_version(struct agnocast_version_args *out);
int lib_join(const struct agnocast_join_opts *opts);
int lib_leave(void);
int lib_pool_info(struct agnocast_pool *out);
void *lib_calloc(size_t nmemb, size_t n);
void *lib_realloc(void *p, size_t n);
void *lib_memalign(size_t align, size_t n);
size_t lib_usable_size(void *p);
int lib_owns_int(const void *p);
int lib_readable(const void *p, size_t len);
int lib_publisher_create(const char *topic, const struct agnocast_qos *qos,
			 struct agnocast_publisher **out);
uint32_t lib_publisher_id(const struct agnocast_publisher *pub);
int lib_publish(struct agnocast_publisher *pub, void *block, size_t len, uint64_t *seq);
int lib_reclaim(void);
int lib_publisher_destroy(struct agnocast_publisher *pub);
int lib_publisher_fd(const struct agnocast_publisher *pub);
int lib_publisher_state(struct agnocast_publisher *pub, struct agnocast_endpoint_state_args *out);
int lib_subscriber_state(struct agnocast_subscriber *sub, struct agnocast_endpoint_state_args *out);
int lib_subscriber_create(const char *topic, const struct agnocast_qos *qos,
			  struct agnocast_subscriber **out);
uint32_t lib_subscriber_id(const struct agnocast_subscriber *sub);
int lib_subscriber_fd(const struct agnocast_subscriber *sub);
int lib_receive(struct agnocast_subscriber *sub, struct agnocast_entry *e, uint32_t cap);
int lib_take(struct agnocast_subscriber *sub, struct agnocast_entry *e);
int lib_release(struct agnocast_subscriber *sub, const struct agnocast_entry *e);
int lib_receive_release(struct agnocast_subscriber *sub, const struct agnocast_entry *rel,
			uint32_t nrel, struct agnocast_entry *e, uint32_t cap);
int lib_subscriber_destroy(struct agnocast_subscriber *sub);
int lib_map_pool(pid_t pid, uint64_t addr, struct agnocast_pool_info *out);
int lib_unmap_pool(uint64_t addr);
int lib_mapped_pools(struct agnocast_pool_info *pools, uint32_t cap);
int lib_discovery_create(void);
int lib_discovery_drain(void);
int lib_announce(pid_t pid, const char *topic);
int lib_discovery_unlink(void);
int lib_events_fd(void);
int lib_handle_events(void);
int lib_list_topics(struct agnocast_topic_name **names, uint32_t *count);
int lib_topic_info(const char *topic, struct agnocast_topic *out);
void lib_topic_free(struct agnocast_topic *t);
int lib_list_processes(struct agnocast_process_info **procs, uint32_t *count);
int lib_status(char **text, size_t *len);
int lib_totals(struct agnocast_totals *out);

#endif /* LIBAGNOCAST_INTERNAL_H */
