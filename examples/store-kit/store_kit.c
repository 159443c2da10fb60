/*
 * store_kit.c - the helpers the etcd and ZooKeeper plugins share; see
 * store_kit.h.
 *
 * Choices:
 * - The detail is thread-local: rdv reads it on the failing thread right
 *   after the op (rdv/plugin.h), and threads sharing a handle must not
 *   overwrite each other's detail between the failure and that read.
 * - Jitter comes from a thread-local xorshift seeded from the clock, the
 *   pid and the thread, so ranks forked from one parent never back off in
 *   lockstep.
 * - Options are parsed strictly (strtol to the end, a range check): a
 *   typo is an error naming the option, never a silent default.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_kit.h"

static __thread char detail[1024];
static __thread uint64_t rng;

int kit_fail(int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return status;
}

const char *kit_detail(void)
{
    return detail;
}

const char *kit_errmsg(void *h)
{
    (void)h;
    return detail;
}

const char *kit_printable(const char *key, char *buf, size_t cap)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)key;

    for (; *p && o + 8 < cap; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
    }
    if (*p && cap > 4) { /* cut: say so */
        o = o + 4 < cap ? o : cap - 4;
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o < cap ? o : cap - 1] = '\0';
    return buf;
}

int64_t kit_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t kit_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? KIT_NEVER
                          : kit_now_ns() + (int64_t)timeout_ms * 1000000;
}

int kit_left_ms(int64_t deadline)
{
    int64_t left;

    if (deadline == KIT_NEVER)
        return -1;
    left = deadline - kit_now_ns();
    if (left <= 0)
        return 0;
    left = (left + 999999) / 1000000;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

long long kit_ms_since(int64_t t0)
{
    return (long long)((kit_now_ns() - t0) / 1000000);
}

/* Uniform in [0, max_ms]. */
static int jitter_ms(int max_ms)
{
    if (!rng)
        rng = ((uint64_t)kit_now_ns() ^ ((uint64_t)getpid() << 32) ^
               (uint64_t)(uintptr_t)pthread_self()) | 1;
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return max_ms > 0 ? (int)(rng % ((uint64_t)max_ms + 1)) : 0;
}

int kit_backoff_ms(int attempt, int first_ms, int max_ms)
{
    int64_t b = first_ms;

    for (int i = 0; i < attempt && b < max_ms; i++)
        b *= 2;
    if (b > max_ms)
        b = max_ms;
    return (int)(b / 2) + jitter_ms((int)(b / 2));
}

int kit_counter_parse(const void *v, size_t len, int64_t *out)
{
    char buf[32], *end;
    long long x;

    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9'))
        return -1; /* strtoll would take spaces and '+' */
    errno = 0;
    x = strtoll(buf, &end, 10);
    if (*end || errno || end == buf)
        return -1;
    *out = x;
    return 0;
}

size_t kit_counter_next(int64_t old, int64_t delta, char *buf, int64_t *sum)
{
    if (__builtin_add_overflow(old, delta, sum))
        return 0;
    return (size_t)snprintf(buf, 24, "%lld", (long long)*sum);
}

int kit_copy_value(const void *v, size_t len, void **out, size_t *out_len)
{
    char *copy = malloc(len + 1);

    if (!copy)
        return kit_fail(RDV_ENOMEM, "out of memory for a %zu-byte value",
                        len);
    if (len)
        memcpy(copy, v, len);
    copy[len] = '\0';
    *out = copy;
    *out_len = len;
    return RDV_OK;
}

int kit_cas_current(int won, const void *desired, size_t desired_len,
                    const void *now, size_t now_len, void **cur,
                    size_t *cur_len)
{
    *cur = NULL;
    *cur_len = 0;
    if (won)
        return kit_copy_value(desired, desired_len, cur, cur_len);
    return now ? kit_copy_value(now, now_len, cur, cur_len) : RDV_OK;
}

/* Empties vals/lens, freeing what they held when free_them. */
static void vals_clear(void **vals, size_t *lens, size_t n, int free_them)
{
    for (size_t i = 0; vals && i < n; i++) {
        if (free_them)
            free(vals[i]);
        vals[i] = NULL;
        lens[i] = 0;
    }
}

int kit_await(kit_await_fn fn, void *h, const char *op,
              const char *const *keys, size_t n, void **vals, size_t *lens,
              int timeout_ms)
{
    int rc;

    vals_clear(vals, lens, n, 0);
    if (n == 0)
        return RDV_OK;
    rc = fn(h, op, keys, n, vals, lens, timeout_ms);
    if (rc)
        vals_clear(vals, lens, n, 1);
    return rc;
}

int kit_keys_push(kit_keys *k, const char *key, size_t len)
{
    char *copy = malloc(len + 1);

    if (!copy)
        return RDV_ENOMEM;
    if (k->n == k->cap) {
        size_t ncap = k->cap ? k->cap * 2 : 16;
        char **grown = realloc(k->v, ncap * sizeof *grown);

        if (!grown) {
            free(copy);
            return RDV_ENOMEM;
        }
        k->v = grown;
        k->cap = ncap;
    }
    memcpy(copy, key, len);
    copy[len] = '\0';
    k->v[k->n++] = copy;
    return RDV_OK;
}

void kit_keys_free(kit_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof *k);
}

