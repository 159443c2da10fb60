/*
 * options.c - growing option structs (options.h).
 *
 * Choices:
 *  - struct_size, not a version number: the size says exactly which
 *    fields the caller has, and sizeof gets it right without the caller
 *    knowing the version (as rdv/plugin.h's table does).
 *  - A larger struct is taken when its extra bytes are zero, as Linux's
 *    copy_struct_from_user() does: a program built against a newer
 *    header runs on an older library as long as it asks for nothing new.
 *  - The defaults come from the library (the *_init functions), so an
 *    older caller's missing fields get today's defaults.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "rdv/status.h"

void rdv_options_fill(void *o, size_t size, const void *defaults,
                      size_t known)
{
    uint32_t s = (uint32_t)size;

    if (!o || size < sizeof s)
        return;
    memset(o, 0, size);
    memcpy(o, defaults, size < known ? size : known);
    memcpy(o, &s, sizeof s);
}

/* Whether the bytes of p in [from, to) are all zero. */
static int zero_from(const unsigned char *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (p[i])
            return 0;
    return 1;
}

int rdv_options_take(void *dst, size_t known, const void *src, size_t v1,
                     const char *type, char *errbuf, size_t errlen)
{
    uint32_t size, mine = (uint32_t)known;
    char why[64];

    memcpy(&size, src, sizeof size);
    if (size == 0 || size < v1 || size > RDV_OPTIONS_SIZE_MAX) {
        if (size == 0)
            snprintf(why, sizeof why, "so they were never initialised");
        else if (size < v1)
            snprintf(why, sizeof why, "less than the %zu bytes of its "
                                      "first version", v1);
        else
            snprintf(why, sizeof why, "not a size (garbage?)");
        snprintf(errbuf, errlen,
                 "%s.struct_size is %u, %s: initialise the options with "
                 "%s_default() or %s_init()",
                 type, (unsigned)size, why, type, type);
        return RDV_EINVAL;
    }
    if (size > known && !zero_from(src, known, size)) {
        snprintf(errbuf, errlen,
                 "%s: the caller's struct is %u bytes and sets fields past "
                 "the %zu this librdv knows (built against a newer header?)",
                 type, (unsigned)size, known);
        return RDV_EINVAL;
    }
    memcpy(dst, src, size < known ? size : known);
    memcpy(dst, &mine, sizeof mine);
    return RDV_OK;
}
