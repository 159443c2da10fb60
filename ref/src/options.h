/*
 * options.h - public option structs that can grow without breaking the
 * ABI, the way rdv/plugin.h's table does: each starts with a uint32_t
 * struct_size, the caller's sizeof, and later versions only append
 * fields. These two helpers are the whole mechanism, shared by
 * rdv_context_options and rdv_coll_options.
 */
#ifndef RDV_OPTIONS_H
#define RDV_OPTIONS_H

#include <stddef.h>

/* A struct_size above this is garbage, not a newer caller. */
#define RDV_OPTIONS_SIZE_MAX 4096

/* Fills the size bytes at o (the caller's struct) with this library's
 * defaults (the `known` bytes at defaults), zeroes whatever lies past
 * them, and sets struct_size to size. */
void rdv_options_fill(void *o, size_t size, const void *defaults,
                      size_t known);

/* Copies a caller's options (src) over dst, which holds the defaults
 * and is `known` bytes (this library's sizeof); dst's struct_size ends
 * as known. By src's struct_size:
 *   - at least v1 (the first version's size) and at most known: the
 *     fields it lacks keep their defaults (an older caller);
 *   - above known: taken when every byte past known is zero (a newer
 *     caller that sets nothing this library does not know);
 *   - 0, below v1, above RDV_OPTIONS_SIZE_MAX, or larger with unknown
 *     fields set: RDV_EINVAL, with the reason in errbuf naming `type`
 *     ("rdv_coll_options") and how to initialise it. */
int rdv_options_take(void *dst, size_t known, const void *src, size_t v1,
                     const char *type, char *errbuf, size_t errlen);

#endif
