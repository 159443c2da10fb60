/*
 * rendezvous/records.c - the store side of the rendezvous.
 *
 * Store traffic per rank: one create-only set (tried again when the
 * connection broke under it: see publish_set), ceil((N-1)/BATCH)
 * multi_gets (each blocks inside the store until the whole batch exists,
 * so nobody polls), and one delete. Only when a batch is slow (a rank
 * late or gone) does a read give up after a slice (a tenth of the
 * timeout, 250 ms to 2 s, doubling up to 4 s) and sweep the unread keys
 * with non-blocking gets, so a rank that published and then left is
 * still known by its record. While strangers knock on the listener a
 * blocking read is cut into pieces (50 ms, longer past 64 ranks) that
 * serve it in between (take_chunk_serving). Sweeps are kept rare on
 * purpose: at large N every store call contends with hundreds of ranks
 * for the store. Every record is decoded and checked before anything
 * connects to it: size, checksum, the rank against its
 * key, the job size and token, duplicates (nonce or address seen twice,
 * found with a small hash table so N = 1024 stays cheap), and the
 * loopback pitfall of an unset bind address. Records that arrive all at
 * once through another exchange (librdv-mpi's MPI_Allgather) go through
 * the same take_record().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fnv.h"
#include "mesh.h"
#include "rdv/clock.h"
#include "rdv/store_ops.h"
#include "transport/sockaddr.h"

#define BATCH 64

void rdv_mesh_key(const rdv_mesh *m, int rank, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/addr/%d", m->job, rank);
}

/* The store could not be reached (a redis restart, say) while the
 * deadline still leaves time: the read is lost, not the rendezvous. */
static int store_down(const rdv_mesh *m, int ret)
{
    return ret == RDV_ECONN && rdv_now_ns() < m->deadline;
}

/* Whether key holds exactly our record: a create-only set whose reply
 * was lost (a reset connection) may have been applied. The record
 * carries this context's random nonce, so no other process writes the
 * same bytes. */
static int holds_own(rdv_mesh *m, const char *key, const uint8_t *buf)
{
    void *val = NULL;
    size_t len = 0;
    int own;

    m->counters->store_ops++;
    own = rdv_store_try_get(m->store, key, &val, &len) == RDV_OK &&
          len == RDV_RECORD_SIZE && memcmp(val, buf, len) == 0;
    free(val);
    return own;
}

/* The create-only set of our record. A broken connection is not the
 * end while the deadline leaves time: the set is tried again, and
 * "exists" after a lost reply is success when the value is ours. */
static int publish_set(rdv_mesh *m, const char *key, const uint8_t *buf)
{
    const struct timespec nap = {0, 10 * 1000 * 1000};
    int ret, lost = 0;

    for (;;) {
        m->counters->store_ops++;
        ret = rdv_store_set(m->store, key, buf, RDV_RECORD_SIZE,
                            RDV_SET_CREATE_ONLY);
        if (!store_down(m, ret))
            break;
        lost = 1;
        nanosleep(&nap, NULL); /* the store reconnects; no busy loop */
    }
    if (ret == RDV_EEXIST && lost && holds_own(m, key, buf))
        ret = RDV_OK;
    return ret;
}

int rdv_mesh_publish(rdv_mesh *m)
{
    uint8_t buf[RDV_RECORD_SIZE];
    char key[320], why[160], who[200] = "an unreadable value";
    rdv_record old;
    void *val = NULL;
    size_t len = 0;
    int ret;

    rdv_record_encode(&m->me, buf);
    rdv_mesh_key(m, m->rank, key, sizeof key);
    ret = publish_set(m, key, buf);
    if (ret == RDV_OK) {
        m->published = 1;
        return RDV_OK;
    }
    if (ret != RDV_EEXIST)
        return rdv_mesh_fail(m, ret, "rank %d: publishing %s: %s", m->rank,
                             key, rdv_store_errmsg(m->store));
    m->counters->store_ops++;
    if (rdv_store_try_get(m->store, key, &val, &len) == RDV_OK &&
        rdv_record_decode(val, len, &old, why, sizeof why) == RDV_OK) {
        struct sockaddr_storage ss;
        char addr[64];

        rdv_record_sockaddr(&old, &ss);
        snprintf(who, sizeof who, "pid %u on host \"%s\" at %s",
                 (unsigned)old.pid, old.hostname,
                 rdv_sockaddr_format(&ss, addr, sizeof addr));
    }
    free(val);
    return rdv_mesh_fail(m, RDV_EEXIST,
                         "rank %d: key %s already holds a record (%s): "
                         "another process has rank %d (duplicate rank), or "
                         "an earlier run left it; use a fresh job name or "
                         "store",
                         m->rank, key, who, m->rank);
}

