/*
 * store_kit.h - what the etcd and ZooKeeper store plugins share, so each
 * plugin holds only its backend's logic: the error detail every op fills
 * (thread-local, as rdv/plugin.h allows), keys made printable for it,
 * deadlines on CLOCK_MONOTONIC, the counter format of add, key lists for
 * list(), jittered backoff, and the options both read (timeout_ms, host
 * lists, the url= spelling). Built into each plugin from source; it
 * needs only rdv/plugin.h, never librdv.
 */
#ifndef RDV_STORE_KIT_H
#define RDV_STORE_KIT_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/plugin.h"

/* A deadline that never comes (timeout_ms < 0). */
#define KIT_NEVER INT64_MAX

/* Records the calling thread's failure detail (errmsg() returns it) and
 * returns status. Thread-local: several threads may fail at once on one
 * handle, and rdv reads the detail on the failing thread right after the
 * op returns. */
int kit_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The calling thread's last detail ("" when none). */
const char *kit_detail(void);
/* The same, as the errmsg op of rdv/plugin.h: a plugin whose ops fail
 * through kit_fail() puts this in its table (the handle is not needed). */
const char *kit_errmsg(void *h);

/* key made safe and short for a message: control bytes and '\\' become
 * \xNN, and a long key is cut with "..." (keys reach 5120 bytes). */
const char *kit_printable(const char *key, char *buf, size_t cap);

/* CLOCK_MONOTONIC in ns. */
int64_t kit_now_ns(void);
/* The absolute deadline of a timeout_ms (0 = now, < 0 = KIT_NEVER). */
int64_t kit_deadline(int timeout_ms);
/* Milliseconds left until deadline, rounded up, 0 when past, -1 for
 * KIT_NEVER; capped at INT32_MAX. */
int kit_left_ms(int64_t deadline);
/* Milliseconds since t0 (ns). */
long long kit_ms_since(int64_t t0);
/* A jittered backoff for attempt (0, 1, ...): uniform in [b/2, b] where
 * b = first_ms * 2^attempt capped at max_ms. Thread-safe. */
int kit_backoff_ms(int attempt, int first_ms, int max_ms);

/* The counter format of add: optional '-', then decimal digits; returns
 * 0 and the value, or -1 when v is not a decimal int64. */
int kit_counter_parse(const void *v, size_t len, int64_t *out);
/* old + delta into buf (>= 24 bytes) as decimal text; returns its length,
 * or 0 on int64 overflow. */
size_t kit_counter_next(int64_t old, int64_t delta, char *buf, int64_t *sum);

/* A malloc'd, NUL-terminated copy of v[0..len) into *out (the memory
 * rule of rdv/plugin.h); RDV_ENOMEM (detail set) on failure. */
int kit_copy_value(const void *v, size_t len, void **out, size_t *out_len);

/* compare_set's cur (rdv/plugin.h): a copy of desired when it won, else
 * of now (the value read, NULL when the key is absent: *cur NULL). */
int kit_cas_current(int won, const void *desired, size_t desired_len,
                    const void *now, size_t now_len, void **cur,
                    size_t *cur_len);

/* The blocking reads of rdv/plugin.h (get, wait, multi_get) as one
 * backend loop: fill vals[i], lens[i] (vals NULL for wait) for every key
 * or fail, with op naming the call for messages. */
typedef int (*kit_await_fn)(void *h, const char *op,
                            const char *const *keys, size_t n, void **vals,
                            size_t *lens, int timeout_ms);
/* Runs fn with the outputs cleared first and freed again if it fails
 * (rdv/plugin.h: a failed op returns no memory); n == 0 is RDV_OK. */
int kit_await(kit_await_fn fn, void *h, const char *op,
              const char *const *keys, size_t n, void **vals, size_t *lens,
              int timeout_ms);

/* A growing list of malloc'd keys, handed to rdv by list(). */
typedef struct kit_keys {
    char **v;
    size_t n, cap;
} kit_keys;

/* Appends a NUL-terminated copy of key[0..len); RDV_ENOMEM on failure. */
int kit_keys_push(kit_keys *k, const char *key, size_t len);
/* Frees every key and the array, and empties k. */
void kit_keys_free(kit_keys *k);

/* "2 of 8 keys missing: a/3, a/6" for a wait's timeout detail; present[i]
 * != 0 marks keys[i] as found. */
void kit_missing(char *buf, size_t cap, const char *const *keys, size_t n,
                 const unsigned char *present);

/* Option name as a whole number of unit ("milliseconds", "bytes") in
 * [min, max], def when absent; -1 after writing the error into errbuf. */
int kit_option_int(const rdv_plugin_config *cfg, const char *name,
                   const char *unit, int def, int min, int max, int *out,
                   char *errbuf, size_t errlen);

/* A host list "host:port[,host:port...]": splits it into *hosts (malloc'd
 * array of malloc'd "host:port" strings) after checking every entry has a
 * host and a port in 1..65535. -1 after writing errbuf (naming what, the
 * option and the URL). */
int kit_hosts_parse(const char *list, const char *option, const char *url,
                    char ***hosts, size_t *n, char *errbuf, size_t errlen);
void kit_hosts_free(char **hosts, size_t n);

/* The url= spelling, "SCHEME://host:port[,host:port...][/path]": returns a
 * malloc'd copy of the host list and sets *path to the malloc'd "/path"
 * part (NULL when absent). -1 after writing errbuf. */
int kit_url_split(const char *value, const char *scheme, char **hosts,
                  char **path, char *errbuf, size_t errlen);

#endif
