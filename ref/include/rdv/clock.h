/*
 * rdv/clock.h - CLOCK_MONOTONIC time and deadlines, the way every part
 * of rdv measures time.
 *
 * Timeouts are milliseconds at the API edge (0 = try once, < 0 = no
 * limit) and become absolute deadlines in ns once, so nested calls and
 * retries share one budget instead of restarting it. A deadline in the
 * past means "try once"; RDV_DEADLINE_NONE means "no limit".
 *
 * Every function here is thread-safe, async-signal-safe in practice
 * (clock_gettime only) and keeps no state.
 */
#ifndef RDV_CLOCK_H
#define RDV_CLOCK_H

#include <stdint.h>

#include "rdv/export.h"

RDV_API_BEGIN

/* The deadline that never passes. */
#define RDV_DEADLINE_NONE INT64_MAX

/* Monotonic time in ns (CLOCK_MONOTONIC). */
int64_t rdv_now_ns(void);

/* The deadline a timeout in ms gives: now + timeout_ms, or
 * RDV_DEADLINE_NONE for timeout_ms < 0 (0 gives now: try once). */
int64_t rdv_deadline_from_ms(int timeout_ms);

/* Milliseconds left until deadline (0 if passed, -1 if none), for
 * poll()-style calls; rounded up so a wait never ends early. */
int rdv_deadline_left_ms(int64_t deadline);

RDV_API_END
#endif
