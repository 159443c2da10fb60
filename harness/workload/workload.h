/*
 * harness/workload/workload.h - what each rank runs after the rendezvous.
 *
 * A workload is a comma-separated list of steps. A step is a name and
 * colon-separated attributes, in any order:
 *
 *   barrier
 *   allreduce[:TYPE][:COUNT][:OP][:ALGO]     default int32:1024:sum
 *   reduce_scatter[:TYPE][:COUNT][:OP]
 *   broadcast[:TYPE][:COUNT][:root=R]        default root 0
 *   allgather[:TYPE][:COUNT]
 *   store[:COUNT]      cross-rank store semantics: COUNT atomic adds
 *                      per rank, overwrites seen by every peer, a
 *                      256 KiB value read back whole, a create-only
 *                      race with one winner, a timed-out get (even
 *                      ranks) and wait (odd ranks) on a missing key
 *                      (default 64)
 *   spin[:rank=R]      rank R (default: every rank) loops forever; it
 *                      exists to exercise the supervisor
 *   rendezvous         accepted for clarity: every run starts with it
 *
 * TYPE is int32|int64|float|double, OP sum|prod|min|max, ALGO ring|hd
 * (allreduce only), COUNT a number of elements with an optional k
 * (x1024) or M (x1048576) suffix.
 */
#ifndef RDV_HARNESS_WORKLOAD_H
#define RDV_HARNESS_WORKLOAD_H

#include <stddef.h>

#include "rdv/collectives.h"
#include "common/result_area.h"

/* The default puts every algorithm the collectives choose by size
 * (ref/src/collectives) under its closed form, at each crossover that
 * is cheap to reach: allreduce on both sides of 32 KiB (recursive
 * doubling up to 8k floats, halving-doubling from 8193), the ring asked
 * for by name (auto picks it only past 2 MiB with 3 ranks or more, which
 * would cost most of a run) with uneven blocks, and broadcast's binomial
 * tree and its chain from just past 256 KiB (two chunks, the last one
 * short). Small, so `rdv run --repeat` runs many seeds a second. */
#define RDV_WORKLOAD_DEFAULT                                               \
    "rendezvous,barrier,allreduce:int32:16,allreduce:float:8k,"            \
    "allreduce:float:8193,allreduce:float:16385:ring,"                     \
    "broadcast:int64:4096,broadcast:int64:32769,allgather:double:256,"     \
    "store:64"

typedef enum rdv_step_kind {
    RDV_STEP_BARRIER,
    RDV_STEP_ALLREDUCE,
    RDV_STEP_REDUCE_SCATTER,
    RDV_STEP_BROADCAST,
    RDV_STEP_ALLGATHER,
    RDV_STEP_STORE,
    RDV_STEP_SPIN,
} rdv_step_kind;

typedef struct rdv_step {
    rdv_step_kind kind;
    rdv_dtype type;
    rdv_op op;
    rdv_algo algo;
    size_t count;
    int root; /* broadcast root; spin rank (-1 = all) */
    char name[64]; /* canonical text, e.g. "allreduce:float:1M:sum" */
} rdv_step;

typedef struct rdv_workload {
    int nsteps;
    rdv_step steps[RDV_WORKLOAD_MAX];
} rdv_workload;

/* Parses spec into w. On error returns -1 and writes a message naming
 * the step and what was expected into err. */
int rdv_workload_parse(const char *spec, rdv_workload *w, char *err,
                       size_t errlen);

/* Checks the workload against a run of nranks (a root or spin rank out
 * of range). Returns -1 with a message, 0 when it fits. */
int rdv_workload_validate(const rdv_workload *w, int nranks, char *err,
                          size_t errlen);

/* Where a rank is, for reports: "connecting", "store-open", "step 3
 * (allreduce:float:1M:sum)"... written into buf, which is returned. */
const char *rdv_workload_phase_describe(const rdv_workload *w,
                                        const rdv_phase_mark *m, char *buf,
                                        size_t cap);

/* 1 when every rank must end a step with the same output digest: 0 for
 * a step with no output (barrier, spin) or a rank-specific one
 * (reduce_scatter). */
int rdv_step_output_shared(const rdv_step *s);

#endif
