/*
 * tests/examples/store_adds.c - is every add applied exactly once while
 * the store's server is killed and restarted under it?
 *
 *   store_adds URL KEY PROCS RESTARTS CMD...
 *
 * PROCS forked processes each open URL and add 1 to KEY, again and
 * again, while this process runs CMD (a shell command: the server
 * crashed and started again, e.g. `ci/services/etcd restart DIR`)
 * RESTARTS times, a few hundred ms apart. Then the adders stop, and the
 * counter is read back. Every add ends one of three ways, and is counted
 * so:
 *   ok       RDV_OK: it was applied, once;
 *   unknown  a failure whose detail says its outcome is unknown (the
 *            words "outcome is unknown", as the redis store and both
 *            plugins write them): it may or may not have been applied;
 *   failed   any other failure: it was not applied.
 * The verdict: ok <= counter <= ok + unknown. An add applied twice (a
 * resend the store did not recognise as its own) or applied though it
 * said it failed breaks the upper bound; a lost one the lower.
 *
 * The premise is checked, not assumed: every restart must have struck
 * while the adders were running, and adds must have succeeded after the
 * last one (the store came back). Otherwise the exit is 77 (skip), with
 * why, never a pass.
 *
 * Choices:
 * - The adders are forked before anything else (no threads yet) and end
 *   with exit(), so LeakSanitizer sees them. Their counts go into a
 *   MAP_SHARED array, one slot each; the stop flag is in it too.
 * - Every loop is bounded: an adder makes at most ADDS_MAX adds and
 *   stops at STOP_AFTER_S whatever happens; each add is bounded by the
 *   store's own timeout.
 * - The key should be new (the caller makes it unique): the counter
 *   starts absent, at 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdv/clock.h"
#include "rdv/status.h"
#include "rdv/store.h"

#define PROCS_MAX 16
#define ADDS_MAX 1000000
#define STOP_AFTER_S 240
#define QUIET_MS 300 /* between restarts, and after the last one */
#define READ_TRIES 30

typedef struct slot {
    _Atomic long long ok, unknown, failed;
    char first_unknown[256], first_failed[256];
} slot;

typedef struct shared {
    atomic_int stop;
    slot s[PROCS_MAX];
} shared;

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};

    while (nanosleep(&t, &t)) /* EINTR: sleep what is left */
        ;
}

static long long total(const shared *sh, int procs, int what)
{
    long long n = 0;

    for (int i = 0; i < procs; i++)
        n += what == 0 ? sh->s[i].ok : what == 1 ? sh->s[i].unknown
                                                 : sh->s[i].failed;
    return n;
}

static int adder(const char *url, const char *key, shared *sh, int me)
{
    int64_t end = rdv_deadline_from_ms(STOP_AFTER_S * 1000);
    slot *sl = &sh->s[me];
    char err[RDV_DETAIL_MAX];
    rdv_store *st;
    int rc = rdv_store_open(url, &st, err, sizeof err);

    if (rc) {
        fprintf(stderr, "store_adds: adder %d: open %s: %s: %s\n", me, url,
                rdv_status_name(rc), err);
        return 1;
    }
    for (int i = 0; i < ADDS_MAX && !atomic_load(&sh->stop) &&
                    rdv_now_ns() < end; i++) {
        const char *why;

        if ((rc = rdv_store_add(st, key, 1, NULL)) == RDV_OK) {
            atomic_fetch_add(&sl->ok, 1);
            continue;
        }
        why = rdv_store_errmsg(st);
        if (strstr(why, "outcome is unknown")) {
            if (atomic_fetch_add(&sl->unknown, 1) == 0)
                snprintf(sl->first_unknown, sizeof sl->first_unknown,
                         "%s: %s", rdv_status_name(rc), why);
        } else if (atomic_fetch_add(&sl->failed, 1) == 0) {
            snprintf(sl->first_failed, sizeof sl->first_failed, "%s: %s",
                     rdv_status_name(rc), why);
        }
    }
    rdv_store_close(st);
    return 0;
}

/* The counter as the store has it now, or -1 (the server may still be
 * settling after the last restart: a few tries, a second apart). */
