/*
 * transport/uring.c - the io_uring backend of the transport engine.
 *
 * Choices:
 *  - One ring per transport, made when the transport is opened, which
 *    happens after fork in the process that uses it. Setup tries
 *    SINGLE_ISSUER|DEFER_TASKRUN (no task work stealing time from the
 *    submitter), then COOP_TASKRUN, then no flags; EPERM/ENOSYS/EINVAL
 *    from the last attempt are passed up so the transport can fall back
 *    to epoll (Docker's default seccomp profile).
 *  - The opcodes used are probed; a kernel missing one is "unsupported"
 *    and also falls back.
 *  - Every operation owns a slot; user_data is the slot's generation
 *    (high 32 bits) and index + 1 (low), and 0 marks the linked
 *    timeouts, whose own completions carry nothing. Slots make
 *    cancellation exact: forget() cancels the slots of an fd and reaps
 *    until the kernel has released each of them, stashing any other
 *    completion it meets, so no buffer is touched after forget(). The
 *    generation matters when an op completes before its cancel reaches
 *    the kernel: the cancel may still be queued when the slot is reused,
 *    and must not cancel the newcomer (a reconnect's handshake recv,
 *    ended "-ETIME" long before its deadline, seen at N = 256).
 *  - connect and recv with a deadline carry a linked absolute timeout
 *    (CLOCK_MONOTONIC); the op then ends in -ECANCELED, reported -ETIME.
 *    The timespec, and connect's address, live in the slot, because the
 *    kernel reads them only when it consumes the SQE. Slots never move
 *    while the kernel has SQEs left to consume: growing the slot array
 *    submits first, and does not grow when that submit fails.
 *  - Every io_uring_submit is checked. A failed submit leaves its SQEs
 *    in the ring, where the kernel will read them at a later submit, so
 *    their slots stay taken until their completions arrive (or forget()
 *    has reaped them); the operation that needed the submit fails with
 *    RDV_EIO naming io_uring_submit and the errno (errmsg()), and so
 *    does poll() when it cannot hand the kernel what is queued.
 *  - The listener uses multishot accept; on a kernel that rejects it
 *    (-EINVAL before any connection) accept is re-armed one-shot.
 *  - Sockets stay blocking: io_uring arms poll itself, while O_NONBLOCK
 *    would turn waits into -EAGAIN completions.
 *  - The CQ is deep (4096) because a rank blocked in a store call stops
 *    reaping while hundreds of peers connect; should the kernel still
 *    push back on submit, submit_step() reaps into the ready queue and
 *    tries again, so no caller is ever handed a NULL SQE.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef RDV_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

#include "evq.h"
#include "rdv/clock.h"

enum { K_CONNECT, K_ACCEPT, K_SEND, K_RECV };

typedef struct uslot {
    uint64_t tag;
    int fd;
    int kind;
    void *buf;
    int active;
    int discard; /* forgotten: drop its completion */
    int timed;   /* carries a linked timeout */
    int got_one; /* accept: at least one connection came */
    uint32_t gen; /* bumped at each reuse; half of user_data */
    struct __kernel_timespec ts;
    struct sockaddr_storage sa; /* connect: the address, until consumed */
} uslot;

struct rdv_backend {
    struct io_uring ring;
    uslot *slots;
    uint32_t nslots, cap;
    uint32_t *freelist;
    uint32_t nfree;
    int multishot; /* multishot accept usable */
    rdv_evq ready;
    char why[160]; /* the last failure, for errmsg() */
};

/* The last failed call into b->why, as a status. EEXIST from entering
 * the ring only ever means one thing, said in words. */
static int fail(rdv_backend *b, const char *call, int err)
{
    if (err == EEXIST) {
        snprintf(b->why, sizeof b->why,
                 "%s: the ring is single-issuer and this is not the thread "
                 "that connected the context",
                 call);
        return RDV_EIO;
    }
    return rdv_backend_sys_fail(b->why, sizeof b->why, call, err);
}

static const char *uring_errmsg(const rdv_backend *b)
{
    return b->why;
}

