/*
 * harness/run/rank_gloo.c - the Gloo rank path (run/rank_gloo.h): thin C
 * over the bridge's C interface, so the harness stays C and the workload
 * checks Gloo's outputs with the same inputs and closed forms as
 * librdv's. The bridge is a module loaded only under --impl gloo
 * (gloo/gloo_mesh.h says why).
 */
#include <stdio.h>
#include <string.h>

#include "rdv/status.h"
#include "run/rank_gloo.h"

#ifdef RDV_WITH_GLOO
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "gloo_mesh.h"

static const rdv_gloo_mesh_api *gloo; /* the module's table, once loaded */

/* Where the rank module is, in the order tried (as stores/gloo.c finds
 * the gloo+ stores' plugin). */
static const char *module_file(void)
{
    const char *env = getenv("RDV_GLOO_RANK");

    if (env && env[0])
        return env;
    if (access(RDV_GLOO_RANK_INSTALLED, R_OK) == 0)
        return RDV_GLOO_RANK_INSTALLED;
    return RDV_GLOO_RANK_BUILD;
}

/* Loads the module once (the harness does it before forking, so ranks
 * inherit it bound); NULL when loaded, else why not. Never unloaded:
 * Gloo's threads and destructors outlive any one run. */
static const char *load(void)
{
    static char why[512];
    const char *file = module_file();
    void *h;

    if (gloo)
        return NULL;
    if (!(h = dlopen(file, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(why, sizeof why, "--impl gloo: cannot load Gloo's rank "
                 "module: %s (set RDV_GLOO_RANK to its path)", dlerror());
        return why;
    }
    if (!(gloo = dlsym(h, RDV_GLOO_MESH_SYMBOL))) {
        snprintf(why, sizeof why, "--impl gloo: %s exports no %s: not "
                 "this rdv's rank module", file, RDV_GLOO_MESH_SYMBOL);
        dlclose(h);
        return why;
    }
    return NULL;
}

const char *rdv_rank_gloo_unmet(const rdv_run_config *cfg)
{
    if (cfg->transport)
        return "--impl gloo: --transport picks librdv's backend; Gloo "
               "runs its own TCP device";
    return load();
}

const char *rdv_rank_gloo_faults_unmet(const rdv_faults *f)
{
    if (rdv_faults_families(f) & RDV_FAULT_BY_NET)
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
    const char *why = load();
    int rc;

    *out = NULL;
    if (why) {
        snprintf(err, errlen, "%s", why);
        return RDV_ENOTSUP;
    }
    /* Gloo's TCP pairs write without MSG_NOSIGNAL, so a write to a peer
     * that died raises SIGPIPE and a survivor would die of it rather
     * than report Gloo's error. Every PyTorch process runs Gloo with
     * SIGPIPE ignored (Python ignores it at startup); the rank does the
     * same, so the write fails with EPIPE and Gloo throws. */
    signal(SIGPIPE, SIG_IGN);
    rc = gloo->create(store, rank, cfg->nranks, cfg->timeout_ms, hooks, &m);
    *out = (rdv_rank_gloo *)m;
    if (rc) {
        snprintf(err, errlen, "gloo: no memory for rank %d's context", rank);
        return rc;
    }
    return gloo->connect(m, "127.0.0.1", err, errlen);
}

static int op_barrier(void *arg, char *err, size_t errlen)
{
    return gloo->barrier(arg, err, errlen);
}

static int op_broadcast(void *arg, void *buf, size_t count, rdv_dtype t,
                        int root, char *err, size_t errlen)
{
    return gloo->broadcast(arg, buf, count, t, root, err, errlen);
}

static int op_allgather(void *arg, const void *send, void *recv,
                        size_t count, rdv_dtype t, char *err, size_t errlen)
{
    return gloo->allgather(arg, send, recv, count, t, err, errlen);
}

static int op_allreduce(void *arg, const void *send, void *recv,
                        size_t count, rdv_dtype t, rdv_op op, char *err,
                        size_t errlen)
{
    return gloo->allreduce(arg, send, recv, count, t, op, err, errlen);
}

static int op_reduce_scatter(void *arg, const void *send, void *recv,
                             size_t count, rdv_dtype t, rdv_op op, char *err,
                             size_t errlen)
{
    return gloo->reduce_scatter(arg, send, recv, count, t, op, err, errlen);
}

const rdv_coll_ops *rdv_rank_gloo_ops(void)
{
    static const rdv_coll_ops ops = {
        .name = "gloo",
        .barrier = op_barrier,
        .broadcast = op_broadcast,
        .allgather = op_allgather,
        .allreduce = op_allreduce,
        .reduce_scatter = op_reduce_scatter,
    };
    return &ops;
}

int rdv_rank_gloo_finish(rdv_rank_gloo *g, char *err, size_t errlen)
{
    int rc = gloo->barrier((rdv_gloo_mesh *)g, err, errlen);

    return rc ? rc : gloo->unpublish((rdv_gloo_mesh *)g, err, errlen);
}

void rdv_rank_gloo_abandon(rdv_rank_gloo *g)
{
    char err[RDV_DETAIL_MAX];

    if (g)
        gloo->unpublish((rdv_gloo_mesh *)g, err, sizeof err);
}

void rdv_rank_gloo_destroy(rdv_rank_gloo *g)
{
    if (g)
        gloo->destroy((rdv_gloo_mesh *)g);
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