int rdv_mesh_keep_published(rdv_mesh *m)
{
    uint8_t buf[RDV_RECORD_SIZE];
    char key[320];
    const char *k = key;
    int ret;

    if (!m->published || m->recheck_ns < 0)
        return RDV_OK;
    rdv_mesh_key(m, m->rank, key, sizeof key);
    m->counters->store_ops++;
    if (rdv_store_check(m->store, &k, 1) != RDV_ENOTFOUND)
        return RDV_OK; /* still there, or the store is unreachable now */
    rdv_record_encode(&m->me, buf);
    m->counters->store_ops++;
    ret = rdv_store_set(m->store, key, buf, sizeof buf, RDV_SET_CREATE_ONLY);
    if (ret == RDV_OK) {
        m->counters->records_republished++;
        rdv_context_log(m->ctx, "rank %d: record %s vanished from the store "
                        "(a restart without persistence?); published it "
                        "again", m->rank, key);
    }
    /* EEXIST: it came back meanwhile. Anything else: retry next check. */
    return RDV_OK;
}

void rdv_mesh_unpublish(rdv_mesh *m)
{
    char key[320];

    if (!m->published)
        return;
    rdv_mesh_key(m, m->rank, key, sizeof key);
    m->counters->store_ops++;
    rdv_store_delete(m->store, key);
    m->published = 0;
}

/* Duplicate finder: open addressing over fingerprints, 4N slots. */
typedef struct seen {
    uint64_t *fp;
    int *rank;
    size_t cap;
} seen;

static int seen_init(seen *s, int n)
{
    s->cap = 16;
    while (s->cap < (size_t)n * 4)
        s->cap *= 2;
    s->fp = calloc(s->cap, sizeof *s->fp);
    s->rank = calloc(s->cap, sizeof *s->rank);
    return s->fp && s->rank ? RDV_OK : RDV_ENOMEM;
}

/* Returns the rank that already had fp, or -1 after adding it. */
static int seen_add(seen *s, uint64_t fp, int rank)
{
    size_t i = (size_t)(fp * 0x9e3779b97f4a7c15ull) & (s->cap - 1);

    fp |= 1; /* 0 marks an empty slot */
    while (s->fp[i]) {
        if (s->fp[i] == fp)
            return s->rank[i];
        i = (i + 1) & (s->cap - 1);
    }
    s->fp[i] = fp;
    s->rank[i] = rank;
    return -1;
}

static uint64_t endpoint_fp(const rdv_record *r)
{
    return rdv_fnv1a(RDV_FNV1A_BASIS ^ r->port ^ ((uint64_t)r->family << 16),
                     r->addr, sizeof r->addr);
}

/* Both the nonce and the endpoint of every record must be unique. */
static int check_duplicate(rdv_mesh *m, seen *nonces, seen *ends, int k)
{
    const rdv_record *r = &m->peers[k].rec;
    const char *what = "nonce";
    int other = seen_add(nonces, r->nonce, k);

    if (other < 0) {
        what = "address";
        other = seen_add(ends, endpoint_fp(r), k);
    }
    if (other < 0)
        return RDV_OK;
    return rdv_mesh_fail(m, RDV_EEXIST,
                         "ranks %d and %d published the same %s (%s): a "
                         "duplicate rank or a copied record (%s)",
                         other, k, what, m->peers[k].desc, m->job);
}

