#define _GNU_SOURCE /* pipe2 */
/*
 * test_strangers.c - strangers on the listeners must never starve a
 * rendezvous. Real forked ranks over real loopback sockets; a forked
 * flooder per rank reads that rank's record and throws idle (silent)
 * and garbage connections at its listener while the other ranks are
 * still arriving, on each transport. The mesh must complete within the
 * timeout + 1 s; a rendezvous that fails anyway must count the
 * strangers and name where they came from.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ranks.h"
#include "rendezvous/codec.h"
#include "store_fixture.h"

/* One connection to ss; sends len bytes of garbage when len > 0. The
 * fd, or -1 (the listener may be gone: the rank finished). */
static int knock(const struct sockaddr_storage *ss, socklen_t sl, size_t len)
{
    struct timeval tv = {.tv_sec = 2};
    uint8_t garbage[100];
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)ss, sl) < 0) {
        close(fd);
        return -1;
    }
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 37 + 11);
    if (len && send(fd, garbage, len < sizeof garbage ? len : sizeof garbage,
                    MSG_NOSIGNAL) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads rank's record, then opens `each` silent and `each` garbage
 * connections to its listener, one of each per millisecond or so (so
 * the flood overlaps the real peers' connects), and holds them open
 * until the parent closes `hold`. Exit 0 when at least one connection
 * was made, 1 when none, 20 when the record never appeared. */
static void flooder(rdv_store *s, const char *job, int rank, int each,
                    int hold)
{
    struct rlimit rl;
    char key[128], why[128];
    void *val;
    size_t len;
    rdv_record rec;
    struct sockaddr_storage ss;
    int *fds = calloc(2 * (size_t)each, sizeof *fds), made = 0;
    char c;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { /* 2 x each fds held */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    snprintf(key, sizeof key, "%s/addr/%d", job, rank);
    if (!fds || rdv_store_get(s, key, &val, &len, 20000) != RDV_OK ||
        rdv_record_decode(val, len, &rec, why, sizeof why) != RDV_OK)
        exit(20);
    free(val);
    socklen_t sl = rdv_record_sockaddr(&rec, &ss);
    for (int i = 0; i < each; i++) {
        fds[2 * i] = knock(&ss, sl, 0);
        fds[2 * i + 1] = knock(&ss, sl, 100);
        made += (fds[2 * i] >= 0) + (fds[2 * i + 1] >= 0);
        usleep(500);
    }
    while (read(hold, &c, 1) < 0) /* EOF: the ranks are done */
        ;
    for (int i = 0; i < 2 * each; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    exit(made > 0 ? 0 : 1);
}

typedef struct flood {
    pid_t pid[8];
    int n;
    int hold[2];
} flood;

/* One flooder for each of the first n ranks' listeners. */
static void flood_start(flood *fl, rdv_store *s, const char *job, int n,
                        int each)
{
    fl->n = n;
    cr_assert_eq(pipe2(fl->hold, O_CLOEXEC), 0);
    for (int r = 0; r < n; r++) {
        fl->pid[r] = fork();
        cr_assert_geq(fl->pid[r], 0);
        if (fl->pid[r] == 0) {
            close(fl->hold[1]);
            flooder(s, job, r, each, fl->hold[0]);
        }
    }
    close(fl->hold[0]);
}

static void flood_stop(flood *fl)
{
    int st;

    close(fl->hold[1]);
    for (int r = 0; r < fl->n; r++) {
        cr_assert_eq(waitpid(fl->pid[r], &st, 0), fl->pid[r]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "flooder of rank %d: status %#x (no connection made, or "
                  "no record)", r, st);
    }
}

/* 4 ranks arriving 300 ms apart; each listener gets 1000 silent and
 * 1000 garbage connections from the moment its record is published. */
static void flood_mesh(const char *transport)
{
    enum { N = 4, EACH = 1000, TIMEOUT_MS = 10000 };
    store_fixture f;
    rank_plan p;
    rank_result *r;
    flood fl;
    long long worst = 0;
    unsigned long long rejected = 0;

    fixture_open(&f, "hash");
    plan_init(&p, f.store, f.url, N, "flood", TIMEOUT_MS, -1);
    p.transport = transport;
    for (int i = 0; i < N; i++)
        p.start_delay_ms[i] = 300 * i;
    flood_start(&fl, f.store, "flood", N, EACH);
    r = plan_run(&p);
    flood_stop(&fl);
    expect_mesh_ok(&p, r);
    for (int i = 0; i < N; i++) {
        cr_expect_leq(r[i].elapsed_ms, TIMEOUT_MS + 1000,
                      "rank %d took %lld ms", i, r[i].elapsed_ms);
        cr_expect_str_eq(r[i].transport, transport);
        worst = r[i].elapsed_ms > worst ? r[i].elapsed_ms : worst;
        rejected += r[i].counters.strangers_rejected;
    }
    /* rank 0 waits 900 ms for rank 3 while its flood runs */
    cr_expect_gt(r[0].counters.strangers_rejected, 0,
                 "the flood never reached rank 0");
    fprintf(stderr,
            "strangers %s: %d ranks, %d silent + %d garbage connections per "
            "listener: slowest rank %lld ms (timeout %d ms), %llu strangers "
            "closed in all\n",
            transport, N, EACH, EACH, worst, TIMEOUT_MS, rejected);
    cr_expect_eq(store_keys(f.store), 0);
    results_free(r);
    fixture_close(&f);
}

Test(strangers, flood_uring, .timeout = 60) { flood_mesh("uring"); }
Test(strangers, flood_epoll, .timeout = 60) { flood_mesh("epoll"); }

static int refuse_all(void *arg, int peer, unsigned attempt)
{
    (void)arg;
    (void)peer;
    (void)attempt;
    return RDV_ECONN;
}

/* Rank 3 never connects (its connect hook refuses every attempt), and
 * rank 0's listener gets 50 silent and 50 garbage connections: rank 0's
 * failure names rank 3, then counts the strangers and says where they
 * came from. */
static void flood_fails(const char *transport)
{
    static const rdv_hooks refuse = {.connect = refuse_all};
    store_fixture f;
    rank_plan p;
    rank_result *r;
    flood fl;

    fixture_open(&f, "hash");
    plan_init(&p, f.store, f.url, 4, "flood-fails", 2000, -1);
    p.transport = transport;
    p.hooks[3] = &refuse;
    flood_start(&fl, f.store, "flood-fails", 1, 50);
    r = plan_run(&p);
    flood_stop(&fl);
    cr_expect_eq(r[0].status, RDV_ETIMEDOUT, "rank 0: %s: %s",
                 rdv_status_name(r[0].status), r[0].msg);
    cr_expect(strstr(r[0].msg, "rank 3") && strstr(r[0].msg, "never connected"),
              "%s", r[0].msg);
    cr_expect(strstr(r[0].msg, "incoming connections were not peers"),
              "%s", r[0].msg);
    cr_expect(strstr(r[0].msg, " from 127.0.0.1"), "%s", r[0].msg);
    cr_expect_leq(r[0].elapsed_ms, 3000, "rank 0 took %lld ms",
                  r[0].elapsed_ms);
    cr_expect_eq(r[0].fds_before, r[0].fds_after, "rank 0 leaked fds");
    results_free(r);
    fixture_close(&f);
}

Test(strangers, failure_names_strangers_uring, .timeout = 60)
{
    flood_fails("uring");
}
Test(strangers, failure_names_strangers_epoll, .timeout = 60)
{
    flood_fails("epoll");
}
