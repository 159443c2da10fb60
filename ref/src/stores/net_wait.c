/*
 * stores/net_wait.c - the network stores' waits: the cancel switch, a
 * ppoll on a socket and the switch with an absolute deadline, sleeps
 * and jitter (see net_wait.h).
 *
 * Choices:
 *  - The switch is an eventfd whose counter stays non-zero once fired,
 *    so every later ppoll wakes at once: no wake-up can be lost between
 *    checking the flag and starting to wait.
 *  - Deadlines are absolute and ppoll takes the time left in ns, so a
 *    signal (EINTR, retried) neither ends nor stretches a wait, and a
 *    deadline in the past still gets one look.
 *  - A spin before the sleep (rdv_cancel_wait_spin) is rdv_spin
 *    (spin.h) looking with poll() and a zero timeout, so it works for
 *    any fd and any events, and the ppoll after it is the same wait as
 *    without one. Unlike the transport's, its looks yield the core
 *    (sched_yield): a store's clients are often many processes on few
 *    cores (64 ranks in a rendezvous), and a spin that held its core
 *    cost such a rendezvous 12-20%; with the yield, nothing.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net_wait.h"
#include "rdv/clock.h"
#include "rdv/status.h"
#include "self_pid.h"
#include "spin.h"

int rdv_cancel_init(rdv_cancel *c, const char *what, char *errbuf,
                    size_t errlen)
{
    atomic_store(&c->fired, 0);
    atomic_store(&c->pid, rdv_self_pid());
    c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->fd < 0) {
        snprintf(errbuf, errlen, "%s: eventfd: %s", what, strerror(errno));
        return RDV_EIO;
    }
    return RDV_OK;
}

void rdv_cancel_destroy(rdv_cancel *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void rdv_cancel_fire(rdv_cancel *c)
{
    uint64_t one = 1;

    atomic_store(&c->fired, 1);
    /* A child closing a handle it inherited must not wake the parent's
     * calls through the shared eventfd. */
    if (atomic_load(&c->pid) != rdv_self_pid())
        return;
    if (write(c->fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is already non-zero; it stays so. */
    }
}

int rdv_cancel_fired(rdv_cancel *c)
{
    return atomic_load(&c->fired);
}

int rdv_cancel_adopt(rdv_cancel *c)
{
    pid_t pid = rdv_self_pid();
    int fd;

    if (atomic_load(&c->pid) == pid)
        return 0;
    fd = eventfd(atomic_load(&c->fired) ? 1 : 0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return RDV_EIO;
    close(c->fd); /* the child's copy; the parent keeps its own */
    c->fd = fd;
    atomic_store(&c->pid, pid);
    return 1;
}

int rdv_cancel_wait(rdv_cancel *c, int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = {{fd, events, 0}, {c->fd, POLLIN, 0}};
        struct timespec ts, *tp = NULL;
        int64_t left = 1;
        int n;

        if (atomic_load(&c->fired))
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

typedef struct spin_look {
    rdv_cancel *c;
    int fd;
    short events;
} spin_look;

/* rdv_spin's check: 1 when fd is ready, -1 once the switch fired (the
 * wait after it says so), else 0 after giving the core away. */
static int fd_ready(void *arg)
{
    spin_look *l = arg;
    struct pollfd p = {l->fd, l->events, 0};

    if (atomic_load(&l->c->fired))
        return -1;
    if (poll(&p, 1, 0) > 0)
        return 1;
    sched_yield();
    return 0;
}

int rdv_cancel_wait_spin(rdv_cancel *c, int fd, short events, int64_t spin_ns,
                         int64_t deadline)
{
    spin_look l = {c, fd, events};

    if (rdv_spin(fd_ready, &l, spin_ns, deadline) > 0)
        return RDV_OK;
    return rdv_cancel_wait(c, fd, events, deadline);
}

int rdv_cancel_sleep(rdv_cancel *c, int64_t ns, int64_t deadline)
{
    int64_t until = rdv_now_ns() + ns;

    if (deadline != RDV_DEADLINE_NONE && deadline < until)
        until = deadline;
    return rdv_cancel_wait(c, -1, 0, until) == RDV_ECANCELED ? RDV_ECANCELED
                                                              : RDV_OK;
}

int64_t rdv_jitter(uint64_t *seed, int64_t ns)
{
    uint64_t x = *seed ? *seed : 0x9e3779b97f4a7c15ull;

    x ^= x << 13; /* xorshift64 */
    x ^= x >> 7;
    x ^= x << 17;
    *seed = x;
    return ns * 3 / 4 + (int64_t)(x % (uint64_t)(ns / 2 + 1));
}
