/*
 * zk_open.c - an rdv store plugin for ZooKeeper: reading the URL's
 * options, opening, cancelling and closing a handle, and the one table
 * rdv looks for, rdv_store_plugin_v1 (rdv/plugin.h has the rules).
 *
 *   plugin:/path/librdv_zk_store.so?hosts=127.0.0.1:2181[,host:port...]
 *       [&chroot=/rdv][&timeout_ms=10000][&session_ms=10000]
 *       [&maxbuffer=1048575]
 *   plugin:/path/librdv_zk_store.so?url=zk://127.0.0.1:2181[,...][/chroot]
 *
 * hosts       the ensemble's servers; the client picks one and moves to
 *             another when it is lost. Required, or url=.
 * url         the same, spelled zk://host:port[,host:port...][/chroot].
 * chroot      the znode under which every key lives, created when
 *             missing (default /rdv). Give each job or team its own.
 * timeout_ms  bounds each op that has no timeout of its own, retries
 *             included (a write gets 100 ms more per MiB of value), the
 *             reads of get/wait with timeout 0, and open (default 10000).
 * session_ms  the ZooKeeper session timeout asked for (default 10000;
 *             the server clamps it to 2..20 ticks). The client gives up
 *             on a silent server after 2/3 of it.
 * maxbuffer   the servers' jute.maxbuffer: a value that would not fit
 *             in one request under it is refused with RDV_EINVAL
 *             (default 1048575, ZooKeeper's; 64 MiB values need the
 *             servers raised, e.g. -Djute.maxbuffer=134217728, and
 *             maxbuffer=134217728 here).
 * prefix=P    is rdv's own: it scopes every key under P/.
 *
 * Choices:
 * - open connects a session (waiting at most timeout_ms) and creates
 *   the chroot, so a wrong address fails at open, naming the hosts.
 * - cancel() sets a flag under the lock and broadcasts the condition
 *   every wait sleeps on (zk_session.c): blocked calls return at once,
 *   and later ones without sending anything.
 * - The .so is linked -z nodelete (CMakeLists.txt): rdv's dlclose must
 *   not unload the client library while it keeps global state.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zk_store.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS 3600000
#define DEFAULT_SESSION_MS 10000
#define ZK_DEFAULT_MAXBUFFER 1048575

static void zk_destroy(void *h)
{
    zk_store *s = h;

    if (!s)
        return;
    zk_session_end(s);
    free(s->hosts);
    free(s->root);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void zk_cancel(void *h)
{
    zk_store *s = h;

    pthread_mutex_lock(&s->lock);
    s->canceled = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* hosts= or url=, exactly one; the chroot from url= or chroot=. */
static int read_where(zk_store *s, const rdv_plugin_config *cfg,
                      char *errbuf, size_t errlen)
{
    const char *hosts = cfg->option(cfg, "hosts");
    const char *url = cfg->option(cfg, "url");
    const char *chroot = cfg->option(cfg, "chroot");
    char *path = NULL, **list = NULL;
    size_t n = 0;

    if (!hosts == !url) {
        snprintf(errbuf, errlen, "'%s': give the ZooKeeper servers as "
                 "hosts=host:port[,host:port...] or as url=zk://host:port"
                 "[,...][/chroot] (one of the two)", cfg->url);
        return -1;
    }
    if (url) {
        if (kit_url_split(url, "zk://", &s->hosts, &path, errbuf, errlen))
            return -1;
        if (path && chroot) {
            snprintf(errbuf, errlen, "'%s': the chroot is given twice (in "
                     "url= and chroot=)", cfg->url);
            free(path);
            return -1;
        }
    } else if (!(s->hosts = strdup(hosts))) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    s->root = path ? path : strdup(chroot ? chroot : "/rdv");
    if (!s->root) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    if (kit_hosts_parse(s->hosts, url ? "url" : "hosts", cfg->url, &list, &n,
                        errbuf, errlen))
        return -1;
    kit_hosts_free(list, n);
    return zk_root_check(s->root, errbuf, errlen);
}

static void *zk_create(const rdv_plugin_config *cfg, char *errbuf,
                       size_t errlen)
{
    zk_store *s = calloc(1, sizeof *s);
    pthread_condattr_t ca;
    int maxbuffer = 0;

    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    /* Every option is read before any is judged, so an error never
     * comes with a list of "options it did not read". */
    if (kit_option_int(cfg, "timeout_ms", "milliseconds", DEFAULT_TIMEOUT_MS,
                       1, MAX_TIMEOUT_MS, &s->timeout_ms, errbuf, errlen) ||
        kit_option_int(cfg, "session_ms", "milliseconds", DEFAULT_SESSION_MS,
                       1000, MAX_TIMEOUT_MS, &s->session_ms, errbuf,
                       errlen) ||
        kit_option_int(cfg, "maxbuffer", "bytes", ZK_DEFAULT_MAXBUFFER, 4096,
                       0x7fffffff, &maxbuffer, errbuf, errlen) ||
        read_where(s, cfg, errbuf, errlen) ||
        zk_session_start(s, errbuf, errlen) ||
        zk_root_create(s, errbuf, errlen)) {
        zk_destroy(s);
        return NULL;
    }
    s->maxbuffer = (size_t)maxbuffer;
    return s;
}

RDV_PLUGIN_EXPORT const rdv_store_plugin rdv_store_plugin_v1 = {
    .abi_version = RDV_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(rdv_store_plugin),
    .name = "zookeeper",
    .create = zk_create,
    .destroy = zk_destroy,
    .errmsg = kit_errmsg,
    .set = zk_set,
    .get = zk_get,
    .wait = zk_wait,
    .add = zk_add,
    .compare_set = zk_compare_set,
    .del = zk_del,
    .list = zk_list,
    .multi_get = zk_multi_get,
    .num_keys = zk_num_keys,
    .delete_prefix = zk_delete_prefix,
    .cancel = zk_cancel,
};
