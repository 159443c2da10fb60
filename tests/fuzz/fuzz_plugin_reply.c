/*
 * tests/fuzz/fuzz_plugin_reply.c - what the plugin adapter
 * (stores/plugin.c) takes from a C plugin: return codes, values and
 * their lengths, add results, compare_set outcomes, list arrays, key
 * counts and errmsg strings. A plugin is someone else's C; its replies
 * cross a boundary as surely as bytes from a socket do.
 *
 * The plugin is a real rdv_store_plugin table defined here, opened
 * through the loader's own second step (rdv_plugin_open_table, what
 * rdv_plugin_open_file calls after dlsym), and driven through the public
 * rdv_store_* calls. Each of its ops answers what the input dictates.
 *
 * Input: byte 0 says which optional ops the table has (bit 0 multi_get,
 * 1 multi_set, 2 num_keys, 3 delete_prefix; without one rdv's fallback
 * runs on the required ops); then, up to 64 times, an op byte and the
 * bytes of the call's arguments and of the plugin's replies, read as
 * the calls happen.
 *
 * Properties: every call returns an rdv_status; the status is the one
 * the last reply earns (the plugin's own code when it is an rdv_status,
 * RDV_EPROTO when the code is not one or the reply breaks rdv/plugin.h
 * in another way, else RDV_OK); a refused reply is named in the detail
 * (plugin, op, key) and leaves no memory behind (LeakSanitizer) and no
 * output set; every detail is a terminated string without control
 * bytes; the plugin gets the caller's arguments byte for byte and the
 * caller gets a good reply's values, results and keys exactly. Replies
 * that lie about memory the adapter cannot check (a short array behind
 * a plausible count, an unterminated key) are not generated: a plugin
 * that does that corrupts memory before rdv sees the reply.
 */
#include <limits.h>

#include "fuzz.h"
#include "rdv/plugin.h"
#include "rdv/store.h"
#include "rdv/store_ops.h"
#include "store_internal.h"

#define PLUGIN_NAME "fuzzplug"
#define MAX_VALUES 8
#define MAX_LISTED 6

/* The input, read by the plugin's ops and the driver alike. */
static const uint8_t *in_data;
static size_t in_size, in_at;

static uint8_t take(void)
{
    return in_at < in_size ? in_data[in_at++] : 0;
}

static uint64_t take64(void)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | take();
    return v;
}

/* Bytes of the input into a malloc'd buffer of exactly len bytes (zeros
 * once the input ends), so ASan sees a read past a value's end. */
static void *take_bytes(size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    size_t have = in_size - in_at < len ? in_size - in_at : len;

    if (!b)
        abort();
    if (have)
        memcpy(b, in_data + in_at, have);
    memset(b + have, 0, len - have);
    in_at += have;
    return b;
}

/* What the caller sent and what the replies earn, for the checks. */
static struct {
    const char *op;        /* the public call running */
    const char *const *keys; /* its keys, values and count */
    const void *const *vals;
    const size_t *lens;
    size_t n;
    int flags;
    int64_t delta;
    const void *expected, *desired;
    size_t expected_len, desired_len;
    int sets;              /* plugin set calls so far in this call */
    /* The last reply: the status the adapter owes for it, and what it
     * was about, when it was refused. */
    int owe, lie;
    const char *owe_op, *owe_key;
    char owe_key_copy[256]; /* the key may be freed before the check */
    /* Good values handed out, in order; keys listed; results. */
    void *want[MAX_VALUES];
    size_t want_len[MAX_VALUES];
    size_t nwant;
    char *listed[MAX_LISTED];
    size_t nlisted;
    int64_t result;
    int won, cur_absent;
    size_t deleted;
} run;

typedef struct handle {
    char *msg; /* errmsg's answer, when malloc'd */
    const char *text;
} handle;

static handle *H(void *h)
{
    return h;
}

/* Remembers what the last reply was about (a copy of the key: the
 * fallbacks free the keys they list before the call returns). */
static void owe_about(const char *op, const char *key)
{
    run.owe_op = op;
    run.owe_key = NULL;
    if (key) {
        snprintf(run.owe_key_copy, sizeof run.owe_key_copy, "%s", key);
        run.owe_key = run.owe_key_copy;
    }
}

