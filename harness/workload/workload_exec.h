/*
 * harness/workload/workload_exec.h - runs one workload step inside a rank and
 * checks its output against the closed form.
 */
#ifndef RDV_HARNESS_WORKLOAD_EXEC_H
#define RDV_HARNESS_WORKLOAD_EXEC_H

#include <stdint.h>

#include "rdv/context.h"
#include "rdv/store.h"
#include "common/result_area.h"
#include "workload/workload.h"

/* Another implementation's collectives (harness/run/rank_gloo.c), in
 * place of librdv's on env->ctx. Each returns an rdv_status, with the
 * implementation's own words in err on failure. NULL reduce_scatter:
 * the implementation does not offer it. */
typedef struct rdv_coll_ops {
    const char *name; /* "gloo" */
    int (*barrier)(void *arg, char *err, size_t errlen);
    int (*broadcast)(void *arg, void *buf, size_t count, rdv_dtype t,
                     int root, char *err, size_t errlen);
    int (*allgather)(void *arg, const void *send, void *recv, size_t count,
                     rdv_dtype t, char *err, size_t errlen);
    int (*allreduce)(void *arg, const void *send, void *recv, size_t count,
                     rdv_dtype t, rdv_op op, char *err, size_t errlen);
    int (*reduce_scatter)(void *arg, const void *send, void *recv,
                          size_t count, rdv_dtype t, rdv_op op, char *err,
                          size_t errlen);
} rdv_coll_ops;

typedef struct rdv_step_env {
    rdv_context *ctx;                /* librdv's, when ops is NULL */
    const rdv_coll_ops *ops;         /* or another implementation's */
    void *ops_arg;
    rdv_store *store; /* the rank's store, scoped to this run */
    uint64_t seed;
    int rank;
    int nranks;
    int timeout_ms;
} rdv_step_env;

/* Runs st and fills out (timestamps, digest, correct, note). Returns
 * RDV_OK when the step's calls succeeded, whatever the verdict on the
 * output; otherwise their status, with a message naming the step in err.
 * A wrong output is not an error here: results-correct reports it. */
int rdv_step_run(const rdv_step *st, const rdv_step_env *env,
                 rdv_step_out *out, char *err, size_t errlen);

/* A barrier through env's implementation, its words on failure in why. */
int rdv_step_barrier(const rdv_step_env *env, char *why, size_t whylen);

/* The sum of every rank's *v over the mesh, into *v: a count the store
 * under test cannot falsify. Its words on failure in why. */
int rdv_step_sum(const rdv_step_env *env, int64_t *v, char *why,
                 size_t whylen);

/* The most heap any one of w's steps takes for its buffers at N =
 * nranks (buffers of 2 MiB and up are mapped on their own, not counted):
 * what a rank may fault in at once, up front. */
size_t rdv_workload_heap_bytes(const rdv_workload *w, int nranks);

/* A step's buffer of len bytes, its pages faulted in (heap blocks) or
 * mapped on their own for huge pages (2 MiB and up); NULL when out of
 * memory. Freed by rdv_step_buf_free with the same len. */
void *rdv_step_buf_alloc(size_t len);
void rdv_step_buf_free(void *p, size_t len);

/* Faults in the pages [p, p + len) lies on with one
 * madvise(MADV_POPULATE_WRITE); a no-op under a page, or on a kernel
 * without it. */
void rdv_step_populate(void *p, size_t len);

/* The store step (workload_store.c); same contract as rdv_step_run. */
int rdv_step_run_store(const rdv_step *st, const rdv_step_env *env,
                       rdv_step_out *out, char *err, size_t errlen);

#endif
