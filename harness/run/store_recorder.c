/*
 * harness/run/store_recorder.c - the recording wrapper (rdv_wrapper in
 * rdv/store_ops.h).
 *
 * It changes no op: the wrapper forwards each one to the inner store
 * with the caller's deadline untouched, and the before/after hooks
 * record it. Recording is a few stores into the rank's own slot: no
 * locks, no allocation, nothing that could change the timing of the
 * race being hunted by more than a clock read.
 */
#include <stdlib.h>
#include <string.h>

#include "rdv/store_ops.h"
#include "run/store_recorder.h"

typedef struct recorder {
    rdv_wrapper w;
    rdv_slot *slot;
    rdv_op_event *events;
    uint32_t cap;
} recorder;

#define R(s) ((recorder *)(s))

/* Opens the op in flight, for a hang report. */
static void op_begin(rdv_store *s, rdv_store_op op, const char *key)
{
    rdv_slot *sl = R(s)->slot;

    sl->op = op;
    rdv_key_printable(key ? key : "", sl->op_key, sizeof sl->op_key);
    sl->op_t0_ns = rdv_now_ns();
    atomic_store_explicit(&sl->op_active, 1, memory_order_release);
}

/* Closes the op opened by op_begin and keeps its event. */
static void op_end(rdv_store *s, rdv_store_op op, int rc)
{
    rdv_slot *sl = R(s)->slot;
    int64_t t1 = rdv_now_ns();

    atomic_store_explicit(&sl->op_active, 0, memory_order_release);
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
}

static const rdv_wrapper_ops recorder_ops = {
    .ops = {.name = "recorder"},
    .before = op_begin,
    .after = op_end,
};

int rdv_recorder_open(rdv_store *inner, rdv_slot *slot,
                      rdv_op_event *events, uint32_t cap, rdv_store **out)
{
    recorder *r = calloc(1, sizeof *r);

    if (!r)
        return RDV_ENOMEM;
    r->slot = slot;
    r->events = events;
    r->cap = events ? cap : 0;
    rdv_wrapper_init(&r->w, &recorder_ops, inner);
    *out = &r->w.base;
    return RDV_OK;
}