/* Gloo's classic trap: a default address that only works on one host. */
static int check_reachable(rdv_mesh *m, int k)
{
    const rdv_record *r = &m->peers[k].rec;
    struct sockaddr_storage ss;
    char mine[64];

    if (!strcmp(r->hostname, m->bind.hostname))
        return RDV_OK;
    if (m->bind.loopback_default)
        return rdv_mesh_fail(
            m, RDV_EINVAL,
            "rank %d: no bind address was given and this host's name "
            "\"%s\" resolves to the loopback address %s, but rank %d runs "
            "on host \"%s\" and cannot reach it; set bind to a routable IP "
            "address or interface name (e.g. eth0)",
            m->rank, m->bind.hostname,
            rdv_sockaddr_format(&m->bind.ss, mine, sizeof mine), k,
            r->hostname);
    rdv_record_sockaddr(r, &ss);
    if (rdv_addr_is_loopback(&ss))
        return rdv_mesh_fail(
            m, RDV_EINVAL,
            "rank %d on host \"%s\" published the loopback address %s, "
            "which host \"%s\" (rank %d) cannot reach; give rank %d a bind "
            "address",
            k, r->hostname, m->peers[k].desc, m->bind.hostname, m->rank, k);
    return RDV_OK;
}

static int take_record(rdv_mesh *m, seen *nonces, seen *ends, int k,
                       const void *val, size_t len)
{
    rdv_mesh_peer *p = &m->peers[k];
    struct sockaddr_storage ss;
    char why[160], key[320];
    int ret = rdv_record_decode(val, len, &p->rec, why, sizeof why);

    if (ret == RDV_OK)
        ret = rdv_record_check(&p->rec, (uint32_t)k, (uint32_t)m->size,
                               m->token, why, sizeof why);
    if (ret != RDV_OK) {
        if (m->store)
            rdv_mesh_key(m, k, key, sizeof key);
        else
            snprintf(key, sizeof key, "slot %d of the record exchange", k);
        return rdv_mesh_fail(m, RDV_EPROTO,
                             "rank %d published a malformed record %s %s: "
                             "%s",
                             k, m->store ? "under" : "in", key, why);
    }
    rdv_record_sockaddr(&p->rec, &ss);
    rdv_sockaddr_format(&ss, p->desc, sizeof p->desc);
    if ((ret = check_duplicate(m, nonces, ends, k)) != RDV_OK ||
        (ret = check_reachable(m, k)) != RDV_OK)
        return ret;
    p->have_record = 1;
    return RDV_OK;
}

/* The reader's progress: ranks whose record is still unread, in order. */
typedef struct reader {
    seen nonces, ends;
    int *pending;
    size_t npending;
    int slice_ms; /* how long one blocking read may take before a sweep */
} reader;

static void reader_drop(reader *rd, size_t i)
{
    memmove(rd->pending + i, rd->pending + i + 1,
            (rd->npending - i - 1) * sizeof *rd->pending);
    rd->npending--;
}

/* At the deadline, the ranks never seen: "ranks 3, 6 never published". */
static int fail_missing(rdv_mesh *m, const reader *rd)
{
    char list[400] = "", note[320];
    size_t off = 0;

    for (size_t i = 0; i < rd->npending && i < 16; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%d",
                                i ? ", " : "", rd->pending[i]);
    if (rd->npending > 16)
        snprintf(list + off, sizeof list - off, " and %zu more",
                 rd->npending - 16);
    rdv_mesh_strangers_note(m, note, sizeof note);
    return rdv_mesh_fail(m, RDV_ETIMEDOUT,
                         "rendezvous timed out after %lld ms: %s %s never "
                         "published%s (%s)",
                         (long long)((rdv_now_ns() - m->started) / 1000000),
                         rd->npending > 1 ? "ranks" : "rank", list, note,
                         m->job);
}

/* multi_get, until the deadline `until`, of the nb unread ranks from
 * pending[i] on; on success their records are checked and they leave the
 * pending list. Returns RDV_OK, RDV_ETIMEDOUT (some key is missing;
 * nothing taken) or a failure. */
