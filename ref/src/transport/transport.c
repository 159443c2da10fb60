/*
 * transport/transport.c - the transport's lifecycle above the backend
 * seam: choosing the backend, opening and closing, attaching peers'
 * sockets, and the engine operations the rendezvous drives straight
 * through to the backend. The data plane proper (frames, post, wait)
 * is dataplane.c; failing and telling the peers is abort.c.
 *
 * The backend is chosen in one place, rdv_backend_open() (also the way
 * the store server gets its engine). Backends answer
 * in rdv_status like everything else; this is where their detail is
 * copied into the transport's.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "dataplane.h"
#include "self_pid.h"
#include "sockaddr.h"

int rdv_backend_open(const char *name, const rdv_backend_ops **ops,
                     rdv_backend **be, char *errbuf, size_t errlen)
{
    char why[256] = "";
    int ret;

    if (!name || !*name)
        name = getenv("RDV_TRANSPORT");
    if (name && *name && strcmp(name, "uring") && strcmp(name, "epoll")) {
        snprintf(errbuf, errlen,
                 "unknown transport \"%s\" (want uring or epoll)", name);
        return RDV_EINVAL;
    }
    if (!name || !*name || !strcmp(name, "uring")) {
        ret = rdv_backend_uring.create(be, why, sizeof why);
        if (ret == RDV_OK) {
            *ops = &rdv_backend_uring;
            return RDV_OK;
        }
        if (name && *name) {
            snprintf(errbuf, errlen,
                     "RDV_TRANSPORT=uring forced but unavailable: %s", why);
            return ret == RDV_ENOMEM ? RDV_ENOMEM : RDV_ENOTSUP;
        }
        if (ret != RDV_ENOTSUP) {
            snprintf(errbuf, errlen, "%s", why);
            return ret;
        }
    }
    ret = rdv_backend_epoll.create(be, why, sizeof why);
    if (ret != RDV_OK) {
        snprintf(errbuf, errlen, "%s", why);
        return ret;
    }
    *ops = &rdv_backend_epoll;
    return RDV_OK;
}

int rdv_backend_sys_fail(char *why, size_t cap, const char *call, int err)
{
    snprintf(why, cap, "%s: %s", call, strerror(err));
    return err == ENOMEM ? RDV_ENOMEM : RDV_EIO;
}

int rdv_transport_open(rdv_transport **out, const char *backend, int rank,
                       int size, char *errbuf, size_t errlen)
{
    rdv_transport *t;
    int ret;

    if (size < 1 || rank < 0 || rank >= size) {
        snprintf(errbuf, errlen, "transport: bad rank %d of size %d", rank,
                 size);
        return RDV_EINVAL;
    }
    t = calloc(1, sizeof *t);
    if (!t || !(t->peers = calloc((size_t)size, sizeof *t->peers))) {
        free(t);
        snprintf(errbuf, errlen, "transport: out of memory");
        return RDV_ENOMEM;
    }
    for (int i = 0; i < size; i++)
        t->peers[i].fd = -1;
    ret = rdv_backend_open(backend, &t->ops, &t->be, errbuf, errlen);
    if (ret != RDV_OK) {
        free(t->peers);
        free(t);
        return ret;
    }
    t->pid = rdv_self_pid();
    t->culprit = -1;
    t->rank = rank;
    t->size = size;
    *out = t;
    return RDV_OK;
}

void rdv_transport_set_spin(rdv_transport *t, int64_t ns)
{
    t->spin_ns = ns > 0 ? ns : 0;
}

/* Closes peer p's link. With a plain close, the second end of a link
 * to close sends a FIN that its peer, closed already, must ACK from FIN_WAIT2
 * into TIME_WAIT, all inline on loopback. When the peer's FIN is all this end
 * has left to read and the peer has every byte this end sent (nothing in
 * flight, SIOCOUTQ 0), a reset ends the link instead (SO_LINGER 0): the peer
 * has closed (or shut down) its sending side and has our bytes, so the reset
 * loses nothing, and the peer's FIN_WAIT2 socket goes at once. A peer that
 * only shut down its sending side reads every byte still, then ECONNRESET
 * instead of EOF (tests/ref/transport/test_close.c); rdv itself shuts a link
 * down only once its transport has failed and its reason is set. The first
 * end to close still sends a FIN, so a peer that reads on sees EOF
 * ("closed"), never a reset. Only while healthy, and only in the process that
 * owns the sockets: a forked child's close leaves the shared socket open, and
 * its linger would outlive it. At N=64 (rdv bench rendezvous --store hash)
 * this took 8.9 -> 7.9 packets per connection and rank CPU to 0.97x
 * (io_uring) and 0.95x (epoll), medians of 11 interleaved rounds, for 3.4
 * more syscalls per connection; at N=256 it was even (0.99-1.03x, 5
 * rounds). */
