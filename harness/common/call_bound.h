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
 *
 * A call without a timeout of its own (set, add, delete, list, close)
 * gets RDV_CALL_PLAIN_MS plus RDV_CALL_MS_PER_MIB for each MiB it moves:
 * such a call must not block, and a correct store, even redis under
 * ASan, an etcd or ZooKeeper round trip or an exec adapter on a loaded
 * host, answers it in milliseconds; several seconds is a hang, not a
 * slow store. A value's bytes get a second per MiB on top: a 64 MiB set
 * took 14-19 s through the etcd and ZooKeeper plugins built with ASan
 * on a loaded CI host, and gets 70 s (memcheck is slower still). Above
 * the 5 s redis and tcp give such a call themselves, so a store that
 * times it out on its own says so first. When several processes may make
 * such a call on one key at once (a run's ranks adding to the rendezvous
 * counter), each other caller adds RDV_CALL_MS_PER_CALLER: a store that
 * serializes them (etcd's compare-and-swap loop, a lock) makes the last
 * one wait out every other's round trips, and 16 ASan-built ranks adding
 * to one etcd counter on a loaded CI host held an add past 6 s.
 */
#ifndef RDV_HARNESS_CALL_BOUND_H
#define RDV_HARNESS_CALL_BOUND_H

#include <stdint.h>
#include <string.h>

#define RDV_CALL_TRY_ONCE_MS 2000
#define RDV_CALL_GRACE_MS 2000
#define RDV_CALL_PLAIN_MS 6000
#define RDV_CALL_MS_PER_MIB 1000
#define RDV_CALL_MS_PER_CALLER 500

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

/* The bound, in ms, of a call without a timeout that moves bytes
 * bytes while up to callers processes (>= 1) may call on the same key. */
static inline int64_t rdv_call_plain_bound_ms(uint64_t bytes, int callers)
{
    return RDV_CALL_PLAIN_MS + (int64_t)(bytes >> 20) * RDV_CALL_MS_PER_MIB +
           (int64_t)(callers > 1 ? callers - 1 : 0) * RDV_CALL_MS_PER_CALLER;
}

/* "a" or "an" before an op's name, for both watches' "a set must not
 * block" / "an add has no timeout". */
static inline const char *rdv_call_article(const char *op)
{
    return op[0] && strchr("aeiou", op[0]) ? "an" : "a";
}

#endif
