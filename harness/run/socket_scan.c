/*
 * harness/run/socket_scan.c - a rank's TCP connections from its own fds
 * (run/socket_scan.h).
 *
 * getsockname/getpeername on each fd, not /proc/net/tcp: that file
 * lists every socket of the network namespace, 65k lines for each of
 * 256 ranks at N = 256, where a rank's fds are a few hundred.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "run/socket_scan.h"

/* Fills t from fd when it is a connected TCP socket; 1 then, else 0. */
static int tcp_ends(int fd, rdv_tuple *t)
{
    struct sockaddr_storage l, r;
    socklen_t ll = sizeof l, rl = sizeof r, il = sizeof(int);
    struct stat st;
    int type = 0, proto = 0, listening = 0;

    if (fstat(fd, &st) || !S_ISSOCK(st.st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) ||
        type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &il) ||
        proto != IPPROTO_TCP ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &il) ||
        listening || getsockname(fd, (struct sockaddr *)&l, &ll) ||
        getpeername(fd, (struct sockaddr *)&r, &rl))
        return 0;
    rdv_endpoint_from(&t->local, &l);
    rdv_endpoint_from(&t->remote, &r);
    return t->local.family != 0 && t->remote.family != 0;
}

int rdv_socket_scan(rdv_tuple *out, int cap, int skip_port)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        rdv_tuple t;

        if (*end || end == e->d_name || fd == dirfd(d) || !tcp_ends(fd, &t))
            continue;
        if (skip_port >= 0 &&
            (t.local.port == skip_port || t.remote.port == skip_port))
            continue;
        if (n < cap)
            out[n] = t;
        n++;
    }
    closedir(d);
    return n;
}
