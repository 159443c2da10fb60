/*
 * harness/common/size_text.c - "16k"-style counts (see size_text.h). Strict: a
 * sign, spaces or any trailing text is an error, so "1 M" or "-4" never
 * turn into a surprising number.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/size_text.h"

int rdv_size_parse(const char *s, size_t max, size_t *out)
{
    unsigned long long v, unit = 1;
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (*end == 'k' || *end == 'K')
        unit = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        unit = 1024 * 1024, end++;
    if (*end || v > max / unit)
        return -1;
    *out = (size_t)(v * unit);
    return 0;
}
