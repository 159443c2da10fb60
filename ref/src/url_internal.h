/*
 * url_internal.h - what url.c (parsing) needs from url_format.c
 * (rendering and masking); the API itself is rdv/url.h.
 */
#ifndef RDV_URL_INTERNAL_H
#define RDV_URL_INTERNAL_H

#include "rdv/url.h"

/* rdv_url_redact(text) into a new malloc'd string of the exact size;
 * NULL text gives "(null)". NULL when out of memory. */
char *rdv_url_redact_dup(const char *text);

#endif
