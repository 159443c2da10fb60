/*
 * harness/common/text_escape.h - writing untrusted text (error messages, keys,
 * URLs) into JSON and XML output without breaking the format.
 */
#ifndef RDV_HARNESS_TEXT_ESCAPE_H
#define RDV_HARNESS_TEXT_ESCAPE_H

#include <stdio.h>

/* Writes s as a quoted JSON string. */
void rdv_json_put_string(FILE *f, const char *s);

/* Writes s escaped for XML text or attribute values; bytes XML 1.0 does
 * not allow, and every non-ASCII byte, become '?'. */
void rdv_xml_put_escaped(FILE *f, const char *s);

#endif