static int ring_setup(struct io_uring *ring)
{
    static const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    size_t first = 0;
    int ret = -EINVAL;

#ifdef RDV_HAVE_VALGRIND
    /* wait_some_polling() sleeps in poll(), which deferred or
     * cooperative task work would never wake */
    if (RUNNING_ON_VALGRIND)
        first = 2;
#endif
    for (size_t i = first; i < sizeof attempts / sizeof attempts[0]; i++) {
        struct io_uring_params p;

        memset(&p, 0, sizeof p);
        /* a deep CQ: a rank busy in the store must not back it up */
        p.flags = attempts[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = 4096;
        ret = io_uring_queue_init_params(512, ring, &p);
        if (ret != -EINVAL)
            break;
    }
    return ret;
}

static int ring_probe(struct io_uring *ring, char *errbuf, size_t errlen)
{
    static const struct {
        int op;
        const char *name;
    } need[] = {
        {IORING_OP_CONNECT, "connect"}, {IORING_OP_ACCEPT, "accept"},
        {IORING_OP_SEND, "send"},       {IORING_OP_RECV, "recv"},
        {IORING_OP_LINK_TIMEOUT, "link_timeout"},
        {IORING_OP_ASYNC_CANCEL, "async_cancel"},
    };
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    int ret = 0;

    if (!probe) {
        snprintf(errbuf, errlen, "io_uring: cannot probe opcodes");
        return -ENOSYS;
    }
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!io_uring_opcode_supported(probe, need[i].op)) {
            snprintf(errbuf, errlen, "io_uring: kernel lacks opcode %s",
                     need[i].name);
            ret = -ENOSYS;
            break;
        }
    }
    io_uring_free_probe(probe);
    return ret;
}

static int uring_create(rdv_backend **out, char *errbuf, size_t errlen)
{
    rdv_backend *b = calloc(1, sizeof *b);
    int ret;

    if (!b) {
        snprintf(errbuf, errlen, "io_uring: out of memory");
        return RDV_ENOMEM;
    }
    ret = ring_setup(&b->ring);
    if (ret < 0) {
        snprintf(errbuf, errlen, "io_uring_setup: %s", strerror(-ret));
        free(b);
        /* refused by policy or an old kernel: epoll will do */
        if (ret == -EPERM || ret == -ENOSYS || ret == -EINVAL)
            return RDV_ENOTSUP;
        return ret == -ENOMEM ? RDV_ENOMEM : RDV_EIO;
    }
    /* The kernel already opens ring fds close-on-exec; say so anyway. */
    fcntl(b->ring.ring_fd, F_SETFD, FD_CLOEXEC);
    if (ring_probe(&b->ring, errbuf, errlen) < 0) {
        io_uring_queue_exit(&b->ring);
        free(b);
        return RDV_ENOTSUP;
    }
    b->multishot = 1;
    *out = b;
    return RDV_OK;
}

static int reap(rdv_backend *b);

/* One io_uring_submit, the attempt `tries` of a caller's loop. Should
 * the kernel push back (-EBUSY/-EAGAIN while completions are backed up,
 * -EINTR), reaping into the ready queue makes room for the next try.
 * RDV_EIO (b->why set) on any other error, or when 16 tries did not do. */
static int submit_step(rdv_backend *b, int tries)
{
    int ret;

    if (tries == 16)
        return fail(b, "io_uring_submit (16 tries)", EBUSY);
    ret = io_uring_submit(&b->ring);
    if (ret >= 0)
        return RDV_OK;
    if (ret != -EBUSY && ret != -EAGAIN && ret != -EINTR)
        return fail(b, "io_uring_submit", -ret);
    io_uring_get_events(&b->ring);
    reap(b);
    return RDV_OK;
}

/* Makes room for `need` SQEs by submitting what is queued. */
static int sq_reserve(rdv_backend *b, unsigned need)
{
    int ret = RDV_OK;

    for (int tries = 0;
         ret == RDV_OK && io_uring_sq_space_left(&b->ring) < need; tries++)
        ret = submit_step(b, tries);
    return ret;
}

/* Hands the kernel every SQE it has not consumed yet. */
static int sq_flush(rdv_backend *b)
{
    int ret = RDV_OK;

    for (int tries = 0; ret == RDV_OK && io_uring_sq_ready(&b->ring) > 0;
         tries++)
        ret = submit_step(b, tries);
    return ret;
}

