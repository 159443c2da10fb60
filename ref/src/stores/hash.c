/*
 * stores/hash.c - the hash store: a chained hash table inside one
 * mapping, used by threads of one process (hash:) or by forked processes
 * (hash:?shared=1, a MAP_SHARED mapping made before fork()).
 *
 * One code path serves both: the table lives in a region addressed by
 * offsets (shm_heap.c), guarded by a robust mutex that is process-shared
 * when the region is. Waiters sleep on futex words, not a condition
 * variable: a futex needs no cleanup when a waiter dies (a killed rank is
 * a fault the harness injects on purpose). A robust mutex likewise
 * survives a rank killed while holding it.
 *
 * Wake-ups are per slot: a key hashes to one of HASH_WAIT_SLOTS futex
 * words, a write bumps its key's slot, and a waiter sleeps on the slot of
 * the last key of its list it still misses. A rendezvous of N ranks
 * therefore wakes each waiter a few times per batch of keys, instead of
 * on every one of the N writes, which at N = 256 kept every rank queued
 * on the lock. The last missing key rather than the first: ranks publish
 * roughly in rank order, so a waiter on the first one was woken once per
 * key of the batch (64 lock round trips where one does), and at N = 1024
 * those O(N^2) round trips starved the rendezvous. multi_get copies the
 * whole batch under one lock for the same reason (the generic wait and
 * then a get per key took the lock once per key).
 *
 * The region is reserved with MAP_NORESERVE (default 1024 MiB, option
 * size=MiB); pages are only used as values fill them.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fnv.h"
#include "shm_heap.h"
#include "store_internal.h"

#define HASH_MAGIC 0x7264766861736821ull /* "rdvhash!" */
#define HASH_BUCKETS 65536u
#define HASH_WAIT_SLOTS 1024u

typedef struct wait_slot {
    _Atomic uint32_t seq;     /* bumped when a key of this slot changes */
    _Atomic uint32_t waiters; /* sleeping on seq; skips needless wakes */
} wait_slot;

typedef struct hash_region {
    uint64_t magic;
    pthread_mutex_t lock;
    wait_slot slots[HASH_WAIT_SLOTS];
    uint64_t nkeys;
    rdv_heap heap;
    uint64_t buckets[HASH_BUCKETS]; /* offset of first entry, 0 = none */
} hash_region;

typedef struct hash_entry {
    uint64_t next;
    uint64_t hash;
    uint64_t klen;
    uint64_t vlen;
    char data[]; /* key, NUL, value */
} hash_entry;

typedef struct hash_store {
    rdv_store base;
    hash_region *r;
    size_t map_size;
    int shared;
    _Atomic int cancelled;
} hash_store;

#define H(s) ((hash_store *)(s))
#define AT(r, off) ((void *)((char *)(r) + (off)))

static uint64_t key_hash(const char *key, size_t len)
{
    return rdv_fnv1a(RDV_FNV1A_BASIS, key, len);
}

static void region_lock(hash_region *r)
{
    /* A rank killed while holding the lock leaves EOWNERDEAD; every
     * change is complete before its link is published, so the table is
     * consistent and can be marked so. */
    if (pthread_mutex_lock(&r->lock) == EOWNERDEAD)
        pthread_mutex_consistent(&r->lock);
}

static void region_unlock(hash_region *r)
{
    pthread_mutex_unlock(&r->lock);
}

static wait_slot *slot_of(hash_store *s, uint64_t key_hash)
{
    return &s->r->slots[key_hash & (HASH_WAIT_SLOTS - 1)];
}

static void futex_wake_all(hash_store *s, wait_slot *w)
{
    int op = FUTEX_WAKE | (s->shared ? 0 : FUTEX_PRIVATE_FLAG);

    syscall(SYS_futex, &w->seq, op, INT_MAX, NULL, NULL, 0);
}

/* Sleeps while w->seq == seen, until deadline. Any return (wake, EINTR,
 * EAGAIN, timeout) sends the caller back to recheck its condition. */
