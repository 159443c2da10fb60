/*
 * harness/common/text_escape.c - JSON and XML escaping.
 *
 * Store errors may carry any byte a key can hold. Valid UTF-8 passes
 * through both formats as it is (file:///tmp/ü stays ü); a byte that is
 * not part of a valid UTF-8 sequence becomes \u00XX in JSON (the byte
 * kept, as its Latin-1 reading) and '?' in XML, and control characters
 * are escaped in JSON and replaced in XML (XML 1.0 cannot carry them),
 * so neither file is ever broken by what a broken store put in its
 * messages.
 */
#include <stdint.h>

#include "common/text_escape.h"

size_t rdv_utf8_valid_len(const unsigned char *p)
{
    uint32_t cp;
    size_t n;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, cp = p[0] & 0x07u;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    /* overlong forms, UTF-16 surrogates, past U+10FFFF */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

void rdv_json_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = rdv_utf8_valid_len(p);

        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f || n == 0)
            fprintf(f, "\\u%04x", *p);
        else {
            fwrite(p, 1, n, f);
            p += n;
            continue;
        }
        p++;
    }
    fputc('"', f);
}

void rdv_xml_put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = rdv_utf8_valid_len(p);

        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\t':
        case '\n': fputc(*p, f); break;
        default:
            if (n > 1) {
                /* U+FFFE and U+FFFF are not XML characters */
                if (n == 3 && p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe)
                    fputc('?', f);
                else
                    fwrite(p, 1, n, f);
                p += n;
                continue;
            }
            fputc(*p >= 0x20 && *p < 0x7f ? *p : '?', f);
        }
        p++;
    }
}
