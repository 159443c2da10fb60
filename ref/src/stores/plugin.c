/*
 * stores/plugin.c - the plugin: scheme. Loads a store author's .so with
 * dlopen, checks its one exported table (rdv/plugin.h) the way Redis
 * checks a module's build id before trusting it, and adapts the table's
 * void*-handle, timeout_ms ops to rdv_store_ops.
 *
 * Choices:
 * - RTLD_NOW | RTLD_LOCAL: an unresolved symbol fails at open, naming
 *   the file, not later in the middle of a rendezvous; and two plugins
 *   never see each other's symbols.
 * - Every error names the file and what was expected: missing file,
 *   missing symbol (with a hint when another ABI's symbol is there),
 *   wrong ABI version, a too-small table, a NULL required op, a failed
 *   create (with the plugin's own message).
 * - Deadlines become timeout_ms at this edge (0 = try once, -1 = none),
 *   rounded up so a plugin never ends a wait early.
 * - The plugin is not trusted to keep the ABI: a reply that breaks it (a
 *   return value that is not an rdv_status, a NULL value of non-zero
 *   length, a value over RDV_VALUE_MAX, a won neither 0 nor 1, a list
 *   with a NULL, empty, overlong, out-of-prefix or repeated key, a
 *   negative key count) becomes RDV_EPROTO naming the plugin, the op and
 *   the key, with whatever memory it came with freed. Values are
 *   re-terminated (val[len] = 0) as rdv/store.h promises callers. The
 *   plugin's own detail is read no further than RDV_DETAIL_MAX bytes and
 *   its control bytes are escaped.
 * - NULL optional ops run rdv's generic fallbacks (store_fallback.c),
 *   which call back into this adapter's required ops.
 * - A table may claim the gloo level (rdv_store_plugin.level): then add,
 *   compare_set, del and list may be NULL and answer RDV_ENOTSUP naming
 *   the plugin, and the handle reports the level (RDV_STORE_GLOO_LEVEL).
 *   A table older than the level field claims full.
 * - The loader is two steps: rdv_plugin_open_file() finds the table
 *   (dlopen, dlsym), rdv_plugin_open_table() checks it, creates the
 *   handle and adapts it; the fuzz target of plugin replies
 *   (tests/fuzz/fuzz_plugin_reply.c) enters at the second step with a
 *   table of its own.
 * - rdv_plugin_open_file() is the loader without the plugin: URL, so a
 *   scheme of librdv's own can be served by a plugin it finds itself
 *   (gloo.c); such a plugin may be handed prefix= to map onto its own
 *   scoping.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rdv/plugin.h"
#include "store_internal.h"

/* plugin.h repeats these so a plugin needs no other rdv header. */
_Static_assert(RDV_PLUGIN_KEY_MAX == RDV_SCOPED_KEY_MAX,
               "rdv/plugin.h and rdv/store_ops.h disagree on key length");
_Static_assert(RDV_PLUGIN_SET_CREATE_ONLY == RDV_SET_CREATE_ONLY,
               "rdv/plugin.h and rdv/store.h disagree on the set flag");

typedef struct plugin_store {
    rdv_store base;
    void *dl;
    const rdv_store_plugin *p;
    void *h;
    char file[256];
} plugin_store;

#define P(s) ((plugin_store *)(s))

/* Is rc one of rdv/status.h's codes? Anything else is a broken plugin. */
static int is_status(int rc)
{
#define RDV_STATUS_IS(name, value, text) \
    if (rc == (value))                   \
        return 1;
    RDV_STATUS_MAP(RDV_STATUS_IS)
#undef RDV_STATUS_IS
    return 0;
}

/* The plugin broke the ABI in its reply: RDV_EPROTO naming the plugin,
 * the op and what it was asked about (what: "key 'k'", "prefix ''"),
 * so the user knows whom to blame and for which call. */