static void link_close(const rdv_transport *t, const tpeer *p, int owner)
{
    struct linger now = {.l_onoff = 1, .l_linger = 0};
    int outq = -1;
    char c;

    if (owner && !t->failed && !p->d[DIR_SEND].req &&
        recv(p->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0 &&
        ioctl(p->fd, SIOCOUTQ, &outq) == 0 && outq == 0)
        setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
    close(p->fd);
}

void rdv_transport_close(rdv_transport *t)
{
    int owner;

    if (!t)
        return;
    /* The backend cancels what is in flight before the fds go. */
    owner = t->pid == rdv_self_pid();
    if (owner)
        t->ops->destroy(t->be);
    for (int i = 0; i < t->size; i++) {
        if (t->peers[i].fd >= 0)
            link_close(t, &t->peers[i], owner);
        free(t->peers[i].d[DIR_RECV].bounce);
        free(t->peers[i].d[DIR_SEND].bounce);
    }
    free(t->peers);
    free(t);
}

const char *rdv_transport_backend(const rdv_transport *t)
{
    return t->ops->name;
}

const char *rdv_transport_errmsg(const rdv_transport *t)
{
    return t->detail;
}

int rdv_transport_culprit(const rdv_transport *t)
{
    return t->failed ? t->culprit : -1;
}

rdv_fail_reason rdv_transport_reason(const rdv_transport *t)
{
    return t->failed ? t->reason : RDV_FAIL_NONE;
}

void rdv_transport_set_hooks(rdv_transport *t, const rdv_hooks *hooks)
{
    t->hooks = hooks;
}

void rdv_transport_bytes(const rdv_transport *t, uint64_t *sent,
                         uint64_t *received)
{
    *sent = t->sent;
    *received = t->received;
}

int rdv_transport_check_pid(rdv_transport *t)
{
    if (t->pid != rdv_self_pid()) {
        snprintf(t->detail, sizeof t->detail,
                 "transport opened by pid %d used in pid %d (after fork)",
                 (int)t->pid, (int)getpid());
        return RDV_ESTATE;
    }
    return RDV_OK;
}

/* errno of a failed syscall into the detail, as a status. */
static int sys_fail(rdv_transport *t, const char *call, int err)
{
    return rdv_backend_sys_fail(t->detail, sizeof t->detail, call, err);
}

/* Close-on-exec and the backend's blocking mode: 0, or fcntl's errno. */
static int fd_mode(const rdv_transport *t, int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return errno;
    fl = t->ops->nonblocking ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) < 0 ? errno : 0;
}

/* TCP_NODELAY when fd is TCP: every frame is a whole message, and a
 * small one held back for an ACK is a round trip lost. */
