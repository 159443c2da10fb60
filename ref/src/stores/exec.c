/*
 * stores/exec.c - the exec: scheme: a store served by an adapter program
 * written in any language, spoken to over a socketpair with the protocol
 * in EXEC_PROTOCOL.md (codec: exec_proto.c; one adapter process:
 * exec_chan.c; a handle's adapters and one call: exec_pool.c). This file
 * turns the URL into the adapter's argv and the store ops into requests.
 *
 *   exec:/path/to/adapter[?key=value...][&timeout_ms=N]
 *                        [&start_timeout_ms=N][&prefix=P]
 *
 * Choices:
 * - Arguments: every URL option but rdv's own (prefix=, handled by
 *   store_open.c, timeout_ms= and start_timeout_ms=) becomes one argv
 *   entry --key=value,
 *   in URL order; a repeated option repeats. Nothing is re-parsed: the
 *   options come from rdv/url.h. A path without '/' is looked up in PATH;
 *   one with '/' is checked before anything starts, so a missing or
 *   non-executable adapter is a plain open error.
 * - A pool of adapters per handle (at most EXEC_CHANNELS_MAX, started on
 *   demand): each serves one request at a time, so an adapter stays a
 *   plain read-request/write-reply loop in any language, while a thread
 *   blocked in wait never holds up another thread's set on the same
 *   handle (the contract lets threads share one). The open starts the
 *   first and fails when its hello does; later ones must declare the
 *   same version, level, ops and scope.
 * - scope=process (the data lives in the adapter, like c10d's HashStore):
 *   the handle runs exactly one adapter, serializes its calls and
 *   reports RDV_STORE_PROCESS_LOCAL; once that adapter breaks every call
 *   is RDV_ESTATE, since a new one would have lost the data. A broken
 *   shared-scope adapter (crashed, silent, garbage) is killed and the
 *   next call starts a new one: the data lives elsewhere, so nothing is
 *   lost, and one bad reply does not end the handle.
 * - Time: get, wait and multi_get tell the adapter the time left and
 *   wait for its reply until the deadline plus 1 s. The adapter should
 *   answer RDV_ETIMEDOUT itself at the deadline; the grace is the
 *   contract's own bound on a timeout (rdv/store.h, `rdv conform`), so
 *   rdv cuts off only an adapter that already broke it, and a late
 *   adapter is seen late by conform instead of being hidden behind a
 *   timeout of rdv's. Every
 *   other op is bounded by timeout_ms (default 30000), and starting an
 *   adapter by start_timeout_ms (default 60000): two knobs, because a
 *   Python adapter that imports torch takes seconds to start on a busy
 *   machine while a set should fail fast. Close wakes every wait through
 *   one eventfd.
 * - Ops the adapter does not declare: multi_get, multi_set, num_keys and
 *   delete_prefix use rdv's generic fallbacks when the ops they need are
 *   there; anything else is RDV_ENOTSUP naming what the adapter offers.
 *   The declared level is the handle's contract level
 *   (rdv_store_contract_level()).
 * - Fork: a handle belongs to the process that opened it. In a forked
 *   child every call is RDV_ESTATE, and close only drops the child's
 *   copies of the sockets: the parent's adapters stay the parent's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec_store.h"
#include "self_pid.h"

/* RDV_ENOTSUP for an op the adapter did not declare. */
static int not_offered(rdv_store *s, int type)
{
    return rdv_store_fail(s, RDV_ENOTSUP, "%s: adapter '%s' does not offer "
                          "it (it declares level %s, ops %s)",
                          rdv_exec_type_name(type), X(s)->argv[0],
                          X(s)->gloo ? "gloo" : "full", X(s)->ops_text);
}

static void put_key(rdv_exec_req *r, const char *key)
{
    rdv_exec_req_bytes(r, key, strlen(key));
}

