/*
 * rdv/hooks.h - observation and fault hooks a context calls.
 *
 * The harness uses them to record phases and to inject process and
 * network faults (librdv-fault implements them); librdv itself never
 * depends on either. Every hook is optional (NULL = not called), is
 * called on the context's own thread, and must not call back into the
 * context. Hooks see the same calls on the io_uring and epoll backends:
 * they are invoked above the backend seam.
 */
#ifndef RDV_HOOKS_H
#define RDV_HOOKS_H

#include "rdv/export.h"

#include <stddef.h>
#include <stdint.h>

RDV_API_BEGIN

/* Phases, in the order a rank passes them. */
typedef enum rdv_phase {
    RDV_PHASE_BEFORE_PUBLISH,
    RDV_PHASE_AFTER_PUBLISH,
    RDV_PHASE_CONNECTING,
    RDV_PHASE_CONNECTED,
    RDV_PHASE_IN_COLLECTIVE,
    RDV_PHASE_COUNT
} rdv_phase;

/* "before-publish", "after-publish", "connecting", "connected",
 * "in-collective"; NULL for an unknown value. */
const char *rdv_phase_name(rdv_phase p);

typedef struct rdv_hooks {
    void *arg;
    /* Entering phase p. */
    void (*phase)(void *arg, rdv_phase p);
    /* Before connect attempt `attempt` (0-based) to peer. Returns 0 to
     * go ahead, a negative rdv_status to fail this attempt as if the
     * peer refused it (it is retried like a real refusal), or a
     * positive number of ms to delay the attempt by. */
    int (*connect)(void *arg, int peer, unsigned attempt);
    /* Before moving bytes on the connection to peer. `offset` is the
     * number of bytes already moved in this direction on it, `want` the
     * bytes the transport is about to move. Returns how many it may
     * move now (1..want), or a negative rdv_status to reset the
     * connection (RDV_EPEER). *delay_ns may be set to hold the transfer
     * back first (a slow link). */
    int64_t (*io)(void *arg, int peer, int is_send, uint64_t offset,
                  size_t want, int64_t *delay_ns);
} rdv_hooks;

RDV_API_END
#endif
