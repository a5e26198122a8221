// SPDX-License-Identifier: Apache-2.0
/*
 * typed_peer: typed messages between C and TypeScript on one topic (the
 * guest test test/guest/schema_interop.test.ts drives it). The layouts are
 * TypeScript's: typed.h is generated from the schemas in typed.mjs, and
 * message i (from 0) of each kind holds the values typed.mjs gives it.
 *
 *   typed_peer pub KIND TOPIC COUNT  publish messages 0 .. COUNT-1 of KIND
 *                                    (sample or note; history depth COUNT),
 *                                    print "published SEQ 0xADDR LEN" and
 *                                    NAME=0xADDR for each array field, then
 *                                    stay until stdin closes
 *   typed_peer sub KIND TOPIC COUNT  print "ready", then "KIND SEQ 0xADDR
 *                                    LEN" and NAME=VALUE for every field of
 *                                    each of COUNT messages (arrays comma-
 *                                    separated; a string last, to the end
 *                                    of the line)
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libagnocast.h"
#include "typed.h"
#include "util.h"

struct kind {
	const char *name;
	uint64_t align;
	uint32_t (*count)(unsigned int i);	/* tail length of message i */
	uint64_t (*len)(uint32_t count);	/* bytes with that tail */
	void (*fill)(void *m, unsigned int i);
	void (*where)(const void *m);	/* print the array fields' addresses */
	uint32_t (*tail)(const void *m);	/* the message's count field */
	void (*print)(const void *m);	/* print every field */
};

/* What schema().byteLength(count) says: the fixed part at least. */
static uint64_t typed_len(uint64_t fixed, uint64_t tail_at, uint64_t elem, uint32_t count)
{
	uint64_t len = tail_at + count * elem;

	return len < fixed ? fixed : len;
}

static uint32_t sample_count(unsigned int i)
{
	return 2 * i;
}

static uint64_t sample_len(uint32_t count)
{
	return typed_len(sizeof(struct Sample), offsetof(struct Sample, samples),
			 sizeof(int32_t), count);
}

static void sample_fill(void *p, unsigned int i)
{
	struct Sample *m = p;
	uint32_t k;

	m->flags = 200 + i;
	m->level = -100 - (int)i;
	m->port = 60000 + i;
	m->delta = -30000 - (int)i;
	m->frame = 4000000000u + i;
	m->offset = -2000000000 - (int32_t)i;
	m->gain = i + 0.25f;
	m->scale = (i + 1) / 3.0;
	m->stamp = 0xf000000000000000ull + i;
	m->tick = -(INT64_C(1) << 62) - i;
	m->origin[0] = i + 0.5f;
	m->origin[1] = -(float)i - 0.75f;
	m->origin[2] = 1e6f * (i + 1);
	for (k = 0; k < 3; k++)
		m->tag[k] = i + k;
	m->tag[3] = 254;
	m->tag[4] = 255;
	m->samples_len = sample_count(i);
	for (k = 0; k < m->samples_len; k++)
		m->samples[k] = (k % 2 ? -1 : 1) * (int32_t)(k + 1) * 100000000 + (int32_t)i;
}

static void sample_where(const void *p)
{
	const struct Sample *m = p;

	printf(" origin=0x%" PRIx64 " tag=0x%" PRIx64 " samples=0x%" PRIx64,
	       demo_addr(m->origin), demo_addr(m->tag), demo_addr(m->samples));
}

static uint32_t sample_tail(const void *p)
{
	return ((const struct Sample *)p)->samples_len;
}

static void sample_print(const void *p)
{
	const struct Sample *m = p;
	uint32_t k;

	printf(" flags=%u level=%d port=%u delta=%d frame=%" PRIu32 " offset=%" PRId32,
	       m->flags, m->level, m->port, m->delta, m->frame, m->offset);
	printf(" gain=%.9g scale=%.17g stamp=%" PRIu64 " tick=%" PRId64,
	       m->gain, m->scale, m->stamp, m->tick);
	printf(" origin=%.9g,%.9g,%.9g tag=%u,%u,%u,%u,%u samples_len=%" PRIu32 " samples=",
	       m->origin[0], m->origin[1], m->origin[2],
	       m->tag[0], m->tag[1], m->tag[2], m->tag[3], m->tag[4], m->samples_len);
	for (k = 0; k < m->samples_len; k++)
		printf("%s%" PRId32, k ? "," : "", m->samples[k]);
}