/* The reply breaks the ABI in a way beyond its return code. */
static void refused(const char *op, const char *key)
{
    run.owe = RDV_EPROTO;
    run.lie = 1;
    owe_about(op, key);
}

/* A return code: usually RDV_OK, else an rdv_status, else garbage. On
 * a failure, errmsg's next answer is set up too. */
static int reply_status(handle *h, const char *op, const char *key)
{
    static const int odd[] = {1, -14, -100, INT_MIN, INT_MAX, 42};
    uint8_t b = take();
    int rc;

    owe_about(op, key);
    run.lie = 0;
    if (b < 128)
        return run.owe = RDV_OK;
    b -= 128;
    rc = b < 13 ? -(int)b - 1 : odd[b % 6];
    run.owe = rc <= 0 && rc >= RDV_ESTATE ? rc : RDV_EPROTO;
    run.lie = run.owe != rc;
    free(h->msg);
    h->msg = NULL;
    switch (take() % 5) {
    case 0:
        h->text = "";
        break;
    case 1:
        h->text = NULL; /* against the contract, but survivable */
        break;
    case 2: { /* any bytes, control bytes and inner NULs too */
        size_t len = take();
        char *bytes = take_bytes(len);

        h->msg = malloc(len + 1);
        if (!h->msg)
            abort();
        memcpy(h->msg, bytes, len);
        h->msg[len] = '\0';
        free(bytes);
        h->text = h->msg;
        break;
    }
    case 3: /* long */
        h->msg = malloc(8192);
        if (!h->msg)
            abort();
        memset(h->msg, 'x', 8191);
        h->msg[100] = '\n';
        h->msg[8191] = '\0';
        h->text = h->msg;
        break;
    default: /* longer than a detail and never terminated */
        h->msg = malloc(RDV_DETAIL_MAX + 64);
        if (!h->msg)
            abort();
        memset(h->msg, 'y', RDV_DETAIL_MAX + 64);
        h->text = h->msg;
        break;
    }
    return rc;
}

/* A value reply: a good one (remembered for the round trip) or a lie
 * about its length. */
static void reply_value(const char *op, const char *key, void **val,
                        size_t *len)
{
    uint8_t m = take() % 8;

    *val = NULL;
    *len = 0;
    switch (m) {
    case 4: /* NULL, 0: an empty value */
        break;
    case 5:
        *len = 1 + (size_t)take();
        refused(op, key);
        return;
    case 6:
    case 7:
        *val = take_bytes(8);
        *len = m == 6 ? (size_t)RDV_VALUE_MAX + 1 : SIZE_MAX;
        refused(op, key);
        return;
    default:
        *len = m == 3 ? (size_t)take() * 16 : take();
        *val = take_bytes(*len);
        break;
    }
    if (run.nwant < MAX_VALUES) {
        run.want[run.nwant] = malloc(*len ? *len : 1);
        if (!run.want[run.nwant])
            abort();
        if (*len)
            memcpy(run.want[run.nwant], *val, *len);
        run.want_len[run.nwant++] = *len;
    }
}

static void same_key(const char *got, const char *sent, const char *op)
{
    FUZZ_CHECK(strcmp(got, sent) == 0, "%s: the plugin got key '%s', the "
               "caller sent '%s'", op, got, sent);
}

static void same_value(const void *got, size_t got_len, const void *sent,
                       size_t sent_len, const char *op)
{
    FUZZ_CHECK(got_len == sent_len && (!got_len ||
                                       memcmp(got, sent, got_len) == 0),
               "%s: the plugin got a value of %zu bytes, the caller sent "
               "%zu", op, got_len, sent_len);
}

/* ---- the plugin ------------------------------------------------------ */

static void *fp_create(const rdv_plugin_config *cfg, char *errbuf,
                       size_t errlen)
{
    handle *h = calloc(1, sizeof *h);

    (void)cfg;
    if (!h)
        snprintf(errbuf, errlen, "out of memory");
    return h;
}

static void fp_destroy(void *h)
{
    free(H(h)->msg);
    free(h);
}

static const char *fp_errmsg(void *h)
{
    return H(h)->text;
}