static int broken(rdv_store *s, const char *op, const char *what,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int broken(rdv_store *s, const char *op, const char *what,
                  const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return rdv_store_fail(s, RDV_EPROTO, "plugin '%s' (%s) broke the ABI: "
                          "%s on %s %s", P(s)->p->name, P(s)->file, op,
                          what, why);
}

/* "key 'k'" (or "keys 'k' and N more") for messages, escaped. */
#define WHAT_MAX 192
static const char *about_keys(const char *noun, const char *const *keys,
                              size_t n, char *buf, size_t cap)
{
    char k[128];

    rdv_key_printable(n ? keys[0] : "", k, sizeof k);
    if (n > 1)
        snprintf(buf, cap, "%ss '%s' and %zu more", noun, k, n - 1);
    else
        snprintf(buf, cap, "%s '%s'", noun, k);
    return buf;
}

#define ABOUT(noun, key, buf) \
    about_keys((noun), (const char *const[]){(key)}, 1, (buf), sizeof(buf))

/* Copies the plugin's detail into out (cap bytes): read no further than
 * fits, since a plugin's buffer may lack its NUL, and control bytes
 * escaped, since the detail ends up in logs and terminals. */
static void copy_detail(const char *msg, char *out, size_t cap)
{
    size_t len = strnlen(msg, cap - 1), o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)msg[i];
        int escape = c < 0x20 || c == 0x7f;

        if (o + (escape ? 4 : 1) >= cap)
            break;
        if (escape)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* Copies the plugin's detail into the store after a failed op, or says
 * that the plugin broke the ABI. Returns the status to hand the caller. */
static int finish(rdv_store *s, const char *op, const char *what, int rc)
{
    char msg[RDV_DETAIL_MAX];
    const char *m;

    if (rc == RDV_OK)
        return RDV_OK;
    if (!is_status(rc))
        return broken(s, op, what, "returned %d, which is not an "
                      "rdv_status", rc);
    m = P(s)->p->errmsg(P(s)->h);
    copy_detail(m ? m : "", msg, sizeof msg);
    if (msg[0])
        return rdv_store_fail(s, rc, "%s", msg);
    return rdv_store_fail(s, rc, "plugin '%s' (%s): %s on %s failed: %s",
                          P(s)->p->name, P(s)->file, op, what,
                          rdv_strerror(rc));
}

/* Checks a returned value and gives it the NUL terminator rdv/store.h
 * promises. On failure *val is still the plugin's: the caller frees it. */
static int terminate(rdv_store *s, const char *op, const char *what,
                     void **val, size_t len)
{
    char *v;

    if (!*val && len)
        return broken(s, op, what, "returned a NULL value of %zu bytes",
                      len);
    if (len > RDV_VALUE_MAX)
        return broken(s, op, what, "returned a value of %zu bytes, over "
                      "RDV_VALUE_MAX (%u)", len, RDV_VALUE_MAX);
    v = realloc(*val, len + 1);
    if (!v)
        return rdv_store_fail(s, RDV_ENOMEM, "%s: out of memory", op);
    v[len] = '\0';
    *val = v;
    return RDV_OK;
}

static int pl_set(rdv_store *s, const char *key, const void *val,
                  size_t len, int flags)
{
    int pflags = (flags & RDV_SET_CREATE_ONLY) ? RDV_PLUGIN_SET_CREATE_ONLY
                                               : 0;
    char what[WHAT_MAX];

    return finish(s, "set", ABOUT("key", key, what),
                  P(s)->p->set(P(s)->h, key, val, len, pflags));
}

static int pl_get(rdv_store *s, const char *key, void **val, size_t *len,
                  int64_t deadline)
{
    char what[WHAT_MAX];
    int rc = finish(s, "get", ABOUT("key", key, what),
                    P(s)->p->get(P(s)->h, key, val, len,
                                 rdv_deadline_left_ms(deadline)));

    if (rc == RDV_OK &&
        (rc = terminate(s, "get", what, val, *len)) != RDV_OK) {
        free(*val);
        *val = NULL;
        *len = 0;
    }
    return rc;
}

static int pl_wait(rdv_store *s, const char *const *keys, size_t n,
                   int64_t deadline)
{
    char what[WHAT_MAX];

    return finish(s, "wait", about_keys("key", keys, n, what, sizeof what),
                  P(s)->p->wait(P(s)->h, keys, n,
                                rdv_deadline_left_ms(deadline)));
}

/* A NULL op of a gloo-level table (check_table lets nothing else be
 * NULL). */
static int missing(rdv_store *s, const char *op)
{
    return rdv_store_fail(s, RDV_ENOTSUP, "plugin '%s' (%s) claims the "
                          "gloo level of the contract and has no %s",
                          P(s)->p->name, P(s)->file, op);
}

static int pl_add(rdv_store *s, const char *key, int64_t delta,
                  int64_t *result)
{
    char what[WHAT_MAX];

    if (!P(s)->p->add)
        return missing(s, "add");
    return finish(s, "add", ABOUT("key", key, what),
                  P(s)->p->add(P(s)->h, key, delta, result));
}

static int pl_compare_set(rdv_store *s, const char *key,
                          const void *expected, size_t expected_len,
                          const void *desired, size_t desired_len, int *won,
                          void **cur, size_t *cur_len)
{
    char what[WHAT_MAX];
    int rc;

    if (!P(s)->p->compare_set)
        return missing(s, "compare_set");
    rc = finish(s, "compare_set", ABOUT("key", key, what),
                P(s)->p->compare_set(P(s)->h, key, expected, expected_len,
                                     desired, desired_len, won, cur,
                                     cur_len));
    if (rc != RDV_OK)
        return rc; /* and returned no memory (rdv/plugin.h) */
    if (*won != 0 && *won != 1)
        rc = broken(s, "compare_set", what, "said won = %d, neither 0 "
                    "nor 1", *won);
    else if (cur && (*cur || *cur_len)) /* NULL, 0: the key is absent */
        rc = terminate(s, "compare_set", what, cur, *cur_len);
    if (rc != RDV_OK && cur) {
        free(*cur);
        *cur = NULL;
        *cur_len = 0;
    }
    return rc;
}

static int pl_del(rdv_store *s, const char *key)
{
    char what[WHAT_MAX];

    if (!P(s)->p->del)
        return missing(s, "delete");
    return finish(s, "delete", ABOUT("key", key, what),
                  P(s)->p->del(P(s)->h, key));
}

static int key_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What is wrong with a list reply, or NULL: a key is NULL, empty, too
 * long, outside the prefix asked for, or there twice. A count no array
 * can hold is refused before any entry is read. */
static const char *list_flaw(const char *prefix, char **keys, size_t n,
                             char *buf, size_t cap)
{
    size_t plen = strlen(prefix);
    char k[128], **sorted;
    const char *flaw = NULL;

    if (n && !keys)
        return "a NULL array";
    if (n > SIZE_MAX / sizeof *keys)
        return "a count no array can hold";
    for (size_t i = 0; i < n; i++) {
        if (!keys[i])
            return "a NULL key";
        if (!keys[i][0])
            return "an empty key";
        if (strnlen(keys[i], RDV_PLUGIN_KEY_MAX + 1) > RDV_PLUGIN_KEY_MAX) {
            snprintf(buf, cap, "a key over RDV_PLUGIN_KEY_MAX (%u) bytes",
                     RDV_PLUGIN_KEY_MAX);
            return buf;
        }
        if (strncmp(keys[i], prefix, plen) != 0) {
            snprintf(buf, cap, "the key '%s', outside the prefix",
                     rdv_key_printable(keys[i], k, sizeof k));
            return buf;
        }
    }
    /* A store holds a key once: a repeat would be counted twice by
     * num_keys and deleted twice by delete_prefix. */
    if (n < 2)
        return NULL;
    if (!(sorted = malloc(n * sizeof *sorted)))
        return NULL; /* unchecked rather than failed: the reply may be fine */
    memcpy(sorted, keys, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, key_order);
    for (size_t i = 1; i < n && !flaw; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            snprintf(buf, cap, "the key '%s' twice",
                     rdv_key_printable(sorted[i], k, sizeof k));
            flaw = buf;
        }
    free(sorted);
    return flaw;
}

static int pl_list(rdv_store *s, const char *prefix, char ***keys,
                   size_t *n)
{
    char what[WHAT_MAX], buf[200];
    const char *flaw;
    int rc;

    if (!P(s)->p->list)
        return missing(s, "list");
    rc = finish(s, "list", ABOUT("prefix", prefix, what),
                P(s)->p->list(P(s)->h, prefix, keys, n));
    if (rc != RDV_OK || !(flaw = list_flaw(prefix, *keys, *n, buf,
                                            sizeof buf)))
        return rc;
    rc = broken(s, "list", what, "returned %zu keys with %s among them",
                *n, flaw);
    /* The array and every non-NULL entry are the plugin's malloc()s
     * (rdv/plugin.h); only a count no array can hold leaves us unable to
     * tell what is there. */
    if (*keys && *n <= SIZE_MAX / sizeof **keys)
        rdv_store_list_free(*keys, *n);
    *keys = NULL;
    *n = 0;
    return rc;
}

static int pl_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int64_t deadline)
{
    char what[WHAT_MAX];
    int rc;

    if (!P(s)->p->multi_get)
        return rdv_fallback_multi_get(s, keys, n, vals, lens, deadline);
    rc = finish(s, "multi_get", about_keys("key", keys, n, what,
                                           sizeof what),
                P(s)->p->multi_get(P(s)->h, keys, n, vals, lens,
                                   rdv_deadline_left_ms(deadline)));
    for (size_t i = 0; rc == RDV_OK && i < n; i++)
        if ((rc = terminate(s, "multi_get", ABOUT("key", keys[i], what),
                            &vals[i], lens[i])) != RDV_OK)
            for (size_t j = 0; j < n; j++)
                free(vals[j]);
    if (rc != RDV_OK) {
        /* A failed plugin call returned no memory (rdv/plugin.h); what
         * is left in vals is not ours to free. */
        memset(vals, 0, n * sizeof *vals);
        memset(lens, 0, n * sizeof *lens);
    }
    return rc;
}

