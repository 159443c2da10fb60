/*
 * server/proxy_internal.h - the proxy's state, shared by proxy.c (sockets and
 * forwarding) and proxy_serve.c (commands and the serve loop).
 */
#ifndef RDV_FAULT_PROXY_INTERNAL_H
#define RDV_FAULT_PROXY_INTERNAL_H

#include <stdint.h>
#include <sys/socket.h>

#include "rdv/fault_proxy.h"

typedef struct proxy_chunk {
    struct proxy_chunk *next;
    int64_t due; /* monotonic ns when it may be forwarded */
    size_t len, off;
    char data[];
} proxy_chunk;

struct proxy_conn;

/* One socket of a connection pair; the epoll data points here. */
typedef struct proxy_end {
    struct proxy_conn *c;
    int side; /* 0 client, 1 server */
    int fd;
    uint32_t events; /* registered with epoll */
    int eof;         /* read side saw EOF */
    int blocked;     /* a write would block: wait for EPOLLOUT */
    int shut;        /* we shut down its write side */
    int removed;     /* both directions done: out of the epoll set */
    proxy_chunk *head, *tail; /* bytes read from here, to the other end */
    size_t queued;
} proxy_end;

typedef struct proxy_conn {
    proxy_end end[2];
    int connected; /* the server side finished connecting */
    int dead;
    struct proxy_conn *next;
} proxy_conn;

struct rdv_fault_proxy {
    int epfd, lfd, port;
    struct sockaddr_storage target;
    socklen_t target_len;
    proxy_conn *conns;
    int64_t latency_ns;
    int blackhole;
    uint64_t nconns, accepted, resets, up, down;
};

/* Resets (RST) and frees every connection. */
void rdv_fault_proxy_reset_all(rdv_fault_proxy *p);
/* The bytes queued and not yet passed on (held by a blackhole, or by
 * latency). */
uint64_t rdv_fault_proxy_held(const rdv_fault_proxy *p);
/* ms until the next latency timer is due, or -1. */
int rdv_fault_proxy_next_ms(const rdv_fault_proxy *p);

#endif
