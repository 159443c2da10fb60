/*
 * rdv/transport.h - point-to-point data plane over a connected mesh.
 *
 * Blocking calls take a timeout in ms, read as everywhere in librdv
 * (rdv/context.h): > 0 the limit; RDV_TIMEOUT_DEFAULT the context's
 * timeout; < 0 none; 0 try once: the requests get one look at the
 * sockets and complete only if that moves all their bytes (the peer's
 * data is already there, the socket buffer takes the send), otherwise
 * RDV_ETIMEDOUT - after the transport's short grace for a neighbour's
 * ABORT (well under a second), and, like any error, leaving the context
 * unusable. The post/wait form lets one rank keep a send to one peer
 * and a recv from another in flight at once; a request lives in caller
 * memory and must stay valid until rdv_wait() has completed it.
 *
 * Ordering: messages to one peer arrive in the order they were posted.
 * At most one send and one recv per peer are in flight at a time;
 * posting a second one to the same peer and direction is RDV_EINVAL.
 *
 * Errors name the peer rank and its address, e.g. "recv from rank 2
 * (127.0.0.1:40123): peer closed the connection after 4096 of 8192
 * bytes". Any error leaves the context unusable (RDV_ESTATE after).
 */
#ifndef RDV_TRANSPORT_H
#define RDV_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/context.h"
#include "rdv/export.h"

RDV_API_BEGIN

typedef struct rdv_request {
    int peer;
    int is_send;
    void *buf;
    size_t len;
    size_t done;   /* bytes transferred so far */
    int status;    /* RDV_OK when complete, negative on error */
    int active;    /* posted and not yet completed */
} rdv_request;

int rdv_send(rdv_context *ctx, int peer, const void *buf, size_t len,
             int timeout_ms);
int rdv_recv(rdv_context *ctx, int peer, void *buf, size_t len,
             int timeout_ms);

int rdv_post_send(rdv_context *ctx, rdv_request *req, int peer,
                  const void *buf, size_t len);
int rdv_post_recv(rdv_context *ctx, rdv_request *req, int peer, void *buf,
                  size_t len);
/* Drives the transport until every request in reqs is complete, or the
 * timeout passes (RDV_ETIMEDOUT, naming the peers still pending). */
int rdv_wait(rdv_context *ctx, rdv_request *const *reqs, size_t n,
             int timeout_ms);

RDV_API_END
#endif