static int pl_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens,
                        size_t n)
{
    char what[WHAT_MAX];

    if (!P(s)->p->multi_set)
        return rdv_fallback_multi_set(s, keys, vals, lens, n);
    return finish(s, "multi_set", about_keys("key", keys, n, what,
                                             sizeof what),
                  P(s)->p->multi_set(P(s)->h, keys, vals, lens, n));
}

static int pl_num_keys(rdv_store *s, int64_t *n)
{
    int rc;

    if (!P(s)->p->num_keys)
        return rdv_fallback_num_keys(s, n);
    rc = finish(s, "num_keys", "the whole store",
                P(s)->p->num_keys(P(s)->h, n));
    if (rc == RDV_OK && *n < 0) {
        rc = broken(s, "num_keys", "the whole store", "returned %lld keys",
                    (long long)*n);
        *n = 0;
    }
    return rc;
}

static int pl_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted)
{
    char what[WHAT_MAX];

    if (!P(s)->p->delete_prefix)
        return rdv_fallback_delete_prefix(s, prefix, deleted);
    return finish(s, "delete_prefix", ABOUT("prefix", prefix, what),
                  P(s)->p->delete_prefix(P(s)->h, prefix, deleted));
}

static void pl_cancel(rdv_store *s)
{
    if (P(s)->p->cancel)
        P(s)->p->cancel(P(s)->h);
}

