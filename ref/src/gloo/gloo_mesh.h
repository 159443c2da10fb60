/*
 * gloo/gloo_mesh.h - Gloo's rendezvous and collectives behind a C
 * interface, for the harness's `--impl gloo` ranks (harness/run/
 * rank_gloo.c). Internal: built only with RDV_WITH_GLOO, not installed
 * as a header.
 *
 * The mesh is a module, rdv/librdv_gloo_rank.so, that the harness
 * dlopens only under --impl gloo: linked into rdv, Gloo (and through it
 * libstdc++, ibverbs and libnl) cost every forked librdv rank 3-4 ms of
 * lazy binding and library destructors. The module links Gloo but not
 * librdv: its rdv_store_* calls bind to the loading executable's copy
 * (rdv exports its symbols), so one process holds one librdv. It exports
 * a single symbol, RDV_GLOO_MESH_SYMBOL: the table below.
 *
 * A mesh is gloo::rendezvous::Context over rdv::GlooStore on the caller's
 * rdv_store (so the caller's prefix, fault store and recorder see every
 * op Gloo makes), a TCP device bound to `bind`, and connectFullMesh.
 *
 * Phases: Gloo has no hooks, so the mesh reports the ones visible from
 * outside it through hooks->phase (hooks may be NULL): before-publish
 * before Gloo's first store set, after-publish once it returned,
 * connecting at its first get/wait after that, connected when
 * connectFullMesh returned, in-collective on entering each collective.
 * hooks->connect and hooks->io are never called: Gloo's TCP pairs offer
 * no seam for them.
 *
 * Every call returns an rdv_status and, on failure, the text of the
 * gloo::Exception (or of rdv's store error underneath) in err. The C++
 * never unwinds into C.
 */
#ifndef RDV_GLOO_MESH_H
#define RDV_GLOO_MESH_H

#include <stddef.h>

#include "rdv/collectives.h"
#include "rdv/hooks.h"
#include "rdv/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rdv_gloo_mesh rdv_gloo_mesh;

/* A mesh for rank of size on store (borrowed: it must outlive the
 * mesh), not yet connected; every store op and every collective will be
 * bounded by timeout_ms. RDV_OK or RDV_ENOMEM. */
int rdv_gloo_mesh_create(rdv_store *store, int rank, int size,
                         int timeout_ms, const rdv_hooks *hooks,
                         rdv_gloo_mesh **out);
/* Gloo's rendezvous: a TCP device on bind, then connectFullMesh. After a
 * failure only unpublish and destroy are meaningful. */
int rdv_gloo_mesh_connect(rdv_gloo_mesh *m, const char *bind, char *err,
                          size_t errlen);
void rdv_gloo_mesh_destroy(rdv_gloo_mesh *m);

int rdv_gloo_barrier(rdv_gloo_mesh *m, char *err, size_t errlen);
int rdv_gloo_broadcast(rdv_gloo_mesh *m, void *buf, size_t count,
                       rdv_dtype t, int root, char *err, size_t errlen);
/* recv holds count elements from each rank, in rank order. */
int rdv_gloo_allgather(rdv_gloo_mesh *m, const void *send, void *recv,
                       size_t count, rdv_dtype t, char *err, size_t errlen);
int rdv_gloo_allreduce(rdv_gloo_mesh *m, const void *send, void *recv,
                       size_t count, rdv_dtype t, rdv_op op, char *err,
                       size_t errlen);
/* rdv_reduce_scatter's contract (count elements in, this rank's block
 * out), through Gloo's ReduceScatterHalvingDoubling. */
int rdv_gloo_reduce_scatter(rdv_gloo_mesh *m, const void *send, void *recv,
                            size_t count, rdv_dtype t, rdv_op op, char *err,
                            size_t errlen);

/* Removes the keys this rank's rendezvous set (Gloo's Store has no
 * delete, so Gloo never does). Peers may still need them until a
 * collective over the whole mesh succeeded: call it after one, or when
 * the rank has failed anyway. On a store without delete (the gloo
 * level) the keys stay, as under Gloo, and this is RDV_OK. */
int rdv_gloo_mesh_unpublish(rdv_gloo_mesh *m, char *err, size_t errlen);

/* The module's one exported symbol: every entry point above. */
typedef struct rdv_gloo_mesh_api {
    int (*create)(rdv_store *store, int rank, int size, int timeout_ms,
                  const rdv_hooks *hooks, rdv_gloo_mesh **out);
    int (*connect)(rdv_gloo_mesh *m, const char *bind, char *err,
                   size_t errlen);
    void (*destroy)(rdv_gloo_mesh *m);
    int (*barrier)(rdv_gloo_mesh *m, char *err, size_t errlen);
    int (*broadcast)(rdv_gloo_mesh *m, void *buf, size_t count, rdv_dtype t,
                     int root, char *err, size_t errlen);
    int (*allgather)(rdv_gloo_mesh *m, const void *send, void *recv,
                     size_t count, rdv_dtype t, char *err, size_t errlen);
    int (*allreduce)(rdv_gloo_mesh *m, const void *send, void *recv,
                     size_t count, rdv_dtype t, rdv_op op, char *err,
                     size_t errlen);
    int (*unpublish)(rdv_gloo_mesh *m, char *err, size_t errlen);
    int (*reduce_scatter)(rdv_gloo_mesh *m, const void *send, void *recv,
                          size_t count, rdv_dtype t, rdv_op op, char *err,
                          size_t errlen);
} rdv_gloo_mesh_api;

#define RDV_GLOO_MESH_SYMBOL "rdv_gloo_mesh_module"

#ifdef __cplusplus
}
#endif
#endif