/* Only after sq_reserve(): the SQ has room, so this never fails. */
static struct io_uring_sqe *sqe_get(rdv_backend *b)
{
    return io_uring_get_sqe(&b->ring);
}

/* A free slot's index in *out. */
static int slot_new(rdv_backend *b, int fd, int kind, uint64_t tag,
                    void *buf, uint32_t *out)
{
    uint32_t i = 0, gen = 1;

    if (b->nfree > 0) {
        i = b->freelist[--b->nfree];
        gen = b->slots[i].gen + 1;
    } else {
        if (b->nslots == b->cap) {
            uint32_t cap = b->cap ? b->cap * 2 : 128;
            uslot *s;
            uint32_t *fl;
            int ret;

            /* queued SQEs may point into slots: the kernel reads them
             * first, or the slots stay where they are */
            if ((ret = sq_flush(b)) != RDV_OK)
                return ret;
            s = realloc(b->slots, cap * sizeof *s);
            if (!s)
                return fail(b, "growing the slots", ENOMEM);
            b->slots = s;
            fl = realloc(b->freelist, cap * sizeof *fl);
            if (!fl)
                return fail(b, "growing the slots", ENOMEM);
            b->freelist = fl;
            b->cap = cap;
        }
        i = b->nslots++;
    }
    memset(&b->slots[i], 0, sizeof b->slots[i]);
    b->slots[i].gen = gen ? gen : 1;
    b->slots[i].tag = tag;
    b->slots[i].fd = fd;
    b->slots[i].kind = kind;
    b->slots[i].buf = buf;
    b->slots[i].active = 1;
    *out = i;
    return RDV_OK;
}

/* The user_data of slot i's op: generation and index + 1. */
static uint64_t slot_ud(const rdv_backend *b, uint32_t i)
{
    return (uint64_t)b->slots[i].gen << 32 | ((uint64_t)i + 1);
}

static void slot_free(rdv_backend *b, uint32_t i)
{
    b->slots[i].active = 0;
    b->freelist[b->nfree++] = i;
}

/* Links an absolute timeout to the op just prepared in sqe. */
static void link_deadline(rdv_backend *b, struct io_uring_sqe *sqe,
                          uint32_t i, int64_t deadline)
{
    struct io_uring_sqe *t;

    if (deadline == RDV_DEADLINE_NONE)
        return;
    b->slots[i].timed = 1;
    b->slots[i].ts.tv_sec = deadline / 1000000000;
    b->slots[i].ts.tv_nsec = deadline % 1000000000;
    sqe->flags |= IOSQE_IO_LINK;
    t = sqe_get(b); /* the caller reserved two */
    io_uring_prep_link_timeout(t, &b->slots[i].ts, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(t, 0);
}

/* Room for `need` SQEs, then a slot for the op. */
static int op_begin(rdv_backend *b, unsigned need, int fd, int kind,
                    uint64_t tag, void *buf, uint32_t *i)
{
    int ret = sq_reserve(b, need);

    return ret != RDV_OK ? ret : slot_new(b, fd, kind, tag, buf, i);
}

static int uring_connect(rdv_backend *b, int fd, const struct sockaddr *sa,
                         socklen_t salen, uint64_t tag, int64_t deadline)
{
    struct io_uring_sqe *sqe;
    uint32_t i = 0;
    int ret;

    if (salen > sizeof b->slots[0].sa)
        return fail(b, "connect", EINVAL);
    if ((ret = op_begin(b, 2, fd, K_CONNECT, tag, NULL, &i)) != RDV_OK)
        return ret;
    /* sa is the caller's: the kernel reads the slot's copy */
    memcpy(&b->slots[i].sa, sa, salen);
    sqe = sqe_get(b);
    io_uring_prep_connect(sqe, fd, (struct sockaddr *)&b->slots[i].sa,
                          salen);
    io_uring_sqe_set_data64(sqe, slot_ud(b, i));
    link_deadline(b, sqe, i, deadline);
    return RDV_OK;
}

static int prep_accept(rdv_backend *b, uint32_t i)
{
    struct io_uring_sqe *sqe;
    int ret = sq_reserve(b, 1);

    if (ret != RDV_OK)
        return ret;
    sqe = sqe_get(b);

    if (b->multishot)
        io_uring_prep_multishot_accept(sqe, b->slots[i].fd, NULL, NULL,
                                       SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe, b->slots[i].fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, slot_ud(b, i));
    return RDV_OK;
}

static int uring_accept(rdv_backend *b, int fd, uint64_t tag)
{
    uint32_t i = 0;
    int ret = slot_new(b, fd, K_ACCEPT, tag, NULL, &i);

    if (ret != RDV_OK)
        return ret;
    ret = prep_accept(b, i);
    if (ret != RDV_OK)
        slot_free(b, i); /* nothing was queued for it */
    return ret;
}

static int uring_send(rdv_backend *b, int fd, const void *buf, size_t len,
                      uint64_t tag)
{
    struct io_uring_sqe *sqe;
    uint32_t i = 0;
    int ret = op_begin(b, 1, fd, K_SEND, tag, (void *)buf, &i);

    if (ret != RDV_OK)
        return ret;
    sqe = sqe_get(b);
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, slot_ud(b, i));
    return RDV_OK;
}