static int fp_set(void *h, const char *key, const void *val, size_t len,
                  int flags)
{
    size_t i = (size_t)run.sets++;

    FUZZ_CHECK(i < run.n, "%zu sets for %zu keys", i + 1, run.n);
    same_key(key, run.keys[i], "set");
    same_value(val, len, run.vals[i], run.lens[i], "set");
    FUZZ_CHECK(flags == run.flags, "set flags %d, sent %d", flags,
               run.flags);
    return reply_status(h, "set", key);
}

static int fp_get(void *h, const char *key, void **val, size_t *len,
                  int timeout_ms)
{
    int rc;

    FUZZ_CHECK(timeout_ms == 0, "get with timeout %d for a try", timeout_ms);
    if ((rc = reply_status(h, "get", key)) == RDV_OK)
        reply_value("get", key, val, len);
    return rc;
}

static int fp_wait(void *h, const char *const *keys, size_t n,
                   int timeout_ms)
{
    FUZZ_CHECK(n == run.n, "wait on %zu keys of %zu", n, run.n);
    for (size_t i = 0; i < n; i++)
        same_key(keys[i], run.keys[i], "wait");
    FUZZ_CHECK(timeout_ms == 0, "wait with timeout %d", timeout_ms);
    return reply_status(h, "wait", keys[0]);
}

static int fp_add(void *h, const char *key, int64_t delta, int64_t *result)
{
    int rc;

    same_key(key, run.keys[0], "add");
    FUZZ_CHECK(delta == run.delta, "add got delta %lld",
               (long long)delta);
    if ((rc = reply_status(h, "add", key)) == RDV_OK)
        *result = run.result = (int64_t)take64();
    return rc;
}

static int fp_compare_set(void *h, const char *key, const void *expected,
                          size_t expected_len, const void *desired,
                          size_t desired_len, int *won, void **cur,
                          size_t *cur_len)
{
    static const int odd[] = {2, -1, 7, INT_MIN, INT_MAX, 255};
    uint8_t w;
    int rc;

    same_key(key, run.keys[0], "compare_set");
    FUZZ_CHECK((expected == NULL) == (run.expected == NULL),
               "compare_set: expected NULL-ness changed");
    if (expected)
        same_value(expected, expected_len, run.expected, run.expected_len,
                   "compare_set expected");
    same_value(desired, desired_len, run.desired, run.desired_len,
               "compare_set desired");
    if ((rc = reply_status(h, "compare_set", key)) != RDV_OK)
        return rc;
    w = take();
    *won = run.won = w < 120 ? 0 : w < 240 ? 1 : odd[w % 6];
    if (*won != 0 && *won != 1)
        refused("compare_set", key);
    if (cur) {
        int lie = run.lie;

        /* A won lie is refused whatever cur is. */
        reply_value("compare_set", key, cur, cur_len);
        run.cur_absent = !*cur && !*cur_len;
        if (lie)
            refused("compare_set", key);
    }
    return rc;
}

static int fp_del(void *h, const char *key)
{
    if (strcmp(run.op, "delete") == 0)
        same_key(key, run.keys[0], "delete");
    return reply_status(h, "delete", key);
}

/* A list reply: good keys under the prefix, or one of the lies. */
static int fp_list(void *h, const char *prefix, char ***keys, size_t *n)
{
    size_t plen = strlen(prefix), count;
    uint8_t m;
    int rc;

    FUZZ_CHECK(strcmp(prefix, run.keys[0]) == 0, "list got prefix '%s'",
               prefix);
    if ((rc = reply_status(h, "list", prefix)) != RDV_OK)
        return rc;
    m = take() % 16;
    if (m >= 14) { /* a count with no array */
        *keys = NULL;
        *n = m == 14 ? 1 + (size_t)take() : SIZE_MAX;
        refused("list", prefix);
        return rc;
    }
    count = m % (MAX_LISTED + 1);
    *n = count;
    *keys = count ? malloc(count * sizeof **keys) : NULL;
    if (count && !*keys)
        abort();
    for (size_t i = 0; i < count; i++) {
        uint8_t k = take() % 10;
        char *key;

        if (k == 5) { /* NULL */
            (*keys)[i] = NULL;
            refused("list", prefix);
            continue;
        }
        if (k == 6 && i > 0 && (*keys)[i - 1]) { /* a repeat */
            key = strdup((*keys)[i - 1]);
            refused("list", prefix);
        } else if (k == 7) {
            key = strdup("");
            refused("list", prefix);
        } else if (k == 8 && plen) {
            key = strdup("~outside");
            refused("list", prefix);
        } else if (k == 9) {
            key = malloc(plen + RDV_PLUGIN_KEY_MAX + 2);
            if (key) {
                memcpy(key, prefix, plen);
                memset(key + plen, 'L', RDV_PLUGIN_KEY_MAX + 1);
                key[plen + RDV_PLUGIN_KEY_MAX + 1] = '\0';
            }
            refused("list", prefix);
        } else { /* prefix, index, '-', up to 3 bytes (no NUL) */
            size_t extra = take() % 4;

            key = malloc(plen + 2 + extra + 1);
            if (key) {
                size_t o = plen;

                memcpy(key, prefix, plen);
                key[o++] = (char)('0' + i);
                key[o++] = '-';
                for (size_t j = 0; j < extra; j++) {
                    uint8_t c = take();

                    key[o++] = (char)(c ? c : 'z');
                }
                key[o] = '\0';
            }
        }
        if (!key)
            abort();
        (*keys)[i] = key;
        if (run.nlisted < MAX_LISTED && (run.listed[run.nlisted] =
                                             strdup(key)) != NULL)
            run.nlisted++;
    }
    return rc;
}