/* Runs a request with no result fields. */
static int call_plain(rdv_store *s, int type, const char *key,
                      rdv_exec_req *req, int64_t deadline, int timed)
{
    rdv_exec_parser p;
    int rc = rdv_exec_pool_call(s, type, key, req, &p, 0, deadline, timed);

    rdv_exec_req_free(req);
    if (rc == RDV_OK)
        rdv_exec_parser_free(&p);
    return rc;
}

/* Runs a request whose result is one i64 (a count when nonneg is set). */
static int call_num(rdv_store *s, int type, const char *key,
                    rdv_exec_req *req, int nonneg, int64_t *out)
{
    rdv_exec_parser p;
    int rc = rdv_exec_pool_call(s, type, key, req, &p, 0, RDV_DEADLINE_NONE,
                                0);

    rdv_exec_req_free(req);
    if (rc)
        return rc;
    *out = p.reply.num;
    rdv_exec_parser_free(&p);
    if (nonneg && *out < 0)
        return rdv_store_fail(s, RDV_EPROTO, "%s: adapter '%s' answered a "
                              "negative count, %lld",
                              rdv_exec_type_name(type), X(s)->argv[0],
                              (long long)*out);
    return RDV_OK;
}

static int ex_set(rdv_store *s, const char *key, const void *val,
                  size_t len, int flags)
{
    rdv_exec_req r = {0};

    rdv_exec_req_begin(&r, RDV_EXEC_SET);
    put_key(&r, key);
    rdv_exec_req_u32(&r, (flags & RDV_SET_CREATE_ONLY) ? 1 : 0);
    rdv_exec_req_bytes(&r, val, len);
    return call_plain(s, RDV_EXEC_SET, key, &r, RDV_DEADLINE_NONE, 0);
}

static int ex_get(rdv_store *s, const char *key, void **val, size_t *len,
                  int64_t deadline)
{
    rdv_exec_req r = {0};
    rdv_exec_parser p;
    int rc;

    rdv_exec_req_begin(&r, RDV_EXEC_GET);
    put_key(&r, key);
    rdv_exec_req_timeout_slot(&r);
    rc = rdv_exec_pool_call(s, RDV_EXEC_GET, key, &r, &p, 0, deadline, 1);
    rdv_exec_req_free(&r);
    if (rc)
        return rc;
    *val = p.reply.value;
    *len = p.reply.value_len;
    p.reply.value = NULL;
    rdv_exec_parser_free(&p);
    return RDV_OK;
}

