/*
 * harness/conform/conform_isolate.c - runs one conform clause in a process of
 * its own, so a store that segfaults, aborts or hangs fails that clause
 * with evidence and `rdv conform` carries on with the next one.
 *
 * Choices:
 * - The verdict travels through a MAP_SHARED page, written before the
 *   child exits and flagged `done` last: a child that dies before it got
 *   there had no verdict, whatever its exit code says.
 * - The child leads a new process group, so the clause's own forked
 *   racers are killed with it when the watchdog fires; conform is their
 *   subreaper (PR_SET_CHILD_SUBREAPER), so orphans come back to it to be
 *   reaped instead of lingering under init.
 * - The watchdog waits on a pidfd with poll(): no signal handlers, no
 *   SIGCHLD races, and a plain timeout. Without pidfds (old kernels) it
 *   falls back to polling waitpid every 10 ms.
 * - Two limits: the clause's budget (rdv_clause.budget_ms, or
 *   --clause-timeout), and, looked at every WATCH_TICK_MS, the store
 *   calls in flight that the clause's handles record in the result page
 *   (conform/clause_watch.c): one past its own bound ends the clause at
 *   once, and the evidence names it ("try_get 'k' (timeout 0) blocked
 *   for 2000 ms: timeout 0 must try once"). A clause killed at its
 *   budget names the oldest call still in flight, if any.
 * - The child's stdout goes to stderr: the report on stdout stays clean
 *   whatever a store prints.
 * - The clause's group is not the terminal's, so ^C would not reach it:
 *   while a clause runs, SIGINT/SIGTERM/SIGHUP are blocked and read from
 *   a signalfd in the same poll; on one, the clause group is killed and
 *   reaped, and conform dies of that same signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conform/conform_cmd.h"
#include "rdv/clock.h"

#define WATCH_TICK_MS 50 /* how often the calls in flight are looked at */

/* The progress hook (conform_isolate_on_tick): the parent's alone, set
 * between clauses. */
static void (*tick_fn)(void *arg);
static void *tick_arg;

void conform_isolate_on_tick(void (*tick)(void *arg), void *arg)
{
    tick_fn = tick;
    tick_arg = arg;
}

void conform_isolate_init(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int conform_verdict(conform_out *out, rdv_verdict v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out->r.evidence, sizeof out->r.evidence, fmt, ap);
    va_end(ap);
    out->r.verdict = v;
    return v == RDV_VERDICT_PASS;
}

static void child_main(const conform_clause *c, const conform_env *env,
                       conform_out *out)
{
    setpgid(0, 0);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    signal(SIGPIPE, SIG_DFL);
    out->r.verdict = RDV_VERDICT_FAIL;
    snprintf(out->r.evidence, sizeof out->r.evidence,
             "clause %s returned without a verdict", c->name);
    if (c->lib)
        rdv_contract_run(c->lib, &env->base, &out->r);
    else
        c->run(env, out);
    __atomic_store_n(&out->done, 1, __ATOMIC_RELEASE);
    fflush(NULL);
    exit(0); /* exit(), not _exit(): sanitizers check the child too */
}

static int pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0); /* always CLOEXEC */
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* Waits for pid until deadline_ns, until a store call the clause made
 * runs past its bound (the call watch, clause_watch.c: its evidence goes
 * to overrun), or until a stop signal (SIGINT, SIGTERM, SIGHUP) arrives
 * on sfd. Returns 1 with *status when pid ended, 0 when the deadline
 * passed, 2 on an overrun (3 when the call had no timeout of its own),
 * -1 with *signo on a stop signal. */
static int wait_until(pid_t pid, int64_t deadline_ns, int sfd, int *status,
                      int *signo, const conform_out *out, char *overrun,
                      size_t cap)
{
    int fd = pidfd_for(pid);
    pid_t r;
    int over = 0;

    for (;;) {
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN},
                              {.fd = fd, .events = POLLIN}};
        int left = rdv_deadline_left_ms(deadline_ns);
        struct signalfd_siginfo si;

        r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR) || left == 0)
            break;
        if ((over = rdv_clause_overrun(&out->r, rdv_now_ns(), overrun,
                                       cap))) {
            r = -3;
            break;
        }
        if (tick_fn)
            tick_fn(tick_arg);
        /* Wake every WATCH_TICK_MS to look at the calls in flight (and,
         * without a pidfd, every 10 ms to poll waitpid). */
        if (poll(p, fd >= 0 ? 2 : 1,
                 left < (fd >= 0 ? WATCH_TICK_MS : 10)
                     ? left : (fd >= 0 ? WATCH_TICK_MS : 10)) > 0 &&
            (p[0].revents & POLLIN) &&
            read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            *signo = (int)si.ssi_signo;
            r = -2;
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    return r == pid ? 1 : r == -2 ? -1 : r == -3 ? 1 + over : 0;
}

/* Reaps orphans that already ended, then kills what is still running
 * in the clause's process group and reaps what comes back to us, for at
 * most two seconds (a process outside the group is not ours to wait
 * for). Returns 1 when something was still running. */
