/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The module suite's harness: the shared C test harness (test/tap/tap.h:
 * TEST, CHECK*, FAIL, note, skip, the after-test checks) and its forked
 * processes (test/tap/procs.h: spawn, TELL / WAIT_FOR, SEND / RECV, REAP_*,
 * WAIT_SLEEPING). Test files include this header.
 */
#ifndef AGNOCAST_KTEST_HARNESS_H
#define AGNOCAST_KTEST_HARNESS_H

#include "../tap/procs.h"
#include "../tap/tap.h"

#endif