static int fp_multi_get(void *h, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int timeout_ms)
{
    int rc;

    FUZZ_CHECK(n == run.n, "multi_get of %zu keys, sent %zu", n, run.n);
    for (size_t i = 0; i < n; i++)
        same_key(keys[i], run.keys[i], "multi_get");
    FUZZ_CHECK(timeout_ms == 0, "multi_get with timeout %d", timeout_ms);
    if ((rc = reply_status(h, "multi_get", keys[0])) != RDV_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int lie = run.lie;
        char first[sizeof run.owe_key_copy];

        snprintf(first, sizeof first, "%s", run.owe_key_copy);
        reply_value("multi_get", keys[i], &vals[i], &lens[i]);
        if (lie) /* the first lie is the one named */
            refused("multi_get", first);
    }
    return rc;
}

static int fp_multi_set(void *h, const char *const *keys,
                        const void *const *vals, const size_t *lens,
                        size_t n)
{
    FUZZ_CHECK(n == run.n, "multi_set of %zu keys, sent %zu", n, run.n);
    for (size_t i = 0; i < n; i++) {
        same_key(keys[i], run.keys[i], "multi_set");
        same_value(vals[i], lens[i], run.vals[i], run.lens[i], "multi_set");
    }
    return reply_status(h, "multi_set", keys[0]);
}

static int fp_num_keys(void *h, int64_t *n)
{
    int rc = reply_status(h, "num_keys", NULL);

    if (rc == RDV_OK) {
        *n = run.result = (int64_t)take64();
        if (*n < 0)
            refused("num_keys", NULL);
    }
    return rc;
}

static int fp_delete_prefix(void *h, const char *prefix, size_t *deleted)
{
    int rc;

    FUZZ_CHECK(strcmp(prefix, run.keys[0]) == 0,
               "delete_prefix got prefix '%s'", prefix);
    if ((rc = reply_status(h, "delete_prefix", prefix)) == RDV_OK)
        *deleted = run.deleted = (size_t)take64();
    return rc;
}

static rdv_store_plugin table = {
    .abi_version = RDV_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(rdv_store_plugin),
    .name = PLUGIN_NAME,
    .create = fp_create,
    .destroy = fp_destroy,
    .errmsg = fp_errmsg,
    .set = fp_set,
    .get = fp_get,
    .wait = fp_wait,
    .add = fp_add,
    .compare_set = fp_compare_set,
    .del = fp_del,
    .list = fp_list,
};

/* ---- the driver ------------------------------------------------------ */

static const char *const key_pool[] = {"k", "a/b", "job7/addr/3",
                                       "key with space", "\x01\x1b[2Jctl",
                                       "-lead", "p/x"};
static const char *const prefix_pool[] = {"", "p/", "k"};

static const char *pick(const char *const *pool, size_t n)
{
    return pool[take() % n];
}

/* The detail of a failed call: terminated, no control bytes, and, for a
 * refused reply, naming the plugin, the op and the key. */
