/*
 * context_internal.h - what the rest of librdv (collectives, rdv_send,
 * the rendezvous) may use of a context. The struct itself stays private
 * to context.c.
 */
#ifndef RDV_CONTEXT_INTERNAL_H
#define RDV_CONTEXT_INTERNAL_H

#include <stdint.h>

#include "rdv/context.h"
#include "transport/transport.h"

/* The data plane; NULL before the mesh is connected. */
rdv_transport *rdv_context_transport(rdv_context *ctx);

/* RDV_OK when the context is connected and has not failed; otherwise
 * RDV_ESTATE with a detail saying why (not connected, or the earlier
 * failure). */
int rdv_context_check_usable(rdv_context *ctx);

/* Records a failure: the detail (printf-style), and marks the context
 * unusable. Returns status. */
int rdv_context_fail(rdv_context *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The timeout a call runs with: the context's for RDV_TIMEOUT_DEFAULT,
 * else timeout_ms itself (0 try once, < 0 none). */
int rdv_context_timeout_for(const rdv_context *ctx, int timeout_ms);

/* The absolute deadline for a call given its timeout, resolved as by
 * rdv_context_timeout_for(). */
int64_t rdv_context_deadline(const rdv_context *ctx, int timeout_ms);

/* Connects the context to ready-made sockets instead of a rendezvous
 * (tests, socketpair meshes). fds[peer] is a connected stream socket to
 * peer, -1 at this rank; the context owns every one of them from the
 * call on, also on failure. RDV_ESTATE when already connected. */
int rdv_context_connect_fds(rdv_context *ctx, const int *fds);

/* ---- for the rendezvous (rendezvous/mesh.c) ---- */

const char *rdv_context_job(const rdv_context *ctx);
const char *rdv_context_bind(const rdv_context *ctx);
/* The handshake budget of an incoming connection in ms (> 0), or < 0
 * for none (rdv_context_options.handshake_ms). */
int rdv_context_handshake_ms(const rdv_context *ctx);
/* How often a rank waiting for its links checks its own record, in ms
 * (> 0), or < 0 for never (rdv_context_options.recheck_ms). */
int rdv_context_recheck_ms(const rdv_context *ctx);

/* 1 when the context has neither connected nor failed yet. */
int rdv_context_is_fresh(const rdv_context *ctx);

/* Opens the transport if it is not open yet (this is the point where
 * the io_uring is made: after fork, in the connecting process). */
int rdv_context_open_transport(rdv_context *ctx, rdv_transport **out);

/* Marks the mesh connected; peer_info and the data plane work from now. */
void rdv_context_set_connected(rdv_context *ctx);

/* The phase and connect hooks, called above the backend seam so both
 * backends behave alike. connect returns what the hook returned (0
 * when there is none). */
void rdv_context_phase(rdv_context *ctx, rdv_phase p);
int rdv_context_hook_connect(rdv_context *ctx, int peer, unsigned attempt);

/* The counters the rendezvous bumps (bytes come from the transport). */
rdv_context_counters *rdv_context_counters_mut(rdv_context *ctx);

/* Sends a line to the log callback, if there is one. */
void rdv_context_log(rdv_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
