/*
 * stores/file_name.c - the key <-> file name codec (see file_name.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "file_name.h"
#include "fnv.h"
#include "rdv/store_ops.h"

static int keep(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* One 64-bit half of a long key's digest, from its own starting value. */
static uint64_t digest(const char *key, uint64_t basis)
{
    uint64_t h = rdv_fnv1a(basis, key, strlen(key));

    return h ^ (h >> 29);
}

int rdv_file_name_encode(const char *key, char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    name[o++] = 'k';
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (o + 3 > RDV_FILE_NAME_MAX) {
            /* Two FNV-1a digests from different starting values:
             * collisions are caught anyway by the key stored in the
             * file header. */
            snprintf(name, RDV_FILE_NAME_MAX + 1, "h%016llx%016llx",
                     (unsigned long long)digest(key, RDV_FNV1A_BASIS),
                     (unsigned long long)digest(key, 0x9e3779b97f4a7c15ull));
            return 1;
        }
        if (keep(*p)) {
            name[o++] = (char)*p;
        } else {
            name[o++] = '%';
            name[o++] = hex[*p >> 4];
            name[o++] = hex[*p & 15];
        }
    }
    name[o] = '\0';
    return 0;
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rdv_file_name_decode(const char *name, char *key)
{
    size_t o = 0;

    if (name[0] != 'k' || !name[1])
        return -1;
    for (const char *p = name + 1; *p; p++) {
        if (o == RDV_SCOPED_KEY_MAX)
            return -1;
        if (*p == '%') {
            int hi = unhex(p[1]), lo = hi < 0 ? -1 : unhex(p[2]);

            if (lo < 0 || (hi == 0 && lo == 0))
                return -1;
            key[o++] = (char)(hi * 16 + lo);
            p += 2;
        } else if (keep((unsigned char)*p)) {
            key[o++] = *p;
        } else {
            return -1;
        }
    }
    key[o] = '\0';
    return 0;
}

uint64_t rdv_file_name_hash(const char *name)
{
    return rdv_fnv1a(RDV_FNV1A_BASIS, name, strlen(name));
}
