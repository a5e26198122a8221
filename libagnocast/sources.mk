# SPDX-License-Identifier: Apache-2.0
#
# The library's sources, the one list: libagnocast/Makefile and
# heaphook/Makefile include this file, and native/binding.gyp reads it
# (every word ending in ".c"), so the addon compiles the very same files.

# The allocator (also built alone for its host tests).
LIBAGNOCAST_POOL_SRCS := \
	pool_alloc.c \
	pool_thread.c

LIBAGNOCAST_SRCS := \
	$(LIBAGNOCAST_POOL_SRCS) \
	alloc.c \
	api.c \
	device.c \
	discovery.c \
	endpoint.c \
	env.c \
	error.c \
	events.c \
	fork.c \
	introspect.c \
	join.c \
	maps.c \
	peers.c \
	pool.c \
	publisher.c \
	subscriber.c

LIBAGNOCAST_HDRS := \
	libagnocast.h \
	api.h \
	internal.h \
	pool_alloc.h \
	pool_thread.h
