/*
 * etcd_kv.c - the etcd plugin's writes and listings: set, create-only
 * set, add, compare_set, delete, list, num_keys, delete_prefix and
 * multi_set, each one or a few gateway calls (etcd_http.c).
 *
 * Choices:
 * - Every conditional write is one txn guarded on the key's revision:
 *   create_revision == 0 (absent) or mod_revision == what we read. Its
 *   failure branch reads the key back, so a lost race costs no extra
 *   trip: the next try starts from that read.
 * - add is a compare-and-swap loop. Its first guess is the state its own
 *   last add to that key left (one trip when nobody else wrote since),
 *   else a read (a failed guarded txn costs a raft write, a read does
 *   not). A lost race retries at once from what the txn read: a
 *   backoff would starve the loser, since the winner's next add never
 *   waits. It gives up after ADD_TRIES lost races or at the op's
 *   deadline (timeout_ms), naming how many it lost.
 *   compare_set compares the value bytes: it reads value and
 *   mod_revision, then writes guarded on that revision; a txn lost to a
 *   write of the same bytes tries again.
 * - A guarded write resent after a lost reply (a leader change, a member
 *   gone) cannot apply twice, since the first one moved the revision;
 *   when the resend then finds the key changed, the write's receipt
 *   (etcd_receipt.c) says whether the change was its own. So even an add
 *   is applied exactly once across failover, and says so.
 * - list, num_keys and delete_prefix are single range requests over
 *   [prefix, prefix + 1); "" is rdv's whole keyspace, ["\1", "\0"),
 *   which leaves out the receipts.
 * - multi_set packs up to ETCD_TXN_OPS puts, at most 1 MiB of values,
 *   into one txn; a larger value goes alone, so a request stays under
 *   the server's --max-request-bytes whenever one value does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_store.h"

#define ADD_TRIES 1000
#define GRPC_NOT_FOUND 5 /* a put's lease is gone */
#define TXN_BYTES (1024 * 1024)

/* A key's state as the last reply showed it. */
typedef struct observed {
    int present;
    int64_t mod_rev;
    void *val; /* malloc'd, NUL-terminated */
    size_t len;
} observed;

static void observed_clear(observed *o)
{
    free(o->val);
    memset(o, 0, sizeof *o);
}

static int same_bytes(const observed *o, const void *v, size_t len)
{
    return o->present && o->len == len && memcmp(o->val, v, len) == 0;
}

/* The detail for a reply that lacks what it should hold. */
static int malformed(const etcd_op *op, const char *what)
{
    char k[160];

    return kit_fail(RDV_EPROTO, "%s '%s' on etcd: the reply lacks %s",
                    op->name, kit_printable(op->key ? op->key : "", k,
                                            sizeof k), what);
}

/* Fills o from a "kvs" array (absent when empty). */
static int observe(const etcd_op *op, json_t *kvs, observed *o)
{
    etcd_kv kv;
    int rc;

    observed_clear(o);
    if (json_array_size(kvs) == 0)
        return RDV_OK;
    if ((rc = etcd_kv_read(json_array_get(kvs, 0), 1, &kv)))
        return rc == RDV_ENOMEM ? rc : malformed(op, "a readable key");
    o->present = 1;
    o->mod_rev = kv.mod_rev;
    o->val = kv.val;
    o->len = kv.vlen;
    kv.val = NULL;
    etcd_kv_free(&kv);
    return RDV_OK;
}

static int read_key(etcd_store *s, const etcd_op *op, observed *o,
                    int64_t deadline)
{
    json_t *req = etcd_req_range(op->key, strlen(op->key), NULL, 0, 0, 0);
    etcd_reply r;
    int rc = etcd_call(s, op, "/v3/kv/range", req, deadline, &r);

    json_decref(req);
    if (rc == RDV_OK)
        rc = observe(op, etcd_reply_kvs(r.json), o);
    json_decref(r.json);
    return rc;
}

