/*
 * harness/schedule/schedule.h - which rank's store op runs next, in a
 * sequenced run (`--schedule random:SEED` or `pct:SEED[:DEPTH]`).
 *
 * A schedule is a pure function of its spec and the choices asked of it:
 * the same spec asked the same questions gives the same answers, which is
 * what makes a sequenced run replay exactly. No I/O, no clock.
 */
#ifndef RDV_HARNESS_SCHEDULE_H
#define RDV_HARNESS_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "common/result_area.h" /* RDV_RUN_MAX_RANKS */

typedef enum rdv_schedule_kind {
    RDV_SCHEDULE_NONE,   /* unsequenced: the kernel decides */
    RDV_SCHEDULE_RANDOM, /* a uniform pick among the ready ranks */
    RDV_SCHEDULE_PCT,    /* probabilistic concurrency testing */
} rdv_schedule_kind;

#define RDV_SCHEDULE_DEPTH_DEFAULT 3
#define RDV_SCHEDULE_DEPTH_MAX 64

typedef struct rdv_schedule_spec {
    rdv_schedule_kind kind;
    uint64_t seed;
    int depth; /* pct: d, so d - 1 priority change points */
} rdv_schedule_spec;

/* Parses "random:SEED" or "pct:SEED[:DEPTH]" (DEPTH 1..64, default 3).
 * -1 with a message naming the part that is wrong. */
int rdv_schedule_parse(const char *text, rdv_schedule_spec *out, char *err,
                       size_t errlen);
/* The spec back as text, as a replay line gives it. Returns buf. */
const char *rdv_schedule_text(const rdv_schedule_spec *s, char *buf,
                              size_t cap);

/* One run's schedule state. steps_hint is the expected number of
 * scheduling steps in the run: pct places its change points in
 * [1, steps_hint]. */
typedef struct rdv_schedule {
    rdv_schedule_spec spec;
    int nranks;
    uint64_t rng;
    uint64_t step;
    int prio[RDV_RUN_MAX_RANKS];             /* pct: higher runs first */
    uint64_t change_at[RDV_SCHEDULE_DEPTH_MAX]; /* pct: d - 1 steps */
} rdv_schedule;

void rdv_schedule_init(rdv_schedule *s, const rdv_schedule_spec *spec,
                       int nranks, uint64_t steps_hint);
/* The rank to run next among ready[0..nranks) (nonzero = ready; at least
 * one is). Counts one step. */
int rdv_schedule_pick(rdv_schedule *s, const unsigned char *ready);

#endif
