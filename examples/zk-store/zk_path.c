/*
 * zk_path.c - where the ZooKeeper plugin keeps a key: one znode per key,
 * every one a child of the chroot, named by an escaping that keeps keys
 * distinct and inside the chroot. No I/O but creating the chroot.
 *
 * Choices:
 * - A flat layout: every key is a direct child of the chroot, so list,
 *   num_keys and delete_prefix are one getChildren, and no key can
 *   reach outside (a key's '/' never makes a path level).
 * - Names keep [A-Za-z0-9_-] and write every other byte as %XX
 *   (uppercase hex). So a name never holds '/', never is "." or "..",
 *   never holds the control or non-ASCII characters ZooKeeper refuses
 *   in paths, and a key maps to exactly one name and back. ZooKeeper
 *   puts no limit on a name's length, only on a request's size
 *   (jute.maxbuffer): a 5120-byte key is at most a 15360-byte name.
 * - Decoding is strict: a child that is not a name this plugin would
 *   make (another program's znode under the same chroot) is no key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zk_store.h"

static int plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

char *zk_path(const zk_store *s, const char *key)
{
    size_t rl = strlen(s->root), o = rl + 1;
    char *p = malloc(rl + 1 + 3 * strlen(key) + 1);
    static const char hex[] = "0123456789ABCDEF";

    if (!p)
        return NULL;
    memcpy(p, s->root, rl);
    p[rl] = '/';
    for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
        if (plain(*k)) {
            p[o++] = (char)*k;
        } else {
            p[o++] = '%';
            p[o++] = hex[*k >> 4];
            p[o++] = hex[*k & 15];
        }
    }
    p[o] = '\0';
    return p;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                                 : -1;
}

char *zk_key_of(const char *name)
{
    char *key = malloc(strlen(name) + 1);
    size_t o = 0;

    for (const char *p = name; key && *p; p++) {
        int hi, lo;

        if (plain((unsigned char)*p)) {
            key[o++] = *p;
            continue;
        }
        if (*p != '%' || (hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0 ||
            (hi == 0 && lo == 0) || plain((unsigned char)(hi * 16 + lo))) {
            free(key); /* not a name we make */
            return NULL;
        }
        key[o++] = (char)(hi * 16 + lo);
        p += 2;
    }
    if (key && o == 0) {
        free(key);
        return NULL;
    }
    if (key)
        key[o] = '\0';
    return key;
}

int zk_root_check(const char *root, char *errbuf, size_t errlen)
{
    const char *why = NULL;

    if (root[0] != '/' || root[1] == '\0')
        why = "it must start with '/' and name a znode below the root";
    else if (root[strlen(root) - 1] == '/' || strstr(root, "//"))
        why = "it must not end with '/' or hold an empty level";
    else if (strstr(root, "/./") || strstr(root, "/../") ||
             !strcmp(strrchr(root, '/'), "/.") ||
             !strcmp(strrchr(root, '/'), "/.."))
        why = "'.' and '..' are not znode names";
    else if (!strcmp(root, "/zookeeper") || !strncmp(root, "/zookeeper/", 11))
        why = "/zookeeper belongs to ZooKeeper itself";
    if (why)
        snprintf(errbuf, errlen, "option chroot='%s': %s", root, why);
    return why ? -1 : 0;
}

#define MAX_LEVELS 32

static int issue_create(zk_call *c, void *path)
{
    return zoo_acreate(c->z->zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE,
                       ZOO_PERSISTENT, zk_done_string, c);
}

/* The first znode of the chain whose create failed, or -1. */
static int failed_level(zk_call **c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c[i]->zrc != ZOK && c[i]->zrc != ZNODEEXISTS)
            return (int)i;
    return -1;
}

int zk_root_create(zk_store *s, char *errbuf, size_t errlen)
{
    size_t n = 0, len = strlen(s->root);
    zk_call *c[MAX_LEVELS] = {0};
    void *path[MAX_LEVELS];
    int64_t deadline = zk_io_deadline(s, 0);
    int rc = RDV_OK, bad = -1;

    /* "/a/b/c" -> "/a", "/a/b", "/a/b/c": one create each, pipelined in
     * order, so every parent exists before its child is made. */
    for (size_t i = 1; rc == RDV_OK && i <= len; i++) {
        if (i < len && s->root[i] != '/')
            continue;
        if (n == MAX_LEVELS || !(path[n++] = strndup(s->root, i)))
            rc = n == MAX_LEVELS ? RDV_EINVAL : RDV_ENOMEM;
    }
    /* A create that exists already is done, so the chain is sent again
     * while the connection or session is lost (a server reset during
     * open), until the deadline. */
    for (int attempt = 0; rc == RDV_OK; attempt++) {
        rc = zk_calls_run(s, c, n, issue_create, path, deadline);
        if (rc != RDV_OK || (bad = failed_level(c, n)) < 0)
            break;
        if (!zk_retryable(c[bad]->zrc) || kit_now_ns() >= deadline) {
            snprintf(errbuf, errlen, "creating the chroot znode %s on "
                     "ZooKeeper %s: %s", (char *)path[bad], s->hosts,
                     zerror(c[bad]->zrc));
            rc = RDV_EIO;
            break;
        }
        zk_calls_put(c, n);
        memset(c, 0, sizeof c);
        rc = zk_pause(s, kit_backoff_ms(attempt, ZK_RETRY_FIRST_MS,
                                        ZK_RETRY_MAX_MS));
    }
    if (rc != RDV_OK && rc != RDV_EIO)
        snprintf(errbuf, errlen, "creating the chroot %s on ZooKeeper %s: "
                 "%s", s->root, s->hosts,
                 rc == RDV_EINVAL ? "more than 32 levels"
                 : rc == RDV_ENOMEM ? "out of memory"
                 : rc == RDV_ECANCELED ? "canceled (the store is closing)"
                                       : "no answer in time");
    zk_calls_put(c, n);
    for (size_t i = 0; i < n; i++)
        free(path[i]);
    return rc ? -1 : 0;
}
