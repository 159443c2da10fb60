/*
 * harness/commands/hunt_jobs.c - `rdv hunt --jobs J`: J schedules at
 * once, each a sequenced run of its own.
 *
 * Choices, and why:
 * - A worker is a forked process with its own runner (store handle,
 *   result area, sequencer), in its own process group: runs in
 *   different workers share nothing but the store, where each run has
 *   its own key prefix anyway. The workers are forked before any
 *   thread exists (the sequencer thread is per run, inside a worker).
 * - The parent hands out schedules one at a time, in order, over a pipe
 *   per worker, and gets each result back, formatted, over another. It
 *   emits results in schedule order, so what the hunt prints and writes
 *   (findings, --json, --junit) is what a serial hunt gives; it keeps at
 *   most WINDOW_PER_JOB x J results waiting for a slow one.
 * - Stopping (a failure without --keep-going, or a run that could not
 *   be made at schedule k): the hunt's last schedule becomes k. Workers
 *   on schedules below k finish (a serial hunt ran them); those above
 *   are killed, their group with one kill(-pgid), and reaped by PID.
 *   Their ranks die with them (PR_SET_PDEATHSIG in run/supervise.c); the
 *   parent is their subreaper, so it reaps them too, before it returns.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands/hunt.h"
#include "rdv/clock.h"

#define WINDOW_PER_JOB 16
#define ORPHANS_WAIT_MS 5000

typedef struct worker {
    pid_t pid;     /* 0: gone */
    int cmd_fd;    /* schedules to it */
    int res_fd;    /* results from it */
    int busy;
    uint64_t sched;
} worker;

typedef struct result_head {
    uint64_t sched;
    int status;
    char err[512];
    size_t outlen, textlen;
    rdv_junit_case jc; /* text: sent after out */
} result_head;

/* Moves all len bytes (out: writes them, else reads them). 0, or -1 at
 * end of file or on an error. */
