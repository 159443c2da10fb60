/*
 * harness/common/endpoint.h - one end of a TCP socket, compact and
 * comparable with memcmp.
 *
 * The result area keeps both ends of every link of every rank: N x N of
 * them, 40 bytes a link, so 40 MiB at N = 1024 where text ("ip:port" in
 * 64-byte strings) took over three times that. Text is made only for a
 * message, when a check fails.
 */
#ifndef RDV_HARNESS_ENDPOINT_H
#define RDV_HARNESS_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct rdv_endpoint {
    uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
    uint16_t port;    /* host order */
    uint16_t family;  /* AF_INET, AF_INET6, or 0: unknown */
} rdv_endpoint;       /* no padding: equal ends are equal bytes */

_Static_assert(sizeof(rdv_endpoint) == 20, "rdv_endpoint has no padding");

/* The socket pair to one peer. */
typedef struct rdv_tuple {
    rdv_endpoint local;
    rdv_endpoint remote;
} rdv_tuple;

/* Fills e from a socket address; another family gives family 0. */
void rdv_endpoint_from(rdv_endpoint *e, const struct sockaddr_storage *ss);
/* 1 when a and b are the same address and port. */
int rdv_endpoint_equal(const rdv_endpoint *a, const rdv_endpoint *b);
/* "127.0.0.1:4242", "[::1]:4242", or "?" for an unknown family. */
const char *rdv_endpoint_format(const rdv_endpoint *e, char *buf,
                                size_t cap);

#endif
