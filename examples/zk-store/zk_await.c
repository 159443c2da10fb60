/*
 * zk_await.c - the ZooKeeper plugin's blocking reads: get, wait and
 * multi_get, all one loop (await) of rounds: read the missing keys, set
 * an exists watch on those still missing, sleep until an event.
 *
 * Choices:
 * - A round sends its requests pipelined (one trip for a rendezvous
 *   batch of 64): getData for get and multi_get, exists for wait, both
 *   without a watch; then exists with a watch on the znodes still
 *   missing. An exists watch on a missing znode fires when it is made;
 *   one on a present znode would fire when it is deleted, maybe while
 *   the handle closes, where the C client leaks the event (ZOOKEEPER-
 *   2894/3868), so watches go only where they are needed. An exists
 *   that finds the znode (made in between) starts a new round at once.
 * - The epoch is read before a round's requests go out, and any watch or
 *   session event bumps it: an event that fires between the requests and
 *   the sleep is never missed, and nothing polls.
 * - A lost connection or session makes the round fail; it is sent again
 *   after a backoff (on a new session if the old one expired) until the
 *   deadline. timeout 0 reads once (within timeout_ms, the op's I/O
 *   bound) and never waits for a key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zk_store.h"

typedef struct await {
    zk_store *s;
    const char *op;
    const char *const *keys;
    size_t n;
    int want;    /* fetch values (get, multi_get) or not (wait) */
    void **vals; /* with want: vals[i], lens[i] once present */
    size_t *lens;
    unsigned char *present;
    char **paths;
    size_t missing;
} await;

static int issue_get(zk_call *c, void *path)
{
    return zoo_aget(c->z->zh, path, 0, zk_done_data, c);
}

static int issue_exists(zk_call *c, void *path)
{
    return zoo_aexists(c->z->zh, path, 0, zk_done_stat, c);
}

static int issue_watch(zk_call *c, void *path)
{
    return zoo_awexists(c->z->zh, path, zk_watcher, c->z, zk_done_stat, c);
}

/* One pipelined request per missing key. Returns 1 when a watch round
 * found a znode the read had missed (made in between: read again at
 * once), 0 when the round went through, or a status (RDV_ECONN: the
 * connection or session was lost; the detail is set). */
static int round_trip(await *a, zk_issue_fn issue, int64_t deadline)
{
    size_t m = 0, cap = a->missing ? a->missing : 1;
    size_t *idx = calloc(cap, sizeof *idx);
    zk_call **c = calloc(cap, sizeof *c);
    void **args = calloc(cap, sizeof *args);
    int rc = idx && c && args ? RDV_OK : RDV_ENOMEM, again = 0;

    for (size_t i = 0; rc == RDV_OK && i < a->n; i++)
        if (!a->present[i]) {
            idx[m] = i;
            args[m++] = a->paths[i];
        }
    if (rc == RDV_OK)
        rc = zk_calls_run(a->s, c, m, issue, args, deadline);
    for (size_t j = 0; rc == RDV_OK && j < m; j++) {
        size_t i = idx[j];

        if (c[j]->zrc == ZNONODE)
            continue;
        if (c[j]->zrc != ZOK) {
            rc = zk_fail_zrc(a->s, a->op, a->keys[i], c[j]->zrc);
        } else if (issue == issue_watch) {
            again = 1;
        } else {
            if (a->want) {
                a->vals[i] = c[j]->data;
                a->lens[i] = c[j]->len;
                c[j]->data = NULL;
            }
            a->present[i] = 1;
            a->missing--;
        }
    }
    zk_calls_put(c, m);
    free(idx);
    free(c);
    free(args);
    if (rc == RDV_ENOMEM)
        return zk_fail(a->s, rc, a->op, NULL, "out of memory");
    return rc ? rc : again;
}

/* The timeout's detail: the keys still missing, and why the last round
 * failed when it did (cause, or NULL). */
