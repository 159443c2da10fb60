/*
 * stores/redis_batch.c - the redis store's ops over a list of keys:
 *
 *   wait       one EVAL per poll that answers EXISTS for every key, so a
 *              poll is one round trip however many keys, and a timeout
 *              names exactly the keys still missing
 *   multi_get  MGET; while keys are missing it polls like wait (values
 *              are not fetched again and again) and ends with one MGET
 *   multi_set  MSET, one command
 *
 * Polling and its backoff are redis.c's (rdv_redis_poll).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

/* KEYS: the keys to test. Returns {EXISTS k1, ..., EXISTS kn}. */
static const char exists_lua[] =
    "local r = {} "
    "for i = 1, #KEYS do r[i] = redis.call('EXISTS', KEYS[i]) end "
    "return r";

/* A command over many keys: argv = head..., keys... */
typedef struct keys_cmd {
    const char **argv;
    size_t *lens;
    int argc;
} keys_cmd;

static int keys_cmd_make(rdv_store *s, keys_cmd *c, const char *const *head,
                         size_t nhead, const char *const *keys, size_t n)
{
    c->argc = (int)(nhead + n);
    c->argv = malloc((nhead + n) * sizeof *c->argv);
    c->lens = malloc((nhead + n) * sizeof *c->lens);
    if (!c->argv || !c->lens) {
        free(c->argv);
        free(c->lens);
        c->argv = NULL;
        c->lens = NULL;
        return rdv_store_fail(s, RDV_ENOMEM,
                              "out of memory for a "
                              "command over %zu keys",
                              n);
    }
    for (size_t i = 0; i < nhead + n; i++) {
        c->argv[i] = i < nhead ? head[i] : keys[i - nhead];
        c->lens[i] = strlen(c->argv[i]);
    }
    return RDV_OK;
}

static void keys_cmd_free(keys_cmd *c)
{
    free(c->argv);
    free(c->lens);
}

typedef struct wait_args {
    const char *const *keys;
    size_t n;
    unsigned char *present;
    keys_cmd exists; /* EVAL exists_lua n keys... */
    keys_cmd mget;   /* MGET keys...; multi_get only */
    void **vals;     /* multi_get only */
    size_t *lens;
    int keys_missing; /* multi_get: poll with exists until all appear */
    char nkeys[24];
    char op[48]; /* "wait on 8 keys, first" for error details */
} wait_args;

/* Sends c, whose reply must be an array with one element per key of a
 * (EXISTS answers, MGET values): RDV_OK with *r, or the failure recorded
 * against a's first key. */
static int keys_cmd_call(rdv_store *s, wait_args *a, const keys_cmd *c,
                         int64_t io, redisReply **r)
{
    int rc = rdv_redis_call1(s, a->op, a->keys[0],
                             (rdv_redis_cmd){c->argc, c->argv, c->lens}, io,
                             RDV_REDIS_IDEMPOTENT, r);

    if (rc)
        return rc;
    if ((*r)->type != REDIS_REPLY_ARRAY || (*r)->elements != a->n)
        return rdv_redis_reply_fail(s, *r, a->op, a->keys[0]);
    return RDV_OK;
}

static int exists_probe(rdv_store *s, int64_t io, void *arg)
{
    wait_args *a = arg;
    redisReply *r;
    int rc = keys_cmd_call(s, a, &a->exists, io, &r);
    int all = 1;

    if (rc)
        return rc;
    for (size_t i = 0; i < a->n; i++) {
        a->present[i] = r->element[i]->type == REDIS_REPLY_INTEGER &&
                        r->element[i]->integer == 1;
        all &= a->present[i];
    }
    freeReplyObject(r);
    return all ? RDV_OK : 1;
}

static int wait_begin(rdv_store *s, wait_args *a, const char *op,
                      const char *const *keys, size_t n)
{
    const char *head[] = {"EVAL", exists_lua, a->nkeys};

    snprintf(a->nkeys, sizeof a->nkeys, "%zu", n);
    snprintf(a->op, sizeof a->op, "%s on %zu key%s, first", op, n,
             n == 1 ? "" : "s");
    a->keys = keys;
    a->n = n;
    a->present = calloc(n, 1);
    if (!a->present)
        return rdv_store_fail(s, RDV_ENOMEM, "wait: out of memory");
    if (keys_cmd_make(s, &a->exists, head, 3, keys, n)) {
        free(a->present);
        return RDV_ENOMEM;
    }
    return RDV_OK;
}

