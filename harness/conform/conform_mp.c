/*
 * harness/conform/conform_mp.c - the "open" probe and the multi-process clauses
 * that the contract library (contract.c) does not already have:
 *
 *   mp-visibility   after one process's overwrite returns, the very next
 *                   get in another process sees the new value (a store
 *                   with a client-side cache or a lagging replica fails);
 *   mp-close-leaks  processes that delete what they wrote and close their
 *                   handles leave no key at all behind, in or out of
 *                   their scope (a store that writes session or lease
 *                   keys and never removes them fails).
 *
 * Both use the library's clause helpers (conform/clause.h): a fresh
 * prefix per run, children on the same store (the inherited handle for
 * hash:?shared=1), and verdicts with evidence.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conform/clause.h"
#include "conform/conform_cmd.h"
#include "rdv/store_ops.h"

void conform_clause_open(const conform_env *env, conform_out *out)
{
    char err[1024];
    rdv_store *s = NULL;
    int rc = rdv_store_open(env->base.url, &s, err, sizeof err);
    unsigned flags;

    if (rc) {
        conform_verdict(out, RDV_VERDICT_FAIL, "rdv_store_open: %s: %s",
                        rdv_status_name(rc), err);
        return;
    }
    flags = rdv_store_flags(s);
    out->store_flags = CONFORM_STORE_OPENED |
        (flags & RDV_STORE_INHERITED ? CONFORM_STORE_INHERITED : 0) |
        (flags & RDV_STORE_PROCESS_LOCAL ? CONFORM_STORE_LOCAL : 0);
    conform_verdict(out, RDV_VERDICT_PASS, "opened as backend '%s'%s",
                    rdv_store_name(s),
                    flags & RDV_STORE_PROCESS_LOCAL
                        ? "; process-local: clauses that share the store "
                          "across processes are skipped"
                    : flags & RDV_STORE_INHERITED
                        ? "; inherited by forked processes"
                        : "; every process opens its own handle");
    rdv_store_close(s);
}

/* ---- mp-visibility ------------------------------------------------- */

#define VIS_ROUNDS 3

typedef struct vis_run {
    int to_parent[2]; /* the reader has read round r's value */
    int to_child[2];  /* the writer's overwrite has returned */
    int round;        /* where the reader saw the wrong value */
    char seen[64];    /* what it saw */
} vis_run;

static void vis_value(int round, char *buf, size_t cap)
{
    snprintf(buf, cap, "value-of-round-%d", round);
}

/* Reads the value of each round, lets the writer overwrite it, then
 * reads again at once: it must see the overwrite. */
static int vis_reader(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    vis_run *v = arg;
    char want[64], token;

    (void)c;
    (void)i;
    close(v->to_parent[0]);
    close(v->to_child[1]);
    for (int r = 0; r < VIS_ROUNDS; r++) {
        void *val = NULL;
        size_t len = 0;
        int rc;

        vis_value(r, want, sizeof want);
        if (rdv_store_get(s, "vis", &val, &len, 5000) != RDV_OK ||
            len != strlen(want) || memcmp(val, want, len) != 0) {
            free(val);
            return 2;
        }
        free(val);
        if (write(v->to_parent[1], "r", 1) != 1 ||
            read(v->to_child[0], &token, 1) != 1)
            return 3;
        vis_value(r + 1, want, sizeof want);
        rc = rdv_store_try_get(s, "vis", &val, &len);
        if (rc != RDV_OK || len != strlen(want) ||
            memcmp(val, want, len) != 0) {
            v->round = r + 1;
            snprintf(v->seen, sizeof v->seen, "%.*s",
                     rc == RDV_OK ? (int)(len < 40 ? len : 40) : 0,
                     rc == RDV_OK ? (char *)val : "");
            free(val);
            return 1;
        }
        free(val);
    }
    return 0;
}

/* The writer's side of the rounds, in the clause's own process. */
static int vis_writer(clause_ctx *c, vis_run *v)
{
    char val[64], token;

    for (int r = 0; r < VIS_ROUNDS; r++) {
        if (read(v->to_parent[0], &token, 1) != 1)
            return 0; /* the reader ended early: its exit says why */
        vis_value(r + 1, val, sizeof val);
        if (!clause_expect(c, c->s, "overwrite",
                           rdv_store_set(c->s, "vis", val, strlen(val), 0),
                           RDV_OK))
            return -1;
        if (write(v->to_child[1], "w", 1) != 1)
            return 0;
    }
    return 0;
}

static int check_visibility(clause_ctx *c, vis_run *v)
{
    char first[64];
    pid_t pid;
    int wrote, ok;

    vis_value(0, first, sizeof first);
    if (!clause_expect(c, c->s, "set", rdv_store_set(c->s, "vis", first,
                                                     strlen(first), 0),
                       RDV_OK))
        return 0;
    pid = clause_spawn(c, vis_reader, 0, v);
    close(v->to_parent[1]);
    close(v->to_child[0]);
    wrote = vis_writer(c, v);
    close(v->to_child[1]); /* unblocks a reader waiting on a failed set */
    ok = clause_reap(pid);
    if (wrote < 0)
        return 0;
    if (v->round) {
        vis_value(v->round, first, sizeof first);
        return clause_fail(c, "process B read '%s' right after process "
                           "A's overwrite with '%s' had returned (round "
                           "%d of %d): other processes see stale values",
                           v->seen[0] ? v->seen : "(nothing)", first,
                           v->round, VIS_ROUNDS);
    }
    if (!ok)
        return clause_fail(c, "the reading process failed to read the "
                           "value it was shown (a get error or timeout)");
    return clause_pass(c, "%d overwrites by one process were each seen by "
                       "the next get of another", VIS_ROUNDS);
}