static void fd_nodelay(int fd, int family)
{
    int one = 1;

    if (family == AF_INET || family == AF_INET6)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int rdv_transport_socket(rdv_transport *t, int family, int *fd)
{
    int type = SOCK_STREAM | SOCK_CLOEXEC;

    if (t->ops->nonblocking)
        type |= SOCK_NONBLOCK;
    *fd = socket(family, type, 0);
    if (*fd < 0)
        return sys_fail(t, "socket", errno);
    fd_nodelay(*fd, family);
    return RDV_OK;
}

/* RDV_OK when peer is another rank with no link yet; else closes fd
 * and says why. */
static int free_peer(rdv_transport *t, int peer, int fd)
{
    if (peer >= 0 && peer < t->size && peer != t->rank &&
        t->peers[peer].fd < 0)
        return RDV_OK;
    close(fd);
    snprintf(t->detail, sizeof t->detail,
             "attach: bad or duplicate peer %d (rank %d of %d)", peer,
             t->rank, t->size);
    return RDV_EINVAL;
}

/* Makes fd, ready as it is, peer's link; desc as in attach. */
static int take_fd(rdv_transport *t, int peer, int fd, const char *desc)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    t->peers[peer].fd = fd;
    if (desc) {
        snprintf(t->peers[peer].desc, sizeof t->peers[peer].desc, "%s",
                 desc);
    } else {
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
            ss.ss_family = AF_UNSPEC;
        rdv_sockaddr_format(&ss, t->peers[peer].desc,
                            sizeof t->peers[peer].desc);
    }
    return RDV_OK;
}

int rdv_transport_attach(rdv_transport *t, int peer, int fd,
                         const char *desc)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int err;

    if (free_peer(t, peer, fd) != RDV_OK)
        return RDV_EINVAL;
    err = fd_mode(t, fd);
    if (err) {
        char call[48];

        close(fd);
        snprintf(call, sizeof call, "attach rank %d: fcntl", peer);
        return sys_fail(t, call, err);
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        fd_nodelay(fd, ss.ss_family);
    return take_fd(t, peer, fd, desc);
}

int rdv_transport_attach_own(rdv_transport *t, int peer, int fd,
                             const char *desc)
{
    if (free_peer(t, peer, fd) != RDV_OK)
        return RDV_EINVAL;
    return take_fd(t, peer, fd, desc);
}

int rdv_transport_peer_fd(const rdv_transport *t, int peer)
{
    if (peer < 0 || peer >= t->size)
        return -1;
    return t->peers[peer].fd;
}

/* A backend operation's status; on failure the detail names the
 * operation, the fd and what the backend says failed. */
static int engine_result(rdv_transport *t, const char *op, int fd, int ret)
{
    if (ret != RDV_OK)
        snprintf(t->detail, sizeof t->detail, "%s (fd %d) on %s: %s", op,
                 fd, t->ops->name, t->ops->errmsg(t->be));
    return ret;
}

/* The engine operations the rendezvous drives: straight to the backend
 * (the tag's top bit stays ours). */
int rdv_transport_op_connect(rdv_transport *t, int fd,
                             const struct sockaddr *sa, socklen_t salen,
                             uint64_t tag, int64_t deadline)
{
    return engine_result(t, "connect", fd,
                         t->ops->connect(t->be, fd, sa, salen,
                                         tag & ~RDV_TAG_TRANSPORT,
                                         deadline));
}

int rdv_transport_op_accept(rdv_transport *t, int listen_fd, uint64_t tag)
{
    return engine_result(t, "accept", listen_fd,
                         t->ops->accept(t->be, listen_fd,
                                        tag & ~RDV_TAG_TRANSPORT));
}

int rdv_transport_op_send(rdv_transport *t, int fd, const void *buf,
                          size_t len, uint64_t tag)
{
    return engine_result(t, "send", fd,
                         t->ops->send(t->be, fd, buf, len,
                                      tag & ~RDV_TAG_TRANSPORT));
}

int rdv_transport_op_recv(rdv_transport *t, int fd, void *buf, size_t len,
                          uint64_t tag, int64_t deadline)
{
    return engine_result(t, "recv", fd,
                         t->ops->recv(t->be, fd, buf, len,
                                      tag & ~RDV_TAG_TRANSPORT, deadline));
}

void rdv_transport_forget(rdv_transport *t, int fd)
{
    t->ops->forget(t->be, fd);
}
