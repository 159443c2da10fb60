/*
 * harness/run/rank_gloo.c - the Gloo rank path (run/rank_gloo.h): thin C
 * over the bridge's C interface, so the harness stays C and the workload
 * checks Gloo's outputs with the same inputs and closed forms as
 * librdv's.
 */
#include <stdio.h>
#include <string.h>

#include "rdv/status.h"
#include "run/rank_gloo.h"

#ifdef RDV_WITH_GLOO
#include "gloo_mesh.h"

/* 1 when the plan's canonical text holds a net.* fault: a fault name
 * starts the text or follows a separator, never an '=' (a key value). */
static int has_net_fault(const char *text)
{
    for (const char *p = text; (p = strstr(p, "net.")); p++)
        if (p == text || p[-1] == ' ' || p[-1] == ';' || p[-1] == ',' ||
            p[-1] == '\n')
            return 1;
    return 0;
}

const char *rdv_rank_gloo_unmet(const rdv_run_config *cfg)
{
    const rdv_workload *w = &cfg->workload;

    for (int i = 0; i < w->nsteps; i++)
        if (w->steps[i].kind == RDV_STEP_REDUCE_SCATTER)
            return "--impl gloo: Gloo offers no reduce_scatter with this "
                   "API (only the old ReduceScatterHalvingDoubling "
                   "algorithm class); drop the reduce_scatter step";
    if (cfg->transport)
        return "--impl gloo: --transport picks librdv's backend; Gloo "
               "runs its own TCP device";
    return NULL;
}

const char *rdv_rank_gloo_faults_unmet(const rdv_faults *f)
{
    if (f && has_net_fault(rdv_faults_text(f)))
        return "--impl gloo: net.* faults act through librdv's connect and "
               "io hooks, which Gloo's TCP pairs never call; use store.*, "
               "proc.* or server.* faults";
    /* The scenarios' key patterns name librdv's address records; Gloo
     * writes "<rank>" and "rank_<rank>", so such a fault never fires. */
    if (f && strstr(rdv_faults_text(f), "/addr/"))
        return "--impl gloo: the fault's key names librdv's address "
               "records (addr/R); Gloo's are \"R\" and \"rank_R\" under "
               "the run prefix (key=\"*/R\")";
    return NULL;
}

int rdv_rank_gloo_connect(rdv_store *store, int rank,
                          const rdv_run_config *cfg, const rdv_hooks *hooks,
                          rdv_rank_gloo **out, char *err, size_t errlen)
{
    rdv_gloo_mesh *m = NULL;
    int rc = rdv_gloo_mesh_create(store, rank, cfg->nranks, cfg->timeout_ms,
                                  hooks, &m);

    *out = (rdv_rank_gloo *)m;
    if (rc) {
        snprintf(err, errlen, "gloo: no memory for rank %d's context", rank);
        return rc;
    }
    return rdv_gloo_mesh_connect(m, "127.0.0.1", err, errlen);
}

static int op_barrier(void *arg, char *err, size_t errlen)
{
    return rdv_gloo_barrier(arg, err, errlen);
}

static int op_broadcast(void *arg, void *buf, size_t count, rdv_dtype t,
                        int root, char *err, size_t errlen)
{
    return rdv_gloo_broadcast(arg, buf, count, t, root, err, errlen);
}

static int op_allgather(void *arg, const void *send, void *recv,
                        size_t count, rdv_dtype t, char *err, size_t errlen)
{
    return rdv_gloo_allgather(arg, send, recv, count, t, err, errlen);
}

static int op_allreduce(void *arg, const void *send, void *recv,
                        size_t count, rdv_dtype t, rdv_op op, char *err,
                        size_t errlen)
{
    return rdv_gloo_allreduce(arg, send, recv, count, t, op, err, errlen);
}

const rdv_coll_ops *rdv_rank_gloo_ops(void)
{
    static const rdv_coll_ops ops = {
        .name = "gloo",
        .barrier = op_barrier,
        .broadcast = op_broadcast,
        .allgather = op_allgather,
        .allreduce = op_allreduce,
    };
    return &ops;
}

int rdv_rank_gloo_finish(rdv_rank_gloo *g, char *err, size_t errlen)
{
    int rc = rdv_gloo_barrier((rdv_gloo_mesh *)g, err, errlen);

    return rc ? rc : rdv_gloo_mesh_unpublish((rdv_gloo_mesh *)g, err, errlen);
}

void rdv_rank_gloo_abandon(rdv_rank_gloo *g)
{
    char err[RDV_DETAIL_MAX];

    if (g)
        rdv_gloo_mesh_unpublish((rdv_gloo_mesh *)g, err, sizeof err);
}

void rdv_rank_gloo_destroy(rdv_rank_gloo *g)
{
    rdv_gloo_mesh_destroy((rdv_gloo_mesh *)g);
}

#else /* built without Gloo */

#define NO_GLOO "--impl gloo: this rdv was built without Gloo " \
                "(RDV_WITH_GLOO is off: install libgloo-dev and reconfigure)"

const char *rdv_rank_gloo_unmet(const rdv_run_config *cfg)
{
    (void)cfg;
    return NO_GLOO;
}

const char *rdv_rank_gloo_faults_unmet(const rdv_faults *f)
{
    (void)f;
    return NO_GLOO;
}

int rdv_rank_gloo_connect(rdv_store *store, int rank,
                          const rdv_run_config *cfg, const rdv_hooks *hooks,
                          rdv_rank_gloo **out, char *err, size_t errlen)
{
    (void)store, (void)rank, (void)cfg, (void)hooks;
    *out = NULL;
    snprintf(err, errlen, "%s", NO_GLOO);
    return RDV_ENOTSUP;
}

const rdv_coll_ops *rdv_rank_gloo_ops(void)
{
    return NULL;
}

int rdv_rank_gloo_finish(rdv_rank_gloo *g, char *err, size_t errlen)
{
    (void)g;
    snprintf(err, errlen, "%s", NO_GLOO);
    return RDV_ENOTSUP;
}

void rdv_rank_gloo_abandon(rdv_rank_gloo *g)
{
    (void)g;
}

void rdv_rank_gloo_destroy(rdv_rank_gloo *g)
{
    (void)g;
}

#endif
