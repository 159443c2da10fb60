/*
 * harness/run/socket_scan.h - a rank's TCP connections, seen from
 * outside the implementation that made them.
 *
 * Gloo's pairs do not show their sockets, so for --impl gloo the rank
 * lists its own: every connected TCP socket among its fds, both ends
 * read with getsockname/getpeername. The parent then finds which ranks
 * share a connection by matching ends (checks.c, mesh-consistent), as
 * it would for any implementation.
 */
#ifndef RDV_HARNESS_SOCKET_SCAN_H
#define RDV_HARNESS_SOCKET_SCAN_H

#include "common/endpoint.h"

/* Writes the ends of this process's connected TCP sockets (not
 * listeners, not other families) into out[0..cap), leaving out those
 * with either end on skip_port (the store server's, which the ranks
 * share but is not the mesh; -1: none). Returns how many there are,
 * which may exceed cap (only cap are written), or -1 when /proc/self/fd
 * cannot be read (errno says why). */
int rdv_socket_scan(rdv_tuple *out, int cap, int skip_port);

#endif