static void put_keys(rdv_exec_req *r, const char *const *keys, size_t n)
{
    rdv_exec_req_u32(r, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_key(r, keys[i]);
}

static int ex_wait(rdv_store *s, const char *const *keys, size_t n,
                   int64_t deadline)
{
    rdv_exec_req r = {0};

    rdv_exec_req_begin(&r, RDV_EXEC_WAIT);
    put_keys(&r, keys, n);
    rdv_exec_req_timeout_slot(&r);
    return call_plain(s, RDV_EXEC_WAIT, keys[0], &r, deadline, 1);
}

static int ex_add(rdv_store *s, const char *key, int64_t delta,
                  int64_t *result)
{
    rdv_exec_req r = {0};

    if (!OFFERS(X(s), RDV_EXEC_ADD))
        return not_offered(s, RDV_EXEC_ADD);
    rdv_exec_req_begin(&r, RDV_EXEC_ADD);
    put_key(&r, key);
    rdv_exec_req_i64(&r, delta);
    return call_num(s, RDV_EXEC_ADD, key, &r, 0, result);
}

static int ex_compare_set(rdv_store *s, const char *key, const void *expected,
                          size_t expected_len, const void *desired,
                          size_t desired_len, int *won, void **cur,
                          size_t *cur_len)
{
    rdv_exec_req r = {0};
    rdv_exec_parser p;
    int rc;

    if (!OFFERS(X(s), RDV_EXEC_COMPARE_SET))
        return not_offered(s, RDV_EXEC_COMPARE_SET);
    rdv_exec_req_begin(&r, RDV_EXEC_COMPARE_SET);
    put_key(&r, key);
    rdv_exec_req_u8(&r, expected != NULL);
    rdv_exec_req_bytes(&r, expected ? expected : "",
                       expected ? expected_len : 0);
    rdv_exec_req_bytes(&r, desired, desired_len);
    rc = rdv_exec_pool_call(s, RDV_EXEC_COMPARE_SET, key, &r, &p, 0,
                            RDV_DEADLINE_NONE, 0);
    rdv_exec_req_free(&r);
    if (rc)
        return rc;
    *won = p.reply.won;
    if (cur && p.reply.present) {
        *cur = p.reply.value;
        *cur_len = p.reply.value_len;
        p.reply.value = NULL;
    }
    rdv_exec_parser_free(&p);
    return RDV_OK;
}

static int ex_del(rdv_store *s, const char *key)
{
    rdv_exec_req r = {0};

    if (!OFFERS(X(s), RDV_EXEC_DELETE))
        return not_offered(s, RDV_EXEC_DELETE);
    rdv_exec_req_begin(&r, RDV_EXEC_DELETE);
    put_key(&r, key);
    return call_plain(s, RDV_EXEC_DELETE, key, &r, RDV_DEADLINE_NONE, 0);
}

static int ex_list(rdv_store *s, const char *prefix, char ***keys,
                   size_t *n)
{
    rdv_exec_req r = {0};
    rdv_exec_parser p;
    int rc;

    if (!OFFERS(X(s), RDV_EXEC_LIST))
        return not_offered(s, RDV_EXEC_LIST);
    rdv_exec_req_begin(&r, RDV_EXEC_LIST);
    put_key(&r, prefix);
    rc = rdv_exec_pool_call(s, RDV_EXEC_LIST, NULL, &r, &p, 0,
                            RDV_DEADLINE_NONE, 0);
    rdv_exec_req_free(&r);
    if (rc)
        return rc;
    *keys = (char **)p.reply.items;
    *n = p.reply.nitems;
    p.reply.items = NULL;
    p.reply.nitems = 0;
    rdv_exec_parser_free(&p);
    return RDV_OK;
}

static int ex_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int64_t deadline)
{
    rdv_exec_req r = {0};
    rdv_exec_parser p;
    int rc;

    if (!OFFERS(X(s), RDV_EXEC_MULTI_GET) || n > UINT32_MAX)
        return rdv_fallback_multi_get(s, keys, n, vals, lens, deadline);
    rdv_exec_req_begin(&r, RDV_EXEC_MULTI_GET);
    put_keys(&r, keys, n);
    rdv_exec_req_timeout_slot(&r);
    rc = rdv_exec_pool_call(s, RDV_EXEC_MULTI_GET, keys[0], &r, &p,
                            (uint32_t)n, deadline, 1);
    rdv_exec_req_free(&r);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        vals[i] = p.reply.items[i];
        lens[i] = p.reply.lens[i];
    }
    p.reply.nitems = 0; /* the values are the caller's now */
    rdv_exec_parser_free(&p);
    return RDV_OK;
}

static int ex_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens,
                        size_t n)
{
    rdv_exec_req r = {0};

    if (!OFFERS(X(s), RDV_EXEC_MULTI_SET) || n > UINT32_MAX)
        return rdv_fallback_multi_set(s, keys, vals, lens, n);
    rdv_exec_req_begin(&r, RDV_EXEC_MULTI_SET);
    rdv_exec_req_u32(&r, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put_key(&r, keys[i]);
        rdv_exec_req_bytes(&r, vals[i] ? vals[i] : "", lens[i]);
    }
    return call_plain(s, RDV_EXEC_MULTI_SET, keys[0], &r, RDV_DEADLINE_NONE,
                      0);
}