static void futex_sleep(hash_store *s, wait_slot *w, uint32_t seen,
                        int64_t deadline)
{
    int op = FUTEX_WAIT_BITSET | (s->shared ? 0 : FUTEX_PRIVATE_FLAG);
    struct timespec ts, *tp = NULL;

    if (deadline != RDV_DEADLINE_NONE) {
        ts.tv_sec = deadline / 1000000000;
        ts.tv_nsec = deadline % 1000000000;
        tp = &ts;
    }
    atomic_fetch_add(&w->waiters, 1);
    syscall(SYS_futex, &w->seq, op, seen, tp, NULL, FUTEX_BITSET_MATCH_ANY);
    atomic_fetch_sub(&w->waiters, 1);
}

/* Called with the lock held after key_hash's entry changed. */
static void changed(hash_store *s, uint64_t key_hash)
{
    atomic_fetch_add(&slot_of(s, key_hash)->seq, 1);
}

/* After unlocking: wakes whoever sleeps on key's slot. */
static void wake_waiters(hash_store *s, const char *key)
{
    wait_slot *w = slot_of(s, key_hash(key, strlen(key)));

    if (atomic_load(&w->waiters))
        futex_wake_all(s, w);
}

static uint64_t *find_link(hash_region *r, const char *key, size_t klen,
                           uint64_t h)
{
    uint64_t *link = &r->buckets[h & (HASH_BUCKETS - 1)];

    while (*link) {
        hash_entry *e = AT(r, *link);

        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            return link;
        link = &e->next;
    }
    return link;
}

static hash_entry *find(hash_region *r, const char *key)
{
    size_t klen = strlen(key);
    uint64_t *link = find_link(r, key, klen, key_hash(key, klen));

    return *link ? AT(r, *link) : NULL;
}

static const char *entry_value(const hash_entry *e)
{
    return e->data + e->klen + 1;
}

static int copy_out(rdv_store *s, const hash_entry *e, void **val,
                    size_t *len)
{
    char *v = malloc(e->vlen + 1);

    if (!v)
        return rdv_store_fail(s, RDV_ENOMEM, "out of memory copying a "
                              "value of %llu bytes",
                              (unsigned long long)e->vlen);
    memcpy(v, entry_value(e), e->vlen);
    v[e->vlen] = '\0';
    *val = v;
    *len = e->vlen;
    return RDV_OK;
}

/* Stores key=val, replacing any old entry. Lock held. */
static int put(rdv_store *s, const char *key, const void *val, size_t len)
{
    hash_region *r = H(s)->r;
    size_t klen = strlen(key);
    uint64_t h = key_hash(key, klen);
    uint64_t *link = find_link(r, key, klen, h);
    uint64_t off = rdv_heap_alloc(&r->heap, r, sizeof(hash_entry) + klen +
                                                   1 + len);
    hash_entry *e;
    char k[128];

    if (!off)
        return rdv_store_fail(s, RDV_ENOMEM, "set '%s': the hash store's "
                              "%zu MiB region is full (open it with a "
                              "larger size=MiB)",
                              rdv_key_printable(key, k, sizeof k),
                              H(s)->map_size >> 20);
    e = AT(r, off);
    e->hash = h;
    e->klen = klen;
    e->vlen = len;
    memcpy(e->data, key, klen + 1);
    memcpy(e->data + klen + 1, val, len);
    if (*link) {
        hash_entry *old = AT(r, *link);

        e->next = old->next;
        rdv_heap_free(&r->heap, r, *link);
    } else {
        e->next = 0;
        r->nkeys++;
    }
    *link = off; /* publish last: a dead writer leaves no half entry */
    changed(H(s), h);
    return RDV_OK;
}