static int timed_out(const await *a, int64_t t0, const char *cause)
{
    char list[512], why[512];

    snprintf(why, sizeof why, "%s%s%s", cause ? " (" : "", cause ? cause : "",
             cause ? ")" : "");
    if (a->n == 1 && a->want)
        return zk_fail(a->s, RDV_ETIMEDOUT, a->op, a->keys[0], "timed out "
                       "after %lld ms%s", kit_ms_since(t0), why);
    kit_missing(list, sizeof list, a->keys, a->n, a->present);
    return zk_fail(a->s, RDV_ETIMEDOUT, a->op, NULL, "timed out after %lld "
                   "ms: %s%s", kit_ms_since(t0), list, why);
}

static int await_keys(await *a, int timeout_ms)
{
    int64_t t0 = kit_now_ns(), deadline = kit_deadline(timeout_ms);
    int64_t read_deadline =
        timeout_ms != 0 ? deadline : zk_io_deadline(a->s, 0);
    zk_issue_fn first = a->want ? issue_get : issue_exists;
    char cause[512];
    int lost = 0, rc;

    for (;;) {
        uint64_t epoch = zk_epoch(a->s);

        rc = round_trip(a, first, read_deadline);
        if (rc == RDV_OK && a->missing && timeout_ms)
            rc = round_trip(a, issue_watch, read_deadline);
        if (rc == RDV_OK && a->missing == 0)
            return RDV_OK;
        if (rc == 1)
            continue;
        if (rc == RDV_ECONN) { /* connection or session lost: again */
            snprintf(cause, sizeof cause, "%s", kit_detail());
            if (kit_now_ns() >= read_deadline)
                return timeout_ms ? timed_out(a, t0, cause) : rc;
            if (zk_pause(a->s, kit_backoff_ms(lost++, ZK_RETRY_FIRST_MS,
                                              ZK_RETRY_MAX_MS)) == RDV_OK)
                continue;
            rc = RDV_ECANCELED;
        }
        if (rc == RDV_OK && timeout_ms == 0)
            rc = RDV_ETIMEDOUT;
        if (rc == RDV_OK)
            rc = zk_wait_event(a->s, epoch, deadline);
        if (rc == RDV_ETIMEDOUT)
            return timed_out(a, t0, NULL);
        if (rc == RDV_ECANCELED)
            return zk_fail(a->s, rc, a->op, a->n == 1 ? a->keys[0] : NULL,
                           "canceled (the store is closing)");
        if (rc)
            return rc;
    }
}

/* get, wait and multi_get (a kit_await_fn). */
static int await_run(void *h, const char *op, const char *const *keys,
                     size_t n, void **vals, size_t *lens, int timeout_ms)
{
    zk_store *s = h;
    await a = {s, op, keys, n, vals != NULL, vals, lens,
               calloc(n ? n : 1, 1), calloc(n ? n : 1, sizeof(char *)), n};
    int rc = a.present && a.paths ? RDV_OK : RDV_ENOMEM;

    for (size_t i = 0; rc == RDV_OK && i < n; i++)
        if (!(a.paths[i] = zk_path(s, keys[i])))
            rc = RDV_ENOMEM;
    rc = rc ? zk_fail(s, rc, op, NULL, "out of memory")
            : await_keys(&a, timeout_ms);
    for (size_t i = 0; a.paths && i < n; i++)
        free(a.paths[i]);
    free(a.paths);
    free(a.present);
    return rc;
}

int zk_get(void *h, const char *key, void **val, size_t *len, int timeout_ms)
{
    return kit_await(await_run, h, "get", &key, 1, val, len, timeout_ms);
}

int zk_wait(void *h, const char *const *keys, size_t n, int timeout_ms)
{
    return kit_await(await_run, h, "wait", keys, n, NULL, NULL, timeout_ms);
}

int zk_multi_get(void *h, const char *const *keys, size_t n, void **vals,
                 size_t *lens, int timeout_ms)
{
    return kit_await(await_run, h, "multi_get", keys, n, vals, lens,
                     timeout_ms);
}
