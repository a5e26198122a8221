// SPDX-License-Identifier: Apache-2.0
/* Argument generators (see gen.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"

static uint32_t private_n;

static void shared_name(struct tctx *t, char *field)
{
	snprintf(field, AGNOCAST_TOPIC_NAME_MAX, "fz/%u", rng_below(&t->r, NTOPICS));
}

int gen_topic(struct tctx *t, char *field, int kind)
{
	size_t i, n;

	memset(field, 0, AGNOCAST_TOPIC_NAME_MAX);
	switch (kind) {
	case TN_PRIVATE:
		snprintf(field, AGNOCAST_TOPIC_NAME_MAX, "fzp/%d/%d/%u",
			 (int)getpid(), t->idx,
			 __atomic_fetch_add(&private_n, 1, __ATOMIC_RELAXED));
		return 0;
	case TN_LONGEST:
		n = snprintf(field, AGNOCAST_TOPIC_NAME_MAX, "fz/long/%u/",
			     rng_below(&t->r, 2));
		memset(field + n, 'x', AGNOCAST_TOPIC_NAME_MAX - 1 - n);
		return 0;
	case TN_HIGH:
		snprintf(field, AGNOCAST_TOPIC_NAME_MAX, "fz/\xc3\xa9\xff/%u",
			 rng_below(&t->r, 2));
		return 0;
	case TN_TRAILING:
		shared_name(t, field);
		n = strlen(field) + 1;
		for (i = n; i < AGNOCAST_TOPIC_NAME_MAX; i++)
			field[i] = (char)rng_below(&t->r, 256);
		return 0;
	case TN_EMPTY:
		if (rng_pct(&t->r, 50))
			memset(field + 1, 'z', 10);	/* junk after the NUL */
		return EINVAL;
	case TN_BADBYTE: {
		static const char bad[] = { ' ', '\t', '\n', 0x01, 0x1f, 0x7f, 0x20 };

		n = snprintf(field, AGNOCAST_TOPIC_NAME_MAX, "fz/bad/%u",
			     rng_below(&t->r, 1000));
		field[rng_below(&t->r, n)] = bad[rng_below(&t->r, sizeof(bad))];
		return EINVAL;
	}
	case TN_NONUL:
		for (i = 0; i < AGNOCAST_TOPIC_NAME_MAX; i++)
			field[i] = 'a' + rng_below(&t->r, 26);
		return ENAMETOOLONG;
	default:
		shared_name(t, field);
		return 0;
	}
}

int pick_tkind(struct tctx *t, unsigned int odd_pct)
{
	if (!rng_pct(&t->r, odd_pct))
		return TN_SHARED;
	return 1 + rng_below(&t->r, NTKIND - 1);
}

int gen_qos(struct tctx *t, struct agnocast_qos *q, int sub, int bad)
{
	uint32_t allowed = sub ? AGNOCAST_QOS_SUB_FLAGS : AGNOCAST_QOS_PUB_FLAGS;

	q->depth = rng_pct(&t->r, 85) ? 1 + rng_small(&t->r, 15)
				       : 1 + rng_below(&t->r, AGNOCAST_DEPTH_MAX);
	q->flags = rng_pct(&t->r, 30) ? AGNOCAST_QOS_TRANSIENT_LOCAL : 0;
	if (sub && rng_pct(&t->r, 12))
		q->flags |= AGNOCAST_QOS_RELIABLE;
	if (!bad)
		return 0;
	switch (rng_below(&t->r, 3)) {
	case 0:
		q->depth = 0;
		break;
	case 1:
		q->depth = AGNOCAST_DEPTH_MAX + 1 + rng_small(&t->r, 100000);
		break;
	default:	/* an unknown flag, or RELIABLE for a publisher */
		do
			q->flags |= 1u << rng_below(&t->r, 32);
		while (!(q->flags & ~allowed));
		break;
	}
	return EINVAL;
}

uint32_t gen_cap(struct tctx *t, uint32_t max, unsigned int bad_pct, int *bad)
{
	if (rng_pct(&t->r, bad_pct)) {
		*bad = 1;
		return AGNOCAST_ARRAY_MAX + 1 + rng_small(&t->r, 1000000);
	}
	return rng_small(&t->r, max);
}

uint32_t gen_reserved(struct tctx *t, unsigned int bad_pct, int *bad)
{
	if (!rng_pct(&t->r, bad_pct))
		return 0;
	*bad = 1;
	return 1u << rng_below(&t->r, 32);
}

uint32_t garbage_id(struct tctx *t)
{
	switch (rng_below(&t->r, 4)) {
	case 0:
		return 0;
	case 1:
		return UINT32_MAX - rng_below(&t->r, 3);
	case 2:
		return 0x7fffffffu - rng_below(&t->r, 3);
	default:
		return 50000000u + rng_below(&t->r, 1000000);
	}
}
