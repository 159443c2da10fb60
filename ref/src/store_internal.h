/*
 * store_internal.h - what store.c, store_fallback.c and store_open.c
 * share: the generic fallbacks and the backends' open functions.
 */
#ifndef RDV_STORE_INTERNAL_H
#define RDV_STORE_INTERNAL_H

#include "rdv/store_ops.h"
#include "rdv/url.h"

/* Generic versions of the optional ops, built on the required ones. */
int rdv_fallback_multi_get(rdv_store *s, const char *const *keys, size_t n,
                           void **vals, size_t *lens, int64_t deadline);
int rdv_fallback_multi_set(rdv_store *s, const char *const *keys,
                           const void *const *vals, const size_t *lens,
                           size_t n);
int rdv_fallback_num_keys(rdv_store *s, int64_t *n);
int rdv_fallback_delete_prefix(rdv_store *s, const char *prefix,
                               size_t *deleted);

/* A backend's constructor: reads its options from u (marking them used)
 * and on failure writes a message naming the bad part into errbuf. */
typedef int (*rdv_store_open_fn)(rdv_url *u, rdv_store **out, char *errbuf,
                                 size_t errlen);

int rdv_hash_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen);
int rdv_file_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen);
int rdv_redis_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen);
int rdv_tcp_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen);
/* env:// (env.c): the store the environment names, opened by its URL. */
int rdv_env_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen);
int rdv_plugin_open(rdv_url *u, rdv_store **out, char *errbuf,
                    size_t errlen);
/* The plugin loader for a .so named by librdv rather than by a plugin:
 * URL: file is loaded, u's options go to it (prefix= too when
 * keep_prefix, for a plugin that maps it onto its own scoping). */
int rdv_plugin_open_file(rdv_url *u, const char *file, int keep_prefix,
                         rdv_store **out, char *errbuf, size_t errlen);
/* The loader's second step, on a table already found (dl, the handle
 * dlopen gave, or NULL for a table in this program, is closed with the
 * store, not on failure): checks the table, calls create with u's
 * options, adapts the ops. rdv_plugin_open_file() is the first step. */
struct rdv_store_plugin;
int rdv_plugin_open_table(rdv_url *u, const char *file,
                          const struct rdv_store_plugin *p, void *dl,
                          int keep_prefix, rdv_store **out, char *errbuf,
                          size_t errlen);
#ifdef RDV_WITH_GLOO
/* gloo+file:, gloo+hash:, gloo+redis:: Gloo's own stores (gloo.c). */
int rdv_gloo_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen);
#endif
int rdv_exec_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen);

#endif