static int uring_recv(rdv_backend *b, int fd, void *buf, size_t len,
                      uint64_t tag, int64_t deadline)
{
    struct io_uring_sqe *sqe;
    uint32_t i = 0;
    int ret = op_begin(b, 2, fd, K_RECV, tag, buf, &i);

    if (ret != RDV_OK)
        return ret;
    sqe = sqe_get(b);
    io_uring_prep_recv(sqe, fd, buf, len, 0);
    io_uring_sqe_set_data64(sqe, slot_ud(b, i));
    link_deadline(b, sqe, i, deadline);
    return RDV_OK;
}

/* Turns one CQE into a queued event, or drops it. */
static void cqe_handle(rdv_backend *b, const struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    uint32_t idx = (uint32_t)ud;
    uslot *s;
    int res = cqe->res;
    int more;

    if (idx == 0 || idx > b->nslots)
        return; /* a linked timeout's own completion */
    s = &b->slots[idx - 1];
    if (!s->active || s->gen != (uint32_t)(ud >> 32))
        return;
    more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (s->kind == K_RECV && res > 0) {
#ifdef RDV_HAVE_VALGRIND
        VALGRIND_MAKE_MEM_DEFINED(s->buf, (size_t)res);
#endif
    }
    if (s->kind == K_ACCEPT && !s->discard && res == -EINVAL &&
        b->multishot && !s->got_one) {
        b->multishot = 0; /* old kernel: fall back to one-shot accept */
        if (prep_accept(b, idx - 1) == RDV_OK)
            return;
        res = -EBUSY;
    }
    if (s->kind == K_ACCEPT && res >= 0)
        s->got_one = 1;
    if (s->timed && res == -ECANCELED && !s->discard)
        res = -ETIME;
    if (s->discard) {
        if (s->kind == K_ACCEPT && res >= 0)
            close(res);
    } else {
        int keep = s->kind == K_ACCEPT && res >= 0;

        /* one-shot accept stays armed the way multishot would */
        if (keep && !more && !b->multishot)
            more = prep_accept(b, idx - 1) == RDV_OK;
        if (rdv_evq_push(&b->ready, s->fd, s->tag, res, more,
                         s->kind == K_ACCEPT) != RDV_OK &&
            s->kind == K_ACCEPT && res >= 0)
            close(res);
    }
    if (!more)
        slot_free(b, idx - 1);
}

static int reap(rdv_backend *b)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    io_uring_for_each_cqe(&b->ring, head, cqe)
    {
        cqe_handle(b, cqe);
        n++;
    }
    io_uring_cq_advance(&b->ring, n);
    return (int)n;
}

/* Under valgrind: submits, then blocks in poll() on the ring until a
 * CQE or the deadline. Valgrind (3.19) does not know io_uring_enter
 * can block, so it holds its big lock through the wait and every other
 * thread of the process stops (a store server's engine thread would
 * starve the thread that stops it); poll() it knows. */
