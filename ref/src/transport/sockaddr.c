/*
 * transport/sockaddr.c - printable socket addresses for error details.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "sockaddr.h"

const char *rdv_sockaddr_format(const struct sockaddr_storage *ss, char *buf,
                                size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(buf, cap, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else if (ss->ss_family == AF_UNIX) {
        snprintf(buf, cap, "unix socket");
    } else {
        snprintf(buf, cap, "?");
    }
    return buf;
}
