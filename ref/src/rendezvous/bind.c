/*
 * rendezvous/bind.c - choosing the address a rank listens on.
 *
 * The bind option is tried as an IPv4 or IPv6 literal first, then as an
 * interface name (getifaddrs, IPv4 preferred; a link-local IPv6 address
 * gets the interface's scope id). Without it, the host name is resolved
 * the way Gloo does, which on many machines gives 127.0.1.1 or
 * 127.0.0.1: that is fine for one host, and the mesh code refuses it
 * with an explanation as soon as a peer reports another host name.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "rdv/status.h"

int rdv_addr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

        return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
    return 0;
}

static int from_literal(const char *s, rdv_bind_addr *out)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;

    if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        out->len = sizeof *a4;
        return 1;
    }
    if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        out->len = sizeof *a6;
        return 1;
    }
    return 0;
}

/* Picks the interface's IPv4 address, else its first IPv6 one. Writes
 * the names of all interfaces to names when none matches. */
static int from_interface(const char *name, rdv_bind_addr *out, char *names,
                          size_t cap)
{
    struct ifaddrs *all, *it, *best = NULL;
    size_t off = 0;

    if (getifaddrs(&all) < 0)
        return 0;
    for (it = all; it; it = it->ifa_next) {
        if (!it->ifa_addr)
            continue;
        int fam = it->ifa_addr->sa_family;

        if (fam != AF_INET && fam != AF_INET6)
            continue;
        if (strcmp(it->ifa_name, name)) {
            if (off < cap && !strstr(names, it->ifa_name))
                off += (size_t)snprintf(names + off, cap - off, "%s%s",
                                        off ? ", " : "", it->ifa_name);
            continue;
        }
        if (!best || (fam == AF_INET && best->ifa_addr->sa_family != AF_INET))
            best = it;
    }
    if (best) {
        if (best->ifa_addr->sa_family == AF_INET) {
            memcpy(&out->ss, best->ifa_addr, sizeof(struct sockaddr_in));
            out->len = sizeof(struct sockaddr_in);
        } else {
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;

            memcpy(a6, best->ifa_addr, sizeof *a6);
            if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr))
                a6->sin6_scope_id = if_nametoindex(name);
            out->len = sizeof *a6;
        }
    }
    freeifaddrs(all);
    return best != NULL;
}

static int from_hostname(rdv_bind_addr *out, char *err, size_t errlen)
{
    struct addrinfo hints, *res, *it, *pick = NULL;
    int ret;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ret = getaddrinfo(out->hostname, NULL, &hints, &res);
    if (ret != 0) {
        snprintf(err, errlen,
                 "no bind address given and host name \"%s\" does not "
                 "resolve (%s): set bind to an IP address or interface",
                 out->hostname, gai_strerror(ret));
        return RDV_EINVAL;
    }
    for (it = res; it; it = it->ai_next) {
        if (it->ai_family != AF_INET && it->ai_family != AF_INET6)
            continue;
        if (!pick || (it->ai_family == AF_INET && pick->ai_family != AF_INET))
            pick = it;
    }
    if (pick) {
        memcpy(&out->ss, pick->ai_addr, pick->ai_addrlen);
        out->len = pick->ai_addrlen;
    }
    freeaddrinfo(res);
    if (!pick) {
        snprintf(err, errlen, "host name \"%s\" has no IP address",
                 out->hostname);
        return RDV_EINVAL;
    }
    return RDV_OK;
}

int rdv_bind_resolve(const char *bind, rdv_bind_addr *out, char *err,
                     size_t errlen)
{
    char names[256] = "";
    int ret;

    memset(out, 0, sizeof *out);
    if (gethostname(out->hostname, sizeof out->hostname - 1) < 0)
        snprintf(out->hostname, sizeof out->hostname, "unknown");
    if (bind && *bind) {
        if (from_literal(bind, out)) {
            snprintf(out->what, sizeof out->what, "bind address %s", bind);
            return RDV_OK;
        }
        if (from_interface(bind, out, names, sizeof names)) {
            snprintf(out->what, sizeof out->what, "interface %s", bind);
            return RDV_OK;
        }
        snprintf(err, errlen,
                 "bind \"%s\" is neither an IP address nor an interface "
                 "with an address (interfaces: %s)",
                 bind, names[0] ? names : "none found");
        return RDV_EINVAL;
    }
    ret = from_hostname(out, err, errlen);
    if (ret != RDV_OK)
        return ret;
    out->loopback_default = rdv_addr_is_loopback(&out->ss);
    snprintf(out->what, sizeof out->what, "the address of host name \"%s\"",
             out->hostname);
    return RDV_OK;
}
