/*
 * harness/schedule/sequencer.c - the sequencer thread and its protocol
 * (the contract is in sequencer.h).
 *
 * Choices:
 *   - A thread, not the supervisor's poll loop: the supervisor stays a
 *     supervisor, and the sequencer's waits (a 1 ms tick while a rank
 *     settles) never delay an exit or the deadline. It starts once
 *     every rank is forked (rdv_sequencer_start), so no rank inherits
 *     its memory or locks.
 *   - SOCK_SEQPACKET: one message per request, grant or done, no
 *     framing; EOF when a rank exits or is killed, because each rank
 *     closes every end but its own right after fork.
 *   - The log is what the parent saw, in grant order, so it is the same
 *     for every store; a rank's key travels in its request.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rdv/clock.h"
#include "rdv/store_ops.h"
#include "schedule/sequencer.h"

#define SETTLE_START_MS 5000 /* a rank's first request, after fork */
#define SETTLE_IDLE_MS 2000  /* its next request, after a done */
#define BLOCKED_MS 1         /* asleep this long without running */
#define LONG_OP_MS 1000     /* an op holds its turn at most this long */
/* pct's change points fall in the first STEPS_PER_RANK * N steps: about
 * the ops of a rendezvous and a short workload. */
#define STEPS_PER_RANK 12

enum { MSG_TURN = 1, MSG_GRANT, MSG_DONE };

typedef struct seq_msg {
    uint8_t type;
    uint8_t op;
    uint8_t blocked;
    uint8_t expire; /* grant: the deadline passed, last try */
    int32_t rc;
    int64_t deadline; /* turn: the op's, RDV_DEADLINE_NONE if none */
    char key[RDV_EVENT_KEY_MAX];
} seq_msg;

enum { ST_START, ST_IDLE, ST_PENDING, ST_RUNNING, ST_DEAD };

typedef struct seq_rank {
    int fd;        /* the parent's end */
    int child_fd;  /* the rank's end (closed in the parent at stop) */
    int st;
    int parked;
    int detached;  /* running past LONG_OP_MS */
    int op;
    int64_t deadline;
    char key[RDV_EVENT_KEY_MAX];
    int64_t since; /* when st last changed */
    int gave_up;   /* past its SETTLE bound in this state */
    int64_t blk_since; /* first seen asleep (is_blocked), or 0 */
    long long blk_cpu; /* its CPU time then */
    size_t entry;  /* its log entry while running */
} seq_rank;

typedef struct seq_entry {
    int rank;
    int op;
    int rc;
    int blocked;
    int done;
    char key[RDV_EVENT_KEY_MAX];
} seq_entry;

struct rdv_sequencer {
    int nranks;
    const rdv_result_area *area;
    rdv_schedule sched;
    int stop_pipe[2];
    pthread_t thread;
    int thread_started;
    seq_rank *ranks;
    seq_entry *log;
    size_t nlog, caplog;
    rdv_sequencer_stats stats;
};

/* Reads a small /proc file into buf (NUL-terminated): its length, or -1.
 * No stdio: this runs every millisecond while a rank settles. */
static ssize_t read_proc(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

/* Whether rank r's main thread has been asleep, without running, for
 * BLOCKED_MS: it waits on something outside the store (a peer's connect,
 * a collective, a fault's sleep or stop), so waiting for its next
 * request could deadlock. A thread that merely ran between two looks,
 * or is runnable, is not blocked. The look reads the thread's state in
 * /proc/PID/task/PID/stat and its CPU time in .../schedstat. */
static int is_blocked(rdv_sequencer *q, seq_rank *k, int r, int64_t now)
{
    pid_t pid = rdv_result_area_slot(q->area, r)->pid;
    char path[64], buf[512], *p;
    long long cpu = -1;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)pid);
    /* Gone: it exited, and the parent's copy of its socket end keeps
     * the EOF from showing until the run ends. */
    if (read_proc(path, buf, sizeof buf) < 0)
        return 1;
    p = strrchr(buf, ')');
    if (!p || !p[1] || !strchr("StTZX", p[2])) {
        k->blk_since = 0;
        return 0;
    }
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid,
             (int)pid);
    if (read_proc(path, buf, sizeof buf) <= 0 ||
        sscanf(buf, "%lld", &cpu) != 1)
        cpu = -1;
    if (!k->blk_since || cpu != k->blk_cpu) {
        k->blk_since = now;
        k->blk_cpu = cpu;
        return 0;
    }
    return now - k->blk_since >= (int64_t)BLOCKED_MS * 1000000;
}

