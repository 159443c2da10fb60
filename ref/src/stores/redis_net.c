/*
 * stores/redis_net.c - the redis store's sockets: connecting to the
 * server and waiting on a socket, with a deadline and the cancel
 * eventfd. No protocol here; redis_conn.c talks redis over the result.
 *
 * Sockets are made SOCK_CLOEXEC and SOCK_NONBLOCK in one call (no window
 * for a concurrent fork+exec to inherit them) and TCP ones get
 * TCP_NODELAY, as every request is a small write waiting for its reply.
 * A host name is resolved on each connect, so a server that moved is
 * found again; every address it resolves to is tried in turn.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rdv/store_ops.h"
#include "redis_net.h"

int rdv_redis_wait_fd(rdv_redis_conn *c, int fd, short events,
                   int64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = {{fd, events, 0}, {c->wake_fd, POLLIN, 0}};
        struct timespec ts, *tp = NULL;
        int64_t left = 1;
        int n;

        if (atomic_load(&c->cancelled))
            return RDV_ECANCELED;
        if (deadline != RDV_DEADLINE_NONE) {
            left = deadline - rdv_now_ns();
            left = left > 0 ? left : 0;
            ts.tv_sec = left / 1000000000;
            ts.tv_nsec = left % 1000000000;
            tp = &ts;
        }
        n = ppoll(p, 2, tp, NULL);
        if (n < 0 && errno != EINTR)
            return RDV_EIO;
        if (n > 0 && p[1].revents)
            return RDV_ECANCELED;
        if (n > 0 && p[0].revents)
            return RDV_OK;
        if (n == 0 && left == 0)
            return RDV_ETIMEDOUT;
    }
}

/* One connect to one address, bounded by deadline. */
static int sock_connect(rdv_redis_conn *c, const struct sockaddr *sa,
                        socklen_t len, int64_t deadline, int *out)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC |
                                       SOCK_NONBLOCK, 0);
    int one = 1, soerr = 0, rc;
    socklen_t sl = sizeof soerr;

    if (fd < 0)
        return -errno;
    if (sa->sa_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, sa, len) < 0) {
        /* EINTR: the connect goes on in the background, as EINPROGRESS */
        if (errno != EINPROGRESS && errno != EINTR) {
            soerr = errno;
        } else if ((rc = rdv_redis_wait_fd(c, fd, POLLOUT, deadline)) != RDV_OK) {
            close(fd);
            return rc == RDV_ECANCELED ? 1 : -ETIMEDOUT;
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
            soerr = errno;
        }
    }
    if (soerr) {
        close(fd);
        return -soerr;
    }
    *out = fd;
    return 0;
}

int rdv_redis_sock_open(rdv_redis_conn *c, int64_t deadline, int *fd,
                     char *err, size_t errlen)
{
    const rdv_redis_conf *cf = c->conf;
    struct addrinfo hints = {0}, *ai, *a;
    char port[16];
    int rc;

    if (cf->path) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};

        memcpy(sun.sun_path, cf->path, strlen(cf->path) + 1);
        return sock_connect(c, (struct sockaddr *)&sun, sizeof sun,
                            deadline, fd);
    }
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%d", cf->port);
    rc = getaddrinfo(cf->host, port, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "redis %s: cannot resolve host '%s': %s",
                 cf->addr, cf->host, gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    rc = -EHOSTUNREACH;
    for (a = ai; a && rc < 0; a = a->ai_next)
        rc = sock_connect(c, a->ai_addr, a->ai_addrlen, deadline, fd);
    freeaddrinfo(ai);
    return rc;
}

