/*
 * harness/common/text_escape.h - writing untrusted text (error messages, keys,
 * URLs) into JSON and XML output without breaking the format.
 */
#ifndef RDV_HARNESS_TEXT_ESCAPE_H
#define RDV_HARNESS_TEXT_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* The length of the valid UTF-8 sequence at p (1 for ASCII), or 0 when
 * the byte at p does not start one (a stray continuation byte, a
 * truncated, overlong or surrogate sequence, or past U+10FFFF). */
size_t rdv_utf8_valid_len(const unsigned char *p);

/* Writes s as a quoted JSON string: valid UTF-8 as it is, control
 * characters and bytes outside valid UTF-8 as \u00XX. */
void rdv_json_put_string(FILE *f, const char *s);

/* Writes s escaped for XML text or attribute values: valid UTF-8 as it
 * is; bytes XML 1.0 does not allow, and bytes outside valid UTF-8,
 * become '?'. */
void rdv_xml_put_escaped(FILE *f, const char *s);

#endif
