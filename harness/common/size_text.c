/*
 * harness/common/size_text.c - "16k"-style counts (see size_text.h). The
 * digits go through the one number parser (number.h), so a sign, spaces
 * or any trailing text is an error: "1 M" or "-4" never turn into a
 * surprising number.
 */
#include <string.h>

#include "common/number.h"
#include "common/size_text.h"

int rdv_size_parse(const char *s, size_t max, size_t *out)
{
    size_t digits = strspn(s, "0123456789"), unit = 1;
    const char *suffix = s + digits;
    uint64_t v;

    if (*suffix == 'k' || *suffix == 'K')
        unit = 1024, suffix++;
    else if (*suffix == 'm' || *suffix == 'M')
        unit = 1024 * 1024, suffix++;
    if (*suffix || rdv_number_parse(s, digits, max / unit, &v))
        return -1;
    *out = (size_t)v * unit;
    return 0;
}

int rdv_size_parse_message(const char *s, size_t *out)
{
    return rdv_size_parse(s, (size_t)1 << 30, out) || *out == 0 ? -1 : 0;
}
