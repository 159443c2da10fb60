/*
 * harness/run/store_recorder.c - the recording wrapper (rdv_wrapper in
 * rdv/store_ops.h).
 *
 * It changes no op: the wrapper forwards each one to the inner store
 * with the caller's deadline untouched, and the before/after hooks
 * record it. Recording is a few stores into the rank's own slot: no
 * locks, no allocation, nothing that could change the timing of the
 * race being hunted by more than a clock read.
 *
 * In a sequenced run (seq_fd >= 0) the recorder is also the rank's side
 * of the sequencer (schedule/sequencer.h): before each op reaches the
 * store it waits for its turn, after it reports the result. A blocking
 * op (wait, get, multi_get with a deadline still ahead) is tried once
 * per turn instead of blocking inside it; while its keys are missing
 * and its deadline has not passed it asks for another turn. The mutex
 * keeps one op per rank at the sequencer even if threads share the
 * handle.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/store_ops.h"
#include "run/store_recorder.h"
#include "schedule/sequencer.h"

typedef struct recorder {
    rdv_wrapper w;
    rdv_slot *slot;
    rdv_op_event *events;
    uint32_t cap;
    int seq_fd;   /* -1 = unsequenced */
    int trying;   /* in a blocking op tried once per turn */
    int locked;   /* holds turn, from op_begin to op_end */
    int64_t deadline; /* of the blocking op being tried */
    int expired;  /* its deadline passed: this try is its last */
    pthread_mutex_t turn;
} recorder;

#define R(s) ((recorder *)(s))

/* Opens the op in flight, for a hang report. */
static void op_begin(rdv_store *s, rdv_store_op op, const char *key)
{
    rdv_slot *sl = R(s)->slot;

    if (R(s)->seq_fd >= 0) {
        pthread_mutex_lock(&R(s)->turn);
        R(s)->locked = 1;
        if (rdv_sequencer_turn(R(s)->seq_fd, (int)op, key,
                               R(s)->trying ? R(s)->deadline
                                            : RDV_DEADLINE_NONE,
                               &R(s)->expired))
            R(s)->seq_fd = -1; /* the sequencer is gone: go on alone */
    }

    sl->op = op;
    rdv_key_printable(key ? key : "", sl->op_key, sizeof sl->op_key);
    sl->op_t0_ns = rdv_now_ns();
    atomic_store_explicit(&sl->op_active, 1, memory_order_release);
}

/* Publishes the deadline of the blocking op about to open (the caller's,
 * not a sequenced try's), for the parent's --call-watch; op_end clears
 * it. */
static void op_deadline(rdv_store *s, int64_t deadline)
{
    atomic_store_explicit(&R(s)->slot->op_deadline_ns,
                          deadline == RDV_DEADLINE_NONE ? 0 : deadline,
                          memory_order_release);
}

/* Closes the op opened by op_begin and keeps its event. */
static void op_end(rdv_store *s, rdv_store_op op, int rc)
{
    rdv_slot *sl = R(s)->slot;
    int64_t t1 = rdv_now_ns();

    atomic_store_explicit(&sl->op_active, 0, memory_order_release);
    atomic_store_explicit(&sl->op_deadline_ns, 0, memory_order_relaxed);
    sl->nops++;
    if (sl->nevents < R(s)->cap) {
        rdv_op_event *e = &R(s)->events[sl->nevents++];

        e->t0_ns = sl->op_t0_ns;
        e->t1_ns = t1;
        e->op = (int16_t)op;
        e->rc = (int16_t)rc;
        memcpy(e->key, sl->op_key, sizeof e->key);
    } else if (R(s)->cap) {
        sl->ndropped++;
    }
    if (R(s)->seq_fd >= 0) {
        int blocked = R(s)->trying && !R(s)->expired &&
                      (rc == RDV_ETIMEDOUT || rc == RDV_ENOTFOUND);

        if (rdv_sequencer_done(R(s)->seq_fd, (int)op, rc, blocked))
            R(s)->seq_fd = -1;
    }
    if (R(s)->locked) {
        R(s)->locked = 0;
        pthread_mutex_unlock(&R(s)->turn);
    }
}

/* A deadline in the past: the store tries once. */
#define TRY_ONCE 1

/* Whether a blocking op tries once per turn: only when sequenced and its
 * deadline is still ahead (a deadline already past is one try anyway).
 * The sequencer says when the deadline counts as passed. */
static int seq_blocking(rdv_store *s, int64_t deadline)
{
    if (R(s)->seq_fd < 0 || deadline <= rdv_now_ns())
        return 0;
    R(s)->deadline = deadline;
    R(s)->expired = 0;
    return 1;
}

/* After one try: whether to ask for another turn. */
static int seq_again(rdv_store *s, int rc)
{
    R(s)->trying = 0;
    return (rc == RDV_ETIMEDOUT || rc == RDV_ENOTFOUND) &&
           R(s)->seq_fd >= 0 && !R(s)->expired;
}

static int rec_get(rdv_store *s, const char *key, void **val, size_t *len,
                   int64_t deadline)
{
    int rc;

    op_deadline(s, deadline);
    if (!seq_blocking(s, deadline))
        return rdv_inner_get(s, key, val, len, deadline);
    do {
        R(s)->trying = 1;
        rc = rdv_inner_get(s, key, val, len, TRY_ONCE);
    } while (seq_again(s, rc));
    /* A get that never found its key timed out, whatever one try said. */
    return rc == RDV_ENOTFOUND ? rdv_store_fail(s, RDV_ETIMEDOUT,
                                                "get '%s' timed out", key)
                               : rc;
}

static int rec_wait(rdv_store *s, const char *const *keys, size_t n,
                    int64_t deadline)
{
    int rc;

    op_deadline(s, deadline);
    if (!seq_blocking(s, deadline))
        return rdv_inner_wait(s, keys, n, deadline);
    do {
        R(s)->trying = 1;
        rc = rdv_inner_wait(s, keys, n, TRY_ONCE);
    } while (seq_again(s, rc));
    return rc;
}

static int rec_multi_get(rdv_store *s, const char *const *keys, size_t n,
                         void **vals, size_t *lens, int64_t deadline)
{
    int rc;

    op_deadline(s, deadline);
    if (!seq_blocking(s, deadline))
        return rdv_inner_multi_get(s, keys, n, vals, lens, deadline);
    do {
        R(s)->trying = 1;
        rc = rdv_inner_multi_get(s, keys, n, vals, lens, TRY_ONCE);
    } while (seq_again(s, rc));
    return rc;
}

static const rdv_wrapper_ops recorder_ops = {
    .ops = {.name = "recorder", .get = rec_get, .wait = rec_wait,
            .multi_get = rec_multi_get},
    .before = op_begin,
    .after = op_end,
};

int rdv_recorder_open(rdv_store *inner, rdv_slot *slot,
                      rdv_op_event *events, uint32_t cap, int seq_fd,
                      rdv_store **out)
{
    recorder *r = calloc(1, sizeof *r);

    if (!r)
        return RDV_ENOMEM;
    r->slot = slot;
    r->events = events;
    r->cap = events ? cap : 0;
    r->seq_fd = seq_fd;
    pthread_mutex_init(&r->turn, NULL);
    rdv_wrapper_init(&r->w, &recorder_ops, inner);
    *out = &r->w.base;
    return RDV_OK;
}
