/*
 * test_hooks.c - net and proc faults through the hooks: the decisions
 * themselves, then the same faults on a real TCP connection between two
 * forked ranks driven by the real transport (rdv_context_connect_fds),
 * and proc.kill / proc.stop on real processes at a real context's phase.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context_internal.h"
#include "helpers.h"
#include "rdv/transport.h"

static rdv_fault_plan *plan;
static rdv_fault_rank *fr;

static const rdv_hooks *hooks_for(const char *spec, int rank,
                                  const rdv_hooks *chain)
{
    plan = plan_of(spec);
    cr_assert_eq(rdv_fault_rank_create(plan, 3, rank, 4, NULL, &fr), RDV_OK);
    return rdv_fault_rank_hooks(fr, chain);
}

static void done(void)
{
    rdv_fault_rank_destroy(fr);
    rdv_fault_plan_free(plan);
    fr = NULL;
    plan = NULL;
}

Test(hooks, refuse_k_times_then_let_through, .fini = done)
{
    const rdv_hooks *h = hooks_for("net.refuse(rank=1, peer=0, times=2)", 1,
                                   NULL);

    cr_assert_eq(h->connect(h->arg, 0, 0), RDV_ECONN);
    cr_assert_eq(h->connect(h->arg, 0, 1), RDV_ECONN);
    cr_assert_eq(h->connect(h->arg, 0, 2), 0);
    cr_assert_eq(h->connect(h->arg, 2, 0), 0, "peer 2 is not in the set");
}

Test(hooks, delayed_connect_gives_the_delay, .fini = done)
{
    const rdv_hooks *h = hooks_for("net.delay(ms=40..60)", 1, NULL);
    int ms = h->connect(h->arg, 0, 0);

    cr_assert(ms >= 40 && ms <= 60, "delay %d", ms);
    cr_assert_eq(h->connect(h->arg, 0, 0), ms, "a pure function");
    cr_assert_eq(h->connect(h->arg, 0, 1), 0, "only the first attempt");
}

Test(hooks, reset_after_n_bytes_moves_exactly_n, .fini = done)
{
    const rdv_hooks *h = hooks_for("net.reset(peer=2, after=100, dir=send)",
                                   0, NULL);
    int64_t d = 0;

    cr_assert_eq(h->io(h->arg, 2, 1, 0, 64, &d), 64);
    cr_assert_eq(h->io(h->arg, 2, 1, 64, 64, &d), 36);
    cr_assert_eq(h->io(h->arg, 2, 1, 100, 64, &d), RDV_EPEER);
    cr_assert_eq(h->io(h->arg, 2, 0, 500, 64, &d), 64, "recv is untouched");
    cr_assert_eq(h->io(h->arg, 1, 1, 500, 64, &d), 64, "peer 1 untouched");
}

Test(hooks, short_io_and_slow_link, .fini = done)
{
    const rdv_hooks *h = hooks_for("net.short(max=5); net.slow(bps=1000)", 0,
                                   NULL);
    int64_t d = 0;

    cr_assert_eq(h->io(h->arg, 1, 0, 0, 64, &d), 5);
    cr_assert_eq(d, 5 * 1000000000ll / 1000, "5 bytes at 1000 B/s");
}

static int phases_seen[RDV_PHASE_COUNT];

static void count_phase(void *arg, rdv_phase p)
{
    (void)arg;
    phases_seen[p]++;
}

Test(hooks, chained_hooks_still_see_every_phase, .fini = done)
{
    static const rdv_hooks chain = {.phase = count_phase};
    const rdv_hooks *h = hooks_for("proc.kill(rank=2, at=connected)", 1,
                                   &chain);

    h->phase(h->arg, RDV_PHASE_CONNECTED); /* rank 1: no kill */
    cr_assert_eq(phases_seen[RDV_PHASE_CONNECTED], 1);
}

/* A loopback TCP connection: sv[0] and sv[1] are its two ends. */
static void tcp_pair(int sv[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(l, 0);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(sv[0], (struct sockaddr *)&a, sizeof a), 0);
    sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(sv[1], 0);
    close(l);
}

#define MSG 20000

/* One of two ranks on the pair: rank 1 sends MSG bytes to rank 0, rank 0
 * checks them. Exit code: 0 ok, 1 setup failure, 2 data wrong, 10 + the
 * negated status of a failed transfer. Runs in a forked child. */
static void rank_main(const char *spec, int rank, int fd, const char *log)
{
    char err[256];
    unsigned char *buf = malloc(MSG);
    rdv_fault_plan *p = plan_of(spec);
    FILE *lf = fopen(log, "ae");
    rdv_fault_rank *r;
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx;
    int fds[2] = {-1, -1}, rc;

    if (!buf || !lf || rdv_fault_rank_create(p, 11, rank, 2, lf, &r))
        exit(1);
    o.rank = rank;
    o.size = 2;
    o.timeout_ms = 20000;
    o.hooks = rdv_fault_rank_hooks(r, NULL);
    fds[1 - rank] = fd;
    if (rdv_context_create(&o, &ctx, err, sizeof err) ||
        rdv_context_connect_fds(ctx, fds))
        exit(1);
    for (int i = 0; i < MSG; i++)
        buf[i] = (unsigned char)(rank ? i * 7 : 0);
    rc = rank ? rdv_send(ctx, 0, buf, MSG, 20000)
              : rdv_recv(ctx, 1, buf, MSG, 20000);
    for (int i = 0; rc == RDV_OK && i < MSG; i++)
        if (buf[i] != (unsigned char)(i * 7))
            rc = 2;
    if (rc < 0)
        fprintf(lf, "rank %d: %s\n", rank, rdv_context_errmsg(ctx));
    rdv_context_destroy(ctx);
    rdv_fault_rank_destroy(r);
    rdv_fault_plan_free(p);
    fclose(lf);
    free(buf);
    exit(rc < 0 ? 10 - rc : rc);
}

