/*
 * harness/run/call_watch.c - rdv run --call-watch (run/call_watch.h).
 *
 * The slot is read without locks while the rank writes it: op_active
 * (acquire), then the deadline, then the start. A recorder publishes a
 * blocking op's deadline, then its start, then op_active, and clears the
 * deadline after op_active, so what is read is the op in flight or a
 * start paired with a later op's deadline; the clock is read first, so
 * such a pair has run for less than its timeout: a race can make a call
 * look younger, never overdue.
 */
#include <stdio.h>

#include "common/call_bound.h"
#include "rdv/clock.h"
#include "rdv/store_ops.h"
#include "run/call_watch.h"

/* A get, wait or multi_get publishes its deadline; with none it has no
 * limit. Every other op has no timeout of its own and must not block. */
static int op_blocks(int op)
{
    return op == RDV_STORE_OP_GET || op == RDV_STORE_OP_WAIT ||
           op == RDV_STORE_OP_MULTI_GET;
}

int rdv_call_watch_overdue(void *arg)
{
    rdv_call_watch *w = arg;
    int64_t now = rdv_now_ns();

    for (int r = 0; r < w->nranks; r++) {
        const rdv_slot *s = rdv_result_area_slot(w->area, r);
        int64_t deadline, t0, timeout_ms, ran_ms;
        const char *name;

        if (!atomic_load_explicit(&s->op_active, memory_order_acquire))
            continue;
        deadline = atomic_load_explicit(&s->op_deadline_ns,
                                        memory_order_acquire);
        t0 = s->op_t0_ns;
        ran_ms = (now - t0) / 1000000;
        name = rdv_store_op_name((rdv_store_op)s->op);
        if (!deadline) {
            /* Read after op_active: a blocking op that is opening may
             * not have published its deadline yet, so only the op's
             * kind says it has none; a later op's t0 only looks
             * younger. */
            if (op_blocks(s->op) || w->plain_stretch_ms < 0 ||
                ran_ms <= rdv_call_plain_bound_ms(0, w->nranks) +
                              w->plain_stretch_ms)
                continue;
            w->rank = r;
            snprintf(w->call, sizeof w->call, "%s '%s' still running "
                     "after %lld ms; %s %s has no timeout and must not "
                     "block", name, s->op_key, (long long)ran_ms,
                     rdv_call_article(name), name);
            return 1;
        }
        timeout_ms = deadline > t0 ? (deadline - t0) / 1000000 : 0;
        if (ran_ms <= rdv_call_bound_ms(timeout_ms) + w->timed_stretch_ms)
            continue;
        w->rank = r;
        snprintf(w->call, sizeof w->call, "%s '%s' still running %lld ms "
                 "past its deadline (%lld ms after it began); the store "
                 "does not honour the call's timeout", name, s->op_key,
                 (long long)((now - deadline) / 1000000),
                 (long long)ran_ms);
        return 1;
    }
    return 0;
}
