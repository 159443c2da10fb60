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

typedef struct rdv_step_env {
    rdv_context *ctx;
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

/* The store step (workload_store.c); same contract as rdv_step_run. */
int rdv_step_run_store(const rdv_step *st, const rdv_step_env *env,
                       rdv_step_out *out, char *err, size_t errlen);

#endif
