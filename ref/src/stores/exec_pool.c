/*
 * stores/exec_pool.c - the adapters of one exec: store handle (see
 * exec.c for the scheme and its choices): the hello each adapter sends
 * and what it must declare, the pool of adapters (an idle one is taken,
 * a free slot starts one, else the call waits for one until its
 * deadline), and one call: a request sent, its reply read within the
 * op's time, and every failure turned into a message naming the
 * adapter, its pid and the op.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec_store.h"
#include "self_pid.h"

/* 1 when st is one of rdv's statuses. */
static int status_known(int st)
{
    switch (st) {
#define RDV_STATUS_CASE(name, value, text) case (value):
        RDV_STATUS_MAP(RDV_STATUS_CASE)
#undef RDV_STATUS_CASE
        return 1;
    }
    return 0;
}

/* ---- the hello ---------------------------------------------------------- */

/* The value of hello pair name, or NULL. */
static const char *hello_get(const rdv_exec_reply *h, const char *name)
{
    for (size_t i = 0; i + 1 < h->nitems; i += 2)
        if (strcmp(h->items[i], name) == 0)
            return h->items[i + 1];
    return NULL;
}

/* Reads the ops list into a bitmask; RDV_EPROTO naming an unknown op. */
static int parse_ops(const char *text, unsigned *mask, char *why,
                     size_t whylen)
{
    *mask = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, ",");
        int t = rdv_exec_type_parse(p, n);

        if (!t && n) {
            snprintf(why, whylen, "declared an unknown op '%.*s' (ops are "
                     "named as in EXEC_PROTOCOL.md: set, get, wait, ...)",
                     (int)(n > 64 ? 64 : n), p);
            return RDV_EPROTO;
        }
        *mask |= t ? 1u << t : 0;
        p += n + (p[n] == ',');
    }
    return RDV_OK;
}

/* Checks a hello and, for the first adapter, records what it declares;
 * a later adapter must declare the same. */
static int take_hello(exec_store *x, const rdv_exec_reply *h, int first,
                      char *why, size_t whylen)
{
    static const int full[] = {RDV_EXEC_SET, RDV_EXEC_GET, RDV_EXEC_WAIT,
                               RDV_EXEC_ADD, RDV_EXEC_COMPARE_SET,
                               RDV_EXEC_DELETE, RDV_EXEC_LIST};
    const char *level = hello_get(h, "level"), *ops = hello_get(h, "ops");
    const char *scope = hello_get(h, "scope");
    unsigned mask;
    int gloo, local, rc;

    if (h->status != 0) {
        snprintf(why, whylen, "refused to start: %s",
                 h->msg && h->msg[0] ? h->msg : rdv_strerror(h->status));
        return status_known(h->status) ? h->status : RDV_EPROTO;
    }
    if (h->version != RDV_EXEC_VERSION) {
        snprintf(why, whylen, "speaks exec protocol version %u; this rdv "
                 "speaks %d to %d", h->version, RDV_EXEC_VERSION,
                 RDV_EXEC_VERSION);
        return RDV_EPROTO;
    }
    if (!level || (strcmp(level, "full") && strcmp(level, "gloo"))) {
        snprintf(why, whylen, "declared level '%s' in its hello (want "
                 "'full' or 'gloo')", level ? level : "(none)");
        return RDV_EPROTO;
    }
    if (scope && strcmp(scope, "shared") && strcmp(scope, "process")) {
        snprintf(why, whylen, "declared scope '%s' in its hello (want "
                 "'shared' or 'process')", scope);
        return RDV_EPROTO;
    }
    if (!ops) {
        snprintf(why, whylen, "declared no ops in its hello");
        return RDV_EPROTO;
    }
    if ((rc = parse_ops(ops, &mask, why, whylen)))
        return rc;
    gloo = strcmp(level, "gloo") == 0;
    local = scope && strcmp(scope, "process") == 0;
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        if (!(mask >> full[i] & 1u) && (!gloo || i < 3)) {
            snprintf(why, whylen, "declared level %s without the op %s "
                     "(ops: %s)", level, rdv_exec_type_name(full[i]), ops);
            return RDV_EPROTO;
        }
    }
    if (first) {
        x->offers = mask;
        x->gloo = gloo;
        x->process_scope = local;
        snprintf(x->ops_text, sizeof x->ops_text, "%s", ops);
    } else if (mask != x->offers || gloo != x->gloo ||
               local != x->process_scope) {
        snprintf(why, whylen, "declared level %s, ops %.100s, scope %s, "
                 "but the handle's first adapter declared level %s, ops "
                 "%.100s",
                 level, ops, local ? "process" : "shared",
                 x->gloo ? "gloo" : "full", x->ops_text);
        return RDV_EPROTO;
    }
    return RDV_OK;
}