static int kill_group(pid_t pgid)
{
    int64_t until = rdv_now_ns() + 2000000000LL;
    int running;

    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    running = kill(-pgid, 0) == 0;
    if (!running)
        return 0;
    kill(-pgid, SIGKILL);
    while (kill(-pgid, 0) == 0 && rdv_now_ns() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};

        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        nanosleep(&ts, NULL);
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return 1;
}

/* The oldest store call still in flight, "what for N ms", in buf; 0
 * when none is. */
static int in_flight(const conform_out *out, char *buf, size_t cap)
{
    int64_t now = rdv_now_ns(), oldest = 0;

    buf[0] = '\0';
    for (int i = 0; i < RDV_CLAUSE_CALLS; i++) {
        const rdv_clause_call *k = &out->r.calls[i];
        int64_t t0 = __atomic_load_n(&k->t0_ns, __ATOMIC_ACQUIRE);

        if (!t0 || (oldest && t0 >= oldest))
            continue;
        oldest = t0;
        snprintf(buf, cap, "%.*s for %lld ms", (int)sizeof k->what,
                 k->what, (long long)((now - t0) / 1000000));
    }
    return oldest != 0;
}

static void describe_death(const conform_clause *c, int status,
                           conform_result *res)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);

        snprintf(res->evidence, sizeof res->evidence,
                 "clause %s: store crashed with SIG%s (%s) before a "
                 "verdict%s", c->name, abbrev ? abbrev : "?",
                 strsignal(sig), WCOREDUMP(status) ? "; core dumped" : "");
    } else {
        snprintf(res->evidence, sizeof res->evidence,
                 "clause %s: its process exited with status %d before a "
                 "verdict (a crash caught by a sanitizer or an exit() in "
                 "the store: see stderr)", c->name, WEXITSTATUS(status));
    }
}

void conform_isolate(const conform_clause *c, const conform_env *env,
                     int limit_ms, conform_result *res, unsigned *out_flags)
{
    conform_out *out = mmap(NULL, sizeof *out, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int64_t t0 = rdv_now_ns();
    int status = 0, ended, stray, sfd, signo = 0;
    char overrun[600] = "";
    sigset_t stop, old_mask;
    pid_t pid;

    memset(res, 0, sizeof *res);
    res->c = c;
    res->verdict = RDV_VERDICT_FAIL;
    if (out == MAP_FAILED) {
        snprintf(res->evidence, sizeof res->evidence,
                 "cannot map the result page: %s", strerror(errno));
        return;
    }
    memset(out, 0, sizeof *out);
    /* The clause leads its own process group, out of reach of a ^C on
     * the terminal: take the stop signals as data while it runs, so the
     * clause dies with us instead of living on. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, &old_mask);
    sfd = signalfd(-1, &stop, SFD_CLOEXEC);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        child_main(c, env, out);
    }
    if (pid < 0) {
        snprintf(res->evidence, sizeof res->evidence, "fork: %s",
                 strerror(errno));
        goto done;
    }
    setpgid(pid, pid); /* also here: no window before the child does it */
    ended = wait_until(pid, t0 + (int64_t)limit_ms * 1000000, sfd, &status,
                       &signo, out, overrun, sizeof overrun);
    if (ended != 1) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    stray = kill_group(pid);
    if (ended < 0) { /* stopped by the user: die of the same signal */
        close(sfd);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        signal(signo, SIG_DFL);
        raise(signo);
    }
    res->ms = (rdv_now_ns() - t0) / 1000000;
    if (ended >= 2) {
        res->plain_hang = ended == 3;
        snprintf(res->evidence, sizeof res->evidence, "%s (clause killed "
                 "after %lld ms)", overrun, (long long)res->ms);
    } else if (!ended) {
        /* Past the budget with no call overrunning its own bound: a call
         * with no limit, or the clause's own work, took this long. */
        snprintf(res->evidence, sizeof res->evidence,
                 "clause %s: no verdict within its budget of %d ms, "
                 "killed%s%s", c->name, limit_ms,
                 in_flight(out, overrun, sizeof overrun) ? "; in flight: "
                                                          : "",
                 overrun);
    } else if (!__atomic_load_n(&out->done, __ATOMIC_ACQUIRE)) {
        describe_death(c, status, res);
    } else {
        res->verdict = out->r.verdict;
        snprintf(res->evidence, sizeof res->evidence, "%s",
                 out->r.evidence);
        if (stray && res->verdict != RDV_VERDICT_FAIL) {
            res->verdict = RDV_VERDICT_FAIL;
            snprintf(res->evidence, sizeof res->evidence,
                     "clause %s left processes running after its verdict "
                     "(%s); killed them", c->name, out->r.evidence);
        }
        if (out_flags)
            *out_flags = out->store_flags;
    }
done:
    if (sfd >= 0)
        close(sfd);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    munmap(out, sizeof *out);
}