static long long read_counter(const char *url, const char *key)
{
    char err[RDV_DETAIL_MAX];
    rdv_store *st;
    int64_t v = -1;
    int rc = rdv_store_open(url, &st, err, sizeof err);

    if (rc) {
        fprintf(stderr, "store_adds: open %s: %s: %s\n", url,
                rdv_status_name(rc), err);
        return -1;
    }
    for (int i = 0; i < READ_TRIES; i++) {
        if ((rc = rdv_store_add(st, key, 0, &v)) == RDV_OK)
            break;
        fprintf(stderr, "store_adds: reading %s: %s: %s\n", key,
                rdv_status_name(rc), rdv_store_errmsg(st));
        v = -1;
        sleep_ms(1000);
    }
    rdv_store_close(st);
    return v;
}

int main(int argc, char **argv)
{
    const char *url, *key, *cmd;
    int procs, restarts, struck = 0, bad = 0;
    pid_t pids[PROCS_MAX];
    long long ok_before_last = 0, ok, unknown, failed, counter;
    shared *sh;

    if (argc != 6 || (procs = atoi(argv[3])) < 1 || procs > PROCS_MAX ||
        (restarts = atoi(argv[4])) < 1) {
        fprintf(stderr, "usage: store_adds URL KEY PROCS(1-%d) RESTARTS(>0) "
                "CMD\n", PROCS_MAX);
        return 2;
    }
    url = argv[1];
    key = argv[2];
    cmd = argv[5];
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("store_adds: mmap");
        return 3;
    }
    memset(sh, 0, sizeof *sh);
    fflush(NULL);
    for (int i = 0; i < procs; i++) {
        if ((pids[i] = fork()) < 0) {
            perror("store_adds: fork");
            atomic_store(&sh->stop, 1);
            procs = i;
            bad = 1;
            break;
        }
        if (pids[i] == 0)
            exit(adder(url, key, sh, i));
    }
    for (int r = 0; r < restarts && !bad; r++) {
        int64_t t0;
        int rc;

        sleep_ms(QUIET_MS);
        if (total(sh, procs, 0) == 0 && r == 0)
            sleep_ms(QUIET_MS); /* let the first adds land */
        ok_before_last = total(sh, procs, 0);
        t0 = rdv_now_ns();
        rc = system(cmd);
        printf("store_adds: restart %d (%s) took %lld ms, exit %d; %lld adds "
               "ok so far\n", r + 1, cmd, (long long)((rdv_now_ns() - t0) /
                                                       1000000),
               WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ok_before_last);
        fflush(stdout);
        if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
            fprintf(stderr, "store_adds: the restart command failed\n");
            bad = 1;
        }
        for (int i = 0; i < procs; i++)
            if (waitpid(pids[i], NULL, WNOHANG) == 0) {
                struck++; /* some adder was still adding */
                break;
            }
    }
    sleep_ms(QUIET_MS * 3); /* adds after the last restart */
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < procs; i++) {
        int status;

        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "store_adds: adder %d did not end well\n", i);
            bad = 1;
        }
    }
    ok = total(sh, procs, 0);
    unknown = total(sh, procs, 1);
    failed = total(sh, procs, 2);
    counter = read_counter(url, key);
    printf("store_adds: %d adders, %d restarts (%d while adding): %lld ok, "
           "%lld outcome unknown, %lld failed; counter %lld\n", procs,
           restarts, struck, ok, unknown, failed, counter);
    for (int i = 0; i < procs; i++) {
        if (sh->s[i].first_unknown[0])
            printf("  adder %d, first unknown: %s\n", i,
                   sh->s[i].first_unknown);
        if (sh->s[i].first_failed[0])
            printf("  adder %d, first failed: %s\n", i, sh->s[i].first_failed);
    }
    if (bad || counter < 0)
        return 1;
    if (counter < ok || counter > ok + unknown) {
        printf("FAIL: counter %lld is outside [ok, ok + unknown] = [%lld, "
               "%lld]: %s\n", counter, ok, ok + unknown,
               counter > ok + unknown ? "an add was applied more often than "
               "reported" : "an add reported ok was lost");
        return 1;
    }
    if (struck < restarts || ok <= ok_before_last) {
        printf("SKIPPED: the premise does not hold: %d of %d restarts struck "
               "while adding, %lld adds ok after the last\n", struck,
               restarts, ok - ok_before_last);
        return 77;
    }
    printf("PASS: %lld <= counter %lld <= %lld\n", ok, counter, ok + unknown);
    return 0;
}