static void set_state(seq_rank *k, int st)
{
    k->st = st;
    k->blk_since = 0;
    k->gave_up = 0;
    k->since = rdv_now_ns();
}

static int is_write(int op)
{
    return op == RDV_STORE_OP_SET || op == RDV_STORE_OP_ADD ||
           op == RDV_STORE_OP_COMPARE_SET || op == RDV_STORE_OP_MULTI_SET ||
           op == RDV_STORE_OP_DELETE || op == RDV_STORE_OP_DELETE_PREFIX;
}

static void on_done(rdv_sequencer *q, int r, const seq_msg *m)
{
    seq_rank *k = &q->ranks[r];

    if (k->st != ST_RUNNING)
        return; /* a done without a turn: a protocol slip, ignored */
    if (k->entry < q->nlog) {
        q->log[k->entry].rc = m->rc;
        q->log[k->entry].blocked = m->blocked;
        q->log[k->entry].done = 1;
    }
    k->parked = m->blocked;
    k->detached = 0;
    set_state(k, ST_IDLE);
    /* A write may be what a parked rank waits for: retry them all
     * (waking too many costs a try each; too few would hang). */
    if (is_write(m->op) && m->rc == 0)
        for (int i = 0; i < q->nranks; i++)
            if (i != r)
                q->ranks[i].parked = 0;
}

/* Reads one message of rank r, if one is there; returns 1 when it did. */
static int on_message(rdv_sequencer *q, int r)
{
    seq_rank *k = &q->ranks[r];
    seq_msg m;
    ssize_t n = recv(k->fd, &m, sizeof m, MSG_DONTWAIT);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        set_state(k, ST_DEAD);
        return 0;
    }
    if (m.type == MSG_DONE) {
        on_done(q, r, &m);
    } else if (m.type == MSG_TURN && k->st != ST_RUNNING) {
        k->op = m.op;
        k->deadline = m.deadline;
        memcpy(k->key, m.key, sizeof k->key);
        k->key[sizeof k->key - 1] = '\0';
        set_state(k, ST_PENDING);
    }
    return 1;
}

static int log_push(rdv_sequencer *q, int r)
{
    seq_entry *e;

    if (q->nlog == q->caplog) {
        size_t cap = q->caplog ? 2 * q->caplog : 1024;
        seq_entry *grown = realloc(q->log, cap * sizeof *grown);

        if (!grown)
            return -1;
        q->log = grown;
        q->caplog = cap;
    }
    e = &q->log[q->nlog];
    memset(e, 0, sizeof *e);
    e->rank = r;
    e->op = q->ranks[r].op;
    memcpy(e->key, q->ranks[r].key, sizeof e->key);
    q->ranks[r].entry = q->nlog++;
    return 0;
}

static void grant(rdv_sequencer *q, int r, int expire)
{
    seq_rank *k = &q->ranks[r];
    seq_msg m = {.type = MSG_GRANT, .expire = (uint8_t)expire};

    q->stats.steps++;
    q->stats.expired += expire != 0;
    k->parked = 0;
    k->entry = (size_t)-1;
    log_push(q, r);
    set_state(k, ST_RUNNING);
    if (send(k->fd, &m, sizeof m, MSG_NOSIGNAL) < 0)
        set_state(k, ST_DEAD);
}

/* Every rank is parked, blocked outside the store or gone: nothing can
 * set what the parked ones wait for. Once a parked op's deadline has
 * passed, it gets its last try (picked by the schedule among those
 * due); until then the sequencer sleeps, so a parked rank's deadline
 * counts only while nothing else can happen: the order of turns does
 * not depend on how fast the ranks ran. */
static int expire_one(rdv_sequencer *q, int64_t now)
{
    unsigned char due[RDV_RUN_MAX_RANKS];
    int64_t next = RDV_DEADLINE_NONE;
    int ndue = 0;

    for (int r = 0; r < q->nranks; r++) {
        const seq_rank *k = &q->ranks[r];

        due[r] = k->st == ST_PENDING && k->parked && k->deadline <= now;
        ndue += due[r];
        if (k->st == ST_PENDING && k->parked && k->deadline > now &&
            k->deadline < next)
            next = k->deadline;
    }
    if (ndue) {
        grant(q, rdv_schedule_pick(&q->sched, due), 1);
        return 0;
    }
    if (next == RDV_DEADLINE_NONE)
        return -1;
    return (int)((next - now) / 1000000) + 1;
}

