/*
 * tcp_util.c - a store server in a child process, and a raw protocol
 * client, for the tcp:// store tests (see tcp_util.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tcp_util.h"

static void log_to_file(void *arg, const char *line)
{
    int fd = *(int *)arg;
    char buf[600];
    int n = snprintf(buf, sizeof buf, "%s\n", line);

    if (write(fd, buf, (size_t)n) < 0) {
        /* a test reading the log will see the gap */
    }
}

/* The child: serves until SIGTERM, then stops its server and exits. */
static void serve_child(const char *bind, const char *token,
                        unsigned max_clients, const char *log_path,
                        int ready)
{
    rdv_store_server_options o = rdv_store_server_options_default();
    rdv_store_server *srv;
    char err[512], line[600];
    sigset_t term;
    int logfd, sig, n;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    o.bind = bind;
    o.token = token;
    o.max_clients = max_clients;
    o.log = log_to_file;
    o.log_arg = &logfd;
    if (rdv_store_server_start(&o, &srv, err, sizeof err) != RDV_OK) {
        n = snprintf(line, sizeof line, "error %s\n", err);
        if (write(ready, line, (size_t)n) < 0)
            exit(2);
        exit(1);
    }
    n = snprintf(line, sizeof line, "port %d\n",
                 rdv_store_server_port(srv));
    if (write(ready, line, (size_t)n) < 0)
        exit(2);
    close(ready);
    while (sigwait(&term, &sig) != 0)
        ;
    rdv_store_server_stop(srv);
    close(logfd);
    exit(0);
}

int tcp_server_spawn(tcp_server_proc *p, const char *bind, const char *token,
                     unsigned max_clients, char *err, size_t errlen)
{
    static int serial;
    char line[600] = "";
    int pipefd[2], st;
    ssize_t got = 0, r;

    memset(p, 0, sizeof *p);
    snprintf(p->log_path, sizeof p->log_path, "/tmp/rdv-tcp-log-%d-%d",
             (int)getpid(), serial++);
    unlink(p->log_path);
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    p->pid = fork();
    if (p->pid == 0) {
        close(pipefd[0]);
        serve_child(bind, token, max_clients, p->log_path, pipefd[1]);
    }
    close(pipefd[1]);
    while ((r = read(pipefd[0], line + got, sizeof line - 1 - (size_t)got)) >
               0 ||
           (r < 0 && errno == EINTR))
        got += r > 0 ? r : 0;
    close(pipefd[0]);
    line[got] = '\0';
    if (p->pid < 0 || sscanf(line, "port %d", &p->port) != 1) {
        snprintf(err, errlen, "the server did not start: %s",
                 got ? line : "(no word from it)");
        if (p->pid > 0)
            waitpid(p->pid, &st, 0);
        p->pid = 0;
        return -1;
    }
    snprintf(p->url, sizeof p->url, "tcp://127.0.0.1:%d", p->port);
    return 0;
}

/* Whether every thread of pid is stopped ('T' in /proc/PID/task/T/stat):
 * a SIGSTOP takes effect when each thread next leaves the kernel, so a
 * busy engine thread could still answer one request after kill(). */
static int all_stopped(pid_t pid)
{
    char path[320], buf[512];
    struct dirent *e;
    DIR *d;
    int stopped = 1;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    if (!(d = opendir(path)))
        return 1; /* gone: nothing will answer */
    while (stopped && (e = readdir(d))) {
        FILE *f;
        char *close_paren;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid,
                 e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        if (fgets(buf, sizeof buf, f) && (close_paren = strrchr(buf, ')')))
            stopped = close_paren[1] == ' ' && close_paren[2] == 'T';
        fclose(f);
    }
    closedir(d);
    return stopped;
}

void tcp_server_kill(tcp_server_proc *p, int sig)
{
    int st;

    if (p->pid <= 0)
        return;
    kill(p->pid, sig);
    if (sig == SIGSTOP) {
        for (int i = 0; i < 2000 && !all_stopped(p->pid); i++)
            usleep(1000); /* bounded: 2 s */
        return;
    }
    if (sig == SIGCONT)
        return;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
        ;
    p->pid = 0;
    unlink(p->log_path);
}