static int hash_set(rdv_store *s, const char *key, const void *val,
                    size_t len, int flags)
{
    hash_region *r = H(s)->r;
    char k[128];
    int rc;

    region_lock(r);
    if ((flags & RDV_SET_CREATE_ONLY) && find(r, key))
        rc = rdv_store_fail(s, RDV_EEXIST, "set '%s': key exists "
                            "(create-only)",
                            rdv_key_printable(key, k, sizeof k));
    else
        rc = put(s, key, val, len);
    region_unlock(r);
    wake_waiters(H(s), key);
    return rc;
}

/* Blocks until ready() says yes under the lock, the deadline passes or
 * the handle is closed. ready() does its own work (copying a value) and,
 * when not ready, names the key to wait for in *missing. */
static int block_until(rdv_store *s,
                       int (*ready)(rdv_store *, void *, const char **),
                       void *arg, int64_t deadline)
{
    hash_region *r = H(s)->r;

    for (;;) {
        const char *missing = NULL;
        wait_slot *w = NULL;
        uint32_t seen = 0;
        int ok;

        region_lock(r);
        ok = ready(s, arg, &missing);
        if (!ok) {
            w = slot_of(H(s), key_hash(missing, strlen(missing)));
            seen = atomic_load(&w->seq);
        }
        region_unlock(r);
        if (ok)
            return ok > 0 ? RDV_OK : RDV_ENOMEM;
        if (atomic_load(&H(s)->cancelled))
            return RDV_ECANCELED;
        if (rdv_now_ns() >= deadline)
            return RDV_ETIMEDOUT;
        futex_sleep(H(s), w, seen, deadline);
    }
}

typedef struct get_args {
    const char *key;
    void **val;
    size_t *len;
} get_args;

static int get_ready(rdv_store *s, void *arg, const char **missing)
{
    get_args *a = arg;
    hash_entry *e = find(H(s)->r, a->key);

    *missing = a->key;
    if (!e)
        return 0;
    return copy_out(s, e, a->val, a->len) == RDV_OK ? 1 : -1;
}

static int hash_get(rdv_store *s, const char *key, void **val, size_t *len,
                    int64_t deadline)
{
    get_args a = {key, val, len};
    int64_t start = rdv_now_ns();
    int rc = block_until(s, get_ready, &a, deadline);
    char k[128];

    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
        rdv_store_fail(s, rc, "get '%s' %s after %lld ms",
                       rdv_key_printable(key, k, sizeof k),
                       rc == RDV_ETIMEDOUT ? "timed out" : "canceled",
                       (long long)((rdv_now_ns() - start) / 1000000));
    return rc;
}

typedef struct wait_args {
    const char *const *keys;
    size_t n;
    unsigned char *present;
} wait_args;

/* Names the last missing key (see the head comment): the one a waiter
 * sleeps on. */
static int wait_ready(rdv_store *s, void *arg, const char **missing)
{
    wait_args *a = arg;

    for (size_t i = a->n; i-- > 0;) {
        if (!find(H(s)->r, a->keys[i])) {
            *missing = a->keys[i];
            return 0;
        }
    }
    return 1;
}

/* Which keys exist now, for the message of a wait that ended early. */
static void mark_present(rdv_store *s, const char *const *keys, size_t n,
                         unsigned char *present)
{
    region_lock(H(s)->r);
    for (size_t i = 0; i < n; i++)
        present[i] = find(H(s)->r, keys[i]) != NULL;
    region_unlock(H(s)->r);
}

static int hash_wait(rdv_store *s, const char *const *keys, size_t n,
                     int64_t deadline)
{
    wait_args a = {keys, n, calloc(n, 1)};
    int64_t start = rdv_now_ns();
    int rc;

    if (!a.present)
        return rdv_store_fail(s, RDV_ENOMEM, "out of memory");
    rc = block_until(s, wait_ready, &a, deadline);
    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED) {
        mark_present(s, keys, n, a.present);
        rdv_store_fail_wait(s, rc, start, keys, n, a.present);
    }
    free(a.present);
    return rc;
}