/* Stores val if the key is still as o says (absent, or at o->mod_rev),
 * writing this thread's receipt with it. Returns 1 when stored
 * (o->mod_rev is then its revision), 0 when not (o holds the key as the
 * txn found it), or a negative status. A txn that was resent after a
 * lost reply and then found the key changed is settled by its receipt. */
static int guarded_put(etcd_store *s, const etcd_op *op, observed *o,
                       const void *val, size_t len, int64_t deadline)
{
    for (int renewed = 0;; renewed = 1) {
        json_t *req = etcd_req_guarded_put(op->key,
                                           o->present ? "MOD" : "CREATE",
                                           o->present ? o->mod_rev : 0, val,
                                           len);
        etcd_receipt receipt = {0};
        etcd_reply r = {0};
        int64_t rev = 0;
        int rc = req ? etcd_receipt_add(s, op, req, &receipt, deadline)
                     : kit_fail(RDV_ENOMEM, "%s: out of memory", op->name);

        if (rc == RDV_OK)
            rc = etcd_call(s, op, "/v3/kv/txn", req, deadline, &r);
        json_decref(req);
        if (rc == RDV_EIO && r.code == GRPC_NOT_FOUND && !renewed) {
            etcd_receipt_lease_lost(s, receipt.lease); /* it expired */
            continue;
        }
        if (rc == RDV_OK && json_is_true(json_object_get(r.json,
                                                         "succeeded"))) {
            o->mod_rev = etcd_reply_revision(r.json); /* what it wrote */
            rc = 1;
        } else if (rc == RDV_OK &&
                   (rc = observe(op, etcd_txn_kvs(r.json, 0), o)) ==
                       RDV_OK && r.unsure &&
                   (rc = etcd_receipt_check(s, op, &receipt, deadline,
                                            &rev)) == 1) {
            o->mod_rev = rev;
        }
        json_decref(r.json);
        return rc;
    }
}

static int etcd_put(etcd_store *s, const etcd_op *op, const void *val,
                    size_t len)
{
    int64_t deadline = etcd_io_deadline(s, len);
    size_t n = 0;
    char *text = etcd_text_put(op->key, val, len, &n);
    etcd_reply r = {0};
    int rc = text ? etcd_call_text(s, op, "/v3/kv/put", text, n, deadline,
                                   &r)
                  : kit_fail(RDV_ENOMEM, "set: out of memory for the request");

    free(text);
    json_decref(r.json);
    return rc;
}

int etcd_set(void *h, const char *key, const void *val, size_t len,
             int flags)
{
    etcd_store *s = h;
    etcd_op op = {"set", key, 1};
    observed o = {0};
    char k[160];
    int rc;

    if (!(flags & RDV_PLUGIN_SET_CREATE_ONLY))
        return etcd_put(s, &op, val, len);
    rc = guarded_put(s, &op, &o, val, len, etcd_io_deadline(s, len));
    if (rc == 0)
        rc = kit_fail(RDV_EEXIST, "set '%s' on etcd: the key exists "
                      "(create-only)", kit_printable(key, k, sizeof k));
    observed_clear(&o);
    return rc < 0 ? rc : RDV_OK;
}

/* add's first guess of its counter: this handle's last write to it, or
 * else a read. */
static int add_guess(etcd_store *s, const etcd_op *op, observed *o,
                     int64_t deadline)
{
    char buf[24];
    int hit;

    pthread_mutex_lock(&s->add_lock);
    hit = s->add_key && strcmp(s->add_key, op->key) == 0;
    if (hit) {
        o->present = 1;
        o->mod_rev = s->add_rev;
        o->len = (size_t)snprintf(buf, sizeof buf, "%lld",
                                  (long long)s->add_val);
        o->val = strdup(buf);
    }
    pthread_mutex_unlock(&s->add_lock);
    if (hit)
        return o->val ? RDV_OK : kit_fail(RDV_ENOMEM, "add: out of memory");
    return read_key(s, op, o, deadline);
}

