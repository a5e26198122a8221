/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The module's parameters (/sys/module/agnocast/parameters/<name>): tests
 * lower a bound to reach it. The harness puts every parameter back after
 * each test, whatever the test did.
 */
#ifndef AGNOCAST_TAP_PARAMS_H
#define AGNOCAST_TAP_PARAMS_H

/* The current value (fails the test if it cannot be read). */
unsigned long long param_get_at(const char *f, int l, const char *name);
#define PARAM_GET(name) param_get_at(__FILE__, __LINE__, name)

/* Set a writable parameter (fails the test if it cannot be written). */
void param_set_at(const char *f, int l, const char *name, unsigned long long v);
#define PARAM_SET(name, v) param_set_at(__FILE__, __LINE__, name, v)

/* Called by the harness: remember the values, and restore them. */
void params_snapshot(void);
void params_restore(void);

#endif
