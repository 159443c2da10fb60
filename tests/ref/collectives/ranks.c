/*
 * ranks.c - forked-rank meshes for the collectives tests (see ranks.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "context_internal.h"
#include "ranks.h"
#include "rdv/store.h"

int64_t ranks_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ranks_shrunk(void)
{
    const char *e = getenv("RDV_TEST_SHRINK");

    return e && *e && strcmp(e, "0");
}

void rank_note(rank_slot *me, const char *fmt, ...)
{
    va_list ap;

    if (me->msg[0])
        return;
    va_start(ap, fmt);
    vsnprintf(me->msg, sizeof me->msg, fmt, ap);
    va_end(ap);
}

static int pair_socketpair(int *a, int *b)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    *a = sv[0];
    *b = sv[1];
    return 0;
}

static int pair_tcp(int l, const struct sockaddr_in *at, int *a, int *b)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (c < 0 || connect(c, (const struct sockaddr *)at, sizeof *at) != 0)
        return -1;
    *b = c;
    *a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    return *a < 0 ? -1 : 0;
}

/* fds[i][j]: rank i's end of the pair (i, j). */
static int build_mesh(const ranks_spec *s, int fds[RANKS_MAX][RANKS_MAX])
{
    struct sockaddr_in at = {.sin_family = AF_INET};
    socklen_t al = sizeof at;
    int l = -1, rc = 0;

    for (int i = 0; i < RANKS_MAX; i++)
        for (int j = 0; j < RANKS_MAX; j++)
            fds[i][j] = -1;
    if (s->mesh == MESH_TCP) {
        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (l < 0 || bind(l, (struct sockaddr *)&at, sizeof at) != 0 ||
            listen(l, 64) != 0 ||
            getsockname(l, (struct sockaddr *)&at, &al) != 0)
            rc = -1;
    }
    for (int i = 0; i < s->n && rc == 0; i++)
        for (int j = i + 1; j < s->n && rc == 0; j++)
            rc = s->mesh == MESH_TCP
                     ? pair_tcp(l, &at, &fds[i][j], &fds[j][i])
                     : pair_socketpair(&fds[i][j], &fds[j][i]);
    if (l >= 0)
        close(l);
    return rc;
}

static void close_mesh(int fds[RANKS_MAX][RANKS_MAX], int keep)
{
    for (int i = 0; i < RANKS_MAX; i++)
        for (int j = 0; j < RANKS_MAX; j++)
            if (i != keep && fds[i][j] >= 0)
                close(fds[i][j]);
}

static void rank_main(const ranks_spec *s, int r,
                      int fds[RANKS_MAX][RANKS_MAX], rdv_store *store,
                      rank_fn fn, void *arg, rank_slot *me)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    char err[256], job[64];

    close_mesh(fds, r);
    snprintf(job, sizeof job, "coll-test-%d", (int)getppid());
    o.rank = r;
    o.size = s->n;
    o.timeout_ms = s->timeout_ms;
    o.hooks = s->hooks[r];
    o.job = job;
    o.bind = "127.0.0.1";
    if (rdv_context_create(&o, &ctx, err, sizeof err) != RDV_OK) {
        rank_note(me, "rank %d: context: %s", r, err);
        me->status = 1;
    } else if ((store ? rdv_context_connect_full_mesh(ctx, store)
                      : rdv_context_connect_fds(ctx, fds[r])) != RDV_OK) {
        rank_note(me, "rank %d: connect: %s", r, rdv_context_errmsg(ctx));
        me->status = 1;
    } else {
        me->status = fn(ctx, r, s->n, arg, me);
    }
    me->done = 1;
    rdv_context_destroy(ctx);
    if (store)
        rdv_store_close(store);
    exit(0);
}

rdv_context *ranks_solo(int timeout_ms)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    int none = -1;
    char err[256];

    o.timeout_ms = timeout_ms;
    if (rdv_context_create(&o, &ctx, err, sizeof err) != RDV_OK) {
        fprintf(stderr, "solo context: %s\n", err);
        return NULL;
    }
    if (rdv_context_connect_fds(ctx, &none) != RDV_OK) {
        fprintf(stderr, "solo context: %s\n", rdv_context_errmsg(ctx));
        rdv_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

static int supervise(pid_t *pids, int n, int64_t deadline_ms)
{
    int left = 0, hung = 0;

    for (int r = 0; r < n; r++)
        left += pids[r] > 0;

    while (left > 0) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);

        if (p > 0) {
            for (int r = 0; r < n; r++)
                if (pids[r] == p) {
                    pids[r] = 0;
                    left--;
                }
            continue;
        }
        if (ranks_now_ms() >= deadline_ms)
            break;
        usleep(2000);
    }
    for (int r = 0; r < n; r++) {
        if (pids[r] > 0) {
            kill(pids[r], SIGKILL);
            waitpid(pids[r], NULL, 0);
            hung++;
        }
    }
    return hung;
}

rank_slot *ranks_run(const ranks_spec *s, rank_fn fn, void *arg, int *hung)
{
    int fds[RANKS_MAX][RANKS_MAX];
    pid_t pids[RANKS_MAX] = {0};
    size_t bytes = sizeof(rank_slot) * (size_t)s->n;
    rank_slot *slots = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int64_t deadline = ranks_now_ms() + s->supervise_ms;
    rdv_store *store = NULL;

    *hung = 0;
    if (slots == MAP_FAILED)
        return NULL;
    memset(slots, 0, bytes);
    if (s->mesh == MESH_RENDEZVOUS) {
        char err[256];
        for (int i = 0; i < RANKS_MAX; i++)
            for (int j = 0; j < RANKS_MAX; j++)
                fds[i][j] = -1;
        if (rdv_store_open("hash:?shared=1", &store, err, sizeof err)) {
            snprintf(slots[0].msg, sizeof slots[0].msg, "store: %s", err);
            slots[0].status = 1;
            return slots;
        }
    } else if (build_mesh(s, fds) != 0) {
        close_mesh(fds, -1);
        snprintf(slots[0].msg, sizeof slots[0].msg, "cannot build mesh");
        slots[0].status = 1;
        return slots;
    }
    fflush(NULL);
    for (int r = 0; r < s->n; r++) {
        pids[r] = fork();
        if (pids[r] == 0)
            rank_main(s, r, fds, store, fn, arg, &slots[r]);
        if (pids[r] < 0) {
            pids[r] = 0;
            slots[r].status = 1;
            rank_note(&slots[r], "fork failed");
        }
    }
    close_mesh(fds, -1);
    *hung = supervise(pids, s->n, deadline);
    if (store)
        rdv_store_close(store);
    return slots;
}

void ranks_free(rank_slot *slots, int n)
{
    if (slots)
        munmap(slots, sizeof(rank_slot) * (size_t)n);
}
