/*
 * etcd_open.c - an rdv store plugin for etcd v3: reading the URL's
 * options, opening, cancelling and closing a handle, and the one table
 * rdv looks for, rdv_store_plugin_v1 (rdv/plugin.h has the rules).
 *
 *   plugin:/path/librdv_etcd_store.so?endpoints=127.0.0.1:2379[,host:port...]
 *                                    [&timeout_ms=10000]
 *   plugin:/path/librdv_etcd_store.so?url=etcd://127.0.0.1:2379[,host:port...]
 *
 * endpoints   the members' client URLs as host:port (plain HTTP), in the
 *             order they are tried; a call that cannot get an answer
 *             from one moves on to the next. Required, or url=.
 * url         the same list spelled etcd://host:port[,host:port...].
 * timeout_ms  bounds each op that has no timeout of its own (set, add,
 *             compare_set, delete, list, ...), failover included, plus
 *             100 ms per MiB of values it carries, and the reads of
 *             get/wait with timeout 0 (default 10000: a 64 MiB value
 *             takes seconds through the JSON gateway).
 * prefix=P    is rdv's own: it scopes every key under P/.
 *
 * Choices:
 * - open asks one endpoint after the other for a serializable read of
 *   one key (answered by any live member, leader or not), so a wrong
 *   address fails at open with its reason, not in the middle of a
 *   rendezvous.
 * - curl_global_init runs once per process (pthread_once); it is never
 *   undone, since another plugin or the program may use libcurl too.
 *   The .so is linked -z nodelete (CMakeLists.txt), so rdv's dlclose
 *   never unloads libcurl with its global state still set up.
 * - cancel() sets a flag and makes an eventfd readable; every wait in
 *   etcd_http.c polls that fd, so blocked calls return at once.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "etcd_store.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS 3600000

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_ready;

static void curl_setup(void)
{
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void etcd_destroy(void *h)
{
    etcd_store *s = h;

    if (!s)
        return;
    etcd_pool_free(s);
    kit_hosts_free(s->endpoints, s->nendpoints);
    if (s->cancel_fd >= 0)
        close(s->cancel_fd);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_mutex_destroy(&s->add_lock);
    pthread_mutex_destroy(&s->lease_lock);
    free(s->add_key);
    free(s);
}

static void etcd_cancel(void *h)
{
    etcd_store *s = h;
    uint64_t one = 1;

    atomic_store(&s->canceled, 1);
    if (write(s->cancel_fd, &one, sizeof one) < 0) {
        /* an eventfd write fails only when its counter is full: it is
         * readable then, which is all the waiters need */
    }
}

/* The host list from endpoints= or url=, exactly one of them. */
static int read_endpoints(etcd_store *s, const rdv_plugin_config *cfg,
                          char *errbuf, size_t errlen)
{
    const char *list = cfg->option(cfg, "endpoints");
    const char *url = cfg->option(cfg, "url");
    char *hosts = NULL, *path = NULL;
    int rc;

    if (!list == !url) {
        snprintf(errbuf, errlen, "'%s': give the etcd members as "
                 "endpoints=host:port[,host:port...] or as url=etcd://host:"
                 "port[,...] (one of the two)", cfg->url);
        return -1;
    }
    if (url && kit_url_split(url, "etcd://", &hosts, &path, errbuf, errlen))
        return -1;
    if (path) {
        snprintf(errbuf, errlen, "option url='%s': an etcd URL has no path "
                 "(scope keys with prefix=)", url);
        rc = -1;
    } else if (strstr(url ? hosts : list, "://")) {
        snprintf(errbuf, errlen, "option %s='%s': give members as host:port "
                 "(plain HTTP; this plugin speaks no TLS and no auth)",
                 url ? "url" : "endpoints", url ? url : list);
        rc = -1;
    } else {
        rc = kit_hosts_parse(url ? hosts : list, url ? "url" : "endpoints",
                             cfg->url, &s->endpoints, &s->nendpoints, errbuf,
                             errlen);
    }
    for (size_t i = 0; rc == 0 && i < s->nendpoints; i++) {
        char *full;

        if (asprintf(&full, "http://%s", s->endpoints[i]) < 0) {
            snprintf(errbuf, errlen, "out of memory");
            rc = -1;
            break;
        }
        free(s->endpoints[i]);
        s->endpoints[i] = full;
    }
    free(hosts);
    free(path);
    return rc;
}

/* A serializable read of one key: any live member answers it. */
static int probe(etcd_store *s, char *errbuf, size_t errlen)
{
    etcd_op op = {"open", NULL, 0};
    json_t *req = json_pack("{s:s, s:b, s:b}", "key", "AA==", "keys_only", 1,
                            "serializable", 1);
    etcd_reply r;
    int rc = req ? etcd_call(s, &op, "/v3/kv/range", req,
                             etcd_io_deadline(s, 0), &r)
                 : kit_fail(RDV_ENOMEM, "open: out of memory");

    json_decref(req);
    if (rc == RDV_OK)
        json_decref(r.json);
    else
        snprintf(errbuf, errlen, "%s", kit_detail());
    return rc;
}

static void *etcd_create(const rdv_plugin_config *cfg, char *errbuf,
                         size_t errlen)
{
    etcd_store *s = calloc(1, sizeof *s);

    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->cancel_fd = -1;
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_mutex_init(&s->add_lock, NULL);
    etcd_receipt_init(s);
    pthread_once(&curl_once, curl_setup);
    if (curl_ready != CURLE_OK) {
        snprintf(errbuf, errlen, "libcurl did not initialize: %s",
                 curl_easy_strerror(curl_ready));
        goto fail;
    }
    if (kit_option_int(cfg, "timeout_ms", "milliseconds", DEFAULT_TIMEOUT_MS,
                       1, MAX_TIMEOUT_MS, &s->timeout_ms, errbuf, errlen) ||
        read_endpoints(s, cfg, errbuf, errlen))
        goto fail;
    if ((s->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        snprintf(errbuf, errlen, "eventfd: %m");
        goto fail;
    }
    /* Start ranks at different members: the load spreads, and a member
     * that dies takes only its share of calls with it. */
    atomic_store(&s->current, (unsigned)getpid());
    if (probe(s, errbuf, errlen))
        goto fail;
    return s;
fail:
    etcd_destroy(s);
    return NULL;
}

RDV_PLUGIN_EXPORT const rdv_store_plugin rdv_store_plugin_v1 = {
    .abi_version = RDV_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(rdv_store_plugin),
    .name = "etcd",
    .create = etcd_create,
    .destroy = etcd_destroy,
    .errmsg = kit_errmsg,
    .set = etcd_set,
    .get = etcd_get,
    .wait = etcd_wait,
    .add = etcd_add,
    .compare_set = etcd_compare_set,
    .del = etcd_del,
    .list = etcd_list,
    .multi_get = etcd_multi_get,
    .multi_set = etcd_multi_set,
    .num_keys = etcd_num_keys,
    .delete_prefix = etcd_delete_prefix,
    .cancel = etcd_cancel,
};
