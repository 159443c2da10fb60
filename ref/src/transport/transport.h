/*
 * transport/transport.h - internal seam between the data plane and its
 * two backends (uring.c, epoll.c), in the shape of Redis's ae.c.
 *
 * The rendezvous hands the transport connected, handshaken sockets, one
 * per peer; collectives and rdv_send/rdv_recv drive requests through it.
 * The backend is chosen once, in rdv_transport_open(): "uring", "epoll",
 * or NULL for $RDV_TRANSPORT, else io_uring falling back to epoll when
 * io_uring_setup fails with EPERM, ENOSYS or EINVAL.
 *
 * Deadlines are absolute CLOCK_MONOTONIC ns (RDV_DEADLINE_NONE = never).
 * Errors name the peer rank and address; read them with
 * rdv_transport_errmsg().
 */
#ifndef RDV_TRANSPORT_INTERNAL_H
#define RDV_TRANSPORT_INTERNAL_H

#include <stdint.h>

#include "rdv/transport.h"

typedef struct rdv_transport rdv_transport;

/* Created after fork, in the process that uses it. */
int rdv_transport_open(rdv_transport **out, const char *backend, int rank,
                       int size, char *errbuf, size_t errlen);
void rdv_transport_close(rdv_transport *t);
const char *rdv_transport_backend(const rdv_transport *t);
const char *rdv_transport_errmsg(const rdv_transport *t);

/* Takes ownership of fd, a connected stream socket to peer. desc names
 * the peer's address for error messages ("127.0.0.1:40123"). */
int rdv_transport_attach(rdv_transport *t, int peer, int fd,
                         const char *desc);

/* Starts req (filled by the caller: peer, is_send, buf, len). */
int rdv_transport_post(rdv_transport *t, rdv_request *req);

/* Drives I/O until every request in reqs is complete or the deadline
 * passes. Returns the first error; the detail names the peer. */
int rdv_transport_wait(rdv_transport *t, rdv_request *const *reqs,
                       size_t n, int64_t deadline);

#endif
