/*
 * rendezvous/bind.h - where a rank listens: resolving the bind option
 * (an IP literal, an interface name, or nothing for the host's own
 * address) and opening the listening socket.
 */
#ifndef RDV_RENDEZVOUS_BIND_H
#define RDV_RENDEZVOUS_BIND_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct rdv_bind_addr {
    struct sockaddr_storage ss; /* port 0 */
    socklen_t len;
    /* bind was not given and the host name resolved to loopback: peers
     * on other hosts cannot reach it (the classic Gloo pitfall). */
    int loopback_default;
    char hostname[64];
    char what[160]; /* how it was chosen, for messages */
} rdv_bind_addr;

/* RDV_OK, or RDV_EINVAL with a message naming the bind value (and the
 * interfaces that exist, when it looked like an interface name). */
int rdv_bind_resolve(const char *bind, rdv_bind_addr *out, char *err,
                     size_t errlen);

/* 1 when ss is a loopback address (127/8 or ::1). */
int rdv_addr_is_loopback(const struct sockaddr_storage *ss);

#endif
