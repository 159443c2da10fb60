/*
 * conform/clauses_keys.c - distinct-keys: distinct keys stay distinct.
 * The contract says keys are byte strings; a store that encodes them
 * (file names, URL paths, case-insensitive collations, normalised
 * Unicode, truncated or hashed names) can map two keys onto one entry,
 * and nothing else in the contract would notice: every key reads back
 * what was last written under its own spelling.
 *
 * The clause writes families of look-alikes, each key with a value that
 * names it, then reads every key back: a key that returns another's
 * value names both. At level full it also writes them create-only (a
 * merged key says RDV_EEXIST at once), checks that list returns each
 * exactly once and num_keys counts them all, and deletes one of each
 * family without touching the others.
 *
 * Choices:
 * - The keys are built once, and checked distinct by the clause itself:
 *   a duplicate would be the clause's bug, not the store's.
 * - Long keys are shown by their head, tail and length: two 4096-byte
 *   keys differ in a byte the evidence must show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform/clause.h"
#include "conform/clauses.h"
#include "rdv/store_ops.h"

#define MAX_KEYS 96

typedef struct key_set {
    char *key[MAX_KEYS];
    int family[MAX_KEYS]; /* keys of one family look alike */
    int n;
    int families;
} key_set;

static void add_key(key_set *ks, const char *key, size_t len)
{
    char *k = malloc(len + 1);

    if (!k || ks->n == MAX_KEYS) {
        free(k);
        return;
    }
    memcpy(k, key, len);
    k[len] = '\0';
    ks->family[ks->n] = ks->families;
    ks->key[ks->n++] = k;
}

/* One family from a NULL-terminated list of look-alikes. */
static void add_family(key_set *ks, const char *const *keys)
{
    for (int i = 0; keys[i]; i++)
        add_key(ks, keys[i], strlen(keys[i]));
    ks->families++;
}

/* Keys of len bytes sharing all but their last byte, which is each of
 * the tails (lengths at a file name's 255-byte limit, a hash's input
 * block, and the key limit). */
static void add_long_family(key_set *ks, size_t len, const char *tails)
{
    char *k = malloc(len + 1);

    if (!k)
        return;
    for (size_t i = 0; i < len; i++)
        k[i] = (char)('a' + i % 26);
    for (const char *t = tails; *t; t++) {
        k[len - 1] = *t;
        add_key(ks, k, len);
    }
    free(k);
    ks->families++;
}

static void build_keys(key_set *ks)
{
    static const char *const escapes[] = {
        "a/b", "a%2Fb", "a%2fb", "a%252Fb", "a_b", "a\\b", "a\\/b", "a:b",
        "a b", "a%20b", "a+b", "a|b", "a~b", NULL};
    static const char *const dots[] = {
        ".x", "..x", "x.", "x..", "x/./y", "x/y", "x//y", "x/../x/y", "x.y",
        "x/.", NULL};
    static const char *const cases[] = {"Key", "key", "KEY", "kEy", NULL};
    static const char *const unicode[] = {
        "caf\xc3\xa9",       /* NFC e-acute */
        "cafe\xcc\x81",      /* NFD: e + combining acute */
        "cafe",              /* accents stripped */
        "caf\xc3\x89",       /* upper-case E-acute */
        "\xef\xac\x81le",    /* the fi ligature (NFKC: "file") */
        "file", NULL};
    static const char *const controls[] = {
        "c", "c ", " c", "c\t", "c\n", "c\r", "c\x01", "c\x7f", "c\x1b",
        "c\xff", "c\xc0\x80", NULL};
    static const char *const scopes[] = {
        /* what a prefix boundary becomes when '/' is escaped or dropped */
        "p/q/r", "p/q_r", "p_q/r", "pq/r", "p/qr", "p.q/r", NULL};

    add_family(ks, escapes);
    add_family(ks, dots);
    add_family(ks, cases);
    add_family(ks, unicode);
    add_family(ks, controls);
    add_family(ks, scopes);
    add_long_family(ks, 255, "AB");
    add_long_family(ks, 300, "AB");
    add_long_family(ks, RDV_KEY_MAX, "ABC");
}

static void free_keys(key_set *ks)
{
    for (int i = 0; i < ks->n; i++)
        free(ks->key[i]);
}

/* A key for evidence: printable, and for a long one its head, tail and
 * length. */
static const char *show(const char *key, char *buf, size_t cap)
{
    size_t len = strlen(key);
    char head[64], tail[64];

    if (len <= 40)
        return rdv_key_printable(key, buf, cap);
    memcpy(head, key, 20);
    head[20] = '\0';
    rdv_key_printable(head, buf, cap);
    snprintf(buf + strlen(buf), cap - strlen(buf), "...%s (%zu bytes)",
             rdv_key_printable(key + len - 8, tail, sizeof tail), len);
    return buf;
}

static size_t value_of(int i, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, "distinct-key #%d", i);
}

/* Reads key i: 1 when it holds its own value; otherwise fails the
 * clause naming the key whose value it holds. */
