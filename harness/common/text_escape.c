/*
 * harness/common/text_escape.c - JSON and XML escaping.
 *
 * Store errors may carry any byte a key can hold. JSON gets \u00XX for
 * control characters and keeps other bytes (valid JSON parsers take
 * UTF-8); XML is stricter, so anything but printable ASCII, tab and
 * newline becomes '?', which keeps the JUnit file well-formed no matter
 * what a broken store put in its messages.
 */
#include "common/text_escape.h"

void rdv_json_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else if (*p >= 0x80)
            fputc('?', f); /* keys may hold invalid UTF-8 */
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void rdv_xml_put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\t':
        case '\n': fputc(*p, f); break;
        default: fputc(*p >= 0x20 && *p < 0x7f ? *p : '?', f);
        }
    }
}