void kit_missing(char *buf, size_t cap, const char *const *keys, size_t n,
                 const unsigned char *present)
{
    size_t missing = 0, o;
    char k[128];

    for (size_t i = 0; i < n; i++)
        missing += !present[i];
    o = (size_t)snprintf(buf, cap, "%zu of %zu key%s missing:", missing, n,
                         n == 1 ? "" : "s");
    for (size_t i = 0, shown = 0; i < n && o < cap; i++) {
        if (present[i])
            continue;
        if (shown++ == 8) {
            snprintf(buf + o, cap - o, ", ...");
            break;
        }
        o += (size_t)snprintf(buf + o, cap - o, "%s %s", shown > 1 ? "," : "",
                              kit_printable(keys[i], k, sizeof k));
    }
}

int kit_option_int(const rdv_plugin_config *cfg, const char *name,
                   const char *unit, int def, int min, int max, int *out,
                   char *errbuf, size_t errlen)
{
    const char *v = cfg->option(cfg, name);
    char *end;
    long x;

    *out = def;
    if (!v)
        return 0;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max) {
        snprintf(errbuf, errlen, "option %s='%s' in '%s': expected a whole "
                 "number of %s from %d to %d", name, v, cfg->url, unit, min,
                 max);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* Checks one "host:port" entry of a host list. */
static int host_ok(const char *h, size_t len)
{
    const char *colon = memrchr(h, ':', len);
    long port = 0;

    if (!colon || colon == h || colon + 1 == h + len)
        return 0;
    for (const char *p = colon + 1; p < h + len; p++) {
        if (*p < '0' || *p > '9' || port > 65535)
            return 0;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535;
}

void kit_hosts_free(char **hosts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(hosts[i]);
    free(hosts);
}

int kit_hosts_parse(const char *list, const char *option, const char *url,
                    char ***hosts, size_t *n, char *errbuf, size_t errlen)
{
    kit_keys k = {0};

    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        if (!host_ok(p, len)) {
            snprintf(errbuf, errlen, "option %s='%s' in '%s': '%.*s' is not "
                     "host:port (a port from 1 to 65535)", option, list, url,
                     (int)len, p);
            kit_keys_free(&k);
            return -1;
        }
        if (kit_keys_push(&k, p, len)) {
            snprintf(errbuf, errlen, "option %s: out of memory", option);
            kit_keys_free(&k);
            return -1;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *hosts = k.v;
    *n = k.n;
    return 0;
}

int kit_url_split(const char *value, const char *scheme, char **hosts,
                  char **path, char *errbuf, size_t errlen)
{
    size_t sl = strlen(scheme);
    const char *h = value + sl, *slash;

    *hosts = *path = NULL;
    if (strncmp(value, scheme, sl) != 0 || !*h) {
        snprintf(errbuf, errlen, "option url='%s': expected %shost:port"
                 "[,host:port...]", value, scheme);
        return -1;
    }
    slash = strchr(h, '/');
    *hosts = slash ? strndup(h, (size_t)(slash - h)) : strdup(h);
    if (slash && slash[1])
        *path = strdup(slash);
    if (!*hosts || (slash && slash[1] && !*path)) {
        free(*hosts);
        snprintf(errbuf, errlen, "option url: out of memory");
        return -1;
    }
    return 0;
}
