# SPDX-License-Identifier: Apache-2.0
#
# The allocator's sources and flags, for inclusion by any Makefile.
# POOL_DIR defaults to the directory of this file.

POOL_DIR	?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
POOL_SRCS	:= $(POOL_DIR)/pool_alloc.c $(POOL_DIR)/pool_thread.c
POOL_HDRS	:= $(POOL_DIR)/pool_alloc.h $(POOL_DIR)/pool_thread.h
POOL_CFLAGS	:= -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -pthread \
		   -fvisibility=hidden