static void check_detail(rdv_store *s, int rc)
{
    const char *d = rdv_store_errmsg(s);
    char k[128];

    FUZZ_CHECK(fuzz_msg_ok(d, RDV_DETAIL_MAX), "%s: no detail for %s",
               run.op, rdv_status_name(rc));
    for (const char *p = d; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
                   "%s: control byte 0x%02x in the detail '%s'", run.op,
                   (unsigned char)*p, d);
    if (!run.lie)
        return; /* the plugin's own failure, in its own words */
    FUZZ_CHECK(strstr(d, PLUGIN_NAME) && strstr(d, run.owe_op),
               "%s: a refused reply's detail '%s' does not name the "
               "plugin and the op %s", run.op, d, run.owe_op);
    if (run.owe_key)
        FUZZ_CHECK(strstr(d, rdv_key_printable(run.owe_key, k, sizeof k)),
                   "%s: the detail '%s' does not name the key '%s'",
                   run.op, d, k);
}

static int is_status(int rc)
{
    return rc <= 0 && rc >= RDV_ESTATE;
}

/* The value the caller got is the next one the plugin handed out. */
static void check_value(size_t i, const void *val, size_t len)
{
    FUZZ_CHECK(i < run.nwant, "%s: value %zu was never handed out", run.op,
               i);
    FUZZ_CHECK(val != NULL && ((const char *)val)[len] == '\0',
               "%s: value %zu NULL or not terminated", run.op, i);
    FUZZ_CHECK(len == run.want_len[i] &&
                   memcmp(val, run.want[i], len) == 0,
               "%s: value %zu of %zu bytes, the plugin gave %zu", run.op, i,
               len, run.want_len[i]);
}

static void reset_run(void)
{
    for (size_t i = 0; i < run.nwant; i++)
        free(run.want[i]);
    for (size_t i = 0; i < run.nlisted; i++)
        free(run.listed[i]);
    memset(&run, 0, sizeof run);
    run.owe = RDV_OK;
}

/* A few bytes of the input as a value the caller sends. */
static void *take_value(size_t *len)
{
    *len = take() % 24;
    return take_bytes(*len);
}

