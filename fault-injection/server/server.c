/*
 * server/server.c - server faults the harness parent applies: redis CLIENT
 * PAUSE. Killing and restarting redis is the harness's job (it owns the
 * server process); this file only speaks the protocol, over a short-lived
 * hiredis connection, so nothing stays open across fork.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_internal.h"

#ifdef RDV_FAULT_WITH_REDIS
#include <hiredis/hiredis.h>

typedef struct redis_target {
    char host[256];
    int port;
    char path[512];     /* unix socket, or "" */
    char password[256]; /* or "" */
} redis_target;

/* Copies [s, s+n) into dst (cap bytes), or fails when it does not fit. */
static int take(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* redis://[:pass@]host:port[/db][?...] or unix:///path[?password=P&...] */
static int parse_target(const char *url, redis_target *t)
{
    const char *s, *end, *at, *colon;

    memset(t, 0, sizeof *t);
    if (!strncmp(url, "unix://", 7)) {
        s = url + 7;
        end = s + strcspn(s, "?");
        if (take(t->path, sizeof t->path, s, (size_t)(end - s)) || !t->path[0])
            return -1;
        if (*end && (s = strstr(end, "password=")))
            return take(t->password, sizeof t->password, s + 9,
                        strcspn(s + 9, "&"));
        return 0;
    }
    if (strncmp(url, "redis://", 8))
        return -1;
    s = url + 8;
    end = s + strcspn(s, "/?");
    at = memchr(s, '@', (size_t)(end - s));
    if (at) {
        if (*s == ':')
            s++;
        if (take(t->password, sizeof t->password, s, (size_t)(at - s)))
            return -1;
        s = at + 1;
    }
    colon = memchr(s, ':', (size_t)(end - s));
    if (!colon || take(t->host, sizeof t->host, s, (size_t)(colon - s)))
        return -1;
    t->port = atoi(colon + 1);
    return t->port > 0 && t->port < 65536 ? 0 : -1;
}

static int command(redisContext *c, char *errbuf, size_t errlen,
                   const char *what, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;
    int rc = RDV_OK;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(errbuf, errlen, "redis %s failed: %s", what,
                 r ? r->str : c->errstr);
        rc = r ? RDV_EIO : RDV_ECONN;
    }
    freeReplyObject(r);
    return rc;
}

int rdv_fault_redis_pause(const char *url, int ms, char *errbuf,
                          size_t errlen)
{
    struct timeval tv = {.tv_sec = 5};
    redis_target t;
    redisContext *c;
    int rc;

    if (!url || ms < 0 || parse_target(url, &t)) {
        snprintf(errbuf, errlen, "server.pause: '%s' is not a redis:// or "
                 "unix:// store URL", url ? url : "(null)");
        return RDV_EINVAL;
    }
    c = t.path[0] ? redisConnectUnixWithTimeout(t.path, tv)
                  : redisConnectWithTimeout(t.host, t.port, tv);
    if (!c || c->err) {
        snprintf(errbuf, errlen, "server.pause: cannot connect to %s: %s",
                 url, c ? c->errstr : "out of memory");
        redisFree(c);
        return RDV_ECONN;
    }
    /* hiredis makes its socket without CLOEXEC; no fd of ours leaks. */
    fcntl(c->fd, F_SETFD, FD_CLOEXEC);
    rc = t.password[0] ? command(c, errbuf, errlen, "AUTH", "AUTH %s",
                                 t.password)
                       : RDV_OK;
    if (rc == RDV_OK)
        rc = command(c, errbuf, errlen, "CLIENT PAUSE", "CLIENT PAUSE %d",
                     ms);
    redisFree(c);
    return rc;
}
#else
int rdv_fault_redis_pause(const char *url, int ms, char *errbuf,
                          size_t errlen)
{
    (void)ms;
    snprintf(errbuf, errlen, "server.pause on %s: rdv was built without "
             "redis support", url ? url : "(null)");
    return RDV_ENOTSUP;
}
#endif
