/*
 * stores/redis_url.c - turns a parsed redis:// or unix:// URL into the
 * redis store's configuration, rejecting anything it does not understand
 * with a message that names the part (host, port, db, path, option).
 *
 *   redis://[[user]:password@]host[:port][/db][?timeout_ms=N&spin_us=N]
 *   unix:///path/redis.sock[?db=N&password=P&user=U&timeout_ms=N&spin_us=N]
 *
 * The port defaults to 6379 (rdv_url_port) and db to 0. db, password and
 * user may also be given as options on redis://, but not twice (the
 * login rules are rdv_url_login's, shared with the fault library).
 * timeout_ms (default 5000) bounds one connect attempt and every op that
 * has no deadline of its own; spin_us (default 30) how long a reply is
 * awaited awake before the call sleeps (net_wait.h). prefix= is not
 * read here: store_open.c
 * wraps every scheme in the prefix store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "redis_conn.h"
#include "rdv/status.h"

#define REDIS_DEFAULT_TIMEOUT_MS 5000

static int conf_fail(char *errbuf, size_t errlen, const rdv_url *u,
                     const char *what)
{
    snprintf(errbuf, errlen, "malformed store URL '%s': %s", u->redacted,
             what);
    return RDV_EINVAL;
}

/* A db number is plain decimal digits: "/1", never "/+1" or "/1x". */
static int parse_db(const char *text, long *db)
{
    char *end;

    if (!*text || strspn(text, "0123456789") != strlen(text))
        return -1;
    errno = 0;
    *db = strtol(text, &end, 10);
    return errno || *db > 0x7fffffffL ? -1 : 0;
}

static int read_db(rdv_url *u, rdv_redis_conf *c, char *errbuf,
                   size_t errlen)
{
    const char *opt = rdv_url_option(u, "db");
    const char *path_db = NULL;

    c->db = 0;
    if (strcmp(u->scheme, "redis") == 0 && u->path[0] && strcmp(u->path,
                                                                 "/"))
        path_db = u->path + 1;
    if (path_db && opt)
        return conf_fail(errbuf, errlen, u, "the db is given twice (in the "
                         "path and as db=)");
    if (path_db && parse_db(path_db, &c->db))
        return conf_fail(errbuf, errlen, u, "the path must be '/db' with a "
                         "db number from 0 to 2147483647");
    if (opt && parse_db(opt, &c->db))
        return conf_fail(errbuf, errlen, u, "option db= must be a number "
                         "from 0 to 2147483647");
    return RDV_OK;
}

static int dup_into(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? RDV_ENOMEM : RDV_OK;
}

static int read_login(rdv_url *u, rdv_redis_conf *c, char *errbuf,
                      size_t errlen)
{
    const char *user, *pw;
    int rc = rdv_url_login(u, &user, &pw, errbuf, errlen);

    if (rc == RDV_OK &&
        (dup_into(&c->password, pw) || dup_into(&c->user, user)))
        rc = RDV_ENOMEM;
    return rc;
}

static int read_tcp(rdv_url *u, rdv_redis_conf *c, char *errbuf,
                    size_t errlen)
{
    int v6 = strchr(u->host, ':') != NULL;

    if (!u->has_authority)
        return conf_fail(errbuf, errlen, u, "expected redis://host:port");
    if (!u->host[0])
        return conf_fail(errbuf, errlen, u, "the host is missing "
                         "(redis://host:port)");
    c->port = rdv_url_port(u);
    if (dup_into(&c->host, u->host))
        return RDV_ENOMEM;
    snprintf(c->addr, sizeof c->addr, "%s%s%s:%d", v6 ? "[" : "", c->host,
             v6 ? "]" : "", c->port);
    return RDV_OK;
}

static int read_unix(rdv_url *u, rdv_redis_conf *c, char *errbuf,
                     size_t errlen)
{
    struct sockaddr_un sun;

    if (u->host[0] || u->port > 0)
        return conf_fail(errbuf, errlen, u, "unix:// takes no host or "
                         "port: write unix:///path/redis.sock");
    if (u->user || u->password)
        return conf_fail(errbuf, errlen, u, "unix:// takes the password "
                         "as an option: unix:///path?password=P");
    if (!u->path[0] || strcmp(u->path, "/") == 0)
        return conf_fail(errbuf, errlen, u, "the socket path is missing "
                         "(unix:///path/redis.sock)");
    if (strlen(u->path) >= sizeof sun.sun_path)
        return conf_fail(errbuf, errlen, u, "the socket path is longer "
                         "than a unix socket allows (107 bytes)");
    if (dup_into(&c->path, u->path))
        return RDV_ENOMEM;
    snprintf(c->addr, sizeof c->addr, "%s", c->path);
    return RDV_OK;
}

int rdv_redis_conf_parse(rdv_url *u, rdv_redis_conf *conf, char *errbuf,
                         size_t errlen)
{
    int tcp = strcmp(u->scheme, "redis") == 0;
    long spin_us;
    int rc;

    memset(conf, 0, sizeof *conf);
    rc = tcp ? read_tcp(u, conf, errbuf, errlen)
             : read_unix(u, conf, errbuf, errlen);
    if (rc == RDV_OK)
        rc = read_db(u, conf, errbuf, errlen);
    if (rc == RDV_OK)
        rc = read_login(u, conf, errbuf, errlen);
    if (rc == RDV_OK)
        rc = rdv_url_option_long(u, "timeout_ms", 1, 3600000,
                                 REDIS_DEFAULT_TIMEOUT_MS, &conf->timeout_ms,
                                 errbuf, errlen);
    if (rc == RDV_OK &&
        (rc = rdv_url_option_long(u, "spin_us", 0, RDV_NET_SPIN_US_MAX,
                                  RDV_NET_SPIN_US_DEFAULT, &spin_us, errbuf,
                                  errlen)) == RDV_OK)
        conf->spin_ns = spin_us * 1000;
    if (rc == RDV_ENOMEM)
        snprintf(errbuf, errlen, "redis store: out of memory");
    if (rc)
        rdv_redis_conf_free(conf);
    return rc;
}

void rdv_redis_conf_free(rdv_redis_conf *conf)
{
    free(conf->host);
    free(conf->path);
    free(conf->user);
    free(conf->password);
    conf->host = conf->path = conf->user = conf->password = NULL;
}