/* One decision; returns the poll timeout until the next (ms, -1 = only
 * a message can change anything). */
static int decide(rdv_sequencer *q)
{
    unsigned char ready[RDV_RUN_MAX_RANKS];
    int64_t now = rdv_now_ns(), wait_ns = -1;
    int nready = 0, unsettled = 0, running = 0;

    for (int r = 0; r < q->nranks; r++) {
        seq_rank *k = &q->ranks[r];
        int64_t bound = 0;

        ready[r] = k->st == ST_PENDING && !k->parked;
        nready += ready[r];
        if (k->st == ST_RUNNING && !k->detached) {
            if (now - k->since < (int64_t)LONG_OP_MS * 1000000) {
                running = 1;
                bound = k->since + (int64_t)LONG_OP_MS * 1000000;
            } else {
                k->detached = 1;
                q->stats.long_ops++;
            }
        } else if ((k->st == ST_START || k->st == ST_IDLE) &&
                   !is_blocked(q, k, r, now)) {
            int ms = k->st == ST_START ? SETTLE_START_MS : SETTLE_IDLE_MS;

            if (now - k->since < (int64_t)ms * 1000000) {
                unsettled++;
                bound = now + 1000000; /* look at it again in 1 ms */
            } else if (!k->gave_up) {
                k->gave_up = 1; /* no longer waited for: inexact */
                q->stats.unsettled++;
            }
        }
        if (bound && (wait_ns < 0 || bound - now < wait_ns))
            wait_ns = bound - now;
    }
    if (running)
        return (int)(wait_ns / 1000000) + 1;
    if (unsettled)
        return 1;
    if (nready) {
        grant(q, rdv_schedule_pick(&q->sched, ready), 0);
        return 0;
    }
    return expire_one(q, now);
}

static int all_dead(const rdv_sequencer *q)
{
    for (int r = 0; r < q->nranks; r++)
        if (q->ranks[r].st != ST_DEAD)
            return 0;
    return 1;
}

/* The event loop: messages in, one decision per round. */
static void *seq_thread(void *arg)
{
    rdv_sequencer *q = arg;
    struct pollfd *pfd = calloc((size_t)q->nranks + 1, sizeof *pfd);
    int *who = calloc((size_t)q->nranks + 1, sizeof *who);

    while (pfd && who && !all_dead(q)) {
        int timeout = decide(q), n = 0;

        for (int r = 0; r < q->nranks; r++) {
            if (q->ranks[r].st == ST_DEAD)
                continue;
            who[n] = r;
            pfd[n++] = (struct pollfd){.fd = q->ranks[r].fd,
                                       .events = POLLIN};
        }
        pfd[n] = (struct pollfd){.fd = q->stop_pipe[0], .events = POLLIN};
        if (poll(pfd, (nfds_t)n + 1, timeout) < 0 && errno != EINTR)
            break;
        if (pfd[n].revents)
            break;
        for (int i = 0; i < n; i++)
            if (pfd[i].revents)
                on_message(q, who[i]);
    }
    /* Stopped once every rank has exited: what they sent last (the
     * result of their last op) may still be unread. */
    for (int r = 0; r < q->nranks; r++)
        while (q->ranks[r].st != ST_DEAD && on_message(q, r))
            ;
    free(pfd);
    free(who);
    return NULL;
}

int rdv_sequencer_open(const rdv_schedule_spec *spec, int nranks,
                       const rdv_result_area *area, rdv_sequencer **out,
                       char *err, size_t errlen)
{
    rdv_sequencer *q = calloc(1, sizeof *q);

    *out = NULL;
    if (!q || !(q->ranks = calloc((size_t)nranks, sizeof *q->ranks))) {
        free(q);
        snprintf(err, errlen, "sequencer: out of memory");
        return RDV_ENOMEM;
    }
    q->nranks = nranks;
    q->area = area;
    q->stop_pipe[0] = q->stop_pipe[1] = -1;
    rdv_schedule_init(&q->sched, spec, nranks,
                      (uint64_t)STEPS_PER_RANK * (uint64_t)nranks);
    for (int r = 0; r < nranks; r++)
        q->ranks[r].fd = q->ranks[r].child_fd = -1;
    for (int r = 0; r < nranks; r++) {
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
            goto fail;
        q->ranks[r].fd = sv[0];
        q->ranks[r].child_fd = sv[1];
        set_state(&q->ranks[r], ST_START);
    }
    if (pipe2(q->stop_pipe, O_CLOEXEC) < 0)
        goto fail;
    *out = q;
    return RDV_OK;
fail:
    snprintf(err, errlen, "sequencer: cannot set up its sockets: %s",
             strerror(errno));
    rdv_sequencer_stop(q, NULL);
    rdv_sequencer_free(q);
    return RDV_EIO;
}

