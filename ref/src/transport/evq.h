/*
 * transport/evq.h - the FIFO of finished events both backends keep:
 * completions reaped while cancelling (uring) or produced by a syscall
 * that succeeded at once (epoll) wait here for the next poll.
 */
#ifndef RDV_TRANSPORT_EVQ_H
#define RDV_TRANSPORT_EVQ_H

#include <stddef.h>

#include "transport.h"

typedef struct rdv_evq_item {
    rdv_event ev;
    int fd;    /* so that forgetting an fd drops its queued events */
    int is_fd; /* res is an accepted fd: closed if dropped */
} rdv_evq_item;

typedef struct rdv_evq {
    rdv_evq_item *v;
    size_t head, len, cap;
} rdv_evq;

/* RDV_OK, or RDV_ENOMEM. */
int rdv_evq_push(rdv_evq *q, int fd, uint64_t tag, int res, int more,
                 int is_fd);
/* Moves up to max events into evs; returns how many. */
int rdv_evq_pop(rdv_evq *q, rdv_event *evs, int max);
/* Drops every queued event of fd, closing accepted fds nobody will
 * see. */
void rdv_evq_drop_fd(rdv_evq *q, int fd);
/* Empties q (closing accepted fds still queued) and frees it. */
void rdv_evq_free(rdv_evq *q);

#endif