/* The text of note i into buf (NUL-terminated); its length in bytes. */
static uint32_t note_text(char *buf, size_t size, unsigned int i)
{
	buf[0] = '\0';
	return i ? (uint32_t)snprintf(buf, size, "héllo ✓ %u", i) : 0;
}

static uint32_t note_count(unsigned int i)
{
	char text[64];

	return note_text(text, sizeof(text), i);
}

static uint64_t note_len(uint32_t count)
{
	return typed_len(sizeof(struct Note), offsetof(struct Note, text), 1, count);
}

static void note_fill(void *p, unsigned int i)
{
	struct Note *m = p;
	char text[64];

	m->stamp = 0x8000000000000000ull + i * UINT64_C(1000000007);
	m->code = 0xffff - i;
	m->text_len = note_text(text, sizeof(text), i);
	memcpy(m->text, text, m->text_len);
}

static void note_where(const void *p)
{
	(void)p;	/* no array fields: TypeScript decodes the text */
}

static uint32_t note_tail(const void *p)
{
	return ((const struct Note *)p)->text_len;
}

static void note_print(const void *p)
{
	const struct Note *m = p;

	printf(" stamp=%" PRIu64 " code=%u text_len=%" PRIu32 " text=%.*s",
	       m->stamp, m->code, m->text_len, (int)m->text_len, (const char *)m->text);
}

static const struct kind kinds[] = {
	{ "sample", _Alignof(struct Sample), sample_count, sample_len, sample_fill,
	  sample_where, sample_tail, sample_print },
	{ "note", _Alignof(struct Note), note_count, note_len, note_fill,
	  note_where, note_tail, note_print },
};

static void publish(const struct kind *k, const char *topic, unsigned int count)
{
	struct agnocast_publisher *pub;
	char buf[64];
	unsigned int i;

	demo_ok(agnocast_publisher_create(topic, &(struct agnocast_qos){ count, 0 }, &pub), topic);
	for (i = 0; i < count; i++) {
		uint64_t len = k->len(k->count(i));
		void *m = agnocast_memalign(k->align < 16 ? 16 : k->align, len);
		uint64_t seq;

		if (!m)
			demo_die("no room for %" PRIu64 " bytes: %s", len, agnocast_last_error());
		k->fill(m, i);
		demo_ok(agnocast_publish(pub, m, len, &seq), "publishing");
		printf("published %" PRIu64 " 0x%" PRIx64 " %" PRIu64, seq, demo_addr(m), len);
		k->where(m);
		printf("\n");
	}
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
}

static void print_typed(const struct agnocast_entry *e, void *ctx)
{
	const struct kind *k = ctx;
	const void *m = agnocast_entry_data(e);

	/* Read the count only once the fixed part is known to be there. */
	if (e->len < k->len(0) || e->len < k->len(k->tail(m)))
		demo_die("%s %" PRIu64 " is %" PRIu64 " bytes, too short",
			k->name, (uint64_t)e->seq, (uint64_t)e->len);
	printf("%s %" PRIu64 " 0x%" PRIx64 " %" PRIu64, k->name,
	       (uint64_t)e->seq, (uint64_t)e->addr, (uint64_t)e->len);
	k->print(m);
	printf("\n");
}

int main(int argc, char **argv)
{
	const struct kind *k = NULL;
	size_t i;

	for (i = 0; argc == 5 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(argv[2], kinds[i].name))
			k = &kinds[i];
	if (!k || (strcmp(argv[1], "pub") && strcmp(argv[1], "sub"))) {
		fprintf(stderr, "usage: typed_peer pub|sub sample|note TOPIC COUNT\n");
		return 2;
	}
	demo_name("typed_peer");
	demo_join(1 << 20, 1);
	if (!strcmp(argv[1], "pub"))
		publish(k, argv[3], (unsigned int)atoi(argv[4]));
	else
		demo_subscribe_each(argv[3], (unsigned int)atoi(argv[4]), print_typed, (void *)k);
	demo_ok(agnocast_leave(), "leaving");
	return 0;
}
