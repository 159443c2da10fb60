/*
 * harness/common/call_bound.h - how long a store call may run before it
 * is a hang rather than a slow call: the one rule behind conform's call
 * watch (conform/clause_watch.c) and rdv run's --call-watch
 * (run/runner.c).
 *
 * A call that must try once (timeout 0, or a deadline already past)
 * gets RDV_CALL_TRY_ONCE_MS; a timeout T gets T plus max(RDV_CALL_GRACE_MS,
 * T / 2), since a get of a big value through a slow gateway after the key
 * appeared is not a hang. Far above what timeout-accuracy judges: the
 * bound names hangs and never judges precision.
 */
#ifndef RDV_HARNESS_CALL_BOUND_H
#define RDV_HARNESS_CALL_BOUND_H

#include <stdint.h>

#define RDV_CALL_TRY_ONCE_MS 2000
#define RDV_CALL_GRACE_MS 2000

/* The bound, in ms, of a call whose timeout was timeout_ms (<= 0: try
 * once). */
static inline int64_t rdv_call_bound_ms(int64_t timeout_ms)
{
    if (timeout_ms <= 0)
        return RDV_CALL_TRY_ONCE_MS;
    return timeout_ms + (timeout_ms / 2 > RDV_CALL_GRACE_MS
                             ? timeout_ms / 2
                             : RDV_CALL_GRACE_MS);
}

#endif