static int wait_some_polling(rdv_backend *b, int64_t deadline)
{
    struct pollfd p = {.fd = b->ring.ring_fd, .events = POLLIN};
    int ret = io_uring_submit(&b->ring);

    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
        return fail(b, "io_uring_submit", -ret);
    while (io_uring_cq_ready(&b->ring) == 0) {
        int ms = -1;

        if (deadline != RDV_DEADLINE_NONE) {
            int64_t left = deadline - rdv_now_ns();

            if (left <= 0)
                break;
            ms = (int)((left + 999999) / 1000000);
        }
        if (poll(&p, 1, ms) == 0)
            break;
        /* a deferred-taskrun ring posts its CQEs only when asked */
        ret = io_uring_get_events(&b->ring);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
            return fail(b, "io_uring_get_events", -ret);
    }
    return RDV_OK;
}

/* Submits what is queued and waits for at least one CQE or the
 * deadline; handles EINTR itself. */
static int wait_some(rdv_backend *b, int64_t deadline)
{
#ifdef RDV_HAVE_VALGRIND
    if (RUNNING_ON_VALGRIND)
        return wait_some_polling(b, deadline);
#endif
    for (;;) {
        struct io_uring_cqe *cqe = NULL;
        struct __kernel_timespec ts, *tp = NULL;
        int ret;

        if (deadline != RDV_DEADLINE_NONE) {
            int64_t left = deadline - rdv_now_ns();

            if (left < 0)
                left = 0;
            ts.tv_sec = left / 1000000000;
            ts.tv_nsec = left % 1000000000;
            tp = &ts;
        }
        ret = io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, tp, NULL);
        if (ret >= 0 || ret == -ETIME)
            return RDV_OK;
        if (ret == -EINTR)
            continue; /* a signal never ends the wait early */
        if (ret == -EAGAIN || ret == -EBUSY) {
            reap(b); /* CQ backed up: make room and go on */
            continue;
        }
        return fail(b, "io_uring_submit_and_wait_timeout", -ret);
    }
}

static void uring_forget(rdv_backend *b, int fd)
{
    int pending = 0;

    for (uint32_t i = 0; i < b->nslots; i++) {
        uslot *s = &b->slots[i];

        if (!s->active || s->fd != fd || s->discard)
            continue;
        s->discard = 1;
        pending++;
        if (sq_reserve(b, 1) != RDV_OK)
            continue; /* it still ends, cancelled or not: waited below */
        struct io_uring_sqe *sqe = sqe_get(b);
        io_uring_prep_cancel64(sqe, slot_ud(b, i), 0);
        io_uring_sqe_set_data64(sqe, 0);
    }
    rdv_evq_drop_fd(&b->ready, fd);
    /* Cancelling socket ops completes at once; the bound only guards
     * against a kernel that never answers. */
    int64_t until = rdv_now_ns() + 2000000000;
    while (pending > 0 && rdv_now_ns() < until) {
        if (wait_some(b, until) != RDV_OK)
            break;
        reap(b);
        pending = 0;
        for (uint32_t i = 0; i < b->nslots; i++)
            if (b->slots[i].active && b->slots[i].fd == fd &&
                b->slots[i].discard)
                pending++;
    }
}

static int uring_poll(rdv_backend *b, rdv_event *evs, int max,
                      int64_t deadline)
{
    int ret;

    if (b->ready.len == 0)
        reap(b);
    /* events are ready: only hand the kernel what is queued */
    ret = b->ready.len ? sq_flush(b) : wait_some(b, deadline);
    if (ret != RDV_OK)
        return ret;
    reap(b);
    return rdv_evq_pop(&b->ready, evs, max);
}

static void uring_destroy(rdv_backend *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < b->nslots; i++)
        if (b->slots[i].active && !b->slots[i].discard)
            uring_forget(b, b->slots[i].fd);
    io_uring_queue_exit(&b->ring);
    rdv_evq_free(&b->ready);
    free(b->slots);
    free(b->freelist);
    free(b);
}

const rdv_backend_ops rdv_backend_uring = {
    .name = "uring",
    .nonblocking = 0,
    .tries_at_once = 0,
    .create = uring_create,
    .destroy = uring_destroy,
    .connect = uring_connect,
    .accept = uring_accept,
    .send = uring_send,
    .recv = uring_recv,
    .forget = uring_forget,
    .poll = uring_poll,
    .errmsg = uring_errmsg,
};
