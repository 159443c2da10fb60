/*
 * harness/run/launch.c - the parent's side of `rdv launch`.
 *
 * Each rank is forked by run/supervise.c (its own process group, a
 * pidfd per rank, the deadline, kill and reap), sets the env://
 * variables (RDV_STORE, RDV_RANK, RDV_SIZE, RDV_JOB) and the fault
 * variables (RDV_FAULTS, RDV_SEED, RDV_FAULTS_LOG), and execs the
 * program. librdv inside the program reads them
 * (fault-injection/runtime/env_install.c); the parent does the plan's
 * parent-side share: a late start (proc.start-late, after the server
 * events planned before it: run/start_late.h) before the exec,
 * SIGCONT after a proc.stop.
 *
 * Choices:
 *  - The job id is random (getrandom): two launches against one store
 *    never share keys, and no-leak lists exactly this job's keys.
 *  - A store the ranks cannot share after exec (hash:, in memory) is a
 *    usage error.
 *  - Server faults act as in rdv run (run/server_side.h): on the server
 *    the user names, or on a tcp://…?serve=1 store's, which a process of
 *    the launch's own serves for the whole job (the ranks get the URL
 *    with serve=0: otherwise the first rank to bind would serve, and
 *    take the store with it when it exits before the others). The ranks'
 *    RDV_STORE is the fault proxy's URL when the plan needs one.
 *  - What fired is judged, not what was written (as in rdv run): the
 *    ranks' librdv ORs each fault that took effect into its rank's mask
 *    in a memfd the parent maps and the ranks inherit
 *    (RDV_FAULTS_FIRED_FD). A fault that fired nowhere -- p=0, nth=
 *    past the last call, a program that never opens a store -- cannot
 *    have made the program fail, and is not expected to. When no rank's
 *    librdv attached to the masks (a program that never opens a store,
 *    an older librdv), nothing is known and the plan is judged as
 *    written.
 *  - --context-checks: each rank's librdv writes its context's record
 *    (made, failed with what, or connected with the ends of its socket
 *    to every peer) into a memfd the ranks inherit
 *    (RDV_CONTEXT_REPORT_FD, ref/src/context_report.h), and the parent
 *    judges rdv run's mesh-consistent on it with rdv run's judge
 *    (rdv_check_judge) in run/launch_contexts.c. A rank that reported
 *    nothing makes it a SKIP naming the rank: nothing was seen of it.
 *  - Progress goes to stderr while the ranks run (a live line on a
 *    terminal, else a line per rank that ends: report/launch_progress.h),
 *    driven by the supervisor's exits and its timer, which it shares
 *    with the server faults' driver.
 *  - The judges are those that hold for any program. Whether the
 *    program's results are right is its own business (its exit code).
 *    Under a fatal fault the culprit rank is excused and every survivor
 *    must fail, as in rdv run: a program that succeeds through a fatal
 *    fault did not notice it.
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/exit_code.h"
#include "rdv/clock.h"
#include "rdv/url.h"
#include "run/checks.h"
#include "run/launch.h"
#include "run/launch_contexts.h"
#include "report/launch_progress.h"
#include "run/leak.h"
#include "run/server_side.h"

typedef struct launch_job {
    const rdv_launch_config *cfg;
    const char *job;
    const char *store_url; /* RDV_STORE: maybe the proxy's or serve=0 */
    int fired_fd;      /* the memfd of the fired masks, or -1 */
    uint64_t *fired;   /* its mapping: one mask per rank, then one
                          word per rank its librdv sets when it maps it */
    int report_fd;     /* --context-checks: the contexts' records, or -1 */
    void *report;      /* its mapping (run/launch_contexts.h) */
    rdv_server_side *side;
    int side_done;     /* its driver has nothing left to do */
    rdv_launch_progress progress;
} launch_job;

/* DIR/rank-R.log becomes stdout and stderr. 0, or -1 with errno. */
static int redirect_output(const char *dir, int rank)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof path, "%s/rank-%d.log", dir, rank);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        return -1;
    close(fd);
    return 0;
}

/* NAME=FD:DEV:INODE, and fd kept open across the exec; NAME unset for
 * fd -1. DEV:INODE let librdv tell the launch's fd from whatever a
 * process the rank started holds at that number. */