/* Remembers (or with rev 0 forgets) what this handle's add wrote. */
static void add_remember(etcd_store *s, const char *key, int64_t rev,
                         int64_t val)
{
    pthread_mutex_lock(&s->add_lock);
    if (!s->add_key || strcmp(s->add_key, key) != 0) {
        free(s->add_key);
        s->add_key = rev ? strdup(key) : NULL;
    }
    s->add_rev = rev;
    s->add_val = val;
    pthread_mutex_unlock(&s->add_lock);
}

int etcd_add(void *h, const char *key, int64_t delta, int64_t *result)
{
    etcd_store *s = h;
    etcd_op op = {"add", key, 1};
    int64_t deadline = etcd_io_deadline(s, 0), t0 = kit_now_ns(), old, sum;
    observed o = {0};
    char next[24], k[160];
    int lost = 0, rc = add_guess(s, &op, &o, deadline);

    while (rc == RDV_OK) {
        size_t n;

        old = 0;
        if (o.present && kit_counter_parse(o.val, o.len, &old)) {
            rc = kit_fail(RDV_EPROTO, "add '%s' on etcd: the value is not "
                          "a decimal int64", kit_printable(key, k, sizeof k));
            break;
        }
        if (!(n = kit_counter_next(old, delta, next, &sum))) {
            rc = kit_fail(RDV_EINVAL, "add '%s' on etcd: %lld + %lld "
                          "overflows int64", kit_printable(key, k, sizeof k),
                          (long long)old, (long long)delta);
            break;
        }
        rc = guarded_put(s, &op, &o, next, n, deadline);
        if (rc == 1) {
            add_remember(s, key, o.mod_rev, sum);
            *result = sum;
            rc = RDV_OK;
            break;
        }
        if (rc < 0)
            break;
        if (++lost >= ADD_TRIES || kit_now_ns() >= deadline) {
            rc = kit_fail(RDV_ETIMEDOUT, "add '%s' on etcd: lost %d races "
                          "to other writers in %lld ms; gave up (the key "
                          "is too contended)", kit_printable(key, k, sizeof k),
                          lost, kit_ms_since(t0));
            break;
        }
    }
    observed_clear(&o);
    if (rc != RDV_OK)
        add_remember(s, key, 0, 0);
    return rc;
}

int etcd_compare_set(void *h, const char *key, const void *expected,
                     size_t expected_len, const void *desired,
                     size_t desired_len, int *won, void **cur,
                     size_t *cur_len)
{
    etcd_store *s = h;
    etcd_op op = {"compare_set", key, 1};
    int64_t deadline = etcd_io_deadline(s, desired_len + expected_len);
    observed o = {0};
    char k[160];
    int rc = expected ? read_key(s, &op, &o, deadline) : RDV_OK;

    *won = 0;
    for (int tries = 0; rc == RDV_OK; tries++) {
        if (expected && !same_bytes(&o, expected, expected_len))
            break; /* absent, or other bytes: lost */
        if (tries == ADD_TRIES || kit_now_ns() >= deadline) {
            rc = kit_fail(RDV_ETIMEDOUT, "compare_set '%s' on etcd: the "
                          "value was rewritten %d times under us; gave up",
                          kit_printable(key, k, sizeof k), tries);
            break;
        }
        rc = guarded_put(s, &op, &o, desired, desired_len, deadline);
        if (rc >= 0) {
            *won = rc == 1;
            rc = RDV_OK;
            if (*won || !expected)
                break;
        }
    }
    if (rc == RDV_OK && cur)
        rc = kit_cas_current(*won, desired, desired_len,
                             o.present ? o.val : NULL, o.len, cur, cur_len);
    observed_clear(&o);
    return rc;
}

int etcd_del(void *h, const char *key)
{
    etcd_op op = {"delete", key, 0};
    json_t *req = etcd_req_delete(key, strlen(key), NULL, 0);
    etcd_reply r;
    int rc = etcd_call(h, &op, "/v3/kv/deleterange", req,
                       etcd_io_deadline(h, 0), &r);

    json_decref(req);
    json_decref(r.json);
    return rc;
}

