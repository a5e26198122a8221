/* SPDX-License-Identifier: Apache-2.0 */
/* The module's parameters, restored after every test: test/tap/params.h. */
#ifndef AGNOCAST_KTEST_PARAMS_H
#define AGNOCAST_KTEST_PARAMS_H

#include "../tap/params.h"

#endif