static int set_fd_env(const char *name, int fd)
{
    char v[80];
    struct stat st;

    if (fd < 0)
        return unsetenv(name);
    if (fstat(fd, &st))
        return -1;
    snprintf(v, sizeof v, "%d:%llu:%llu", fd, (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    return setenv(name, v, 1) | fcntl(fd, F_SETFD, 0);
}

static int set_env(const launch_job *lj, int rank)
{
    const rdv_launch_config *cfg = lj->cfg;
    const char *job = lj->job;
    char num[32], path[4096];
    int rc = 0;

    snprintf(num, sizeof num, "%d", rank);
    rc |= setenv("RDV_STORE", lj->store_url, 1);
    rc |= setenv("RDV_RANK", num, 1);
    snprintf(num, sizeof num, "%d", cfg->nranks);
    rc |= setenv("RDV_SIZE", num, 1);
    rc |= setenv("RDV_JOB", job, 1);
    snprintf(num, sizeof num, "%llu", (unsigned long long)cfg->seed);
    rc |= setenv("RDV_SEED", num, 1);
    if (cfg->faults_spec)
        rc |= setenv("RDV_FAULTS", cfg->faults_spec, 1);
    else
        rc |= unsetenv("RDV_FAULTS");
    /* The fds the program inherits on purpose. */
    rc |= set_fd_env("RDV_FAULTS_FIRED_FD", lj->fired_fd);
    rc |= set_fd_env("RDV_CONTEXT_REPORT_FD", lj->report_fd);
    if (cfg->faults_spec && cfg->logs_dir) {
        snprintf(path, sizeof path, "%s/rank-%d.faults.log", cfg->logs_dir,
                 rank);
        rc |= setenv("RDV_FAULTS_LOG", path, 1);
    } else {
        rc |= unsetenv("RDV_FAULTS_LOG");
    }
    return rc;
}

/* In the child: 127 when the program could not be started, as a shell
 * says. */
static int launch_rank(void *arg, int rank)
{
    const launch_job *lj = arg;
    const rdv_launch_config *cfg = lj->cfg;

    /* A late start keeps the plan's order (run/start_late.h). */
    rdv_start_late(lj->side->gate,
                   rdv_faults_start_delay_ms(cfg->faults, cfg->seed, rank),
                   cfg->timeout_ms);
    if (cfg->logs_dir && redirect_output(cfg->logs_dir, rank)) {
        fprintf(stderr, "rdv launch: rank %d: cannot write %s/rank-%d.log: "
                "%s\n", rank, cfg->logs_dir, rank, strerror(errno));
        return 127;
    }
    if (set_env(lj, rank)) {
        fprintf(stderr, "rdv launch: rank %d: cannot set the environment: "
                "%s\n", rank, strerror(errno));
        return 127;
    }
    execvp(cfg->argv[0], cfg->argv);
    fprintf(stderr, "rdv launch: rank %d: cannot run '%s': %s\n", rank,
            cfg->argv[0], strerror(errno));
    return 127;
}

static int stop_ms(void *arg, int rank)
{
    const launch_job *lj = arg;

    return rdv_faults_stop_ms(lj->cfg->faults, lj->cfg->seed, rank);
}

/* The supervisor's timer: the server faults' driver, when the plan has
 * any, and the live progress line, when stderr shows one. The ms until
 * either is due next, or -1 for never. */
static int launch_timer(void *arg)
{
    launch_job *lj = arg;
    int srv = lj->side->srv && !lj->side_done
                  ? rdv_server_side_tick(lj->side) : -1;
    int prog = rdv_launch_progress_tick(&lj->progress);

    lj->side_done = srv < 0;
    if (srv < 0 || (prog >= 0 && prog < srv))
        return prog;
    return srv;
}

static void make_job_id(char *buf, size_t cap)
{
    uint64_t v = 0;

    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
        v = (uint64_t)rdv_now_ns() ^ ((uint64_t)getpid() << 32);
    snprintf(buf, cap, "launch-%016llx", (unsigned long long)v);
}

static rdv_check *check_add(rdv_launch_report *rep, rdv_check_id id,
                            const char *name)
{
    rdv_check *c = &rep->checks[rep->nchecks++];

    memset(c, 0, sizeof *c);
    c->id = id;
    c->name = name;
    c->verdict = RDV_CHECK_PASS;
    return c;
}

/* Appends "; "-separated detail and fails the check. */
static void check_fail(rdv_check *c, const char *what)
{
    size_t o = strlen(c->detail);

    c->verdict = RDV_CHECK_FAIL;
    if (o + 8 >= sizeof c->detail) {
        c->untold++;
        return;
    }
    snprintf(c->detail + o, sizeof c->detail - o, "%s%s", o ? "; " : "",
             what);
}

/* How rank r ended; NULL when it exited 0. */
static const char *outcome(const rdv_rank_exit *e, int r, char *buf,
                           size_t cap)
{
    if (e->hung)
        snprintf(buf, cap, "rank %d hung (see no-hang)", r);
    else if (e->signo)
        snprintf(buf, cap, "rank %d killed by signal %d (%s)", r, e->signo,
                 strsignal(e->signo));
    else if (e->code == 127)
        snprintf(buf, cap, "rank %d exited with code 127 (could not "
                 "start the program?)", r);
    else if (e->code)
        snprintf(buf, cap, "rank %d exited with code %d", r, e->code);
    else
        return NULL;
    return buf;
}

static void judge_ranks_ok(const rdv_launch_config *cfg,
                           rdv_launch_report *rep)
{
    rdv_check *c = check_add(rep, RDV_CHECK_RANKS_OK, "ranks-ok");
    const rdv_faults_expect *x = &rep->expect;
    char buf[400];
    int judged = 0;

    /* The plan did not happen as written: no verdict can stand on it. */
    if (rep->server_error[0]) {
        snprintf(buf, sizeof buf, "a server fault could not be applied: "
                 "%s", rep->server_error);
        check_fail(c, buf);
    }
    for (int r = 0; r < cfg->nranks; r++) {
        const char *why = outcome(&rep->exits[r], r, buf, sizeof buf);

        if (x->fatal && x->culprit == r)
            continue;
        judged++;
        if (!x->fatal && why) {
            check_fail(c, why);
        } else if (x->fatal && !why) {
            snprintf(buf, sizeof buf, "rank %d exited 0 although the fault "
                     "is fatal", r);
            check_fail(c, buf);
        }
    }
    if (!judged) {
        c->verdict = RDV_CHECK_SKIP;
        snprintf(c->detail, sizeof c->detail, "the only rank is the "
                 "fault's culprit: no survivor to judge");
    } else if (c->verdict == RDV_CHECK_PASS) {
        snprintf(c->detail, sizeof c->detail, x->fatal
                 ? "every survivor failed, as the fault requires"
                 : "%d of %d ranks exited 0", cfg->nranks, cfg->nranks);
    }
}

static void judge_no_hang(const rdv_launch_config *cfg,
                          rdv_launch_report *rep)
{
    rdv_check *c = check_add(rep, RDV_CHECK_NO_HANG, "no-hang");
    char buf[160];

    for (int r = 0; r < cfg->nranks; r++) {
        if (!rep->exits[r].hung)
            continue;
        snprintf(buf, sizeof buf, "rank %d (pid %d) still running at the "
                 "%d ms deadline: killed", r, (int)rep->exits[r].pid,
                 cfg->timeout_ms);
        check_fail(c, buf);
    }
    if (c->verdict == RDV_CHECK_PASS)
        snprintf(c->detail, sizeof c->detail, "every rank ended before the "
                 "%d ms deadline", cfg->timeout_ms);
}

/* Processes left in the job's process group, and keys left under the
 * job's prefix (deleted afterwards). A store that cannot list keys
 * leaves that half unchecked: SKIP with the reason, unless processes
 * were left (FAIL). */
static void judge_no_leak(rdv_store *s, pid_t pgid, rdv_launch_report *rep)
{
    rdv_check *c = check_add(rep, RDV_CHECK_NO_LEAK, "no-leak");
    char procs[256], keys[512], prefix[64], buf[900];
    long excused = 0, left;
    int nprocs = rdv_leak_processes(pgid, procs, sizeof procs);

    snprintf(prefix, sizeof prefix, "%s/", rep->job);
    left = rdv_leak_keys(s, prefix, rep->expect.fatal ? rep->expect.culprit
                                                      : -1,
                         &excused, keys, sizeof keys);
    if (nprocs)
        check_fail(c, procs);
    if (left > 0) {
        snprintf(buf, sizeof buf, "%ld key%s left under '%s': %s", left,
                 left == 1 ? "" : "s", prefix, keys);
        check_fail(c, buf);
    }
    if (c->verdict == RDV_CHECK_FAIL)
        return;
    if (left < 0) {
        c->verdict = RDV_CHECK_SKIP;
        snprintf(c->detail, sizeof c->detail, "no process left, but the "
                 "store's keys cannot be listed (%s: %s), so keys under "
                 "'%s' were not checked", rdv_status_name((int)left),
                 rdv_store_errmsg(s), prefix);
        return;
    }
    snprintf(c->detail, sizeof c->detail, "no process left in group %d, "
             "no key left under '%s'%s", (int)pgid, prefix,
             excused ? " (the culprit's own records excused)" : "");
}

/* len zeroed bytes of memory shared with the ranks through an fd they
 * inherit (set_fd_env). 0, or -1 with err naming what. */
static int share_map(const char *what, size_t len, int *fd, void **map,
                     char *err, size_t errlen)
{
    void *m = MAP_FAILED;

    *map = NULL;
    *fd = memfd_create(what, MFD_CLOEXEC);
    if (*fd < 0 || ftruncate(*fd, (off_t)len) ||
        (m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd,
                  0)) == MAP_FAILED) {
        snprintf(err, errlen, "cannot share memory with the ranks (%s): %s",
                 what, strerror(errno));
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return -1;
    }
    *map = m;
    return 0;
}

static size_t fired_len(const launch_job *lj)
{
    return 2 * (size_t)lj->cfg->nranks * sizeof(uint64_t);
}

/* The masks the ranks publish what fired into (RDV_FAULTS_FIRED_FD):
 * only under faults; and the records of their contexts
 * (RDV_CONTEXT_REPORT_FD): only with --context-checks. 0, or -1 with
 * err. */
static int shared_map(launch_job *lj, char *err, size_t errlen)
{
    void *m;

    lj->fired_fd = lj->report_fd = -1;
    lj->fired = NULL;
    lj->report = NULL;
    if (lj->cfg->faults) {
        if (share_map("rdv-launch-fired", fired_len(lj), &lj->fired_fd, &m,
                      err, errlen))
            return -1;
        lj->fired = m;
    }
    if (lj->cfg->context_checks) {
        if (share_map("rdv-launch-contexts",
                      rdv_launch_contexts_size(lj->cfg->nranks),
                      &lj->report_fd, &lj->report, err, errlen))
            return -1;
        rdv_launch_contexts_stamp(lj->report, lj->cfg->nranks);
    }
    return 0;
}

static void shared_unmap(launch_job *lj)
{
    if (lj->fired)
        munmap(lj->fired, fired_len(lj));
    if (lj->fired_fd >= 0)
        close(lj->fired_fd);
    if (lj->report)
        munmap(lj->report, rdv_launch_contexts_size(lj->cfg->nranks));
    if (lj->report_fd >= 0)
        close(lj->report_fd);
    lj->fired = NULL;
    lj->report = NULL;
    lj->fired_fd = lj->report_fd = -1;
}

/* A store the launched programs can share, opened in the parent. */
static int open_store(const rdv_launch_config *cfg, const char *url,
                      rdv_store **s, char *err, size_t errlen)
{
    char why[1024], shown[512];
    int rc = rdv_store_open(url, s, why, sizeof why);

    rdv_url_redact(cfg->store_url, shown, sizeof shown);
    if (rc) {
        snprintf(err, errlen, "cannot open the store: %s", why);
        return rdv_exit_store_open(rc);
    }
    if ((rdv_store_flags(*s) & RDV_STORE_PROCESS_LOCAL) ||
        rdv_store_is_inherited(*s)) {
        snprintf(err, errlen, "store URL '%s' lives in the memory of this "
                 "process: a launched program cannot share it after exec; "
                 "use file://, redis://, unix:// or tcp:// (rdv "
                 "store-server)", shown);
        rdv_store_close(*s);
        *s = NULL;
        return RDV_EXIT_USAGE;
    }
    return RDV_EXIT_OK;
}

int rdv_launch_run(const rdv_launch_config *cfg, rdv_launch_report *rep,
                   char *err, size_t errlen)
{
    launch_job lj = {.cfg = cfg, .job = rep->job};
    rdv_server_side side;
    char rank_url[1024];
    rdv_supervise_opts so = {.nranks = cfg->nranks, .fn = launch_rank,
                             .arg = &lj, .stop_ms = stop_ms};
    rdv_store *s = NULL;
    int64_t t0;
    pid_t pgid = 0;
    int code;

    memset(rep, 0, sizeof *rep);
    make_job_id(rep->job, sizeof rep->job);
    code = rdv_server_side_open(&side, cfg->store_url, cfg->faults,
                                cfg->restart_cmd, cfg->server_pid,
                                cfg->server_proxy, err, errlen);
    if (code) {
        rdv_server_side_close(&side);
        return code == RDV_ENOTSUP || code == RDV_EINVAL
                   ? RDV_EXIT_USAGE : RDV_EXIT_CANNOT_RUN;
    }
    if ((code = open_store(cfg, side.own.url, &s, err, errlen))) {
        rdv_server_side_close(&side);
        return code;
    }
    if (shared_map(&lj, err, errlen) ||
        rdv_server_side_begin(&side, cfg->seed, cfg->timeout_ms, rank_url,
                              sizeof rank_url, err, errlen)) {
        shared_unmap(&lj);
        rdv_store_close(s);
        rdv_server_side_close(&side);
        return RDV_EXIT_CANNOT_RUN;
    }
    lj.store_url = rank_url;
    lj.side = &side;
    so.timer = launch_timer;
    so.timer_arg = &lj;
    so.exited = rdv_launch_progress_exited;
    so.exited_arg = &lj.progress;
    fflush(NULL); /* nothing buffered is written twice by the children */
    t0 = rdv_now_ns();
    rdv_launch_progress_start(&lj.progress, cfg->nranks, t0,
                              !cfg->logs_dir);
    rdv_server_side_clock(&side, t0);
    so.deadline_ns = t0 + (int64_t)cfg->timeout_ms * 1000000;
    code = rdv_supervise(&so, rep->exits, &pgid, err, errlen);
    rdv_launch_progress_clear(&lj.progress);
    rdv_server_side_end(&side);
    snprintf(rep->server_error, sizeof rep->server_error, "%s", side.err);
    if (code) {
        shared_unmap(&lj);
        rdv_store_close(s);
        rdv_server_side_close(&side);
        return RDV_EXIT_CANNOT_RUN;
    }
    rep->elapsed_ms = (double)(rdv_now_ns() - t0) / 1e6;
    for (int i = 0; lj.fired && i < cfg->nranks; i++) {
        rep->fired |= __atomic_load_n(&lj.fired[i], __ATOMIC_ACQUIRE);
        rep->fired_known |= (int)__atomic_load_n(&lj.fired[cfg->nranks + i],
                                                 __ATOMIC_ACQUIRE);
    }
    /* No rank's librdv said what fired (none opened a store or context,
     * or an older librdv): judged as written, as before. */
    rdv_faults_expect_get(cfg->faults, cfg->seed, cfg->nranks,
                          cfg->timeout_ms,
                          rep->fired_known ? &rep->fired : NULL,
                          &rep->expect);
    judge_ranks_ok(cfg, rep);
    if (lj.report)
        rdv_launch_judge_contexts(cfg, lj.report, rep);
    shared_unmap(&lj);
    judge_no_hang(cfg, rep);
    judge_no_leak(s, pgid, rep);
    rdv_store_close(s);
    rdv_server_side_close(&side);
    for (int i = 0; i < rep->nchecks; i++)
        rep->failed |= rep->checks[i].verdict == RDV_CHECK_FAIL;
    return rep->failed ? RDV_EXIT_FAIL : RDV_EXIT_OK;
}