static int read_own(clause_ctx *c, const key_set *ks, int i)
{
    char want[32], a[160], b[160];
    size_t wlen = value_of(i, want, sizeof want), len = 0;
    void *v = NULL;
    int rc = rdv_store_get(c->s, ks->key[i], &v, &len, 2000), j = -1;

    if (rc != RDV_OK)
        return clause_fail(c, "get '%s' (timeout 2000 ms) after it was "
                           "set: %s, want its value '%s' (detail: %s)",
                           show(ks->key[i], a, sizeof a),
                           rdv_status_name(rc), want, rdv_store_errmsg(c->s));
    if (len == wlen && memcmp(v, want, len) == 0) {
        free(v);
        return 1;
    }
    if (len > 14 && len < 24 && memcmp(v, "distinct-key #", 14) == 0)
        j = atoi((char *)v + 14);
    free(v);
    if (j >= 0 && j < ks->n && j != i)
        return clause_fail(c, "keys '%s' and '%s' map to one entry: get "
                           "'%s' returned 'distinct-key #%d', the value set "
                           "under the other key, want '%s' (distinct keys "
                           "must stay distinct)",
                           show(ks->key[i], a, sizeof a),
                           show(ks->key[j], b, sizeof b),
                           show(ks->key[i], a, sizeof a), j, want);
    return clause_fail(c, "get '%s' returned %zu bytes that are no key's "
                       "value, want '%s'", show(ks->key[i], a, sizeof a),
                       len, want);
}

/* Writes every key, create-only at level full: a merged key is
 * RDV_EEXIST there, and the key it collided with is the one whose
 * value it already holds. */
static int write_all(clause_ctx *c, const key_set *ks, int full)
{
    for (int i = 0; i < ks->n; i++) {
        char val[32], a[160];
        size_t len = value_of(i, val, sizeof val);
        int rc = rdv_store_set(c->s, ks->key[i], val, len,
                               full ? RDV_SET_CREATE_ONLY : 0);

        if (rc == RDV_EEXIST)
            return read_own(c, ks, i) &&
                   clause_fail(c, "create-only set of new key '%s': "
                               "RDV_EEXIST, though no other key was set "
                               "under that spelling (detail: %s)",
                               show(ks->key[i], a, sizeof a),
                               rdv_store_errmsg(c->s));
        if (rc != RDV_OK)
            return clause_fail(c, "set '%s': %s (detail: %s)",
                               show(ks->key[i], a, sizeof a),
                               rdv_status_name(rc), rdv_store_errmsg(c->s));
    }
    return 1;
}

/* list and num_keys: each key exactly once, nothing else. */
static int check_listing(clause_ctx *c, const key_set *ks)
{
    char **listed = NULL, a[160];
    size_t n = 0;
    int64_t count = -1;
    int ok = 1;

    if (!clause_expect(c, c->s, "list", rdv_store_list(c->s, "", &listed,
                                                       &n), RDV_OK))
        return 0;
    for (int i = 0; i < ks->n && ok; i++) {
        size_t seen = 0;

        for (size_t j = 0; j < n; j++)
            seen += strcmp(listed[j], ks->key[i]) == 0;
        if (seen != 1)
            ok = clause_fail(c, "list returned key '%s' %zu times, want "
                             "once (%zu keys listed, %d set)",
                             show(ks->key[i], a, sizeof a), seen, n, ks->n);
    }
    rdv_store_list_free(listed, n);
    if (ok && n != (size_t)ks->n)
        ok = clause_fail(c, "list returned %zu keys, %d distinct keys were "
                         "set", n, ks->n);
    if (ok && !clause_expect(c, c->s, "num_keys",
                             rdv_store_num_keys(c->s, &count), RDV_OK))
        return 0;
    if (ok && count != ks->n)
        ok = clause_fail(c, "num_keys counted %lld, %d distinct keys were "
                         "set", (long long)count, ks->n);
    return ok;
}

/* Deletes the first key of each family: it is gone, its look-alikes
 * are not. */
static int check_delete_one(clause_ctx *c, const key_set *ks)
{
    for (int i = 0; i < ks->n; i++) {
        char a[160], b[160];
        void *v = NULL;
        size_t len;
        int rc;

        if (i > 0 && ks->family[i - 1] == ks->family[i])
            continue;
        if (!clause_expect(c, c->s, "delete", rdv_store_delete(c->s,
                                                               ks->key[i]),
                           RDV_OK))
            return 0;
        for (int j = i + 1; j < ks->n && ks->family[j] == ks->family[i];
             j++) {
            rc = rdv_store_try_get(c->s, ks->key[j], &v, &len);
            free(v);
            v = NULL;
            if (rc != RDV_OK)
                return clause_fail(c, "delete '%s' also removed '%s': "
                                   "try_get gave %s (they map to one "
                                   "entry)", show(ks->key[i], a, sizeof a),
                                   show(ks->key[j], b, sizeof b),
                                   rdv_status_name(rc));
        }
        rc = rdv_store_try_get(c->s, ks->key[i], &v, &len);
        free(v);
        if (rc != RDV_ENOTFOUND)
            return clause_fail(c, "try_get '%s' after its delete: %s, want "
                               "RDV_ENOTFOUND", show(ks->key[i], a, sizeof a),
                               rdv_status_name(rc));
    }
    return 1;
}

static int check_distinct_keys(clause_ctx *c)
{
    key_set ks = {0};
    int full = clause_level(c) >= RDV_STORE_LEVEL_FULL, ok = 1;

    build_keys(&ks);
    for (int i = 0; i < ks.n && ok; i++)
        for (int j = i + 1; j < ks.n && ok; j++)
            if (strcmp(ks.key[i], ks.key[j]) == 0)
                ok = clause_fail(c, "the clause's own keys #%d and #%d are "
                                 "equal: a bug in the clause", i, j);
    ok = ok && write_all(c, &ks, full);
    for (int i = 0; i < ks.n && ok; i++)
        ok = read_own(c, &ks, i);
    if (ok && full)
        ok = check_listing(c, &ks) && check_delete_one(c, &ks);
    if (ok)
        clause_pass(c, "%d look-alike keys in %d families each read back "
                    "their own value%s", ks.n, ks.families,
                    full ? "; list and num_keys saw each once, and deleting "
                           "one left its look-alikes" : "");
    free_keys(&ks);
    return ok;
}
RDV_CLAUSE_SCOPED(distinct_keys)
