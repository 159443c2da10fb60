/*
 * conform/clauses_processes.c - what one process's store calls look like
 * from another process on the same store:
 *
 *   mp-visibility   after one process's overwrite returns, the very next
 *                   get in another process sees the new value (a store
 *                   with a client-side cache or a lagging replica fails);
 *   mp-close-leaks  processes that delete what they wrote and close their
 *                   handles leave no key at all behind, in or out of
 *                   their scope (a store that writes session or lease
 *                   keys and never removes them fails).
 *
 * Choices:
 * - The two processes of mp-visibility take turns through pipes, not
 *   sleeps: the reader reads only once the writer's set has returned, so
 *   a stale read is the store's doing, never the schedule's.
 * - mp-close-leaks lists the whole store (the URL unscoped) before and
 *   after, so it sees keys the store made outside the clause's prefix;
 *   that is why it is a whole_store clause (contract.h): run alone.
 *   Keys of other conform runs ("rdvc.<pid>...") are not its to judge.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conform/clause.h"
#include "conform/clauses.h"
#include "rdv/store_ops.h"

/* ---- mp-visibility ------------------------------------------------- */

#define VIS_ROUNDS 3

/* What the reader saw, in memory both processes share. */
typedef struct vis_seen {
    int round;     /* where the reader saw the wrong value, or 0 */
    char text[64]; /* what it saw */
} vis_seen;

/* The pipes are the parent's own (the child gets copies at fork); only
 * *seen is shared. */
typedef struct vis_run {
    int to_parent[2]; /* the reader has read round r's value */
    int to_child[2];  /* the writer's overwrite has returned */
    vis_seen *seen;
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
            v->seen->round = r + 1;
            snprintf(v->seen->text, sizeof v->seen->text, "%.*s",
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

static int vis_rounds(clause_ctx *c, vis_run *v)
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
    v->to_parent[1] = v->to_child[0] = -1;
    wrote = vis_writer(c, v);
    close(v->to_child[1]); /* unblocks a reader waiting on a failed set */
    v->to_child[1] = -1;
    ok = clause_reap(pid);
    if (wrote < 0)
        return 0;
    if (v->seen->round) {
        vis_value(v->seen->round, first, sizeof first);
        return clause_fail(c, "process B read '%s' right after process "
                           "A's overwrite with '%s' had returned (round "
                           "%d of %d): other processes see stale values",
                           v->seen->text[0] ? v->seen->text : "(nothing)",
                           first, v->seen->round, VIS_ROUNDS);
    }
    if (!ok)
        return clause_fail(c, "the reading process failed to read the "
                           "value it was shown (a get error or timeout)");
    return clause_pass(c, "%d overwrites by one process were each seen by "
                       "the next get of another", VIS_ROUNDS);
}

static int check_mp_visibility(clause_ctx *c)
{
    vis_run v = {.to_parent = {-1, -1}, .to_child = {-1, -1}};
    int ok = 0;

    if (!clause_needs_processes(c))
        return 0;
    v.seen = mmap(NULL, sizeof *v.seen, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (v.seen == MAP_FAILED)
        return clause_fail(c, "cannot map shared memory");
    memset(v.seen, 0, sizeof *v.seen);
    if (pipe2(v.to_parent, O_CLOEXEC) || pipe2(v.to_child, O_CLOEXEC))
        clause_fail(c, "cannot make pipes");
    else
        ok = vis_rounds(c, &v);
    for (int i = 0; i < 2; i++) {
        if (v.to_parent[i] >= 0)
            close(v.to_parent[i]);
        if (v.to_child[i] >= 0)
            close(v.to_child[i]);
    }
    munmap(v.seen, sizeof *v.seen);
    return ok;
}
RDV_CLAUSE_SCOPED(mp_visibility)

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

static int close_leaks(clause_ctx *c, rdv_store *raw)
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

static int check_mp_close_leaks(clause_ctx *c)
{
    char err[512];
    rdv_store *raw = NULL;
    int ok;

    if (!clause_needs_processes(c))
        return 0;
    /* The whole store, to see keys outside the clause's prefix too. An
     * inherited store's only handle is the clause's own, scoped one. */
    if (rdv_store_is_inherited(c->s))
        raw = c->s;
    else if (rdv_store_open(c->env->url, &raw, err, sizeof err))
        return clause_fail(c, "cannot open %s: %s", c->env->url, err);
    else if (!(raw = clause_watch_store(c->r, raw)))
        return clause_fail(c, "out of memory for the call watch");
    ok = close_leaks(c, raw);
    if (raw != c->s)
        clause_close(c, raw);
    return ok;
}
RDV_CLAUSE_SCOPED(mp_close_leaks)
