/*
 * stores/redis_scan.c - the redis store's ops over many keys: list,
 * num_keys and delete_prefix.
 *
 * They walk the keyspace with SCAN MATCH, never KEYS, which would block
 * the server for the whole keyspace. The prefix is turned into a glob
 * with every metacharacter (* ? [ ] \) escaped, so a prefix such as
 * "a*b/" matches only keys that really start with "a*b/". SCAN may
 * return a key more than once; list sorts and drops the repeats, and
 * delete_prefix counts what DEL reports, not what SCAN returned. A key
 * written while the walk runs may or may not be seen, as SCAN promises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

#define SCAN_COUNT "1000"

/* "prefix" -> "prefix*" with glob metacharacters escaped. */
static char *scan_pattern(const char *prefix, size_t *len)
{
    size_t n = strlen(prefix), o = 0;
    char *p = malloc(2 * n + 2);

    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?[]\\", prefix[i]))
            p[o++] = '\\';
        p[o++] = prefix[i];
    }
    p[o++] = '*';
    p[o] = '\0';
    *len = o;
    return p;
}

typedef int (*scan_page_fn)(rdv_store *s, redisReply *keys, void *arg);

/* Runs SCAN MATCH prefix* to the end, handing each page of keys to fn. */
static int scan_all(rdv_store *s, const char *op, const char *prefix,
                    scan_page_fn fn, void *arg)
{
    char cursor[32] = "0", err[512];
    size_t plen;
    char *pat = scan_pattern(prefix, &plen);
    int rc = RDV_OK;

    if (!pat)
        return rdv_redis_fail(s, RDV_ENOMEM, op, NULL, "out of memory");
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pat, "COUNT",
                              SCAN_COUNT};
        size_t lens[] = {4, strlen(cursor), 5, plen, 5, strlen(SCAN_COUNT)};
        rdv_redis_cmd cmd = {6, argv, lens};
        int64_t io = rdv_redis_io_deadline(&RS(s)->conn, 0);
        redisReply *r;

        rc = rdv_redis_conn_call(&RS(s)->conn, &cmd, 1, &r, io,
                                 RDV_REDIS_IDEMPOTENT, err, sizeof err);
        if (rc)
            break;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[0]->len >= sizeof cursor ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, sizeof err, "redis %s: unexpected SCAN reply%s%s",
                     RS(s)->conf.addr, r->type == REDIS_REPLY_ERROR ? ": "
                                                                    : "",
                     r->type == REDIS_REPLY_ERROR ? r->str : "");
            rc = RDV_EPROTO;
        } else {
            memcpy(cursor, r->element[0]->str, r->element[0]->len);
            cursor[r->element[0]->len] = '\0';
            rc = fn(s, r->element[1], arg);
            err[0] = '\0';
        }
        freeReplyObject(r);
    } while (rc == RDV_OK && strcmp(cursor, "0") != 0);
    free(pat);
    if (rc && err[0])
        rdv_redis_fail(s, rc, op, prefix[0] ? prefix : NULL, err);
    return rc;
}

static int list_page(rdv_store *s, redisReply *keys, void *arg)
{
    rdv_keylist *l = arg;

    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *k = keys->element[i];

        /* A key holding NUL was not written through rdv: not ours. */
        if (k->type != REDIS_REPLY_STRING || memchr(k->str, 0, k->len))
            continue;
        if (rdv_keylist_push(l, k->str, k->len))
            return rdv_redis_fail(s, RDV_ENOMEM, "list", NULL,
                                  "out of memory");
    }
    return RDV_OK;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rdv_redis_list(rdv_store *s, const char *prefix, char ***keys,
                   size_t *n)
{
    rdv_keylist l = {0};
    size_t o = 0;
    int rc = scan_all(s, "list", prefix, list_page, &l);

    if (rc) {
        rdv_keylist_clear(&l);
        return rc;
    }
    if (l.n)
        qsort(l.keys, l.n, sizeof *l.keys, key_cmp);
    for (size_t i = 0; i < l.n; i++) {
        if (o && strcmp(l.keys[o - 1], l.keys[i]) == 0)
            free(l.keys[i]);
        else
            l.keys[o++] = l.keys[i];
    }
    *keys = l.keys;
    *n = o;
    return RDV_OK;
}

int rdv_redis_num_keys(rdv_store *s, int64_t *n)
{
    int64_t io = rdv_redis_io_deadline(&RS(s)->conn, 0);
    const char *argv[] = {"DBSIZE"};
    size_t lens[] = {6};
    rdv_redis_cmd cmd = {1, argv, lens};
    redisReply *r;
    char err[512];
    int rc = rdv_redis_conn_call(&RS(s)->conn, &cmd, 1, &r, io,
                                 RDV_REDIS_IDEMPOTENT, err, sizeof err);

    if (rc)
        return rdv_redis_fail(s, rc, "num_keys", NULL, err);
    if (r->type == REDIS_REPLY_INTEGER)
        *n = r->integer;
    else
        rc = rdv_redis_fail(s, RDV_EPROTO, "num_keys", NULL,
                            "unexpected DBSIZE reply");
    freeReplyObject(r);
    return rc;
}

typedef struct del_state {
    const char *prefix;
    size_t deleted;
} del_state;

/* DEL one SCAN page in one command. */
static int del_page(rdv_store *s, redisReply *keys, void *arg)
{
    int64_t io = rdv_redis_io_deadline(&RS(s)->conn, 0);
    del_state *d = arg;
    const char **argv;
    size_t *lens, n = 0;
    redisReply *r;
    char err[512];
    int rc;

    if (keys->elements == 0)
        return RDV_OK;
    argv = malloc((keys->elements + 1) * sizeof *argv);
    lens = malloc((keys->elements + 1) * sizeof *lens);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return rdv_redis_fail(s, RDV_ENOMEM, "delete_prefix", d->prefix,
                              "out of memory");
    }
    argv[n] = "DEL";
    lens[n++] = 3;
    for (size_t i = 0; i < keys->elements; i++) {
        /* Only what list_page would list: anything but a string would
         * go out as DEL "" (a key outside every prefix). */
        if (keys->element[i]->type != REDIS_REPLY_STRING)
            continue;
        argv[n] = keys->element[i]->str;
        lens[n++] = keys->element[i]->len;
    }
    if (n == 1) {
        free(argv);
        free(lens);
        return RDV_OK;
    }
    rc = rdv_redis_conn_call(&RS(s)->conn,
                             &(rdv_redis_cmd){(int)n, argv, lens}, 1, &r,
                             io, RDV_REDIS_IDEMPOTENT, err, sizeof err);
    free(argv);
    free(lens);
    if (rc)
        return rdv_redis_fail(s, rc, "delete_prefix", d->prefix, err);
    if (r->type == REDIS_REPLY_INTEGER)
        d->deleted += (size_t)r->integer;
    else
        rc = rdv_redis_fail(s, RDV_EPROTO, "delete_prefix", d->prefix,
                            r->type == REDIS_REPLY_ERROR ? r->str
                                                         : "bad DEL reply");
    freeReplyObject(r);
    return rc;
}

int rdv_redis_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted)
{
    del_state d = {prefix[0] ? prefix : NULL, 0};
    int rc = scan_all(s, "delete_prefix", prefix, del_page, &d);

    *deleted = d.deleted;
    return rc;
}