static int take_chunk(rdv_mesh *m, reader *rd, size_t i, size_t nb,
                      int64_t until)
{
    char keys[BATCH][320];
    const char *kp[BATCH];
    void *vals[BATCH];
    size_t lens[BATCH];
    int ret;

    for (size_t j = 0; j < nb; j++) {
        rdv_mesh_key(m, rd->pending[i + j], keys[j], sizeof keys[j]);
        kp[j] = keys[j];
    }
    m->counters->store_ops++;
    ret = rdv_store_multi_get_until(m->store, kp, nb, vals, lens, until);
    if (ret == RDV_ETIMEDOUT || store_down(m, ret))
        return RDV_ETIMEDOUT; /* only this read is lost: read again */
    if (ret != RDV_OK)
        return rdv_mesh_fail(m, ret, "rank %d: reading %s and %zu more: %s",
                             m->rank, keys[0], nb - 1,
                             rdv_store_errmsg(m->store));
    for (size_t j = 0; j < nb; j++) {
        if (ret == RDV_OK)
            ret = take_record(m, &rd->nonces, &rd->ends, rd->pending[i + j],
                              vals[j], lens[j]);
        free(vals[j]);
    }
    memmove(rd->pending + i, rd->pending + i + nb,
            (rd->npending - i - nb) * sizeof *rd->pending);
    rd->npending -= nb;
    return ret;
}

/* One non-blocking get per key of a chunk that is not complete. */
static int sweep_keys(rdv_mesh *m, reader *rd, size_t *i, size_t nb)
{
    char key[320];
    size_t end = *i + nb;
    int ret = RDV_OK;

    while (*i < end && ret == RDV_OK) {
        void *val = NULL;
        size_t len = 0;
        int k = rd->pending[*i];

        rdv_mesh_key(m, k, key, sizeof key);
        m->counters->store_ops++;
        ret = rdv_store_try_get(m->store, key, &val, &len);
        if (store_down(m, ret))
            return RDV_OK; /* nothing to learn now; the next read waits */
        if (ret == RDV_ENOTFOUND) {
            ret = RDV_OK;
            (*i)++;
            continue;
        }
        if (ret != RDV_OK)
            return rdv_mesh_fail(m, ret, "rank %d: reading %s: %s", m->rank,
                                 key, rdv_store_errmsg(m->store));
        ret = take_record(m, &rd->nonces, &rd->ends, k, val, len);
        free(val);
        reader_drop(rd, *i);
        end--;
    }
    return ret;
}

/* A blocking read ran out of its slice: take every record that exists
 * now. Ranks that published and then gave up (removing their key) are
 * seen here instead of being mistaken later for ranks that never
 * published. Complete chunks cost one call; only a chunk with a key
 * missing is read key by key. The deadline bounds the sweep too: at
 * large N each store call may queue behind hundreds of ranks. */
static int sweep(rdv_mesh *m, reader *rd)
{
    size_t i = 0;
    int ret = RDV_OK;

    while (i < rd->npending && ret == RDV_OK && rdv_now_ns() < m->deadline) {
        size_t nb = rd->npending - i < BATCH ? rd->npending - i : BATCH;

        ret = take_chunk(m, rd, i, nb, rdv_now_ns()); /* try once */
        if (ret == RDV_ETIMEDOUT)
            ret = sweep_keys(m, rd, &i, nb);
    }
    return ret;
}

/* A multi_get of the first nb unread ranks until `until`. While
 * strangers knock on the listener, it is cut into pieces with the
 * listener served in between: a flood then never waits out a store read
 * in the backlog, and a peer behind it is answered at once. Without
 * strangers the read blocks whole, so nobody polls the store.
 *
 * A piece is 50 ms for every whole 64 ranks, at least 50 ms (800 ms at
 * 1024), and never longer than the handshake budget, so a stranger is
 * still answered within it: at large N a peer's connection often waits
 * for its hello, which counts as a stranger, and every piece reads the
 * batch again. With 50 ms pieces, 1024 ranks re-read their batches 20
 * times a second, tens of millions of store calls that starved the
 * ranks still publishing. */
static int64_t piece_ns(const rdv_mesh *m)
{
    int64_t ns = 50 * 1000000ll * (m->size > 64 ? m->size / 64 : 1);

    if (m->handshake_ns > 0 && ns > m->handshake_ns)
        ns = m->handshake_ns > 50 * 1000000ll ? m->handshake_ns
                                               : 50 * 1000000ll;
    return ns;
}

