/*
 * store_open.c - the one table of URL schemes. A scheme maps to its
 * backend's open function; the URL is parsed once (rdv/url.h) and every
 * backend reads its options from the parsed form. The `prefix=` option
 * is common to every scheme and handled here, by wrapping the backend in
 * the prefix store, except for a scheme whose backend maps it onto a
 * scoping of its own (Gloo's PrefixStore for gloo+).
 *
 * A store opened for the caller is wrapped in the fault store when the
 * environment asks for faults (RDV_FAULTS, fault_env.h); stores a
 * backend opens inside (env://, gloo+) are not, or every call would be
 * judged twice. open_depth tells the two apart per thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_env.h"
#include "store_internal.h"

typedef struct rdv_scheme {
    const char *name;
    rdv_store_open_fn open; /* NULL: known, but not built in */
    const char *missing;    /* why it is not built in */
    int own_prefix;         /* the backend reads prefix= itself */
} rdv_scheme;

#define RDV_NO_GLOO "rdv was built without Gloo (RDV_WITH_GLOO=OFF: " \
                    "install libgloo-dev and configure again)"

static const rdv_scheme schemes[] = {
    {"hash", rdv_hash_open, NULL},
    {"file", rdv_file_open, NULL},
#ifdef RDV_WITH_REDIS
    {"redis", rdv_redis_open, NULL},
    {"unix", rdv_redis_open, NULL},
#else
    {"redis", NULL, "rdv was built without hiredis (RDV_WITH_REDIS=OFF)"},
    {"unix", NULL, "rdv was built without hiredis (RDV_WITH_REDIS=OFF)"},
#endif
    {"tcp", rdv_tcp_open, NULL},
    {"env", rdv_env_open, NULL},
    {"plugin", rdv_plugin_open, NULL},
    {"exec", rdv_exec_open, NULL},
#ifdef RDV_WITH_GLOO
    {"gloo+file", rdv_gloo_open, NULL, 1},
    {"gloo+hash", rdv_gloo_open, NULL, 1},
    {"gloo+redis", rdv_gloo_open, NULL, 1},
#else
    {"gloo+file", NULL, RDV_NO_GLOO},
    {"gloo+hash", NULL, RDV_NO_GLOO},
    {"gloo+redis", NULL, RDV_NO_GLOO},
#endif
};

static const rdv_scheme *scheme_find(const char *name)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strcmp(schemes[i].name, name) == 0)
            return &schemes[i];
    return NULL;
}

static _Thread_local int open_depth;

int rdv_store_open(const char *url, rdv_store **out, char *errbuf,
                   size_t errlen)
{
    const rdv_scheme *scheme;
    rdv_store *s = NULL, *scoped;
    char *prefix = NULL;
    rdv_url u;
    int rc;

    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!out)
        return RDV_EINVAL;
    *out = NULL;
    rc = rdv_url_parse(url, &u, errbuf, errlen);
    if (rc)
        goto done;
    scheme = scheme_find(u.scheme);
    if (!scheme || !scheme->open) {
        rc = scheme ? RDV_ENOTSUP : RDV_EINVAL;
        snprintf(errbuf, errlen, "store URL '%s': %s%s", u.redacted,
                 scheme ? "" : "unknown scheme; known: hash:, file://, "
                               "redis://, unix://, tcp://, env://, "
                               "plugin:, exec:, gloo+file://, "
                               "gloo+hash:, gloo+redis://",
                 scheme ? scheme->missing : "");
        goto done;
    }
    if (!scheme->own_prefix && rdv_url_option(&u, "prefix")) {
        prefix = strdup(rdv_url_option(&u, "prefix"));
        if (!prefix) {
            rc = RDV_ENOMEM;
            goto done;
        }
    }
    open_depth++;
    rc = scheme->open(&u, &s, errbuf, errlen);
    open_depth--;
    if (rc == RDV_OK)
        rc = rdv_url_check_unused(&u, errbuf, errlen);
    if (rc == RDV_OK && prefix) {
        rc = rdv_store_prefix_open(s, prefix, &scoped);
        if (rc == RDV_EINVAL && !prefix[0])
            snprintf(errbuf, errlen, "store URL '%.160s': bad prefix: it "
                     "must be non-empty", u.redacted);
        else if (rc == RDV_EINVAL)
            snprintf(errbuf, errlen, "store URL '%.160s': bad prefix "
                     "'%.40s...' (%zu bytes): with the '/' it adds and the "
                     "scopes around it, prefixes may add at most %u bytes "
                     "to a key", u.redacted, prefix, strlen(prefix),
                     RDV_SCOPED_KEY_MAX - RDV_KEY_MAX);
        else if (rc)
            snprintf(errbuf, errlen, "store URL '%.160s': prefix: %s",
                     u.redacted, rdv_strerror(rc));
        else
            s = scoped;
    }
    if (rc == RDV_OK && open_depth == 0)
        rc = rdv_fault_env_wrap(&s, errbuf, errlen);
    if (rc) {
        rdv_store_close(s);
        s = NULL;
    }
done:
    free(prefix);
    rdv_url_free(&u);
    *out = s;
    return rc;
}
