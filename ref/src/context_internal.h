/*
 * context_internal.h - what the rest of librdv (collectives, rdv_send)
 * may use of a context. The struct itself stays private to context.c.
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

/* The absolute deadline for a call given its timeout option: 0 means
 * the context's timeout, < 0 means none. */
int64_t rdv_context_deadline(const rdv_context *ctx, int timeout_ms);

#endif