void conform_clause_mp_visibility(const conform_env *env, conform_out *out)
{
    vis_run *v = mmap(NULL, sizeof *v, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    clause_ctx c;

    if (v == MAP_FAILED) {
        conform_verdict(out, RDV_VERDICT_FAIL, "cannot map shared memory");
        return;
    }
    memset(v, 0, sizeof *v);
    if (pipe2(v->to_parent, O_CLOEXEC) || pipe2(v->to_child, O_CLOEXEC)) {
        conform_verdict(out, RDV_VERDICT_FAIL, "cannot make pipes");
    } else if (clause_begin(&c, &env->base, &out->r) == RDV_OK) {
        check_visibility(&c, v);
        clause_end(&c);
    }
    if (v->to_parent[0] > 0)
        close(v->to_parent[0]);
    munmap(v, sizeof *v);
}

/* ---- mp-close-leaks ------------------------------------------------ */

#define LEAK_PROCS 4
#define LEAK_KEYS 10

/* Writes LEAK_KEYS keys, deletes half one by one and the rest by
 * prefix, then returns; clause_spawn closes the handle. */
static int leak_worker(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    char key[64], prefix[32];
    size_t deleted = 0;

    (void)c;
    (void)arg;
    snprintf(prefix, sizeof prefix, "leak/%d/", i);
    for (int k = 0; k < LEAK_KEYS; k++) {
        snprintf(key, sizeof key, "%s%d", prefix, k);
        if (rdv_store_set(s, key, "x", 1, 0) != RDV_OK)
            return 1;
    }
    for (int k = 0; k < LEAK_KEYS / 2; k++) {
        snprintf(key, sizeof key, "%s%d", prefix, k);
        if (rdv_store_delete(s, key) != RDV_OK)
            return 1;
    }
    if (rdv_store_delete_prefix(s, prefix, &deleted) != RDV_OK ||
        deleted != LEAK_KEYS - LEAK_KEYS / 2)
        return 1;
    return 0;
}

static int listed(char **keys, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return 1;
    return 0;
}

/* Keys in after[] that were not in before[], quoted into buf. Keys of
 * other conform runs ("rdvc.<pid>...") going on at the same time are
 * not ours to judge and are left out. */
static size_t new_keys(clause_ctx *c, char **before, size_t nb,
                       char **after, size_t na, char *buf, size_t cap)
{
    size_t count = 0, o = 0, plen = strlen(c->prefix);

    buf[0] = '\0';
    for (size_t i = 0; i < na; i++) {
        char k[96];

        if (listed(before, nb, after[i]) ||
            (strncmp(after[i], "rdvc.", 5) == 0 &&
             strncmp(after[i], c->prefix, plen) != 0))
            continue;
        if (count++ < 5 && o < cap)
            o += (size_t)snprintf(buf + o, cap - o, "%s'%s'", o ? ", " : "",
                                  rdv_key_printable(after[i], k, sizeof k));
    }
    return count;
}

static int check_close_leaks(clause_ctx *c, rdv_store *raw)
{
    char **before = NULL, **after = NULL, names[600];
    size_t nb = 0, na = 0, leaked;
    int failed;

    if (!clause_expect(c, raw, "list before", rdv_store_list(raw, "",
                                                              &before, &nb),
                       RDV_OK))
        return 0;
    failed = clause_fork_n(c, LEAK_PROCS, leak_worker, NULL);
    if (!clause_expect(c, raw, "list after", rdv_store_list(raw, "", &after,
                                                             &na), RDV_OK)) {
        rdv_store_list_free(before, nb);
        return 0;
    }
    leaked = new_keys(c, before, nb, after, na, names, sizeof names);
    rdv_store_list_free(before, nb);
    rdv_store_list_free(after, na);
    if (failed)
        return clause_fail(c, "%d of %d processes failed to set, delete "
                           "and delete_prefix their %d keys", failed,
                           LEAK_PROCS, LEAK_KEYS);
    if (leaked)
        return clause_fail(c, "%zu key(s) appeared after %d processes "
                           "deleted all they wrote and closed: %s%s",
                           leaked, LEAK_PROCS, names,
                           leaked > 5 ? ", ..." : "");
    return clause_pass(c, "%d processes set, deleted and closed: no key "
                       "left behind in the whole store", LEAK_PROCS);
}

void conform_clause_mp_close_leaks(const conform_env *env, conform_out *out)
{
    char err[1024];
    rdv_store *raw = NULL;
    clause_ctx c;

    if (clause_begin(&c, &env->base, &out->r) != RDV_OK)
        return;
    /* The whole store, to see keys outside the clause's prefix too. An
     * inherited store's only handle is the clause's own, scoped one. */
    if (rdv_store_is_inherited(c.s))
        raw = c.s;
    else if (rdv_store_open(env->base.url, &raw, err, sizeof err))
        clause_fail(&c, "cannot open %s: %s", env->base.url, err);
    if (raw)
        check_close_leaks(&c, raw);
    if (raw && raw != c.s)
        rdv_store_close(raw);
    clause_end(&c);
}