int rdv_sequencer_start(rdv_sequencer *q, char *err, size_t errlen)
{
    int rc = pthread_create(&q->thread, NULL, seq_thread, q);

    if (rc) {
        snprintf(err, errlen, "sequencer: cannot start its thread: %s",
                 strerror(rc));
        return RDV_EIO;
    }
    q->thread_started = 1;
    return RDV_OK;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int rdv_sequencer_rank_fd(rdv_sequencer *q, int rank)
{
    int fd;

    if (!q)
        return -1;
    fd = q->ranks[rank].child_fd;
    /* Only the rank's own end stays open, so its exit is the parent's
     * EOF; the other ranks' ends would keep theirs alive. */
    for (int r = 0; r < q->nranks; r++) {
        close(q->ranks[r].fd);
        if (r != rank)
            close(q->ranks[r].child_fd);
    }
    close(q->stop_pipe[0]);
    close(q->stop_pipe[1]);
    return fd;
}

void rdv_sequencer_stop(rdv_sequencer *q, rdv_sequencer_stats *stats)
{
    if (!q)
        return;
    if (q->thread_started) {
        ssize_t w = write(q->stop_pipe[1], "x", 1);

        (void)w; /* a full pipe still wakes the thread */
        pthread_join(q->thread, NULL);
        q->thread_started = 0;
    }
    for (int r = 0; r < q->nranks; r++) {
        close_fd(&q->ranks[r].fd);
        close_fd(&q->ranks[r].child_fd);
    }
    close_fd(&q->stop_pipe[0]);
    close_fd(&q->stop_pipe[1]);
    if (stats)
        *stats = q->stats;
}

void rdv_sequencer_log_write(const rdv_sequencer *q, FILE *f)
{
    char sched[64];

    fprintf(f, "# schedule %s: %llu turns, %llu given before every rank "
            "settled, %llu ops past their turn, %llu parked ops timed out\n", rdv_schedule_text(&q->sched.spec, sched, sizeof sched),
            (unsigned long long)q->stats.steps,
            (unsigned long long)q->stats.unsettled,
            (unsigned long long)q->stats.long_ops,
            (unsigned long long)q->stats.expired);
    for (size_t i = 0; i < q->nlog; i++) {
        const seq_entry *e = &q->log[i];
        const char *op = rdv_store_op_name((rdv_store_op)e->op);

        fprintf(f, "%zu rank %d %s %s -> %s%s\n", i + 1, e->rank,
                op ? op : "?", e->key,
                e->done ? rdv_status_name(e->rc) : "(no result)",
                e->blocked ? " (parked)" : "");
    }
}

void rdv_sequencer_free(rdv_sequencer *q)
{
    if (!q)
        return;
    free(q->log);
    free(q->ranks);
    free(q);
}

/* Rank side. */

static int send_all(int fd, const seq_msg *m)
{
    ssize_t n;

    do
        n = send(fd, m, sizeof *m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *m ? 0 : -1;
}

int rdv_sequencer_turn(int fd, int op, const char *key, int64_t deadline,
                       int *expire)
{
    seq_msg m = {.type = MSG_TURN, .op = (uint8_t)op, .deadline = deadline};
    ssize_t n;

    rdv_key_printable(key ? key : "", m.key, sizeof m.key);
    if (send_all(fd, &m))
        return -1;
    do
        n = recv(fd, &m, sizeof m, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0 || m.type != MSG_GRANT)
        return -1;
    *expire = m.expire;
    return 0;
}

int rdv_sequencer_done(int fd, int op, int rc, int blocked)
{
    seq_msg m = {.type = MSG_DONE, .op = (uint8_t)op,
                 .blocked = (uint8_t)(blocked != 0), .rc = rc};

    return send_all(fd, &m);
}