static int take_chunk_serving(rdv_mesh *m, reader *rd, size_t nb,
                              int64_t until)
{
    for (;;) {
        int64_t now = rdv_now_ns(), piece = until;
        int ret;

        if (rdv_mesh_strangers_active(m) && now + piece_ns(m) < until)
            piece = now + piece_ns(m);
        ret = take_chunk(m, rd, 0, nb, piece);
        if (ret != RDV_ETIMEDOUT || piece == until)
            return ret;
        if ((ret = rdv_mesh_drain(m)) != RDV_OK)
            return ret;
    }
}

/* One multi_get of the next BATCH unread ranks, bounded by the slice. */
static int read_batch(rdv_mesh *m, reader *rd)
{
    size_t nb = rd->npending < BATCH ? rd->npending : BATCH;
    int64_t until = rdv_now_ns() + (int64_t)rd->slice_ms * 1000000;
    int ret = take_chunk_serving(m, rd, nb,
                                 until < m->deadline ? until : m->deadline);

    if (ret != RDV_ETIMEDOUT)
        return ret;
    rd->slice_ms = rd->slice_ms < 4000 ? rd->slice_ms * 2 : 4000;
    ret = rdv_mesh_keep_published(m);
    if (ret == RDV_OK)
        ret = sweep(m, rd);
    if (ret == RDV_OK && rd->npending > 0 && rdv_now_ns() >= m->deadline)
        return fail_missing(m, rd);
    return ret;
}

/* The duplicate finders, seeded with this rank's own record. */
static int dups_open(rdv_mesh *m, seen *nonces, seen *ends)
{
    int ret = seen_init(nonces, m->size);

    if (ret == RDV_OK)
        ret = seen_init(ends, m->size);
    if (ret != RDV_OK)
        return rdv_mesh_fail(m, ret, "rank %d: out of memory", m->rank);
    seen_add(nonces, m->me.nonce, m->rank);
    seen_add(ends, endpoint_fp(&m->me), m->rank);
    return RDV_OK;
}

static void dups_close(seen *nonces, seen *ends)
{
    free(nonces->fp);
    free(nonces->rank);
    free(ends->fp);
    free(ends->rank);
}

int rdv_mesh_take_records(rdv_mesh *m, const uint8_t *all)
{
    seen nonces = {0}, ends = {0};
    int ret = dups_open(m, &nonces, &ends);

    for (int k = 0; k < m->size && ret == RDV_OK; k++)
        if (k != m->rank)
            ret = take_record(m, &nonces, &ends, k,
                              all + (size_t)k * RDV_RECORD_SIZE,
                              RDV_RECORD_SIZE);
    dups_close(&nonces, &ends);
    return ret == RDV_OK ? rdv_mesh_on_records(m) : ret;
}

int rdv_mesh_read_records(rdv_mesh *m)
{
    int timeout = rdv_context_timeout_ms(m->ctx);
    /* a tenth of the deadline, within [250 ms, 2 s]: sweeps are rare when
     * ranks are merely slow to start, yet happen a few times before the
     * deadline when one is gone */
    reader rd = {.slice_ms = timeout < 2500    ? 250
                             : timeout > 20000 ? 2000
                                               : timeout / 10};
    int ret;

    rd.pending = malloc((size_t)m->size * sizeof *rd.pending);
    if (!rd.pending) {
        ret = rdv_mesh_fail(m, RDV_ENOMEM, "rank %d: out of memory", m->rank);
        goto out;
    }
    if ((ret = dups_open(m, &rd.nonces, &rd.ends)) != RDV_OK)
        goto out;
    for (int k = 0; k < m->size; k++)
        if (k != m->rank)
            rd.pending[rd.npending++] = k;
    while (rd.npending > 0 && ret == RDV_OK) {
        ret = read_batch(m, &rd);
        if (ret == RDV_OK)
            ret = rdv_mesh_on_records(m);
    }
out:
    free(rd.pending);
    dups_close(&rd.nonces, &rd.ends);
    return ret;
}
