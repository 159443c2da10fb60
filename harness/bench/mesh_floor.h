/*
 * harness/bench/mesh_floor.h - the floor under `rdv bench rendezvous`:
 * the same full mesh of loopback TCP connections with nothing of
 * librdv in it (mesh_floor.c).
 */
#ifndef RDV_BENCH_MESH_FLOOR_H
#define RDV_BENCH_MESH_FLOOR_H

#include <stddef.h>
#include <stdint.h>

/* Rank `rank` of n: listens on 127.0.0.1, publishes its port in
 * ports[rank] (ports: n + 1 ints in a mapping the ranks share, zeroed
 * before the run), connects to every lower rank and accepts every
 * higher one, trading a hello and a reply of librdv's size on each
 * link. *up_ns is when its last link came up; then it counts itself in
 * ports[n], waits until every rank has, and closes every socket. 0, or
 * -1 with why in msg (a syscall that failed, a peer gone, the
 * deadline). */
int rdv_mesh_floor_run(int n, int rank, int *ports, int timeout_ms,
                       int64_t *up_ns, char *msg, size_t cap);

#endif
