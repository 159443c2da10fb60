/*
 * stores/redis_net.h - sockets for the redis connection layer
 * (redis_net.c): connect, wait and send, all bounded by a deadline (and
 * for an exchange a patience) and woken by the handle's cancel eventfd.
 */
#ifndef RDV_STORES_REDIS_NET_H
#define RDV_STORES_REDIS_NET_H

#include <sys/uio.h>

#include "redis_conn.h"

/* What bounds the waits of one exchange on c->fd: the call's deadline,
 * and a patience (0: none), the longest the server may stay silent,
 * counted from progress, when a byte last moved (the caller sets it when
 * the exchange starts; the exchange moves it on). */
typedef struct rdv_redis_io {
    int64_t deadline;
    int64_t patience;
    int64_t progress;
} rdv_redis_io;

/* Returned (positive, apart from the rdv_status values) when the
 * patience ran out before the deadline: the connection's state is
 * unknown and it must be dropped. */
#define RDV_REDIS_SILENT 2

/* Connects to c->conf's address (TCP or unix) by deadline. Returns 0
 * with *fd set, 1 when cancelled, or -errno (-ETIMEDOUT when the
 * deadline passed; name resolution failures also fill err). */
int rdv_redis_sock_open(rdv_redis_conn *c, int64_t deadline, int *fd,
                        char *err, size_t errlen);

/* Waits for events on c->fd within b: RDV_OK, RDV_REDIS_SILENT, or
 * rdv_cancel_wait's failures (RDV_ETIMEDOUT past b->deadline). */
int rdv_redis_io_wait(rdv_redis_conn *c, const rdv_redis_io *b,
                      short events);

/* Writes iov[0..n) to c->fd (sendmsg, MSG_NOSIGNAL: a closed server is
 * RDV_ECONN, never SIGPIPE), consuming the iovecs; *sent = 1 once any
 * byte left, after which a command that is not idempotent must not be
 * sent again. RDV_OK, RDV_ECONN (err says why) or rdv_redis_io_wait's
 * failures. */
int rdv_redis_send_all(rdv_redis_conn *c, struct iovec *iov, size_t n,
                       rdv_redis_io *b, int *sent, char *err, size_t errlen);

#endif