/* Starts the adapter of slot i (state TAKEN) and reads its hello. */
int rdv_exec_pool_start(exec_store *x, int i, int first, char *why,
                        size_t whylen)
{
    rdv_exec_chan *c = &x->chans[i];
    rdv_exec_reply hello = {0};
    char reason[320];
    int rc = rdv_exec_chan_start(c, x->argv, rdv_now_ns() + x->start_ns,
                                 x->cancel_fd, &hello, reason,
                                 sizeof reason);

    if (rc == RDV_OK && (rc = take_hello(x, &hello, first, reason,
                                         sizeof reason)) != RDV_OK)
        rdv_exec_chan_kill(c);
    rdv_exec_reply_free(&hello);
    if (rc == RDV_OK)
        return RDV_OK;
    if (rc == RDV_ETIMEDOUT)
        snprintf(why, whylen, "adapter '%s' (pid %d) sent no hello within "
                 "start_timeout_ms=%lld (an adapter that imports a large "
                 "library on a loaded machine may need more)", x->argv[0],
                 (int)c->pid, (long long)(x->start_ns / 1000000));
    else if (c->pid > 0)
        snprintf(why, whylen, "adapter '%s' (pid %d) %s", x->argv[0],
                 (int)c->pid, reason);
    else
        snprintf(why, whylen, "adapter '%s' %s", x->argv[0], reason);
    return rc;
}

/* ---- the pool ----------------------------------------------------------- */

static void cond_wait_until(exec_store *x, int64_t deadline)
{
    struct timespec ts;

    if (deadline == RDV_DEADLINE_NONE) {
        pthread_cond_wait(&x->changed, &x->lock);
        return;
    }
    ts.tv_sec = deadline / 1000000000LL;
    ts.tv_nsec = deadline % 1000000000LL;
    pthread_cond_timedwait(&x->changed, &x->lock, &ts);
}

/* Takes an idle adapter, or starts one in a free slot, or waits for one
 * until io. The slot is TAKEN on success. */
