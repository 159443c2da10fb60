/*
 * harness/run/mesh_outside.h - which ranks share a TCP connection, from
 * the sockets each rank listed itself (run/socket_scan.h): the mesh
 * check for an implementation that does not show its links (Gloo).
 *
 * Two ranks are linked when a socket of one has the ends of a socket of
 * the other, mirrored. No order or peer is assumed: rank i's row of the
 * tuple table holds its sockets in fd order, store connections left out.
 */
#ifndef RDV_HARNESS_MESH_OUTSIDE_H
#define RDV_HARNESS_MESH_OUTSIDE_H

#include "common/result_area.h"

#define RDV_MESH_UNLINKED_SHOWN 4

typedef struct rdv_mesh_view {
    long pairs;  /* pairs of ranks that both listed their sockets */
    long linked; /* of those, the pairs that share a connection */
    int nunlinked; /* pairs in unlinked[] (at most the SHOWN) */
    int unlinked[RDV_MESH_UNLINKED_SHOWN][2];
    int truncated; /* a rank (or -1) with more sockets than its row holds */
} rdv_mesh_view;

/* Matches the rows of the ranks marked connected. RDV_OK, or RDV_ENOMEM. */
int rdv_mesh_outside(const rdv_result_area *a, int nranks, rdv_mesh_view *v);

#endif