static void pl_destroy(rdv_store *s)
{
    P(s)->p->destroy(P(s)->h);
    if (P(s)->dl)
        dlclose(P(s)->dl);
    free(s);
}

static const rdv_store_ops plugin_ops = {
    .name = "plugin",
    .set = pl_set,
    .get = pl_get,
    .wait = pl_wait,
    .add = pl_add,
    .compare_set = pl_compare_set,
    .del = pl_del,
    .list = pl_list,
    .destroy = pl_destroy,
    .multi_get = pl_multi_get,
    .multi_set = pl_multi_set,
    .num_keys = pl_num_keys,
    .delete_prefix = pl_delete_prefix,
    .cancel = pl_cancel,
};

/* ---- loading and checking the table ---------------------------------- */

/* What config_option() reads from: the URL, and whether prefix= is the
 * plugin's (gloo.c) or rdv's prefix wrapper's (plugin:). */
typedef struct plugin_loader {
    rdv_url *u;
    int keep_prefix;
} plugin_loader;

static const char *config_option(const rdv_plugin_config *cfg,
                                 const char *key)
{
    const plugin_loader *l = cfg->loader;

    if (strcmp(key, "prefix") == 0 && !l->keep_prefix)
        return NULL;
    return rdv_url_option(l->u, key);
}

