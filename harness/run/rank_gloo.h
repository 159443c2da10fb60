/*
 * harness/run/rank_gloo.h - the `--impl gloo` rank path: Gloo's
 * rendezvous (gloo::rendezvous::Context, TCP device, connectFullMesh) on
 * the rank's own store stack, and Gloo's collectives for the workload.
 * The C++ stays in the bridge (ref/src/gloo/gloo_mesh.h); built without
 * Gloo (RDV_WITH_GLOO off), every call says so.
 */
#ifndef RDV_HARNESS_RANK_GLOO_H
#define RDV_HARNESS_RANK_GLOO_H

#include <stddef.h>

#include "rdv/hooks.h"
#include "rdv/store.h"
#include "run/run.h"
#include "workload/workload_exec.h"

typedef struct rdv_rank_gloo rdv_rank_gloo;

/* NULL when this build can run cfg (workload parsed) with Gloo, else
 * why not, for the user: a build without Gloo, --transport (librdv's
 * backends), or Gloo's rank module not loading. Loads that module, so call it before forking
 * ranks: they then inherit it (connect loads it too, when not yet). */
const char *rdv_rank_gloo_unmet(const rdv_run_config *cfg);

/* NULL when Gloo can host the fault plan f (may be NULL), else why not:
 * net.* faults act through librdv's connect/io hooks, which Gloo's TCP
 * pairs never call, so the plan would be a silent no-op; so would a
 * key pattern naming librdv's address records (addr/R). */
const char *rdv_rank_gloo_faults_unmet(const rdv_faults *f);

/* Connects rank of cfg->nranks over store (borrowed), reporting phases
 * through hooks (run/rank.c's, with the fault plan's on top). *out may
 * be set on failure too: abandon and destroy it. */
int rdv_rank_gloo_connect(rdv_store *store, int rank,
                          const rdv_run_config *cfg, const rdv_hooks *hooks,
                          rdv_rank_gloo **out, char *err, size_t errlen);

/* The collectives for rdv_step_env.ops, with g as ops_arg. */
const rdv_coll_ops *rdv_rank_gloo_ops(void);

/* After a workload in which every call succeeded: a barrier (so every
 * peer has read this rank's rendezvous keys) and then their removal,
 * which Gloo never does. */
int rdv_rank_gloo_finish(rdv_rank_gloo *g, char *err, size_t errlen);
/* After a failure (g may be NULL): removes what this rank's rendezvous
 * wrote, best effort, as librdv's ranks remove theirs. */
void rdv_rank_gloo_abandon(rdv_rank_gloo *g);
void rdv_rank_gloo_destroy(rdv_rank_gloo *g);

#endif
