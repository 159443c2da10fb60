/*
 * harness/common/number.c - numbers as people type them (see number.h).
 *
 * Choices:
 * - Digits are read by hand rather than through strtol/strtoull, which
 *   skip leading blanks, take a sign (strtoull even negates "-1" into
 *   a huge value) and need a NUL: the one rule here is "digits, nothing
 *   else", checked on (pointer, length), so a list item or the digits of
 *   "16k" go through the same code as a whole option.
 * - Overflow is checked before each step, against the caller's max, so
 *   no value is ever wrapped.
 * - Errors name the option and quote the text as typed, with the range
 *   it must be in.
 */
#include <stdio.h>
#include <string.h>

#include "common/number.h"

int rdv_number_parse(const char *s, size_t len, uint64_t max,
                     uint64_t *out)
{
    uint64_t v = 0;

    if (!len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';

        if (d > 9 || d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int rdv_cli_u64(const char *opt, const char *text, uint64_t *out, char *err,
                size_t errlen)
{
    if (rdv_number_parse(text, strlen(text), UINT64_MAX, out) == 0)
        return 0;
    snprintf(err, errlen, "%s: '%s' is not an integer in 0..%llu", opt,
             text, (unsigned long long)UINT64_MAX);
    return -1;
}

int rdv_cli_long(const char *opt, const char *text, long min, long max,
                 long *out, char *err, size_t errlen)
{
    uint64_t v;

    if (max < 0 || rdv_number_parse(text, strlen(text), (uint64_t)max, &v) ||
        (long)v < min) {
        snprintf(err, errlen, "%s: '%s' is not an integer in %ld..%ld", opt,
                 text, min, max);
        return -1;
    }
    *out = (long)v;
    return 0;
}

int rdv_cli_int(const char *opt, const char *text, long min, long max,
                int *out, char *err, size_t errlen)
{
    long v;

    if (rdv_cli_long(opt, text, min, max, &v, err, errlen))
        return -1;
    *out = (int)v; /* callers keep max within int */
    return 0;
}

/* One "A" or "A-B" item of a list. */
static int list_item(const char *opt, const char *item, size_t len,
                     uint64_t min, uint64_t max, uint64_t *out, int cap,
                     int *n, char *err, size_t errlen)
{
    const char *dash = memchr(item, '-', len);
    size_t lo_len = dash ? (size_t)(dash - item) : len;
    uint64_t lo, hi;

    if (rdv_number_parse(item, lo_len, UINT64_MAX, &lo) ||
        (dash ? rdv_number_parse(dash + 1, len - lo_len - 1, UINT64_MAX, &hi)
              : (hi = lo, 0))) {
        snprintf(err, errlen, "%s: '%.*s' is not a number or a range A-B",
                 opt, (int)len, item);
        return -1;
    }
    if (lo > hi || lo < min || hi > max) {
        snprintf(err, errlen, "%s: '%.*s' is outside %llu..%llu (or a "
                 "backwards range)", opt, (int)len, item,
                 (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    for (uint64_t v = lo; v <= hi; v++) {
        if (*n == cap) {
            snprintf(err, errlen, "%s: more than %d values", opt, cap);
            return -1;
        }
        out[(*n)++] = v;
        if (v == UINT64_MAX)
            break;
    }
    return 0;
}

int rdv_cli_list(const char *opt, const char *text, uint64_t min,
                 uint64_t max, uint64_t *out, int cap, int *n, char *err,
                 size_t errlen)
{
    const char *p = text;

    *n = 0;
    do {
        size_t len = strcspn(p, ",");

        if (len == 0) {
            snprintf(err, errlen, "%s: '%s' is not a list like 2,4,8 or "
                     "1-5", opt, text);
            return -1;
        }
        if (list_item(opt, p, len, min, max, out, cap, n, err, errlen))
            return -1;
        p += len;
    } while (*p++ == ',');
    return 0;
}

int rdv_cli_int_list(const char *opt, const char *text, int min, int max,
                     int *out, int cap, int *n, char *err, size_t errlen)
{
    uint64_t v[256];

    if (cap > (int)(sizeof v / sizeof v[0]))
        cap = (int)(sizeof v / sizeof v[0]);
    if (rdv_cli_list(opt, text, (uint64_t)min, (uint64_t)max, v, cap, n,
                     err, errlen))
        return -1;
    for (int i = 0; i < *n; i++)
        out[i] = (int)v[i];
    return 0;
}