/* The level a table claims; a table older than the field claims full. */
static uint32_t table_level(const rdv_store_plugin *p)
{
    if (p->struct_size < offsetof(rdv_store_plugin, level) + sizeof p->level)
        return RDV_PLUGIN_LEVEL_FULL;
    return p->level;
}

static void *load(const char *file, char *errbuf, size_t errlen)
{
    struct stat st;
    void *dl;

    if (strchr(file, '/') && stat(file, &st) != 0) {
        snprintf(errbuf, errlen, "plugin '%s': no such file (expected a "
                 "shared library exporting %s)", file, RDV_PLUGIN_SYMBOL);
        return NULL;
    }
    dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        snprintf(errbuf, errlen, "plugin '%s': cannot load it as a shared "
                 "library exporting %s: %s", file, RDV_PLUGIN_SYMBOL,
                 dlerror());
    return dl;
}

/* Names another ABI's table when the .so has one, for the error. */
static void other_abi(void *dl, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (unsigned v = 0; v < 10; v++) {
        char sym[32];

        snprintf(sym, sizeof sym, "rdv_store_plugin_v%u", v);
        if (v != RDV_PLUGIN_ABI_VERSION && dlsym(dl, sym)) {
            snprintf(buf, cap, "; it exports %s instead: it was built for "
                     "plugin ABI %u", sym, v);
            return;
        }
    }
}

static int check_table(const char *file, const rdv_store_plugin *p,
                       char *errbuf, size_t errlen)
{
    static const struct {
        size_t off;
        const char *name;
        int full_only; /* may be NULL at the gloo level */
    } required[] = {
        {offsetof(rdv_store_plugin, create), "create"},
        {offsetof(rdv_store_plugin, destroy), "destroy"},
        {offsetof(rdv_store_plugin, errmsg), "errmsg"},
        {offsetof(rdv_store_plugin, set), "set"},
        {offsetof(rdv_store_plugin, get), "get"},
        {offsetof(rdv_store_plugin, wait), "wait"},
        {offsetof(rdv_store_plugin, add), "add", 1},
        {offsetof(rdv_store_plugin, compare_set), "compare_set", 1},
        {offsetof(rdv_store_plugin, del), "del", 1},
        {offsetof(rdv_store_plugin, list), "list", 1},
    };
    uint32_t level;

    if (p->abi_version != RDV_PLUGIN_ABI_VERSION) {
        snprintf(errbuf, errlen, "plugin '%s': %s has ABI version %u, "
                 "expected %u: rebuild it against this rdv's rdv/plugin.h",
                 file, RDV_PLUGIN_SYMBOL, p->abi_version,
                 RDV_PLUGIN_ABI_VERSION);
        return RDV_EINVAL;
    }
    if (p->struct_size < offsetof(rdv_store_plugin, level)) {
        snprintf(errbuf, errlen, "plugin '%s': %s is %u bytes, expected "
                 "%zu: rebuild it against this rdv's rdv/plugin.h", file,
                 RDV_PLUGIN_SYMBOL, p->struct_size, sizeof *p);
        return RDV_EINVAL;
    }
    level = table_level(p);
    if (level != RDV_PLUGIN_LEVEL_FULL && level != RDV_PLUGIN_LEVEL_GLOO) {
        snprintf(errbuf, errlen, "plugin '%s': %s claims contract level "
                 "%u, expected RDV_PLUGIN_LEVEL_FULL (0) or "
                 "RDV_PLUGIN_LEVEL_GLOO (1)", file, RDV_PLUGIN_SYMBOL,
                 level);
        return RDV_EINVAL;
    }
    if (!p->name || !p->name[0]) {
        snprintf(errbuf, errlen, "plugin '%s': %s has no name", file,
                 RDV_PLUGIN_SYMBOL);
        return RDV_EINVAL;
    }
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (required[i].full_only && level == RDV_PLUGIN_LEVEL_GLOO)
            continue;
        if (!*(void *const *)((const char *)p + required[i].off)) {
            snprintf(errbuf, errlen, "plugin '%s' (%s): the required op "
                     "'%s' is NULL", file, p->name, required[i].name);
            return RDV_EINVAL;
        }
    }
    return RDV_OK;
}

