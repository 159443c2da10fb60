/*
 * test_determinism.c - every decision is a pure function of (seed, rank,
 * op index, fault id): a scenario run twice in fresh processes writes
 * byte-identical decision logs, another seed writes a different one, and
 * probabilities come out near what the spec asked for.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "rdv/store.h"

static const char *scenario =
    "store.delay(op=get, ms=0..2, p=0.5);"
    "store.error(op=set, key=\"k/1*\", p=0.3, code=ECONN);"
    "store.lose(op=set, nth=7);"
    "net.refuse(peer=1, times=2); net.delay(peer=2, ms=0..3);"
    "net.short(max=5, p=0.5); net.reset(peer=3, after=100)";

/* One rank's run of the scenario: store calls, connect attempts and
 * transfers, logged to path. Runs in a forked child. */
static void run_rank(uint64_t seed, int rank, const char *path)
{
    rdv_fault_plan *p = plan_of(scenario);
    FILE *log = fopen(path, "we");
    rdv_fault_rank *fr;
    rdv_store *in, *s;
    const rdv_hooks *h;
    char err[256], key[32];
    int64_t delay;

    if (!log || rdv_fault_rank_create(p, seed, rank, 4, log, &fr) ||
        rdv_store_open("hash:", &in, err, sizeof err) ||
        rdv_fault_rank_wrap_store(fr, in, &s))
        exit(1);
    for (int i = 0; i < 40; i++) {
        void *v = NULL;
        size_t len;

        snprintf(key, sizeof key, "k/%d", i);
        rdv_store_set(s, key, "v", 1, 0);
        rdv_store_get(s, key, &v, &len, 0);
        free(v);
    }
    h = rdv_fault_rank_hooks(fr, NULL);
    for (int peer = 0; peer < 4; peer++)
        for (unsigned a = 0; a < 4; a++)
            (void)h->connect(h->arg, peer, a);
    for (uint64_t off = 0; off < 300; off += 7)
        for (int peer = 0; peer < 4; peer++)
            h->io(h->arg, peer, (int)(off & 1), off, 7, &delay);
    rdv_store_close(s);
    rdv_fault_rank_destroy(fr);
    rdv_fault_plan_free(p);
    fclose(log);
    exit(0);
}

static char *log_of(uint64_t seed, int rank, size_t *len)
{
    char path[] = "/tmp/rdv-fault-logXXXXXX";
    int fd = mkstemp(path), status;
    pid_t pid;
    char *buf;

    cr_assert_geq(fd, 0);
    close(fd);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        run_rank(seed, rank, path);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    buf = slurp(path, len);
    unlink(path);
    return buf;
}

Test(determinism, same_seed_gives_byte_identical_logs)
{
    size_t n1, n2;
    char *a = log_of(42, 1, &n1), *b = log_of(42, 1, &n2);

    cr_assert_gt(n1, 0, "the scenario logged no decision");
    cr_assert_eq(n1, n2, "logs differ in size: %zu vs %zu", n1, n2);
    cr_assert(memcmp(a, b, n1) == 0, "logs differ:\n%s\n----\n%s", a, b);
    cr_assert(strstr(a, "refused"), "%s", a);
    cr_assert(strstr(a, "fails with RDV_ECONN"), "%s", a);
    cr_assert(strstr(a, "write dropped"), "%s", a);
    cr_assert(strstr(a, "reset after 100 bytes"), "%s", a);
    free(a);
    free(b);
}

Test(determinism, another_seed_or_rank_gives_other_decisions)
{
    size_t n1, n2, n3;
    char *a = log_of(42, 1, &n1), *b = log_of(43, 1, &n2),
         *c = log_of(42, 2, &n3);

    cr_assert(n1 != n2 || memcmp(a, b, n1), "seed 42 and 43 agree");
    cr_assert(n1 != n3 || memcmp(a, c, n1), "rank 1 and 2 agree");
    free(a);
    free(b);
    free(c);
}

Test(determinism, probability_is_honoured_per_call)
{
    rdv_fault_plan *p = plan_of("store.error(op=set, p=0.3)");
    rdv_fault_rank *fr;
    rdv_store *in, *s;
    char err[256], key[32];
    int failed = 0, again = 0;
    unsigned char first[1000];

    for (int round = 0; round < 2; round++) {
        cr_assert_eq(rdv_fault_rank_create(p, 5, 0, 1, NULL, &fr), RDV_OK);
        cr_assert_eq(rdv_store_open("hash:", &in, err, sizeof err), RDV_OK);
        cr_assert_eq(rdv_fault_rank_wrap_store(fr, in, &s), RDV_OK);
        for (int i = 0; i < 1000; i++) {
            int bad;

            snprintf(key, sizeof key, "k%d", i);
            bad = rdv_store_set(s, key, "", 0, 0) == RDV_EIO;
            if (round == 0) {
                first[i] = (unsigned char)bad;
                failed += bad;
            } else {
                again += first[i] == bad;
            }
        }
        rdv_store_close(s);
        rdv_fault_rank_destroy(fr);
    }
    cr_assert(failed > 230 && failed < 370, "%d of 1000 failed at p=0.3",
              failed);
    cr_assert_eq(again, 1000, "the second run decided differently");
    rdv_fault_plan_free(p);
}
