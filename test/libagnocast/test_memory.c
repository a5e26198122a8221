// SPDX-License-Identifier: Apache-2.0
/*
 * Pool memory: the malloc family, what is readable where, growth up to the
 * maximum and ENOMEM there, the errors of each call.
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <unistd.h>

#include "lt.h"

TEST(alloc_family_in_the_pool)
{
	struct agnocast_pool p = LT_JOIN(2 * UNIT, 8 * UNIT);
	unsigned char *a, *c, *r, *m;
	int on_stack = 0;

	a = agnocast_alloc(100);
	CHECK(a && agnocast_owns(a) && agnocast_usable_size(a) >= 100);
	CHECK((uintptr_t)a % 16 == 0);
	memset(a, 0xab, 100);
	c = agnocast_calloc(50, 20);
	CHECK(c && agnocast_owns(c));
	for (int i = 0; i < 1000; i++)
		CHECK(c[i] == 0, "calloc byte %d", i);
	r = agnocast_realloc(a, 5000);
	CHECK(r && agnocast_owns(r) && r[0] == 0xab && r[99] == 0xab);
	m = agnocast_memalign(4096, 10);
	CHECK(m && (uintptr_t)m % 4096 == 0 && agnocast_owns(m));
	CHECK(agnocast_readable(r, 5000) && agnocast_readable(m, 10));
	CHECK(!agnocast_readable(&on_stack, sizeof(on_stack)), "the stack is not a pool");
	CHECK(!agnocast_readable((void *)(uintptr_t)(p.addr + p.size - 8), 16),
	      "past the pool's current size");
	CHECK(!agnocast_owns(&on_stack));
	CHECK_EQ(agnocast_usable_size(&on_stack), 0);
	agnocast_free(r);
	agnocast_free(c);
	agnocast_free(m);
	agnocast_free(NULL);
	agnocast_free(&on_stack);	/* not a pool block: ignored */
}

TEST(alloc_errors)
{
	int on_stack = 0;

	errno = 0;
	CHECK(agnocast_alloc(8) == NULL && errno == ESRCH, "before joining");
	LT_JOIN(UNIT, 0);
	errno = 0;
	CHECK(agnocast_memalign(24, 8) == NULL && errno == EINVAL);
	CHECK(strstr(agnocast_last_error(), "not a power of two"), "%s", agnocast_last_error());
	errno = 0;
	CHECK(agnocast_realloc(&on_stack, 64) == NULL && errno == EINVAL);
	CHECK(strstr(agnocast_last_error(), "not a block of this process's pool"), "%s",
	      agnocast_last_error());
	errno = 0;
	CHECK(agnocast_calloc(SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
	CHECK(strstr(agnocast_last_error(), "overflow"), "%s", agnocast_last_error());
}

TEST(pool_grows_to_its_maximum_then_enomem)
{
	struct agnocast_pool p = LT_JOIN(UNIT, 4 * UNIT), q;
	struct stat st;
	void *big, *again;

	big = agnocast_alloc(250000);
	CHECK(big, "%s", agnocast_last_error());
	LIB_OK(agnocast_pool_info(&q));
	CHECK(q.size > p.size && q.size <= q.max, "size %llu -> %llu", (unsigned long long)p.size,
	      (unsigned long long)q.size);
	CHECK_OK(fstat(q.pool_fd, &st));
	CHECK_EQ(st.st_size, q.size);
	CHECK(agnocast_readable(big, 250000));
	errno = 0;
	CHECK(agnocast_alloc(300000) == NULL && errno == ENOMEM);
	CHECK(strstr(agnocast_last_error(), "do not fit in the pool"), "%s", agnocast_last_error());
	note("%s", agnocast_last_error());
	agnocast_free(big);
	again = agnocast_alloc(300000);
	CHECK(again, "after the free: %s", agnocast_last_error());
	agnocast_free(again);
}

static void sees_the_bytes(int sock, void *arg)
{
	const unsigned char *base = arg;

	(void)sock;
	for (int i = 0; i < 4096; i++)
		CHECK(base[i] == 0x5a, "byte %d of the copy", i);
}

/* The allocator takes the pool over on the first allocation, not before. */
TEST(pool_written_by_hand_is_untouched_until_the_first_allocation)
{
	struct agnocast_pool p = LT_JOIN(2 * UNIT, 0);
	unsigned char *base = (unsigned char *)(uintptr_t)p.addr;
	struct agnocast_publisher *pub;
	struct child c;
	void *block;

	memset(base, 0x5a, 4096);
	c = spawn(sees_the_bytes, base);	/* a fork copies the pool, writes nothing */
	REAP_OK(c.pid);
	for (int i = 0; i < 4096; i++)
		CHECK(base[i] == 0x5a, "byte %d after fork", i);
	/* Any range of a pool without the allocator can be published. */
	LIB_OK(agnocast_publisher_create("/lt/memory/hand", QOS(1, 0), &pub));
	LIB_OK(agnocast_publish(pub, base + 64, 16, NULL));
	LIB_OK(agnocast_publish(pub, base + 128, 16, NULL));
	/*
	 * The second publish pushed the first out of the depth-1 history and
	 * collected its address: dropped, as there is no allocator to free it
	 * to (nothing is written at base + 64). Nothing else is due back.
	 */
	CHECK_EQ(LIB_OK(agnocast_reclaim()), 0);
	CHECK(base[64] == 0x5a && base[127] == 0x5a);
	block = agnocast_alloc(32);
	CHECK(block && agnocast_owns(block), "%s", agnocast_last_error());
	LIB_OK(agnocast_publisher_destroy(pub));
}