/* Records a timeout or cancel with the keys still missing (as the last
 * answered poll saw them); frees a. A poll cut off by the deadline adds
 * the server's silence to the list. */
static int wait_end(rdv_store *s, wait_args *a, int rc, int64_t start)
{
    if (rc == RDV_ETIMEDOUT) {
        char missing[RDV_DETAIL_MAX];

        rdv_store_fail_wait(s, rc, start, a->keys, a->n, a->present);
        snprintf(missing, sizeof missing, "%s", rdv_store_errmsg(s));
        rdv_store_fail(s, rc, "%s (as last seen: redis %s did not answer "
                       "the final poll in time)", missing, RS(s)->conf.addr);
    } else if (rc > 0) {
        rdv_store_fail_wait(s, rdv_redis_poll_status(rc), start, a->keys, a->n,
                            a->present);
    }
    keys_cmd_free(&a->exists);
    keys_cmd_free(&a->mget);
    free(a->present);
    return rdv_redis_poll_status(rc);
}

int rdv_redis_wait(rdv_store *s, const char *const *keys, size_t n,
                   int64_t deadline)
{
    int64_t start = rdv_now_ns();
    wait_args a = {0};
    int rc = wait_begin(s, &a, "wait", keys, n);

    if (rc)
        return rc;
    return wait_end(s, &a, rdv_redis_poll(s, deadline, exists_probe, &a),
                    start);
}

/* One MGET: all values (RDV_OK), or 1 with present[] updated. */
static int mget_once(rdv_store *s, wait_args *a, int64_t io)
{
    redisReply *r;
    int rc = keys_cmd_call(s, a, &a->mget, io, &r);
    int all = 1;

    if (rc)
        return rc;
    for (size_t i = 0; i < a->n; i++) {
        a->present[i] = r->element[i]->type == REDIS_REPLY_STRING;
        all &= a->present[i];
    }
    for (size_t i = 0; all && i < a->n; i++) {
        a->vals[i] = r->element[i]->str; /* the reader's NUL-ended copy */
        a->lens[i] = r->element[i]->len;
        r->element[i]->str = NULL;
    }
    freeReplyObject(r);
    return all ? RDV_OK : 1;
}

static int multi_get_probe(rdv_store *s, int64_t io, void *arg)
{
    wait_args *a = arg;
    int rc;

    if (a->keys_missing && (rc = exists_probe(s, io, a)) != RDV_OK)
        return rc;
    rc = mget_once(s, a, io);
    a->keys_missing = rc == 1;
    return rc;
}

int rdv_redis_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int64_t deadline)
{
    static const char *const head[] = {"MGET"};
    int64_t start = rdv_now_ns();
    wait_args a = {0};
    int rc = wait_begin(s, &a, "multi_get", keys, n);

    if (rc)
        return rc;
    if (keys_cmd_make(s, &a.mget, head, 1, keys, n))
        return wait_end(s, &a, RDV_ENOMEM, start);
    a.vals = vals;
    a.lens = lens;
    return wait_end(s, &a, rdv_redis_poll(s, deadline, multi_get_probe, &a),
                    start);
}

int rdv_redis_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens, size_t n)
{
    const char **argv = malloc((2 * n + 1) * sizeof *argv);
    size_t *alen = malloc((2 * n + 1) * sizeof *alen);
    int64_t io = rdv_redis_io_deadline(&RS(s)->conn, 0);
    redisReply *r;
    int rc = RDV_ENOMEM;

    if (argv && alen) {
        argv[0] = "MSET";
        alen[0] = 4;
        for (size_t i = 0; i < n; i++) {
            argv[1 + 2 * i] = keys[i];
            alen[1 + 2 * i] = strlen(keys[i]);
            argv[2 + 2 * i] = vals[i] ? vals[i] : "";
            alen[2 + 2 * i] = lens[i];
        }
        rc = rdv_redis_call1(s, "multi_set", keys[0],
                             (rdv_redis_cmd){(int)(2 * n + 1), argv, alen}, io,
                             RDV_REDIS_IDEMPOTENT, &r);
        if (rc == RDV_OK && r->type != REDIS_REPLY_STATUS)
            rc = rdv_redis_reply_fail(s, r, "multi_set", keys[0]);
        else if (rc == RDV_OK)
            freeReplyObject(r);
    } else {
        rdv_store_fail(s, rc, "multi_set: out of memory for %zu keys", n);
    }
    free(argv);
    free(alen);
    return rc;
}