typedef struct multi_args {
    wait_args wait;
    void **vals;
    size_t *lens;
} multi_args;

/* Every key present: all values copied under the one lock, or none. */
static int multi_ready(rdv_store *s, void *arg, const char **missing)
{
    multi_args *a = arg;

    if (!wait_ready(s, &a->wait, missing))
        return 0;
    for (size_t i = 0; i < a->wait.n; i++) {
        if (copy_out(s, find(H(s)->r, a->wait.keys[i]), &a->vals[i],
                     &a->lens[i]) == RDV_OK)
            continue;
        for (size_t k = 0; k < i; k++) {
            free(a->vals[k]);
            a->vals[k] = NULL;
            a->lens[k] = 0;
        }
        return -1;
    }
    return 1;
}

static int hash_multi_get(rdv_store *s, const char *const *keys, size_t n,
                          void **vals, size_t *lens, int64_t deadline)
{
    multi_args a = {{keys, n, NULL}, vals, lens};
    int64_t start = rdv_now_ns();
    int rc = block_until(s, multi_ready, &a, deadline);

    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED) {
        unsigned char *present = calloc(n, 1);

        if (!present)
            return rdv_store_fail(s, RDV_ENOMEM, "out of memory");
        mark_present(s, keys, n, present);
        rdv_store_fail_wait(s, rc, start, keys, n, present);
        free(present);
    }
    return rc;
}

static int hash_add(rdv_store *s, const char *key, int64_t delta,
                    int64_t *result)
{
    hash_region *r = H(s)->r;
    int64_t v = 0;
    char buf[32], k[128];
    int rc = RDV_OK;
    hash_entry *e;

    region_lock(r);
    e = find(r, key);
    if (e && rdv_counter_parse(entry_value(e), e->vlen, &v))
        rc = rdv_store_fail(s, RDV_EPROTO, "add '%s': the value is not a "
                            "decimal int64",
                            rdv_key_printable(key, k, sizeof k));
    else if (rdv_counter_add(v, delta, &v))
        rc = rdv_store_fail(s, RDV_EINVAL, "add '%s': int64 overflow",
                            rdv_key_printable(key, k, sizeof k));
    else
        rc = put(s, key, buf, rdv_counter_format(v, buf));
    region_unlock(r);
    wake_waiters(H(s), key);
    if (rc == RDV_OK)
        *result = v;
    return rc;
}

static int hash_compare_set(rdv_store *s, const char *key,
                            const void *expected, size_t expected_len,
                            const void *desired, size_t desired_len,
                            int *won, void **cur, size_t *cur_len)
{
    hash_region *r = H(s)->r;
    hash_entry *e;
    int rc = RDV_OK;

    region_lock(r);
    e = find(r, key);
    *won = expected ? e && e->vlen == expected_len &&
                          memcmp(entry_value(e), expected, expected_len) == 0
                    : e == NULL;
    if (*won)
        rc = put(s, key, desired, desired_len);
    if (rc == RDV_OK && cur && (e = find(r, key)))
        rc = copy_out(s, e, cur, cur_len);
    region_unlock(r);
    wake_waiters(H(s), key);
    return rc;
}

static int hash_del(rdv_store *s, const char *key)
{
    hash_region *r = H(s)->r;
    size_t klen = strlen(key);
    uint64_t *link;

    region_lock(r);
    link = find_link(r, key, klen, key_hash(key, klen));
    if (*link) {
        uint64_t off = *link;

        *link = ((hash_entry *)AT(r, off))->next;
        rdv_heap_free(&r->heap, r, off);
        r->nkeys--;
        changed(H(s), key_hash(key, klen));
    }
    region_unlock(r);
    return RDV_OK;
}