static int move_all(int fd, void *buf, size_t len, int out)
{
    char *p = buf;

    while (len) {
        ssize_t n = out ? write(fd, p, len) : read(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    return move_all(fd, (void *)buf, len, 1);
}

static int read_all(int fd, void *buf, size_t len)
{
    return move_all(fd, buf, len, 0);
}

static int send_result(int fd, const hunt_result *res)
{
    result_head h;

    memset(&h, 0, sizeof h);
    h.sched = res->sched;
    h.status = res->status;
    memcpy(h.err, res->err, sizeof h.err);
    h.outlen = res->outlen;
    h.jc = res->jc;
    h.jc.text = NULL;
    h.textlen = res->jc.text ? strlen(res->jc.text) : 0;
    if (write_all(fd, &h, sizeof h) ||
        write_all(fd, res->out ? res->out : "", res->outlen))
        return -1;
    return write_all(fd, res->jc.text ? res->jc.text : "", h.textlen);
}

static int recv_result(int fd, hunt_result *res)
{
    result_head h;

    memset(res, 0, sizeof *res);
    if (read_all(fd, &h, sizeof h))
        return -1;
    res->sched = h.sched;
    res->status = h.status;
    memcpy(res->err, h.err, sizeof res->err);
    res->jc = h.jc;
    res->jc.text = NULL;
    res->outlen = h.outlen;
    if (!(res->out = malloc(h.outlen + 1)) ||
        read_all(fd, res->out, h.outlen))
        return -1;
    if (h.textlen && (!(res->jc.text = malloc(h.textlen + 1)) ||
                      read_all(fd, res->jc.text, h.textlen)))
        return -1;
    if (res->jc.text)
        res->jc.text[h.textlen] = '\0';
    return 0;
}

/* A worker: schedules in, results out, until the parent closes its
 * pipe. Never returns. */
static void worker_main(hunt_cmd *hc, int cmd_fd, int res_fd)
{
    rdv_runner *runner = NULL;
    char err[512] = "";
    uint64_t k;
    int code = 0;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (rdv_runner_create(&hc->cfg, &runner, err, sizeof err))
        runner = NULL;
    while (!code && !read_all(cmd_fd, &k, sizeof k)) {
        hunt_result res;

        memset(&res, 0, sizeof res);
        if (runner) {
            hunt_one(hc, runner, k, &res);
        } else {
            res.sched = k;
            res.status = HUNT_BROKEN;
            snprintf(res.err, sizeof res.err, "worker %d cannot open the "
                     "store: %.400s", (int)getpid(), err);
        }
        code = send_result(res_fd, &res);
        hunt_result_free(&res);
    }
    if (runner)
        rdv_runner_destroy(runner);
    exit(0);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Worker i: forked with pipes; it closes the pipes of the workers
 * before it (it would otherwise hold their command pipes open, and they
 * would never see the end of theirs). */
static int start_worker(hunt_cmd *hc, worker *all, int i, char *err,
                        size_t errlen)
{
    worker *w = &all[i];
    int to[2], from[2];

    if (pipe2(to, O_CLOEXEC))
        goto fail;
    if (pipe2(from, O_CLOEXEC)) {
        close(to[0]);
        close(to[1]);
        goto fail;
    }
    fflush(NULL);
    w->pid = fork();
    if (w->pid == 0) {
        for (int j = 0; j < i; j++) {
            close_fd(&all[j].cmd_fd);
            close_fd(&all[j].res_fd);
        }
        close(to[1]);
        close(from[0]);
        worker_main(hc, to[0], from[1]);
    }
    close(to[0]);
    close(from[1]);
    w->cmd_fd = to[1];
    w->res_fd = from[0];
    if (w->pid < 0) {
        w->pid = 0;
        close_fd(&w->cmd_fd);
        close_fd(&w->res_fd);
        goto fail;
    }
    setpgid(w->pid, w->pid); /* both sides: neither order races */
    return 0;
fail:
    snprintf(err, errlen, "cannot start a hunt worker: %s", strerror(errno));
    return -1;
}

/* Kills a worker's process group and reaps it. */
static void stop_worker(worker *w)
{
    if (w->pid > 0) {
        kill(-w->pid, SIGKILL);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    w->pid = 0;
    w->busy = 0;
    close_fd(&w->cmd_fd);
    close_fd(&w->res_fd);
}

/* A worker done with its schedules: it exits when its pipe closes. */
static void finish_worker(worker *w)
{
    close_fd(&w->cmd_fd);
    if (w->pid > 0)
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    w->pid = 0;
    close_fd(&w->res_fd);
}

/* The ranks of killed workers, reparented to us: reaped, bounded. */
static void reap_orphans(void)
{
    int64_t until = rdv_now_ns() + (int64_t)ORPHANS_WAIT_MS * 1000000;
    struct timespec tick = {0, 10 * 1000000};

    while (rdv_now_ns() < until) {
        pid_t p = waitpid(-1, NULL, WNOHANG);

        if (p < 0 && errno != EINTR)
            return; /* ECHILD: none left */
        if (p == 0)
            nanosleep(&tick, NULL);
    }
}

typedef struct pool {
    hunt_cmd *hc;
    worker *w;
    int n;
    hunt_result *slots; /* window: schedule k at (k - first) % window */
    unsigned char *filled;
    uint64_t window, next, emit_next, stop_at;
} pool;

static void collect(pool *p, worker *w)
{
    hunt_result res;
    uint64_t k = w->sched;

    w->busy = 0;
    if (recv_result(w->res_fd, &res) || res.sched != k) {
        hunt_result_free(&res);
        memset(&res, 0, sizeof res);
        res.sched = k;
        res.status = HUNT_BROKEN;
        snprintf(res.err, sizeof res.err, "worker %d ended without a "
                 "result", (int)w->pid);
        stop_worker(w);
    }
    if (k > p->stop_at) {
        hunt_result_free(&res);
        return;
    }
    if (res.status == HUNT_BROKEN ||
        (res.status == HUNT_FAILED && !p->hc->keep_going)) {
        p->stop_at = k;
        for (int i = 0; i < p->n; i++)
            if (p->w[i].busy && p->w[i].sched > k)
                stop_worker(&p->w[i]);
    }
    p->slots[(k - p->hc->first) % p->window] = res;
    p->filled[(k - p->hc->first) % p->window] = 1;
}

static void hand_out(pool *p)
{
    for (int i = 0; i < p->n; i++) {
        worker *w = &p->w[i];

        if (!w->pid || w->busy || p->next > p->stop_at ||
            p->next >= p->emit_next + p->window)
            continue;
        if (write_all(w->cmd_fd, &p->next, sizeof p->next)) {
            stop_worker(w);
            continue;
        }
        w->busy = 1;
        w->sched = p->next++;
    }
}

/* Waits for results; 0, or -1 when no worker is left to wait for. */
static int wait_results(pool *p)
{
    struct pollfd fds[p->n];
    int nfds = 0, idx[p->n];

    for (int i = 0; i < p->n; i++)
        if (p->w[i].busy) {
            fds[nfds].fd = p->w[i].res_fd;
            fds[nfds].events = POLLIN;
            idx[nfds++] = i;
        }
    if (!nfds)
        return -1;
    if (poll(fds, (nfds_t)nfds, -1) < 0)
        return errno == EINTR ? 0 : -1;
    for (int j = 0; j < nfds; j++)
        if (fds[j].revents && p->w[idx[j]].busy)
            collect(p, &p->w[idx[j]]);
    return 0;
}

static void emit_ready(pool *p, hunt_emit_fn emit, void *arg)
{
    for (;;) {
        uint64_t s = (p->emit_next - p->hc->first) % p->window;

        if (p->emit_next > p->stop_at || !p->filled[s])
            return;
        emit(arg, &p->slots[s]);
        hunt_result_free(&p->slots[s]);
        p->filled[s] = 0;
        p->emit_next++;
    }
}

/* The reader of stdout went away (rdv hunt --jobs 2 | head): with
 * SIGPIPE ignored, the emitter's write failed with EPIPE instead, and
 * stdout's error flag stays set (its fflush already dropped the bytes,
 * so a later fflush would succeed). */
static int stdout_gone(void)
{
    return ferror(stdout);
}

int hunt_jobs_run(hunt_cmd *hc, hunt_emit_fn emit, void *arg, char *err,
                  size_t errlen)
{
    pool p = {.hc = hc, .n = hc->jobs, .next = hc->first,
              .emit_next = hc->first, .stop_at = hc->last};
    int rc = 0, gone = 0;
    void (*old_pipe)(int) = SIG_DFL;

    p.window = (uint64_t)hc->jobs * WINDOW_PER_JOB;
    p.w = calloc((size_t)p.n, sizeof *p.w);
    p.slots = calloc(p.window, sizeof *p.slots);
    p.filled = calloc(p.window, 1);
    if (!p.w || !p.slots || !p.filled) {
        snprintf(err, errlen, "out of memory for %d hunt workers", p.n);
        rc = -1;
        goto out;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    for (int i = 0; i < p.n; i++) {
        p.w[i].cmd_fd = p.w[i].res_fd = -1;
        if (start_worker(hc, p.w, i, err, errlen)) {
            rc = -1;
            goto out;
        }
    }
    /* a worker that died leaves a pipe whose write would kill us: an
     * error instead (set after the forks, so no worker inherits it) */
    old_pipe = signal(SIGPIPE, SIG_IGN);
    while (p.emit_next <= p.stop_at) {
        hand_out(&p);
        if (wait_results(&p)) {
            snprintf(err, errlen, "every hunt worker is gone");
            rc = -1;
            break;
        }
        emit_ready(&p, emit, arg);
        if ((gone = stdout_gone()))
            break;
    }
out:
    for (int i = 0; p.w && i < p.n; i++) {
        if (p.w[i].busy)
            stop_worker(&p.w[i]);
        else
            finish_worker(&p.w[i]);
    }
    reap_orphans();
    for (uint64_t s = 0; p.filled && s < p.window; s++)
        if (p.filled[s])
            hunt_result_free(&p.slots[s]);
    free(p.w);
    free(p.slots);
    free(p.filled);
    signal(SIGPIPE, old_pipe == SIG_ERR ? SIG_DFL : old_pipe);
    if (gone) {
        raise(SIGPIPE); /* workers stopped: end as a serial hunt would */
        /* still here: SIGPIPE is ignored or blocked where we run */
        snprintf(err, errlen, "stdout can no longer be written (its "
                 "reader went away): the hunt stopped early");
        rc = -1;
    }
    return rc;
}
