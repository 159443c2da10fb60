/*
 * server/server.c - server faults the harness parent applies: redis CLIENT
 * PAUSE. Killing and restarting redis is the harness's job (it owns the
 * server process); this file only speaks the protocol, over a short-lived
 * hiredis connection, so nothing stays open across fork.
 *
 * Choices:
 * - The server and the login come from the parsed store URL
 *   (server/target.c), so every form the redis store accepts works here
 *   too: [::1], the default port, unix:// with ?user=&password=.
 * - AUTH goes as an argv, never through a format string: "AUTH user
 *   password" with an ACL user, "AUTH password" without, whatever bytes
 *   the password holds.
 * - No SELECT: CLIENT PAUSE holds the whole server, whatever db the
 *   store uses.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_internal.h"

#ifdef RDV_FAULT_WITH_REDIS
#include <hiredis/hiredis.h>

/* Sends one command (argc strings); a redis error reply is RDV_EIO, no
 * reply at all RDV_ECONN, with a message naming the server. */
static int command(redisContext *c, const rdv_url *u, int argc,
                   const char **argv, char *errbuf, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int rc = RDV_OK;

    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(errbuf, errlen, "server.pause on %s: redis %s failed: %s",
                 u->redacted, argv[0], r ? r->str : c->errstr);
        rc = r ? RDV_EIO : RDV_ECONN;
    }
    freeReplyObject(r);
    return rc;
}

static redisContext *connect_to(const rdv_url *u)
{
    struct timeval tv = {.tv_sec = 5};

    if (strcmp(u->scheme, "unix") == 0)
        return redisConnectUnixWithTimeout(u->path, tv);
    return redisConnectWithTimeout(u->host, rdv_url_port(u), tv);
}

int rdv_fault_redis_pause(const char *url, int ms, char *errbuf,
                          size_t errlen)
{
    const char *user, *password, *auth[3] = {"AUTH"};
    const char *pause[3] = {"CLIENT", "PAUSE"};
    char ms_text[16];
    redisContext *c;
    rdv_url u;
    int rc;

    if (ms < 0) {
        snprintf(errbuf, errlen, "server.pause: ms=%d is negative", ms);
        return RDV_EINVAL;
    }
    if ((rc = rdv_fault_redis_target(url, &u, &user, &password, errbuf,
                                     errlen)))
        return rc;
    c = connect_to(&u);
    if (!c || c->err) {
        snprintf(errbuf, errlen, "server.pause: cannot connect to %s: %s",
                 u.redacted, c ? c->errstr : "out of memory");
        redisFree(c);
        rdv_url_free(&u);
        return RDV_ECONN;
    }
    /* hiredis makes its socket without CLOEXEC; no fd of ours leaks. */
    fcntl(c->fd, F_SETFD, FD_CLOEXEC);
    if (password) {
        int argc = 1;

        if (user)
            auth[argc++] = user;
        auth[argc++] = password;
        rc = command(c, &u, argc, auth, errbuf, errlen);
    }
    snprintf(ms_text, sizeof ms_text, "%d", ms);
    pause[2] = ms_text;
    if (rc == RDV_OK)
        rc = command(c, &u, 3, pause, errbuf, errlen);
    redisFree(c);
    rdv_url_free(&u);
    return rc;
}
#else
int rdv_fault_redis_pause(const char *url, int ms, char *errbuf,
                          size_t errlen)
{
    char shown[512];

    (void)ms;
    snprintf(errbuf, errlen, "server.pause on %s: rdv was built without "
             "redis support", rdv_url_redact(url, shown, sizeof shown));
    return RDV_ENOTSUP;
}
#endif
