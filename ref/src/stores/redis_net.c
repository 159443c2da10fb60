/*
 * stores/redis_net.c - the redis store's sockets: connecting to the
 * server, waiting on a socket and sending on it, with a deadline, the
 * cancel switch (net_wait.h) and, for an exchange, a patience for a
 * silent server (redis_conn.c says why). No protocol here; redis_conn.c
 * formats the requests and parses the replies.
 *
 * Sockets are made SOCK_CLOEXEC and SOCK_NONBLOCK in one call (no window
 * for a concurrent fork+exec to inherit them) and TCP ones get
 * TCP_NODELAY, as every request is a small write waiting for its reply.
 * A host name is resolved on each connect, so a server that moved is
 * found again; every address it resolves to is tried in turn.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rdv/clock.h"
#include "rdv/status.h"
#include "redis_net.h"

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
        } else if ((rc = rdv_cancel_wait(&c->cancel, fd, POLLOUT, deadline)) != RDV_OK) {
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

int rdv_redis_io_wait(rdv_redis_conn *c, const rdv_redis_io *b,
                      short events)
{
    int64_t until = b->deadline;
    int rc;

    if (b->patience && b->progress + b->patience < until)
        until = b->progress + b->patience;
    /* a reply is awaited awake a while; room to write never is */
    rc = rdv_cancel_wait_spin(&c->cancel, c->fd, events,
                              events & POLLIN ? c->conf->spin_ns : 0, until);
    return rc == RDV_ETIMEDOUT && until != b->deadline ? RDV_REDIS_SILENT
                                                       : rc;
}

int rdv_redis_send_all(rdv_redis_conn *c, struct iovec *iov, size_t n,
                       rdv_redis_io *b, int *sent, char *err, size_t errlen)
{
    size_t i = 0;

    while (i < n) {
        struct msghdr m = {.msg_iov = iov + i, .msg_iovlen = n - i};
        ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        int rc;

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            if ((rc = rdv_redis_io_wait(c, b, POLLOUT)) != RDV_OK)
                return rc;
            continue;
        }
        if (w < 0) {
            snprintf(err, errlen, "redis %s: send: %s", c->conf->addr,
                     strerror(errno));
            return RDV_ECONN;
        }
        *sent = 1;
        b->progress = rdv_now_ns();
        for (size_t left = (size_t)w; left;) {
            size_t take = left < iov[i].iov_len ? left : iov[i].iov_len;

            iov[i].iov_base = (char *)iov[i].iov_base + take;
            iov[i].iov_len -= take;
            left -= take;
            if (iov[i].iov_len == 0)
                i++;
        }
        while (i < n && iov[i].iov_len == 0)
            i++;
    }
    return RDV_OK;
}