static int acquire(exec_store *x, int64_t io, int *slot, char *why,
                   size_t whylen)
{
    int max = x->process_scope ? 1 : EXEC_CHANNELS_MAX, rc = RDV_OK;

    pthread_mutex_lock(&x->lock);
    for (;;) {
        int free_slot = -1;

        if (x->canceled) {
            snprintf(why, whylen, "the store is closing");
            rc = RDV_ECANCELED;
            break;
        }
        if (x->lost[0]) {
            snprintf(why, whylen, "%s", x->lost);
            rc = RDV_ESTATE;
            break;
        }
        for (int i = 0; i < max; i++) {
            if (x->state[i] == SLOT_IDLE) {
                x->state[i] = SLOT_TAKEN;
                *slot = i;
                pthread_mutex_unlock(&x->lock);
                return RDV_OK;
            }
            if (x->state[i] == SLOT_FREE && free_slot < 0)
                free_slot = i;
        }
        if (free_slot >= 0) {
            x->state[free_slot] = SLOT_TAKEN;
            pthread_mutex_unlock(&x->lock);
            rc = rdv_exec_pool_start(x, free_slot, 0, why, whylen);
            pthread_mutex_lock(&x->lock);
            if (rc) {
                x->state[free_slot] = SLOT_FREE;
                pthread_cond_broadcast(&x->changed);
            }
            *slot = free_slot;
            break;
        }
        if (io != RDV_DEADLINE_NONE && rdv_now_ns() >= io) {
            snprintf(why, whylen, "no adapter was free before the deadline: "
                     "all %d of this handle's are busy with other threads' "
                     "calls", max);
            rc = RDV_ETIMEDOUT;
            break;
        }
        cond_wait_until(x, io);
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

/* Returns slot to the pool; a broken adapter is killed first. */
static void release(exec_store *x, int slot)
{
    rdv_exec_chan *c = &x->chans[slot];

    pthread_mutex_lock(&x->lock);
    /* When closing, destroy stops every adapter at once, so a call that
     * close woke returns now, not after its adapter's exit. */
    if (c->broken && !x->canceled) {
        pthread_mutex_unlock(&x->lock);
        rdv_exec_chan_kill(c);
        pthread_mutex_lock(&x->lock);
        if (x->process_scope)
            snprintf(x->lost, sizeof x->lost, "its adapter '%s' (pid %d) "
                     "was killed after an earlier failure, and its data "
                     "(scope=process) went with it: open the store again",
                     x->argv[0], (int)c->pid);
        x->state[slot] = SLOT_FREE;
    } else {
        x->state[slot] = SLOT_IDLE;
    }
    pthread_cond_broadcast(&x->changed);
    pthread_mutex_unlock(&x->lock);
}

/* ---- one call ----------------------------------------------------------- */

/* "get 'key'" (or just op when key is NULL) for messages. */
static const char *describe(char *buf, size_t cap, int type, const char *key)
{
    char k[128];

    if (!key)
        snprintf(buf, cap, "%s", rdv_exec_type_name(type));
    else
        snprintf(buf, cap, "%s '%s'", rdv_exec_type_name(type),
                 rdv_key_printable(key, k, sizeof k));
    return buf;
}

/* The adapter's own message, one line. */
static void one_line(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

/* Runs one request on an adapter of the handle: deadline is the op's
 * (get, wait, multi_get: timed) or RDV_DEADLINE_NONE. On RDV_OK p->reply
 * holds a status-0 reply the caller reads and frees. */
int rdv_exec_pool_call(rdv_store *s, int type, const char *key,
                       rdv_exec_req *req, rdv_exec_parser *p, uint32_t n,
                       int64_t deadline, int timed)
{
    exec_store *x = X(s);
    int64_t io = !timed ? rdv_now_ns() + x->timeout_ns
                 : deadline == RDV_DEADLINE_NONE ? RDV_DEADLINE_NONE
                                                 : deadline + EXEC_REPLY_GRACE_NS;
    char what[160], why[448];
    rdv_exec_chan *c;
    int slot, rc, st;
    pid_t pid;

    describe(what, sizeof what, type, key);
    if (rdv_self_pid() != x->owner)
        return rdv_store_fail(s, RDV_ESTATE, "%s: this exec store handle "
                              "belongs to pid %d, which opened it; process "
                              "%d must open its own", what, (int)x->owner,
                              (int)getpid());
    if (req->oom)
        return rdv_store_fail(s, RDV_ENOMEM, "%s: out of memory", what);
    if ((rc = acquire(x, io, &slot, why, sizeof why)) != RDV_OK)
        return rdv_store_fail(s, rc, "%s: %s", what, why);
    if (timed) /* the time left now: waiting for an adapter counted */
        rdv_exec_req_timeout(req, rdv_deadline_left_ms(deadline));
    c = &x->chans[slot];
    pid = c->pid;
    rdv_exec_parser_init(p, type, n);
    rc = rdv_exec_chan_call(c, req, p, io, x->cancel_fd, why, sizeof why);
    st = rc == RDV_OK ? p->reply.status : 0;
    if (st != 0 && !status_known(st)) {
        c->broken = 1;
        rdv_exec_parser_free(p);
        snprintf(why, sizeof why, "answered with status %d, which is not "
                 "an rdv status", st);
        rc = RDV_EPROTO;
    }
    release(x, slot);
    if (rc != RDV_OK)
        return rdv_store_fail(s, rc, "%s: adapter '%s' (pid %d) %s%s; %s",
                              what, x->argv[0], (int)pid, why,
                              rc != RDV_ETIMEDOUT ? ""
                              : timed ? " (the call's deadline plus 1 s)"
                                      : " (timeout_ms of the store URL)",
                              x->process_scope ? "the handle is unusable "
                              "now" : "it was killed; the next call starts "
                              "a new one");
    if (st != 0) {
        if (p->reply.msg && p->reply.msg[0]) {
            one_line(p->reply.msg);
            rdv_store_fail(s, st, "%s", p->reply.msg);
        } else {
            rdv_store_fail(s, st, "%s: adapter '%s' (pid %d) failed: %s",
                           what, x->argv[0], (int)pid, rdv_strerror(st));
        }
        rdv_exec_parser_free(p);
        return st;
    }
    return RDV_OK;
}