/* A range request over every key starting with prefix ("" = all). */
static int prefix_call(etcd_store *s, const etcd_op *op, int del,
                       const char *prefix, int keys_only, int count_only,
                       etcd_reply *r)
{
    size_t plen = strlen(prefix), end_len;
    char *end = etcd_prefix_end(prefix, plen, &end_len);
    json_t *req = NULL;
    int rc;

    /* etcd refuses an empty key; rdv's keys start at "\1" (receipts,
     * "\0rdv-receipt/...", are not rdv's). */
    if (!plen)
        prefix = "\1";
    if (end && del)
        req = etcd_req_delete(prefix, plen ? plen : 1, end, end_len);
    else if (end)
        req = etcd_req_range(prefix, plen ? plen : 1, end, end_len,
                             keys_only, count_only);
    free(end);
    rc = etcd_call(s, op, del ? "/v3/kv/deleterange" : "/v3/kv/range", req,
                   etcd_io_deadline(s, 0), r);
    json_decref(req);
    return rc;
}

int etcd_list(void *h, const char *prefix, char ***keys, size_t *n)
{
    etcd_op op = {"list", prefix, 0};
    kit_keys out = {0};
    etcd_reply r;
    json_t *kvs, *item;
    size_t i;
    int rc = prefix_call(h, &op, 0, prefix, 1, 0, &r);

    kvs = rc == RDV_OK ? etcd_reply_kvs(r.json) : NULL;
    json_array_foreach(kvs, i, item) {
        etcd_kv kv;

        if ((rc = etcd_kv_read(item, 0, &kv)))
            break;
        rc = kit_keys_push(&out, kv.key, kv.klen);
        etcd_kv_free(&kv);
        if (rc)
            break;
    }
    json_decref(r.json);
    if (rc) {
        kit_keys_free(&out);
        return rc == RDV_EPROTO ? malformed(&op, "a readable key") :
               rc == RDV_ENOMEM ? kit_fail(rc, "list: out of memory") : rc;
    }
    *keys = out.v;
    *n = out.n;
    return RDV_OK;
}

int etcd_num_keys(void *h, int64_t *n)
{
    etcd_op op = {"num_keys", NULL, 0};
    etcd_reply r;
    int rc = prefix_call(h, &op, 0, "", 0, 1, &r);

    if (rc == RDV_OK)
        *n = etcd_json_int(r.json, "count");
    json_decref(r.json);
    return rc;
}

int etcd_delete_prefix(void *h, const char *prefix, size_t *deleted)
{
    etcd_op op = {"delete_prefix", prefix, 0};
    etcd_reply r;
    int rc = prefix_call(h, &op, 1, prefix, 0, 0, &r);

    *deleted = 0;
    if (rc == RDV_OK)
        *deleted = (size_t)etcd_json_int(r.json, "deleted");
    json_decref(r.json);
    return rc;
}

int etcd_multi_set(void *h, const char *const *keys,
                   const void *const *vals, const size_t *lens, size_t n)
{
    etcd_op op = {"multi_set", NULL, 0};
    int rc = RDV_OK;

    for (size_t i = 0; i < n && rc == RDV_OK;) {
        json_t *txn = NULL;
        size_t ops = 0, bytes = 0;
        etcd_reply r;

        op.key = keys[i];
        while (i < n && ops < ETCD_TXN_OPS &&
               (ops == 0 || bytes + lens[i] <= TXN_BYTES)) {
            if (etcd_txn_add(&txn, "request_put",
                             etcd_req_put(keys[i], strlen(keys[i]),
                                          vals[i] ? vals[i] : "", lens[i],
                                          0))) {
                json_decref(txn);
                return kit_fail(RDV_ENOMEM, "multi_set: out of memory");
            }
            bytes += lens[i++];
            ops++;
        }
        rc = etcd_call(h, &op, "/v3/kv/txn", txn, etcd_io_deadline(h, bytes),
                       &r);
        json_decref(txn);
        json_decref(r.json);
    }
    return rc;
}
