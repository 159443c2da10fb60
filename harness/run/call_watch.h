/*
 * harness/run/call_watch.h - rdv run --call-watch: ends a run as soon as
 * a rank's store call has outlived its timeout by the call bound
 * (common/call_bound.h), and says which call, instead of waiting for the
 * run's deadline. A store that does not honour timeouts then costs a run
 * a few seconds, not the whole deadline; conform's rendezvous clauses
 * turn it on.
 *
 * It reads what each rank's recorder publishes in its slot (the op in
 * flight, its start and its caller's deadline), so it sees the calls of
 * every implementation (--impl gloo too). A call without a timeout of
 * its own (set, add, delete...) must not block: past
 * rdv_call_plain_bound_ms (6 s, plus 0.5 s for each other rank that may
 * be adding to the same counter) it is overdue too. A get or wait with no
 * limit is left to the run's deadline. The fault plan's own delays are
 * added to every bound, so an injected delay is never blamed on the
 * store.
 */
#ifndef RDV_HARNESS_CALL_WATCH_H
#define RDV_HARNESS_CALL_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/result_area.h"

typedef struct rdv_call_watch {
    const rdv_result_area *area;
    int nranks;
    /* what the fault plan may add to a call without a timeout of its
     * own and to a timed one (rdv_fault_plan_call_stretch_ms), added to
     * their bounds; plain_stretch_ms -1 leaves the former to the run's
     * deadline */
    int64_t plain_stretch_ms, timed_stretch_ms;
    int rank;       /* the first rank found overdue, or -1 */
    char call[256]; /* its call and why it is overdue: "get 'k' still
                       running 2003 ms past its deadline (2004 ms after
                       it began); the store does not honour the call's
                       timeout" */
} rdv_call_watch;

/* For rdv_supervise_opts.overdue, with an rdv_call_watch (rank -1) as
 * its argument: nonzero, with rank and call set, when a call is
 * overdue. */
int rdv_call_watch_overdue(void *watch);

#endif
