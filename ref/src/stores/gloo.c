/*
 * stores/gloo.c - the gloo+file:, gloo+hash: and gloo+redis: schemes:
 * Gloo's own stores (gloo::rendezvous::FileStore, HashStore, RedisStore,
 * and PrefixStore for prefix=) as rdv stores, so `rdv conform` and the
 * harness judge the code Gloo users run.
 *
 * Choices:
 * - librdv stays C and never links Gloo: the stores live in librdv-gloo's
 *   plugin (ref/src/gloo/gloo_plugin.cpp), loaded through the plugin
 *   loader like any plugin: one adapter, one set of ABI checks. This file
 *   only checks the URL, turns it into the plugin's options and finds
 *   the plugin.
 * - The plugin is found by $RDV_GLOO_PLUGIN, else where `cmake --install`
 *   puts it, else where the build tree made it (tests run from there).
 * - prefix= goes to the plugin, which maps it onto Gloo's PrefixStore:
 *   the scoping under test is Gloo's, not rdv's prefix wrapper.
 * - Gloo's stores take no options of their own (no password, no db, no
 *   timeout): any other option is refused by name, and gloo+redis with a
 *   login or a db says that Gloo's RedisStore has neither.
 * - The plugin claims the gloo level of the contract (set, get, wait,
 *   check); gloo+hash: is one process's map, so it is flagged
 *   process-local.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

/* Where the bridge plugin is, in the order tried. */
static const char *plugin_file(void)
{
    const char *env = getenv("RDV_GLOO_PLUGIN");

    if (env && env[0])
        return env;
    if (access(RDV_GLOO_PLUGIN_INSTALLED, R_OK) == 0)
        return RDV_GLOO_PLUGIN_INSTALLED;
    return RDV_GLOO_PLUGIN_BUILD;
}

/* Refuses every option but prefix=: Gloo's stores have none. */
static int check_options(const rdv_url *u, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < u->noptions; i++) {
        if (strcmp(u->options[i].key, "prefix") == 0)
            continue;
        snprintf(errbuf, errlen, "store URL '%s': unknown option '%s' "
                 "(Gloo's stores take only prefix=)", u->redacted,
                 u->options[i].key);
        return RDV_EINVAL;
    }
    return RDV_OK;
}

/* The URL's shape per kind, and the plugin options that carry it. */
static int url_to_options(rdv_url *u, const char *kind, char *errbuf,
                          size_t errlen)
{
    char port[16];
    int rc;

    if (strcmp(kind, "file") == 0) {
        if (u->host[0] || !u->path[0]) {
            snprintf(errbuf, errlen, "malformed store URL '%s': gloo+file "
                     "takes a directory, e.g. gloo+file:///tmp/rdv",
                     u->redacted);
            return RDV_EINVAL;
        }
        return rdv_url_set_option(u, "gloo.path", u->path);
    }
    if (strcmp(kind, "hash") == 0) {
        if (u->host[0] || u->path[0]) {
            snprintf(errbuf, errlen, "malformed store URL '%s': gloo+hash: "
                     "takes no host or path", u->redacted);
            return RDV_EINVAL;
        }
        return RDV_OK;
    }
    if (!u->host[0] || u->user || u->password ||
        (u->path[0] && strcmp(u->path, "/") != 0)) {
        snprintf(errbuf, errlen, "malformed store URL '%s': gloo+redis "
                 "takes host[:port] only, e.g. gloo+redis://127.0.0.1:6379 "
                 "(Gloo's RedisStore has no password and no db)",
                 u->redacted);
        return RDV_EINVAL;
    }
    snprintf(port, sizeof port, "%d", rdv_url_port(u));
    if ((rc = rdv_url_set_option(u, "gloo.host", u->host)))
        return rc;
    return rdv_url_set_option(u, "gloo.port", port);
}

int rdv_gloo_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen)
{
    const char *kind = u->scheme + strlen("gloo+");
    int rc;

    if ((rc = check_options(u, errbuf, errlen)))
        return rc;
    if ((rc = url_to_options(u, kind, errbuf, errlen)) ||
        (rc = rdv_url_set_option(u, "gloo.kind", kind))) {
        if (rc == RDV_ENOMEM)
            snprintf(errbuf, errlen, "store URL '%s': out of memory",
                     u->redacted);
        return rc;
    }
    rc = rdv_plugin_open_file(u, plugin_file(), 1, out, errbuf, errlen);
    if (rc == RDV_OK && strcmp(kind, "hash") == 0)
        (*out)->flags |= RDV_STORE_PROCESS_LOCAL;
    return rc;
}