static void do_one(rdv_store *s, uint8_t op)
{
    const char *keys[3];
    void *vals[3] = {0}, *val = NULL;
    size_t lens[3] = {0}, len = 0, deleted = 7;
    int64_t result = 7, count = 7;
    char **listed = NULL;
    size_t nlisted = 0;
    int rc = RDV_OK, won = 7;

    run.n = 1 + take() % 3;
    for (size_t i = 0; i < run.n; i++)
        keys[i] = pick(key_pool, sizeof key_pool / sizeof *key_pool);
    run.keys = keys;
    switch (op % 11) {
    case 0:
    case 8: {
        run.op = op % 11 ? "multi_set" : "set";
        if (!(op % 11))
            run.n = 1;
        for (size_t i = 0; i < run.n; i++)
            vals[i] = take_value(&lens[i]);
        run.vals = (const void *const *)vals;
        run.lens = lens;
        if (!(op % 11)) {
            run.flags = take() & 1;
            rc = rdv_store_set(s, keys[0], vals[0], lens[0], run.flags);
        } else {
            rc = rdv_store_multi_set(s, keys, (const void *const *)vals,
                                     lens, run.n);
        }
        for (size_t i = 0; i < run.n; i++) {
            free(vals[i]);
            vals[i] = NULL;
        }
        break;
    }
    case 1:
        run.op = "get";
        rc = rdv_store_get(s, keys[0], &val, &len, 0);
        if (rc == RDV_OK)
            check_value(0, val, len);
        break;
    case 2:
        run.op = "wait";
        rc = rdv_store_wait(s, keys, run.n, 0);
        break;
    case 3:
        run.op = "add";
        run.delta = (int64_t)take64();
        rc = rdv_store_add(s, keys[0], run.delta, &result);
        if (rc == RDV_OK)
            FUZZ_CHECK(result == run.result, "add: result %lld, plugin "
                       "gave %lld", (long long)result,
                       (long long)run.result);
        break;
    case 4: {
        int want_cur = take() & 1;
        void *e = NULL, *d;

        run.op = "compare_set";
        if (take() & 1)
            e = take_value(&run.expected_len);
        d = take_value(&run.desired_len);
        run.expected = e;
        run.desired = d;
        rc = rdv_store_compare_set(s, keys[0], e, run.expected_len, d,
                                   run.desired_len, &won,
                                   want_cur ? &val : NULL,
                                   want_cur ? &len : NULL);
        if (rc == RDV_OK) {
            FUZZ_CHECK(won == run.won, "compare_set: won %d, plugin gave "
                       "%d", won, run.won);
            if (want_cur && run.cur_absent)
                FUZZ_CHECK(!val && !len, "compare_set: an absent key "
                           "came back as a value");
            else if (want_cur)
                check_value(0, val, len);
        } else if (want_cur) {
            FUZZ_CHECK(!val && !len, "compare_set failed and set cur");
        }
        free(e);
        free(d);
        break;
    }
    case 5:
        run.op = "delete";
        rc = rdv_store_delete(s, keys[0]);
        break;
    case 6:
        run.op = "list";
        keys[0] = pick(prefix_pool, sizeof prefix_pool / sizeof *prefix_pool);
        rc = rdv_store_list(s, keys[0], &listed, &nlisted);
        if (rc == RDV_OK) {
            FUZZ_CHECK(nlisted == run.nlisted, "list: %zu keys, plugin "
                       "gave %zu", nlisted, run.nlisted);
            for (size_t i = 0; i < nlisted; i++)
                FUZZ_CHECK(strcmp(listed[i], run.listed[i]) == 0,
                           "list: key %zu changed", i);
        } else {
            FUZZ_CHECK(!listed && !nlisted, "list failed and gave keys");
        }
        rdv_store_list_free(listed, nlisted);
        break;
    case 7:
        run.op = "multi_get";
        rc = rdv_store_multi_get(s, keys, run.n, vals, lens, 0);
        for (size_t i = 0; i < run.n; i++) {
            if (rc == RDV_OK)
                check_value(i, vals[i], lens[i]);
            else
                FUZZ_CHECK(!vals[i] && !lens[i], "multi_get failed and "
                           "set value %zu", i);
            free(vals[i]);
        }
        break;
    case 9:
        run.op = "num_keys";
        keys[0] = "";
        rc = rdv_store_num_keys(s, &count);
        if (rc == RDV_OK)
            FUZZ_CHECK(count == (table.num_keys ? run.result
                                                : (int64_t)run.nlisted),
                       "num_keys: %lld", (long long)count);
        break;
    default:
        run.op = "delete_prefix";
        keys[0] = pick(prefix_pool, sizeof prefix_pool / sizeof *prefix_pool);
        rc = rdv_store_delete_prefix(s, keys[0], &deleted);
        if (rc == RDV_OK)
            FUZZ_CHECK(deleted == (table.delete_prefix ? run.deleted
                                                       : run.nlisted),
                       "delete_prefix: %zu deleted", deleted);
        break;
    }
    FUZZ_CHECK(is_status(rc), "%s returned %d, not an rdv_status", run.op,
               rc);
    FUZZ_CHECK(rc == run.owe, "%s returned %s, the reply earned %s (%s)",
               run.op, rdv_status_name(rc), rdv_status_name(run.owe),
               rdv_store_errmsg(s));
    if (rc != RDV_OK)
        check_detail(s, rc);
    if (op % 11 == 1 || op % 11 == 4)
        free(val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[RDV_DETAIL_MAX];
    rdv_store *s = NULL;
    rdv_url u;
    uint8_t opts;

    in_data = data;
    in_size = size;
    in_at = 0;
    opts = take();
    table.multi_get = (opts & 1) ? fp_multi_get : NULL;
    table.multi_set = (opts & 2) ? fp_multi_set : NULL;
    table.num_keys = (opts & 4) ? fp_num_keys : NULL;
    table.delete_prefix = (opts & 8) ? fp_delete_prefix : NULL;
    FUZZ_CHECK(rdv_url_parse("plugin:" PLUGIN_NAME, &u, err, sizeof err) ==
                   RDV_OK, "url: %s", err);
    FUZZ_CHECK(rdv_plugin_open_table(&u, PLUGIN_NAME, &table, NULL, 0, &s,
                                     err, sizeof err) == RDV_OK,
               "open: %s", err);
    rdv_url_free(&u);
    for (int ops = 0; ops < 64 && in_at < in_size; ops++) {
        reset_run();
        do_one(s, take());
    }
    reset_run();
    rdv_store_close(s);
    return 0;
}
