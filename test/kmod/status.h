/* SPDX-License-Identifier: Apache-2.0 */
/* The status file's parser: test/tap/status.h. */
#ifndef AGNOCAST_KTEST_STATUS_H
#define AGNOCAST_KTEST_STATUS_H

#include "../tap/status.h"

#endif
