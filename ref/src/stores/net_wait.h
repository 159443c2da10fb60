/*
 * stores/net_wait.h - how the network stores (redis, tcp) wait: every
 * wait of a call is one ppoll on its socket and on the handle's cancel
 * eventfd, bounded by an absolute deadline, and retries are paced with
 * jittered backoff. One copy for both stores.
 *
 * Fork: the eventfd belongs to the pid that made it. A forked child
 * takes the switch over with rdv_cancel_adopt() before its first wait:
 * a fresh eventfd (cancelled or not, as it was), so closing a handle in
 * the child never wakes the parent's calls, and the parent's never
 * wakes the child's.
 */
#ifndef RDV_STORES_NET_WAIT_H
#define RDV_STORES_NET_WAIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A handle's cancel switch: once fired, every current and future wait
 * on it returns RDV_ECANCELED. */
typedef struct rdv_cancel {
    _Atomic int fired;
    _Atomic pid_t pid; /* owner of fd */
    int fd;            /* eventfd, readable once fired */
} rdv_cancel;

/* RDV_OK, or RDV_EIO with the errno in errbuf ("what: eventfd: ..."). */
int rdv_cancel_init(rdv_cancel *c, const char *what, char *errbuf,
                    size_t errlen);
void rdv_cancel_destroy(rdv_cancel *c);
/* Fires the switch. Thread-safe; from any thread of the owning process
 * it wakes the waits at once (in a child that has not adopted the
 * switch it only marks the child's copy). */
void rdv_cancel_fire(rdv_cancel *c);
int rdv_cancel_fired(rdv_cancel *c);
/* In a process other than the owner (a forked child): a fresh eventfd
 * for this pid. 0 nothing to do, 1 adopted (the caller drops the
 * connections it inherited, without I/O on them), RDV_EIO when the
 * eventfd cannot be made. The caller serialises it with its other
 * calls on the handle. */
int rdv_cancel_adopt(rdv_cancel *c);

/* Waits until fd has one of events (fd < 0: only for the switch) or the
 * deadline (absolute CLOCK_MONOTONIC ns, RDV_DEADLINE_NONE: none)
 * passes; past it, still looks once, so what is already there counts.
 * EINTR is retried. RDV_OK, RDV_ETIMEDOUT, RDV_ECANCELED or RDV_EIO. */
int rdv_cancel_wait(rdv_cancel *c, int fd, short events, int64_t deadline);
/* rdv_cancel_wait after a spin of up to spin_ns: fd is polled without
 * sleeping, yielding the CPU between looks. A loopback reply comes back
 * in about a round trip; catching it awake saves the wake-up of a
 * sleeping caller, a third of that round trip here. sched_yield lets
 * the server (or any other runnable task) have this core when it is
 * short of them, so the spin costs an idle core, not a busy one's
 * work. spin_ns 0 is rdv_cancel_wait. */
int rdv_cancel_wait_spin(rdv_cancel *c, int fd, short events, int64_t spin_ns,
                         int64_t deadline);
/* spin_us= of redis://, unix:// and tcp:// (0 to RDV_NET_SPIN_US_MAX).
 * A loopback round trip to a server is 20-35 us on the hosts measured:
 * most replies come back within the spin, and a blocking get whose key
 * is not there yet pays 30 us of yielding polls once, then sleeps. */
#define RDV_NET_SPIN_US_DEFAULT 30
#define RDV_NET_SPIN_US_MAX 1000
/* Sleeps ns, at most until deadline, waking early when fired.
 * RDV_ECANCELED or RDV_OK. */
int rdv_cancel_sleep(rdv_cancel *c, int64_t ns, int64_t deadline);

/* ns scaled by a random factor in [0.75, 1.25), so that many clients
 * never retry in step; seed is the caller's own (start it non-zero). */
int64_t rdv_jitter(uint64_t *seed, int64_t ns);

#endif