int tcp_server_stop(tcp_server_proc *p)
{
    int st = 0;

    if (p->pid > 0) {
        kill(p->pid, SIGCONT);
        kill(p->pid, SIGTERM);
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
        p->pid = 0;
    }
    unlink(p->log_path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *tcp_server_log(const tcp_server_proc *p)
{
    FILE *f = fopen(p->log_path, "re");
    char *buf = calloc(1, 1 << 16);
    size_t n;

    if (f && buf) {
        n = fread(buf, 1, (1 << 16) - 1, f);
        buf[n] = '\0';
    }
    if (f)
        fclose(f);
    return buf;
}

long tcp_raise_nofile(long want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if ((long)rl.rlim_cur < want) {
        rl.rlim_cur = (rlim_t)want < rl.rlim_max ? (rlim_t)want
                                                 : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

int raw_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int raw_send(int fd, const void *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t w = send(fd, (const char *)buf + off, len - off,
                         MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

int raw_send_buf(int fd, rdv_tcp_buf *b)
{
    int rc = b->failed ? -1 : raw_send(fd, b->p, b->len);

    rdv_tcp_buf_free(b);
    return rc;
}

/* Reads exactly len bytes by the deadline. 0, -1 closed, -2 timeout. */
static int read_exact(int fd, unsigned char *buf, size_t len,
                      int64_t deadline)
{
    size_t off = 0;

    while (off < len) {
        struct pollfd pf = {fd, POLLIN, 0};
        int left = rdv_deadline_left_ms(deadline);
        ssize_t r;

        if (left == 0)
            return -2;
        if (poll(&pf, 1, left) == 0)
            continue;
        r = recv(fd, buf + off, len - off, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return 0;
}

int raw_read(int fd, rdv_tcp_msg *m, unsigned char **frame, int timeout_ms)
{
    int64_t deadline = rdv_deadline_from_ms(timeout_ms);
    unsigned char hdr[RDV_TCP_HDR], *buf;
    char why[256];
    size_t used;
    uint32_t blen;
    int rc = read_exact(fd, hdr, sizeof hdr, deadline);

    *frame = NULL;
    if (rc)
        return rc;
    blen = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 |
           (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
    if (blen > RDV_TCP_BODY_MAX || !(buf = malloc(RDV_TCP_HDR + blen)))
        return -3;
    memcpy(buf, hdr, sizeof hdr);
    if ((rc = read_exact(fd, buf + RDV_TCP_HDR, blen, deadline))) {
        free(buf);
        return rc;
    }
    if (rdv_tcp_decode(buf, RDV_TCP_HDR + blen, RDV_TCP_BODY_MAX, m, &used,
                       why, sizeof why) != RDV_OK) {
        free(buf);
        return -3;
    }
    *frame = buf;
    return 0;
}

size_t raw_begin(rdv_tcp_buf *b, int op, uint64_t id)
{
    return rdv_tcp_begin(b, (uint8_t)op, id);
}

int raw_hello_send(int fd, uint32_t magic, uint16_t version,
                   const char *token)
{
    rdv_tcp_buf b = {0};
    size_t st = raw_begin(&b, RDV_TCP_HELLO, 0);

    rdv_tcp_put_u32(&b, magic);
    rdv_tcp_put_u16(&b, version);
    rdv_tcp_put_u16(&b, 0);
    rdv_tcp_put_bytes(&b, token ? token : "", token ? strlen(token) : 0);
    rdv_tcp_end(&b, st);
    return raw_send_buf(fd, &b);
}

int raw_hello(int fd, const char *token)
{
    rdv_tcp_msg m;
    unsigned char *frame;
    int rc;

    if (raw_hello_send(fd, RDV_TCP_MAGIC, RDV_TCP_VERSION, token))
        return -1;
    if ((rc = raw_read(fd, &m, &frame, 5000)))
        return rc;
    rc = m.status;
    free(frame);
    return rc;
}

int raw_stats(int port, const char *token, rdv_store_server_stats *st)
{
    int fd = raw_connect(port), rc = -1;
    rdv_tcp_buf b = {0};
    rdv_tcp_msg m;
    unsigned char *frame = NULL;

    if (fd < 0)
        return -1;
    if (raw_hello(fd, token) == RDV_OK) {
        rdv_tcp_end(&b, raw_begin(&b, RDV_TCP_STATS, 1));
        if (raw_send_buf(fd, &b) == 0 && raw_read(fd, &m, &frame, 5000) == 0 &&
            m.status == RDV_OK && m.count >= 6) {
            st->clients = rdv_tcp_stat(&m, 0);
            st->waiting = rdv_tcp_stat(&m, 1);
            st->keys = rdv_tcp_stat(&m, 2);
            st->accepted = rdv_tcp_stat(&m, 3);
            st->dropped = rdv_tcp_stat(&m, 4);
            st->refused = rdv_tcp_stat(&m, 5);
            rc = 0;
        }
    }
    free(frame);
    close(fd);
    return rc;
}
