/*
 * server/table.c - the store server's keys and values, in memory.
 *
 * Choices:
 *  - A chained hash table of entries (FNV-1a over the key bytes, fnv.h)
 *    that doubles when it holds more entries than buckets. hash.c's table
 *    lives in a fixed shared mapping with futex wake-ups for forked
 *    processes; here one thread owns everything and waiters are
 *    explicit, so a plain malloc'd table is the simpler fit.
 *  - An entry exists while its key is present or while a waiter
 *    watches it: a waiter links to the entries of all its keys, absent
 *    ones too, so a set finds the waiters it completes by the key alone
 *    and a waiter reads its values without looking anything up again.
 *    An absent entry nobody watches is freed at once, so clients that
 *    waited for keys never set leave nothing behind.
 *  - Keys are bytes with a length (the codec rejects NUL in them), so
 *    nothing is copied to make C strings.
 */
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "server.h"

#define FIRST_BUCKETS 1024u

static uint64_t key_hash(const unsigned char *key, uint32_t klen)
{
    return rdv_fnv1a(RDV_FNV1A_BASIS, key, klen);
}

int srv_table_init(srv_table *t)
{
    memset(t, 0, sizeof *t);
    t->buckets = calloc(FIRST_BUCKETS, sizeof *t->buckets);
    if (!t->buckets)
        return RDV_ENOMEM;
    t->nbuckets = FIRST_BUCKETS;
    return RDV_OK;
}

static void entry_free(srv_entry *e)
{
    free(e->val);
    free(e);
}

void srv_table_free(srv_table *t)
{
    for (size_t b = 0; t->buckets && b < t->nbuckets; b++) {
        for (srv_entry *e = t->buckets[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    }
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

static srv_entry **find_link(srv_table *t, const unsigned char *key,
                             uint32_t klen, uint64_t h)
{
    srv_entry **link = &t->buckets[h & (t->nbuckets - 1)];

    for (; *link; link = &(*link)->next) {
        srv_entry *e = *link;

        if (e->hash == h && e->klen == klen &&
            memcmp(e->key, key, klen) == 0)
            break;
    }
    return link;
}

srv_entry *srv_table_find(srv_table *t, const unsigned char *key,
                          uint32_t klen)
{
    return *find_link(t, key, klen, key_hash(key, klen));
}

/* Doubles the buckets; on failure the table just stays denser. */
static void grow(srv_table *t)
{
    size_t n = t->nbuckets * 2;
    srv_entry **b = calloc(n, sizeof *b);

    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (srv_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

srv_entry *srv_table_intern(srv_table *t, const unsigned char *key,
                            uint32_t klen)
{
    uint64_t h = key_hash(key, klen);
    srv_entry **link = find_link(t, key, klen, h);
    srv_entry *e = *link;

    if (e)
        return e;
    e = calloc(1, sizeof *e + klen);
    if (!e)
        return NULL;
    e->hash = h;
    e->klen = klen;
    memcpy(e->key, key, klen);
    *link = e;
    if (++t->nentries > t->nbuckets)
        grow(t);
    return e;
}

void srv_table_release(srv_table *t, srv_entry *e)
{
    srv_entry **link;

    if (e->present || e->links)
        return;
    link = find_link(t, e->key, e->klen, e->hash);
    *link = e->next;
    t->nentries--;
    entry_free(e);
}

int srv_entry_store(srv_table *t, srv_entry *e, const void *val, size_t len)
{
    unsigned char *copy = NULL;

    if (len) {
        copy = malloc(len);
        if (!copy)
            return RDV_ENOMEM;
        memcpy(copy, val, len);
    }
    free(e->val);
    e->val = copy;
    e->vlen = (uint32_t)len;
    if (!e->present)
        t->npresent++;
    e->present = 1;
    return RDV_OK;
}

void srv_entry_clear(srv_table *t, srv_entry *e)
{
    if (e->present)
        t->npresent--;
    free(e->val);
    e->val = NULL;
    e->vlen = 0;
    e->present = 0;
}

void srv_table_each(srv_table *t, const unsigned char *prefix, uint32_t plen,
                    void (*fn)(srv_entry *e, void *arg), void *arg)
{
    for (size_t b = 0; b < t->nbuckets; b++) {
        for (srv_entry *e = t->buckets[b], *next; e; e = next) {
            next = e->next;
            if (e->present && e->klen >= plen &&
                memcmp(e->key, prefix, plen) == 0)
                fn(e, arg);
        }
    }
}