static int ex_num_keys(rdv_store *s, int64_t *n)
{
    rdv_exec_req r = {0};

    if (OFFERS(X(s), RDV_EXEC_NUM_KEYS)) {
        rdv_exec_req_begin(&r, RDV_EXEC_NUM_KEYS);
        return call_num(s, RDV_EXEC_NUM_KEYS, NULL, &r, 1, n);
    }
    if (OFFERS(X(s), RDV_EXEC_LIST))
        return rdv_fallback_num_keys(s, n);
    return not_offered(s, RDV_EXEC_NUM_KEYS);
}

static int ex_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted)
{
    rdv_exec_req r = {0};
    int64_t count;
    int rc;

    if (!OFFERS(X(s), RDV_EXEC_DELETE_PREFIX)) {
        if (OFFERS(X(s), RDV_EXEC_LIST) && OFFERS(X(s), RDV_EXEC_DELETE))
            return rdv_fallback_delete_prefix(s, prefix, deleted);
        return not_offered(s, RDV_EXEC_DELETE_PREFIX);
    }
    rdv_exec_req_begin(&r, RDV_EXEC_DELETE_PREFIX);
    put_key(&r, prefix);
    rc = call_num(s, RDV_EXEC_DELETE_PREFIX, NULL, &r, 1, &count);
    *deleted = rc ? 0 : (size_t)count;
    return rc;
}

static void ex_cancel(rdv_store *s)
{
    exec_store *x = X(s);

    /* The eventfd is shared with the parent after fork: a child closing
     * its copy must not cancel the parent's calls. */
    if (rdv_self_pid() != x->owner)
        return;
    pthread_mutex_lock(&x->lock);
    x->canceled = 1;
    pthread_cond_broadcast(&x->changed);
    pthread_mutex_unlock(&x->lock);
    if (x->cancel_fd >= 0)
        eventfd_write(x->cancel_fd, 1);
}

static void ex_destroy(rdv_store *s)
{
    exec_store *x = X(s);
    rdv_exec_chan *live[EXEC_CHANNELS_MAX];
    size_t n = 0;

    for (int i = 0; i < EXEC_CHANNELS_MAX; i++) {
        if (x->state[i] == SLOT_FREE)
            continue;
        if (rdv_self_pid() == x->owner)
            live[n++] = &x->chans[i];
        else
            rdv_exec_chan_forget(&x->chans[i]);
    }
    rdv_exec_chan_stop(live, n);
    if (x->cancel_fd >= 0)
        close(x->cancel_fd);
    for (char **a = x->argv; a && *a; a++)
        free(*a);
    free(x->argv);
    pthread_mutex_destroy(&x->lock);
    pthread_cond_destroy(&x->changed);
    free(x);
}

static const rdv_store_ops exec_ops = {
    .name = "exec",
    .set = ex_set,
    .get = ex_get,
    .wait = ex_wait,
    .add = ex_add,
    .compare_set = ex_compare_set,
    .del = ex_del,
    .list = ex_list,
    .destroy = ex_destroy,
    .multi_get = ex_multi_get,
    .multi_set = ex_multi_set,
    .num_keys = ex_num_keys,
    .delete_prefix = ex_delete_prefix,
    .cancel = ex_cancel,
};

/* ---- open --------------------------------------------------------------- */

/* A clear error for an adapter path that cannot run, before any start. */
static int check_program(const rdv_url *u, char *errbuf, size_t errlen)
{
    const char *path = u->path;
    struct stat st;

    if (!strchr(path, '/'))
        return RDV_OK; /* looked up in PATH when it starts */
    if (stat(path, &st) != 0) {
        snprintf(errbuf, errlen, "store URL '%s': adapter '%s': %s",
                 u->redacted, path, strerror(errno));
        return RDV_EINVAL;
    }
    if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
        snprintf(errbuf, errlen, "store URL '%s': adapter '%s' is not an "
                 "executable file (mode %04o)%s", u->redacted, path,
                 (unsigned)(st.st_mode & 07777),
                 S_ISREG(st.st_mode) ? ": chmod +x it" : "");
        return RDV_EINVAL;
    }
    return RDV_OK;
}