/* Runs the two ranks; returns their exit codes and the shared log. */
static char *two_ranks(const char *spec, int codes[2])
{
    char path[] = "/tmp/rdv-fault-hooksXXXXXX";
    int fd = mkstemp(path), sv[2], st;
    pid_t pid[2];
    size_t len;
    char *log;

    cr_assert_geq(fd, 0);
    close(fd);
    tcp_pair(sv);
    for (int r = 0; r < 2; r++) {
        pid[r] = fork();
        cr_assert_geq(pid[r], 0);
        if (pid[r] == 0) {
            close(sv[1 - r]);
            rank_main(spec, r, sv[r], path);
        }
    }
    close(sv[0]);
    close(sv[1]);
    for (int r = 0; r < 2; r++) {
        cr_assert_eq(waitpid(pid[r], &st, 0), pid[r]);
        cr_assert(WIFEXITED(st), "rank %d did not exit", r);
        codes[r] = WEXITSTATUS(st);
    }
    log = slurp(path, &len);
    unlink(path);
    return log;
}

Test(hooks_real, short_io_still_delivers_every_byte)
{
    int codes[2];
    char *log = two_ranks("net.short(max=7); net.short(rank=0, max=3, "
                          "dir=recv)", codes);

    cr_assert_eq(codes[0], 0, "rank 0: %s", log);
    cr_assert_eq(codes[1], 0, "rank 1: %s", log);
    cr_assert(strstr(log, "rank 1: #1 net.short: peer 0 send: at most 7"),
              "%s", log);
    cr_assert(strstr(log, "rank 0: #2 net.short: peer 1 recv: at most 3"),
              "%s", log);
    free(log);
}

Test(hooks_real, slow_link_holds_the_transfer_back)
{
    int codes[2];
    double t0 = now_ms();
    char *log = two_ranks("net.slow(rank=1, bps=50000)", codes);

    cr_assert_eq(codes[0], 0, "%s", log);
    cr_assert_eq(codes[1], 0, "%s", log);
    /* 20000 bytes at 50000 B/s: 400 ms at least. */
    cr_assert_geq(now_ms() - t0, 380.0);
    free(log);
}

Test(hooks_real, reset_after_n_bytes_fails_both_sides)
{
    int codes[2];
    char *log = two_ranks("net.reset(rank=1, peer=0, after=4096)", codes);

    cr_assert_eq(codes[1], 10 - RDV_EPEER, "the resetting side: %s", log);
    cr_assert_geq(codes[0], 10, "the other side must fail too: %s", log);
    cr_assert(strstr(log, "reset after 4096 bytes"), "%s", log);
    cr_assert(strstr(log, "rank 0: "), "rank 0 says why: %s", log);
    free(log);
}

/* A rank that passes the phases in order on a real context. */
static void phases_main(const char *spec)
{
    rdv_fault_plan *p = plan_of(spec);
    rdv_context_options o = rdv_context_options_default();
    rdv_fault_rank *r;
    rdv_context *ctx;
    char err[256];

    if (rdv_fault_rank_create(p, 1, 0, 1, NULL, &r))
        exit(1);
    o.rank = 0;
    o.size = 1;
    o.hooks = rdv_fault_rank_hooks(r, NULL);
    if (rdv_context_create(&o, &ctx, err, sizeof err))
        exit(1);
    /* Up to connected, which a kill at connecting never reaches. */
    for (int ph = 0; ph < RDV_PHASE_CONNECTED; ph++)
        rdv_context_phase(ctx, (rdv_phase)ph);
    rdv_context_destroy(ctx);
    rdv_fault_rank_destroy(r);
    rdv_fault_plan_free(p);
    exit(3);
}

Test(proc, kill_happens_in_the_named_phase)
{
    int st;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0)
        phases_main("proc.kill(rank=0, at=connecting)");
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
              "status 0x%x: not killed at connecting", st);
}

Test(proc, stop_waits_for_the_parent_to_continue_it)
{
    rdv_fault_plan *p = plan_of("proc.stop(rank=0, at=after-publish, "
                                "ms=100..200)");
    int ms = rdv_fault_plan_stop_ms(p, 1, 0), st;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0)
        phases_main("proc.stop(rank=0, at=after-publish, ms=100..200)");
    cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
    cr_assert(WIFSTOPPED(st), "status 0x%x: the rank did not stop", st);
    cr_assert(ms >= 100 && ms <= 200);
    usleep((useconds_t)ms * 1000);
    cr_assert_eq(kill(pid, SIGCONT), 0);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3,
              "status 0x%x: expected it to run on to connected", st);
    rdv_fault_plan_free(p);
}
