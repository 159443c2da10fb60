/*
 * harness/run/supervise.c - the parent side of a run.
 *
 * Ranks are forked into a fresh process group, so one kill(-pgid) at the
 * deadline reaches every rank and anything a rank might have forked. The
 * parent waits with poll() on one pidfd per rank: no SIGCHLD handler, no
 * polling interval, and a wake-up exactly at each exit or at the
 * deadline. Only when a rank may stop itself (a proc.stop fault) does
 * the loop also tick, to notice the stop with waitid(WSTOPPED) and send
 * SIGCONT on time.
 *
 * Each child sets PR_SET_PDEATHSIG so that ranks die with the harness
 * if it is killed; they live in their own process group, where a
 * terminal's ^C would not reach them.
 *
 * Scale (N up to 1024): the pidfds are opened after every fork, so no
 * rank inherits the pidfds of the ranks forked before it (rank 1023
 * would otherwise hold 1023 fds it never uses, beside its 1023 links).
 * An unreaped child stays a zombie with its pid, so opening its pidfd
 * late is safe. Each poll() wake-up costs O(ranks still running): the
 * poll set is rebuilt with the rank of every entry beside it.
 *
 * EINTR from poll() only recomputes the timeout; the deadline stays.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run/supervise.h"

#define STOP_TICK_MS 5
#define OVERDUE_TICK_MS 50 /* a scan of every rank's slot */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void child_start(const rdv_supervise_opts *o, int rank, pid_t pgid,
                        pid_t parent)
{
    setpgid(0, pgid);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        exit(126); /* the harness died before we got here */
    exit(o->fn(o->arg, rank));
}

static void record_status(rdv_rank_exit *e, int status)
{
    e->t_exit_ns = now_ns();
    if (WIFEXITED(status)) {
        e->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        e->signo = WTERMSIG(status);
    }
}

/* Blocking reap of one rank; EINTR is retried, nothing else expected. */
static void reap(rdv_rank_exit *e)
{
    int status;
    pid_t r;

    do
        r = waitpid(e->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r == e->pid)
        record_status(e, status);
}

static void tell_exit(const rdv_supervise_opts *o, int rank,
                      const rdv_rank_exit *e)
{
    if (o->exited)
        o->exited(o->exited_arg, rank, e);
}

/* Kills the group and reaps every rank not yet reaped (pidfd >= 0). */
static void kill_and_reap(const rdv_supervise_opts *o, pid_t pgid,
                          rdv_rank_exit *exits, int *fds, int mark_hung)
{
    int running = 0, n = o->nranks;

    for (int r = 0; r < n; r++)
        running |= fds[r] >= 0;
    /* Only while a rank is unreaped is the group certainly still ours. */
    if (pgid > 0 && running)
        kill(-pgid, SIGKILL);
    for (int r = 0; r < n; r++) {
        if (fds[r] < 0)
            continue;
        exits[r].hung = mark_hung;
        reap(&exits[r]);
        close(fds[r]);
        fds[r] = -1;
        if (mark_hung)
            tell_exit(o, r, &exits[r]);
    }
}

static int fork_all(const rdv_supervise_opts *o, rdv_rank_exit *exits,
                    int *fds, pid_t *pgid, char *err, size_t errlen)
{
    pid_t parent = getpid();
    int forked, ok;

    /* Buffered output would otherwise be flushed once per rank. */
    fflush(NULL);
    for (forked = 0; forked < o->nranks; forked++) {
        pid_t pid = fork();

        if (pid == 0)
            child_start(o, forked, *pgid, parent);
        if (pid < 0) {
            snprintf(err, errlen, "fork of rank %d failed: %s", forked,
                     strerror(errno));
            break;
        }
        /* Set the group on both sides, so neither order races. */
        setpgid(pid, *pgid ? *pgid : pid);
        if (!*pgid)
            *pgid = pid;
        exits[forked].pid = pid;
    }
    ok = forked == o->nranks;
    for (int r = 0; r < forked; r++) {
        fds[r] = pidfd_open(exits[r].pid, 0); /* always close-on-exec */
        if (fds[r] >= 0)
            continue;
        if (ok)
            snprintf(err, errlen, "pidfd_open for rank %d (pid %d) failed: "
                     "%s", r, (int)exits[r].pid, strerror(errno));
        ok = 0;
        kill(exits[r].pid, SIGKILL);
        reap(&exits[r]);
    }
    return ok ? 0 : -1;
}