static int hash_list(rdv_store *s, const char *prefix, char ***keys,
                     size_t *n)
{
    hash_region *r = H(s)->r;
    size_t plen = strlen(prefix);
    rdv_keylist l = {0};
    int rc = RDV_OK;

    region_lock(r);
    for (size_t b = 0; b < HASH_BUCKETS && rc == RDV_OK; b++) {
        for (uint64_t off = r->buckets[b]; off && rc == RDV_OK;) {
            hash_entry *e = AT(r, off);

            if (e->klen >= plen && memcmp(e->data, prefix, plen) == 0)
                rc = rdv_keylist_push(&l, e->data, e->klen);
            off = e->next;
        }
    }
    region_unlock(r);
    if (rc) {
        rdv_keylist_clear(&l);
        return rdv_store_fail(s, rc, "list: out of memory");
    }
    *keys = l.keys;
    *n = l.n;
    return RDV_OK;
}

static int hash_num_keys(rdv_store *s, int64_t *n)
{
    region_lock(H(s)->r);
    *n = (int64_t)H(s)->r->nkeys;
    region_unlock(H(s)->r);
    return RDV_OK;
}

static void hash_cancel(rdv_store *s)
{
    atomic_store(&H(s)->cancelled, 1);
    for (unsigned i = 0; i < HASH_WAIT_SLOTS; i++) {
        atomic_fetch_add(&H(s)->r->slots[i].seq, 1);
        if (atomic_load(&H(s)->r->slots[i].waiters))
            futex_wake_all(H(s), &H(s)->r->slots[i]);
    }
}

static void hash_destroy(rdv_store *s)
{
    /* A shared region's mutex may still be used by other processes; the
     * mapping disappears with the last of them. */
    if (!H(s)->shared)
        pthread_mutex_destroy(&H(s)->r->lock);
    munmap(H(s)->r, H(s)->map_size);
    free(s);
}

static const rdv_store_ops hash_ops = {
    .name = "hash",
    .set = hash_set,
    .get = hash_get,
    .wait = hash_wait,
    .multi_get = hash_multi_get,
    .add = hash_add,
    .compare_set = hash_compare_set,
    .del = hash_del,
    .list = hash_list,
    .destroy = hash_destroy,
    .num_keys = hash_num_keys,
    .cancel = hash_cancel,
};

static int region_create(hash_store *h)
{
    int flags = MAP_ANONYMOUS | MAP_NORESERVE |
                (h->shared ? MAP_SHARED : MAP_PRIVATE);
    pthread_mutexattr_t ma;
    hash_region *r;

    r = mmap(NULL, h->map_size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (r == MAP_FAILED)
        return -errno;
    r->magic = HASH_MAGIC;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    if (h->shared)
        pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&r->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    rdv_heap_init(&r->heap, sizeof *r, h->map_size);
    h->r = r;
    return 0;
}

int rdv_hash_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen)
{
    long shared, size_mib;
    hash_store *h;
    int rc;

    if (u->has_authority || u->path[0]) {
        snprintf(errbuf, errlen, "malformed store URL '%s': hash: takes no "
                 "host or path, only options (hash:?shared=1)", u->redacted);
        return RDV_EINVAL;
    }
    if ((rc = rdv_url_option_long(u, "shared", 0, 1, 0, &shared, errbuf,
                                  errlen)) ||
        (rc = rdv_url_option_long(u, "size", 1, 1 << 20, 1024, &size_mib,
                                  errbuf, errlen)))
        return rc;
    h = calloc(1, sizeof *h);
    if (!h)
        return RDV_ENOMEM;
    h->shared = (int)shared;
    h->map_size = (size_t)size_mib << 20;
    if ((rc = region_create(h)) != 0) {
        snprintf(errbuf, errlen, "hash store: cannot map %ld MiB: %s",
                 size_mib, strerror(-rc));
        free(h);
        return RDV_ENOMEM;
    }
    rdv_store_init(&h->base, &hash_ops);
    h->base.flags = shared ? RDV_STORE_INHERITED : RDV_STORE_PROCESS_LOCAL;
    *out = &h->base;
    return RDV_OK;
}