/* "; options it did not read: a, b" when some were left unread (often
 * the typo behind the failure), else "". */
static const char *unread_options(const rdv_url *u, char *buf, size_t cap)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < u->noptions && o < cap; i++)
        if (!u->options[i].used)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s",
                                  o ? ", " : "; options it did not read: ",
                                  u->options[i].key);
    return buf;
}

/* Calls the plugin's create with the URL's options (minus prefix=
 * unless the plugin keeps it). */
static void *create(plugin_loader *l, const char *file,
                    const rdv_store_plugin *p, char *errbuf, size_t errlen)
{
    const char *keys[RDV_URL_MAX_OPTIONS], *values[RDV_URL_MAX_OPTIONS];
    rdv_url *u = l->u;
    rdv_plugin_config cfg = {.url = u->redacted, .path = file,
                             .keys = keys, .values = values,
                             .option = config_option, .loader = l};
    char msg[RDV_DETAIL_MAX] = "", unread[256];
    void *h;

    for (size_t i = 0; i < u->noptions; i++) {
        if (strcmp(u->options[i].key, "prefix") == 0 && !l->keep_prefix)
            continue;
        keys[cfg.noptions] = u->options[i].key;
        values[cfg.noptions++] = u->options[i].value;
    }
    h = p->create(&cfg, msg, sizeof msg);
    if (!h)
        snprintf(errbuf, errlen, "plugin '%s' (%s): create failed: %s%s",
                 file, p->name, msg[0] ? msg : "(the plugin gave no "
                 "reason)", unread_options(u, unread, sizeof unread));
    return h;
}

int rdv_plugin_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen)
{
    if ((u->has_authority && u->host[0]) || !u->path[0]) {
        snprintf(errbuf, errlen, "malformed store URL '%s': plugin: takes "
                 "the path of a .so, e.g. plugin:./libmystore.so?k=v",
                 u->redacted);
        return RDV_EINVAL;
    }
    return rdv_plugin_open_file(u, u->path, 0, out, errbuf, errlen);
}

int rdv_plugin_open_file(rdv_url *u, const char *file, int keep_prefix,
                         rdv_store **out, char *errbuf, size_t errlen)
{
    const rdv_store_plugin *p;
    char hint[128];
    void *dl;
    int rc;

    if (!(dl = load(file, errbuf, errlen)))
        return RDV_EINVAL;
    p = dlsym(dl, RDV_PLUGIN_SYMBOL);
    if (!p) {
        other_abi(dl, hint, sizeof hint);
        snprintf(errbuf, errlen, "plugin '%s': does not export the symbol "
                 "%s (expected an rdv store plugin built with "
                 "rdv/plugin.h)%s", file, RDV_PLUGIN_SYMBOL, hint);
        rc = RDV_EINVAL;
        goto fail;
    }
    if ((rc = rdv_plugin_open_table(u, file, p, dl, keep_prefix, out,
                                    errbuf, errlen)) != RDV_OK)
        goto fail;
    return RDV_OK;
fail:
    dlclose(dl);
    return rc;
}

int rdv_plugin_open_table(rdv_url *u, const char *file,
                          const rdv_store_plugin *p, void *dl,
                          int keep_prefix, rdv_store **out, char *errbuf,
                          size_t errlen)
{
    plugin_loader loader = {.u = u, .keep_prefix = keep_prefix};
    plugin_store *ps;
    void *h;
    int rc;

    if ((rc = check_table(file, p, errbuf, errlen)) != RDV_OK)
        return rc;
    if (!(ps = calloc(1, sizeof *ps)))
        return RDV_ENOMEM;
    if (!(h = create(&loader, file, p, errbuf, errlen))) {
        free(ps);
        return RDV_ECONN;
    }
    ps->dl = dl;
    ps->p = p;
    ps->h = h;
    snprintf(ps->file, sizeof ps->file, "%s", file);
    rdv_store_init(&ps->base, &plugin_ops);
    if (table_level(p) == RDV_PLUGIN_LEVEL_GLOO)
        ps->base.flags |= RDV_STORE_GLOO_LEVEL;
    *out = &ps->base;
    return RDV_OK;
}
