/*
 * server/where.c - the server of a store whose URL does not say where its
 * server runs (etcd, ZooKeeper, tcp://, any plugin), as the user tells
 * it (rdv_fault_server_where): the process server.pause stops, and the
 * address the fault proxy stands in front of, with the URL the ranks
 * open through it.
 *
 * Choices:
 * - The PID is read at each use, from the number or the file given:
 *   server.restart gives the server a new PID, and the pidfile the
 *   service scripts keep (ci/services) follows it.
 * - Pause is SIGSTOP, then SIGCONT: the process holds its sockets but
 *   answers nothing, which is what a stalled server looks like to every
 *   client, whatever protocol it speaks.
 * - The proxy's target is replaced where it stands as an address in the
 *   parsed URL: the authority, or an item of an option's value (a plugin
 *   takes its servers as options: endpoints=A,B, hosts=A, url=etcd://A).
 *   An item ends at a character that cannot continue a host or a port,
 *   so 127.0.0.1:2379 never matches inside 127.0.0.1:23790. A URL that
 *   names the target nowhere is a usage error: the proxy would stand in
 *   front of nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_internal.h"

int rdv_fault_server_pid_read(const char *spec, pid_t *pid, char *errbuf,
                              size_t errlen)
{
    char text[32] = "";
    const char *digits = spec;
    int64_t v;

    if (!spec || !spec[0]) {
        snprintf(errbuf, errlen, "server PID: none given");
        return RDV_EINVAL;
    }
    if (!isdigit((unsigned char)spec[0])) { /* a pidfile */
        FILE *f = fopen(spec, "re");

        if (!f || !fgets(text, sizeof text, f)) {
            snprintf(errbuf, errlen, "server PID file %s: %s", spec,
                     f ? "empty" : strerror(errno));
            if (f)
                fclose(f);
            return RDV_EINVAL;
        }
        fclose(f);
        text[strcspn(text, " \t\r\n")] = '\0';
        digits = text;
    }
    if (rdv_fault_number(digits, strlen(digits), &v) || v < 2 ||
        v > 0x7fffffff) {
        snprintf(errbuf, errlen, "server PID '%s'%s%s is not a process id "
                 "(a number > 1)", digits, digits == text ? " in " : "",
                 digits == text ? spec : "");
        return RDV_EINVAL;
    }
    if (kill((pid_t)v, 0) && errno == ESRCH) {
        snprintf(errbuf, errlen, "server PID %lld%s%s: no such process",
                 (long long)v, digits == text ? " from " : "",
                 digits == text ? spec : "");
        return RDV_ECONN;
    }
    *pid = (pid_t)v;
    return RDV_OK;
}

int rdv_fault_proxy_where(const char *spec, int *listen_port, char *host,
                          size_t hostcap, int *port, char *errbuf,
                          size_t errlen)
{
    const char *eq = strchr(spec, '='), *addr = eq ? eq + 1 : spec;
    const char *colon = strrchr(addr, ':'), *h = addr;
    size_t hlen;
    int64_t v = 0;

    *listen_port = 0;
    if (eq && (rdv_fault_number(spec, (size_t)(eq - spec), &v) ||
               v > 65535))
        goto bad;
    *listen_port = (int)v;
    if (!colon || rdv_fault_number(colon + 1, strlen(colon + 1), &v) ||
        v < 1 || v > 65535)
        goto bad;
    *port = (int)v;
    hlen = (size_t)(colon - addr);
    if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= hostcap)
        goto bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return RDV_OK;
bad:
    snprintf(errbuf, errlen, "server proxy '%s': expected [LISTEN=]HOST:"
             "PORT (LISTEN a port for the proxy, 0 or absent for a free "
             "one; HOST:PORT the server, as the store URL names it)", spec);
    return RDV_EINVAL;
}

/* 1 when c may continue a host name, an address or a port. */
static int addr_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_' ||
           c == ':' || c == '[' || c == ']';
}

/* value with every item equal to target replaced by with, into out
 * (malloc'd); the number of replacements, or -1 (out of memory). */
static int replace_items(const char *value, const char *target,
                         const char *with, char **out)
{
    size_t tl = strlen(target), wl = strlen(with), cap = strlen(value) + 1;
    const char *p = value, *hit;
    int n = 0;
    char *o;

    for (hit = strstr(p, target); hit; hit = strstr(hit + 1, target))
        cap += wl;
    if (!(o = malloc(cap)))
        return -1;
    *out = o;
    while ((hit = strstr(p, target))) {
        int starts = hit == value || !addr_char(hit[-1]);
        int ends = !addr_char(hit[tl]);

        memcpy(o, p, (size_t)(hit - p) + (starts && ends ? 0 : tl));
        o += (hit - p) + (starts && ends ? 0 : tl);
        if (starts && ends) {
            memcpy(o, with, wl);
            o += wl;
            n++;
        }
        p = hit + tl;
    }
    strcpy(o, p);
    return n;
}

int rdv_fault_proxy_where_url(const char *url, const char *host, int port,
                              int proxy_port, char *out, size_t cap,
                              char *errbuf, size_t errlen)
{
    char target[300], with[32];
    int found = 0, rc;
    rdv_url u;

    if ((rc = rdv_url_parse(url, &u, errbuf, errlen)))
        return rc;
    if (proxy_port == port) {
        snprintf(errbuf, errlen, "server proxy: it cannot listen on the "
                 "server's own port %d", port);
        rdv_url_free(&u);
        return RDV_EINVAL;
    }
    snprintf(target, sizeof target, strchr(host, ':') ? "[%s]:%d" : "%s:%d",
             host, port);
    snprintf(with, sizeof with, "127.0.0.1:%d", proxy_port);
    if (!strcmp(u.host, host) && rdv_url_port(&u) == port) {
        if ((rc = rdv_url_set_host(&u, "127.0.0.1", proxy_port)))
            goto fail;
        found++;
    }
    /* Each original option once; set_option moves a changed one to the
     * end, so the next one is then at i. */
    for (size_t i = 0, left = u.noptions; left > 0 && rc == RDV_OK;
         left--) {
        char *v = NULL, *key = NULL;
        int n = replace_items(u.options[i].value, target, with, &v);

        if (n > 0 && (key = strdup(u.options[i].key))) {
            rc = rdv_url_set_option(&u, key, v);
            found += n;
        } else if (n != 0) {
            rc = RDV_ENOMEM;
        } else {
            i++;
        }
        free(key);
        free(v);
    }
    if (rc)
        goto fail;
    if (!found) {
        snprintf(errbuf, errlen, "server proxy: the store URL '%s' does not "
                 "name %s (as its host:port, or an item of an option such "
                 "as endpoints= or hosts=), so the ranks would not go "
                 "through the proxy", u.redacted, target);
        rdv_url_free(&u);
        return RDV_EINVAL;
    }
    rc = rdv_url_format(&u, out, cap);
fail:
    if (rc && rc != RDV_EINVAL)
        snprintf(errbuf, errlen, "server proxy: cannot make the ranks' URL "
                 "for '%s': out of memory", u.redacted);
    else if (rc)
        snprintf(errbuf, errlen, "server proxy: cannot make the ranks' URL "
                 "for '%s' through port %d: too long, or too many options",
                 u.redacted, proxy_port);
    rdv_url_free(&u);
    return rc;
}