/* argv: the path, then --key=value for every option not rdv's own. */
static char **build_argv(rdv_url *u)
{
    char **argv = calloc(u->noptions + 2, sizeof *argv);
    size_t n = 0;

    if (!argv || !(argv[n++] = strdup(u->path)))
        goto fail;
    for (size_t i = 0; i < u->noptions; i++) {
        const rdv_url_opt *o = &u->options[i];
        size_t len = strlen(o->key) + strlen(o->value) + 4;

        if (!strcmp(o->key, "prefix") || !strcmp(o->key, "timeout_ms") ||
            !strcmp(o->key, "start_timeout_ms"))
            continue;
        rdv_url_option(u, o->key); /* marks it used: it is the adapter's */
        if (!(argv[n] = malloc(len)))
            goto fail;
        snprintf(argv[n++], len, "--%s=%s", o->key, o->value);
    }
    return argv;
fail:
    for (size_t i = 0; argv && i < n; i++)
        free(argv[i]);
    free(argv);
    return NULL;
}

static int init(exec_store *x, rdv_url *u, long timeout_ms, long start_ms)
{
    pthread_condattr_t ca;

    rdv_store_init(&x->base, &exec_ops);
    x->timeout_ns = (int64_t)timeout_ms * 1000000;
    x->start_ns = (int64_t)start_ms * 1000000;
    x->owner = rdv_self_pid();
    x->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&x->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&x->changed, &ca);
    pthread_condattr_destroy(&ca);
    x->argv = build_argv(u);
    return x->cancel_fd < 0 ? RDV_EIO : x->argv ? RDV_OK : RDV_ENOMEM;
}

int rdv_exec_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen)
{
    char why[512];
    exec_store *x;
    long timeout_ms, start_ms;
    int rc;

    if ((u->has_authority && u->host[0]) || !u->path[0]) {
        snprintf(errbuf, errlen, "malformed store URL '%s': exec: takes "
                 "the path of an adapter program, e.g. "
                 "exec:/path/to/adapter?key=value", u->redacted);
        return RDV_EINVAL;
    }
    if ((rc = rdv_url_option_long(u, "timeout_ms", 1, INT_MAX,
                                  EXEC_TIMEOUT_MS_DEFAULT, &timeout_ms,
                                  errbuf, errlen)) ||
        (rc = rdv_url_option_long(u, "start_timeout_ms", 1, INT_MAX,
                                  EXEC_START_TIMEOUT_MS_DEFAULT, &start_ms,
                                  errbuf, errlen)) ||
        (rc = check_program(u, errbuf, errlen)))
        return rc;
    if (!(x = calloc(1, sizeof *x)))
        return RDV_ENOMEM;
    if ((rc = init(x, u, timeout_ms, start_ms)) != RDV_OK) {
        snprintf(errbuf, errlen, "store URL '%s': %s", u->redacted,
                 rdv_strerror(rc));
        goto fail;
    }
    x->state[0] = SLOT_TAKEN;
    if ((rc = rdv_exec_pool_start(x, 0, 1, why, sizeof why)) != RDV_OK) {
        x->state[0] = SLOT_FREE;
        snprintf(errbuf, errlen, "store URL '%s': %s", u->redacted, why);
        goto fail;
    }
    x->state[0] = SLOT_IDLE;
    x->base.flags |= (x->gloo ? RDV_STORE_GLOO_LEVEL : 0) |
                     (x->process_scope ? RDV_STORE_PROCESS_LOCAL : 0);
    *out = &x->base;
    return RDV_OK;
fail:
    ex_destroy(&x->base);
    return rc;
}