/* Sends SIGCONT to ranks whose stop time is over; notices new stops. */
static void handle_stops(const rdv_supervise_opts *o, rdv_rank_exit *exits,
                         int *fds, int64_t *cont_at)
{
    int64_t t = now_ns();

    for (int r = 0; r < o->nranks; r++) {
        siginfo_t si;

        if (fds[r] < 0)
            continue;
        if (cont_at[r] && t >= cont_at[r]) {
            kill(exits[r].pid, SIGCONT);
            cont_at[r] = 0;
        }
        memset(&si, 0, sizeof si);
        if (!cont_at[r] &&
            waitid(P_PID, (id_t)exits[r].pid, &si, WSTOPPED | WNOHANG) == 0 &&
            si.si_pid == exits[r].pid && si.si_code == CLD_STOPPED)
            cont_at[r] = t + (int64_t)o->stop_ms(o->arg, r) * 1000000;
    }
}

/* Until the deadline, the next timer call, or the next tick (0 = none). */
static int poll_timeout(int64_t deadline, int64_t timer_at, int tick_ms)
{
    int64_t until = timer_at && timer_at < deadline ? timer_at : deadline;
    int64_t left = until - now_ns();
    int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);

    return tick_ms && ms > tick_ms ? tick_ms : ms;
}

/* Calls the timer if it is due; returns when it is due next (0 = never). */
static int64_t run_timer(const rdv_supervise_opts *o, int64_t at)
{
    int ms;

    if (!o->timer)
        return 0;
    if (!at || now_ns() < at)
        return at;
    ms = o->timer(o->timer_arg);
    return ms < 0 ? 0 : now_ns() + (int64_t)ms * 1000000;
}

/* Waits for exits until none are left or the deadline passes. */
static void watch(const rdv_supervise_opts *o, rdv_rank_exit *exits,
                  int *fds)
{
    struct pollfd pfd[o->nranks];
    int who[o->nranks]; /* the rank of pfd[i] */
    int64_t cont_at[o->nranks];
    int left = o->nranks, stopping = 0, tick_ms;
    int64_t timer_at = run_timer(o, 1);

    memset(cont_at, 0, sizeof cont_at);
    for (int r = 0; r < o->nranks && o->stop_ms; r++)
        stopping |= o->stop_ms(o->arg, r) > 0;
    tick_ms = stopping ? STOP_TICK_MS : o->overdue ? OVERDUE_TICK_MS : 0;
    while (left > 0 && now_ns() < o->deadline_ns) {
        int n = 0, rc;

        for (int r = 0; r < o->nranks; r++) {
            if (fds[r] < 0)
                continue;
            who[n] = r;
            pfd[n++] = (struct pollfd){.fd = fds[r], .events = POLLIN};
        }
        rc = poll(pfd, (nfds_t)n,
                  poll_timeout(o->deadline_ns, timer_at, tick_ms));
        if (rc < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n && rc > 0; i++) {
            int r = who[i];

            if (!(pfd[i].revents & POLLIN))
                continue;
            reap(&exits[r]);
            close(fds[r]);
            fds[r] = -1;
            left--;
            tell_exit(o, r, &exits[r]);
        }
        if (stopping)
            handle_stops(o, exits, fds, cont_at);
        timer_at = run_timer(o, timer_at);
        if (o->overdue && left > 0 && o->overdue(o->overdue_arg))
            break;
    }
}

int rdv_supervise(const rdv_supervise_opts *o, rdv_rank_exit *exits,
                  pid_t *pgid, char *err, size_t errlen)
{
    int fds[o->nranks];
    int rc;

    *pgid = 0;
    for (int r = 0; r < o->nranks; r++) {
        exits[r] = (rdv_rank_exit){.pid = -1, .code = -1};
        fds[r] = -1;
    }
    rc = fork_all(o, exits, fds, pgid, err, errlen);
    if (rc == 0 && o->forked && o->forked(o->forked_arg, err, errlen))
        rc = -1;
    if (rc == 0)
        watch(o, exits, fds);
    /* Whatever is still running now is hung (or was never waited for
     * because starting failed): the group goes down together. */
    kill_and_reap(o, *pgid, exits, fds, rc == 0);
    return rc;
}
