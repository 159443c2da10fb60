/*
 * harness/common/size_text.h - counts and byte sizes as people type them:
 * "4096", "16k", "1M" (k = 1024, M = 1048576). One parser for the
 * workload syntax and the benches' --min/--max sizes.
 */
#ifndef RDV_HARNESS_SIZE_TEXT_H
#define RDV_HARNESS_SIZE_TEXT_H

#include <stddef.h>

/* Parses s; returns 0 and *out, or -1 when s is not digits with an
 * optional k/K/m/M suffix, or the value passes max. */
int rdv_size_parse(const char *s, size_t max, size_t *out);

/* A message size for the benches: "4", "64k", "16M"; 1 B to 1 GiB. */
int rdv_size_parse_message(const char *s, size_t *out);

#endif
