/*
 * etcd_receipt.c - how the etcd plugin knows whether a guarded write
 * whose reply was lost was applied: every guarded txn (create-only set,
 * compare_set, add) also writes a receipt, and a try whose outcome is
 * unknown reads it back.
 *
 * Choices:
 * - A receipt is a key of this handle and thread, "\0rdv-receipt/<id>/
 *   <tid>", holding the sequence number of the thread's latest guarded
 *   write. It is put in the txn's success branch, so it changes exactly
 *   when the write is applied, in the same revision. A thread makes one
 *   call at a time, so nothing but its own next write replaces it; <id>
 *   is random per handle (a forked child opens a handle of its own).
 * - The leading NUL keeps receipts out of rdv's keyspace (rdv keys hold
 *   any byte but NUL): list, num_keys and delete_prefix("") start at
 *   "\1" and never see them.
 * - Receipts live on a lease (10 minutes), granted at the first guarded
 *   write and again once half of it has passed or etcd says it is gone,
 *   so a process that dies leaves nothing behind for long and no close
 *   has to reach the cluster. A receipt is read within the op's
 *   deadline, long before its lease could end.
 * - Without receipts a resent guarded txn that finds the key changed
 *   cannot tell "mine was applied" from "another writer's was"; with
 *   them an add under a leader change is still applied exactly once.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "etcd_store.h"

#define LEASE_TTL_S 600

void etcd_receipt_init(etcd_store *s)
{
    uint64_t id;

    if (getrandom(&id, sizeof id, 0) != sizeof id)
        id = (uint64_t)kit_now_ns() ^ ((uint64_t)getpid() << 32);
    snprintf(s->receipt_id, sizeof s->receipt_id, "%016llx",
             (unsigned long long)id);
    pthread_mutex_init(&s->lease_lock, NULL);
}

/* The handle's lease into *id, granted (again) when there is none or
 * half of its time has passed. */
static int lease_get(etcd_store *s, const etcd_op *op, int64_t deadline,
                     int64_t *id)
{
    etcd_op grant = {"lease grant for the receipt of", op->key, 0};
    int64_t now = kit_now_ns();
    json_t *req = NULL;
    etcd_reply r;
    int rc = RDV_OK;

    pthread_mutex_lock(&s->lease_lock);
    if (!s->lease || now - s->lease_t0 >= LEASE_TTL_S * 500000000LL) {
        req = json_pack("{s:i}", "TTL", LEASE_TTL_S);
        rc = req ? etcd_call(s, &grant, "/v3/lease/grant", req, deadline, &r)
                 : kit_fail(RDV_ENOMEM, "lease grant: out of memory");
        if (rc == RDV_OK) {
            s->lease = etcd_json_int(r.json, "ID");
            s->lease_t0 = now;
            json_decref(r.json);
            if (!s->lease)
                rc = kit_fail(RDV_EPROTO, "lease grant on etcd: no lease ID "
                              "in the reply");
        }
        json_decref(req);
    }
    *id = s->lease;
    pthread_mutex_unlock(&s->lease_lock);
    return rc;
}

void etcd_receipt_lease_lost(etcd_store *s, int64_t lease)
{
    pthread_mutex_lock(&s->lease_lock);
    if (s->lease == lease)
        s->lease = 0;
    pthread_mutex_unlock(&s->lease_lock);
}

int etcd_receipt_add(etcd_store *s, const etcd_op *op, json_t *txn,
                     etcd_receipt *r, int64_t deadline)
{
    char seq[24];
    size_t n;
    int rc = lease_get(s, op, deadline, &r->lease);

    if (rc)
        return rc;
    r->seq = atomic_fetch_add(&s->receipt_seq, 1) + 1;
    r->key[0] = '\0';
    r->klen = 1 + (size_t)snprintf(r->key + 1, sizeof r->key - 1,
                                   "rdv-receipt/%s/%d", s->receipt_id,
                                   (int)gettid());
    n = (size_t)snprintf(seq, sizeof seq, "%lld", (long long)r->seq);
    if (etcd_txn_add(&txn, "request_put",
                     etcd_req_put(r->key, r->klen, seq, n, r->lease)))
        return kit_fail(RDV_ENOMEM, "%s: out of memory", op->name);
    return RDV_OK;
}

int etcd_receipt_check(etcd_store *s, const etcd_op *op,
                       const etcd_receipt *r, int64_t deadline, int64_t *rev)
{
    json_t *req = etcd_req_range(r->key, r->klen, NULL, 0, 0, 0);
    json_t *kvs;
    etcd_kv kv = {0};
    int64_t seq = 0;
    etcd_reply rep;
    int rc = etcd_call(s, op, "/v3/kv/range", req, deadline, &rep);

    json_decref(req);
    if (rc)
        return rc;
    kvs = etcd_reply_kvs(rep.json);
    if (json_array_size(kvs) &&
        (rc = etcd_kv_read(json_array_get(kvs, 0), 1, &kv)) == RDV_OK) {
        kit_counter_parse(kv.val, kv.vlen, &seq);
        *rev = kv.mod_rev;
    }
    etcd_kv_free(&kv);
    json_decref(rep.json);
    return rc ? rc : seq == r->seq;
}
