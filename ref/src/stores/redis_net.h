/*
 * stores/redis_net.h - sockets for the redis connection layer
 * (redis_net.c): connect and wait, both bounded by a deadline and woken
 * by the handle's cancel eventfd.
 */
#ifndef RDV_STORES_REDIS_NET_H
#define RDV_STORES_REDIS_NET_H

#include "redis_conn.h"

/* Waits until fd has one of events (fd < 0: only for cancel) or the
 * deadline passes; past it, still looks once, so what is already there
 * counts. EINTR is retried. RDV_OK, RDV_ETIMEDOUT, RDV_ECANCELED or
 * RDV_EIO. */
int rdv_redis_wait_fd(rdv_redis_conn *c, int fd, short events,
                      int64_t deadline);

/* Connects to c->conf's address (TCP or unix) by deadline. Returns 0
 * with *fd set, 1 when cancelled, or -errno (-ETIMEDOUT when the
 * deadline passed; name resolution failures also fill err). */
int rdv_redis_sock_open(rdv_redis_conn *c, int64_t deadline, int *fd,
                        char *err, size_t errlen);

#endif
