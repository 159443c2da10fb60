/*
 * harness/common/endpoint.c - compact socket ends (common/endpoint.h).
 *
 * The struct is zeroed before it is filled, so two ends compare with
 * memcmp: the mesh check makes about 523k comparisons at N = 1024 and
 * formats text only for the pairs that disagree.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/endpoint.h"

void rdv_endpoint_from(rdv_endpoint *e, const struct sockaddr_storage *ss)
{
    memset(e, 0, sizeof *e);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

        memcpy(e->addr, &a->sin_addr, sizeof a->sin_addr);
        e->port = ntohs(a->sin_port);
        e->family = AF_INET;
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

        memcpy(e->addr, &a->sin6_addr, sizeof a->sin6_addr);
        e->port = ntohs(a->sin6_port);
        e->family = AF_INET6;
    }
}

int rdv_endpoint_equal(const rdv_endpoint *a, const rdv_endpoint *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

const char *rdv_endpoint_format(const rdv_endpoint *e, char *buf,
                                size_t cap)
{
    char ip[INET6_ADDRSTRLEN];

    if ((e->family != AF_INET && e->family != AF_INET6) ||
        !inet_ntop(e->family, e->addr, ip, sizeof ip))
        snprintf(buf, cap, "?");
    else if (e->family == AF_INET6)
        snprintf(buf, cap, "[%s]:%u", ip, (unsigned)e->port);
    else
        snprintf(buf, cap, "%s:%u", ip, (unsigned)e->port);
    return buf;
}
