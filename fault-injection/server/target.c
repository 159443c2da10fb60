/*
 * server/target.c - which server a store URL names, for the parent's
 * server faults: the redis server CLIENT PAUSE goes to, the one the
 * fault proxy stands in front of, and the URL the ranks open instead
 * when the proxy is in the way.
 *
 * Choices:
 * - Everything is read from the parsed URL (rdv/url.h), never from the
 *   text: brackets of [::1] are gone, a missing port is redis's default
 *   (rdv_url_port) and the login follows rdv_url_login, the same rules
 *   the redis store itself uses.
 * - The ranks' URL is the parsed URL with only the host and port
 *   replaced, rendered back, so user, password, db and options survive
 *   whatever they contain.
 * - Every message names the URL with its password masked.
 */
#include <stdio.h>
#include <string.h>

#include "fault_internal.h"

/* rdv_url_parse, with the fault that needs the URL before its message. */
static int parse_for(const char *fault, const char *url, rdv_url *u,
                     char *errbuf, size_t errlen)
{
    char err[512];
    int rc = rdv_url_parse(url, u, err, sizeof err);

    if (rc)
        snprintf(errbuf, errlen, "%s: %s", fault, err);
    return rc;
}

int rdv_fault_redis_target(const char *url, rdv_url *u, const char **user,
                           const char **password, char *errbuf,
                           size_t errlen)
{
    char err[512];
    int rc = parse_for("server.pause", url, u, errbuf, errlen);

    if (rc)
        return rc;
    if (strcmp(u->scheme, "redis") && strcmp(u->scheme, "unix")) {
        snprintf(errbuf, errlen, "server.pause: '%s' is not a redis:// or "
                 "unix:// store URL, and no server PID was given (rdv "
                 "--server-pid)", u->redacted);
        rc = RDV_EINVAL;
    } else if (!strcmp(u->scheme, "redis") ? !u->host[0] : !u->path[0]) {
        snprintf(errbuf, errlen, "server.pause: '%s' names no server (no "
                 "host, or no socket path)", u->redacted);
        rc = RDV_EINVAL;
    } else if ((rc = rdv_url_login(u, user, password, err, sizeof err))) {
        snprintf(errbuf, errlen, "server.pause: %s", err);
    }
    if (rc)
        rdv_url_free(u);
    return rc;
}

/* url parsed, if it is one the proxy can stand in front of. */
static int proxy_parse(const char *url, rdv_url *u, char *errbuf,
                       size_t errlen)
{
    int rc = parse_for("server.latency/reset/blackhole", url, u, errbuf,
                       errlen);

    if (rc)
        return rc;
    if (strcmp(u->scheme, "redis") || !u->host[0]) {
        snprintf(errbuf, errlen, "server.latency/reset/blackhole put the "
                 "fault proxy between the ranks and the server, which needs "
                 "a redis://host[:port] store URL, not '%s', or the "
                 "server's address (rdv --server-proxy)", u->redacted);
        rdv_url_free(u);
        return RDV_EINVAL;
    }
    return RDV_OK;
}

int rdv_fault_proxy_target(const char *url, char *host, size_t hostcap,
                           int *port, char *errbuf, size_t errlen)
{
    rdv_url u;
    int rc = proxy_parse(url, &u, errbuf, errlen);

    if (rc)
        return rc;
    if (snprintf(host, hostcap, "%s", u.host) >= (int)hostcap) {
        snprintf(errbuf, errlen, "fault proxy: the host of '%s' is longer "
                 "than %zu bytes", u.redacted, hostcap - 1);
        rc = RDV_EINVAL;
    }
    *port = rdv_url_port(&u);
    rdv_url_free(&u);
    return rc;
}

int rdv_fault_proxy_url(const char *url, int proxy_port, char *out,
                        size_t cap, char *errbuf, size_t errlen)
{
    rdv_url u;
    int rc = proxy_parse(url, &u, errbuf, errlen);

    if (rc)
        return rc;
    if ((rc = rdv_url_set_host(&u, "127.0.0.1", proxy_port)) ||
        (rc = rdv_url_format(&u, out, cap)))
        snprintf(errbuf, errlen, "fault proxy: cannot make the ranks' URL "
                 "for '%s' through port %d: %s", u.redacted, proxy_port,
                 rc == RDV_ENOMEM ? "out of memory"
                                  : "bad port, or the URL is too long");
    rdv_url_free(&u);
    return rc;
}
