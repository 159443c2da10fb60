/*
 * server/server_driver.c - the parent's server-fault driver: turns a plan's
 * server.* events into a timeline of actions (pause, proxy commands,
 * restart) and fires them as the harness polls with the elapsed time.
 *
 * Where the server is comes from the store URL (redis: CLIENT PAUSE, the
 * proxy in front of redis://host:port) or from the user
 * (rdv_fault_server_where: a PID to SIGSTOP and SIGCONT, an address to
 * proxy), for any store. A stopped server is always continued: at its
 * time, or at stop, whichever comes first.
 *
 * The proxy runs in a forked child, made before the ranks, that serves
 * rdv_fault_proxy_serve() on a pair of pipes: commands in, one reply
 * line each out. The child ends with _exit(): it must not run the
 * parent's atexit handlers nor flush the parent's stdio buffers a second
 * time. Its lifetime is bounded by the command pipe: stop closes it, and
 * if the parent dies the pipe closes too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_internal.h"
#include "rdv/fault_proxy.h"

#define ACTIONS_MAX 64

typedef enum act_kind {
    ACT_PAUSE,  /* redis CLIENT PAUSE */
    ACT_STOP,   /* SIGSTOP to the server's PID */
    ACT_CONT,   /* SIGCONT to the PID ACT_STOP stopped */
    ACT_RESTART,
    ACT_PROXY
} act_kind;

typedef struct action {
    int64_t at_ms;
    act_kind kind;
    int ms;           /* ACT_PAUSE */
    char command[32]; /* ACT_PROXY: "latency 5", "reset", ... */
} action;

struct rdv_fault_server {
    char *url; /* the real server, for CLIENT PAUSE */
    char *pid_spec; /* rdv_fault_server_where.pid, or NULL */
    pid_t stopped;  /* SIGSTOPped by us and not yet continued; 0 = none */
    action acts[ACTIONS_MAX];
    size_t n, next;
    pid_t proxy_pid;
    int to_proxy, from_proxy;
};

static void add(rdv_fault_server *s, int64_t at, act_kind kind, int ms,
                const char *command)
{
    size_t i;

    if (s->n == ACTIONS_MAX)
        return;
    /* Insertion keeps the timeline sorted and stable (plan order). */
    for (i = s->n; i > 0 && s->acts[i - 1].at_ms > at; i--)
        s->acts[i] = s->acts[i - 1];
    s->acts[i] = (action){.at_ms = at, .kind = kind, .ms = ms};
    snprintf(s->acts[i].command, sizeof s->acts[i].command, "%s",
             command ? command : "");
    s->n++;
}

static void timeline(rdv_fault_server *s, const rdv_fault_plan *p,
                     uint64_t seed)
{
    rdv_fault_server_event ev[ACTIONS_MAX / 2];
    size_t n = rdv_fault_plan_server_events(p, seed, ev, ACTIONS_MAX / 2);
    char cmd[32];

    for (size_t k = 0; k < n && k < ACTIONS_MAX / 2; k++) {
        switch (ev[k].kind) {
        case RDV_FAULT_SERVER_PAUSE:
            if (!s->pid_spec) {
                add(s, ev[k].after_ms, ACT_PAUSE, ev[k].ms, NULL);
                break;
            }
            add(s, ev[k].after_ms, ACT_STOP, 0, NULL);
            add(s, (int64_t)ev[k].after_ms + ev[k].ms, ACT_CONT, 0, NULL);
            break;
        case RDV_FAULT_SERVER_RESTART:
            add(s, ev[k].after_ms, ACT_RESTART, 0, NULL);
            break;
        case RDV_FAULT_SERVER_LATENCY:
            snprintf(cmd, sizeof cmd, "latency %d", ev[k].ms);
            add(s, 0, ACT_PROXY, 0, cmd);
            break;
        case RDV_FAULT_SERVER_RESET:
            add(s, ev[k].after_ms, ACT_PROXY, 0, "reset");
            break;
        case RDV_FAULT_SERVER_BLACKHOLE:
            add(s, ev[k].after_ms, ACT_PROXY, 0, "blackhole");
            add(s, (int64_t)ev[k].after_ms + ev[k].ms, ACT_PROXY, 0, "pass");
            break;
        }
    }
}

/* Where the proxy listens and connects: the user's spec, else the
 * redis:// URL's server on a free port. */
static int proxy_ends(const char *url, const char *spec, int *listen_port,
                      char *host, size_t hostcap, int *port, char *errbuf,
                      size_t errlen)
{
    *listen_port = 0;
    if (spec)
        return rdv_fault_proxy_where(spec, listen_port, host, hostcap, port,
                                     errbuf, errlen);
    return rdv_fault_proxy_target(url, host, hostcap, port, errbuf, errlen);
}

/* The URL the ranks open through the proxy on proxy_port. */
static int proxy_rank_url(const char *url, const char *spec,
                          const char *host, int port, int proxy_port,
                          char *out, size_t cap, char *errbuf, size_t errlen)
{
    if (spec)
        return rdv_fault_proxy_where_url(url, host, port, proxy_port, out,
                                         cap, errbuf, errlen);
    return rdv_fault_proxy_url(url, proxy_port, out, cap, errbuf, errlen);
}

static int start_proxy(rdv_fault_server *s, const char *url,
                       const char *spec, char *rank_url, size_t cap,
                       char *errbuf, size_t errlen)
{
    char host[256];
    int lport, port, in[2] = {-1, -1}, out[2] = {-1, -1}, rc;
    rdv_fault_proxy *p;

    if ((rc = proxy_ends(url, spec, &lport, host, sizeof host, &port, errbuf,
                         errlen)) ||
        (rc = rdv_fault_proxy_create(lport, host, port, &p, errbuf, errlen)))
        return rc;
    if ((rc = proxy_rank_url(url, spec, host, port, rdv_fault_proxy_port(p),
                             rank_url, cap, errbuf, errlen))) {
        rdv_fault_proxy_destroy(p);
        return rc;
    }
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) ||
        (s->proxy_pid = fork()) < 0) {
        snprintf(errbuf, errlen, "cannot start the fault proxy in front of "
                 "%s:%d: %s", host, port, strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
        }
        rdv_fault_proxy_destroy(p);
        s->proxy_pid = -1;
        return RDV_EIO;
    }
    if (s->proxy_pid == 0) {
        close(in[1]);
        close(out[0]);
        signal(SIGPIPE, SIG_IGN);
        rc = rdv_fault_proxy_serve(p, in[0], out[1]);
        rdv_fault_proxy_destroy(p);
        _exit(rc ? 1 : 0);
    }
    close(in[0]);
    close(out[1]);
    rdv_fault_proxy_destroy(p); /* the child has its own */
    s->to_proxy = in[1];
    s->from_proxy = out[0];
    return RDV_OK;
}

int rdv_fault_server_check(const rdv_fault_plan *p, const char *url,
                           char *errbuf, size_t errlen)
{
    return rdv_fault_server_check_at(p, url, NULL, errbuf, errlen);
}

int rdv_fault_server_check_at(const rdv_fault_plan *p, const char *url,
                              const rdv_fault_server_where *where,
                              char *errbuf, size_t errlen)
{
    const char *pid_spec = where ? where->pid : NULL;
    const char *proxy = where ? where->proxy : NULL;
    char probe[1024];
    pid_t pid;
    int lport;
    rdv_fault_server_event ev[ACTIONS_MAX / 2];
    size_t n = p ? rdv_fault_plan_server_events(p, 0, ev, ACTIONS_MAX / 2)
                 : 0;
    const char *user, *password;
    char host[256];
    int port, rc = RDV_OK;
    rdv_url u;

    /* The kinds of events do not depend on the seed, only their times. */
    for (size_t k = 0; k < n && k < ACTIONS_MAX / 2 && rc == RDV_OK; k++) {
        if (ev[k].kind != RDV_FAULT_SERVER_PAUSE)
            continue;
        if (pid_spec)
            rc = rdv_fault_server_pid_read(pid_spec, &pid, errbuf, errlen);
        else if ((rc = rdv_fault_redis_target(url, &u, &user, &password,
                                              errbuf, errlen)) == RDV_OK)
            rdv_url_free(&u);
    }
    /* The ranks' URL is made with a stand-in port, so a URL that does not
     * name the proxied server is found now. */
    if (rc == RDV_OK && (rdv_fault_plan_needs(p) & RDV_FAULT_NEEDS_PROXY) &&
        (rc = proxy_ends(url, proxy, &lport, host, sizeof host, &port,
                         errbuf, errlen)) == RDV_OK)
        rc = proxy_rank_url(url, proxy, host, port, port == 1 ? 2 : 1, probe,
                            sizeof probe, errbuf, errlen);
    return rc;
}

int rdv_fault_server_start(const rdv_fault_plan *p, uint64_t seed,
                           const char *url, char *rank_url,
                           size_t rank_url_len, rdv_fault_server **out,
                           char *errbuf, size_t errlen)
{
    return rdv_fault_server_start_at(p, seed, url, NULL, rank_url,
                                     rank_url_len, out, errbuf, errlen);
}

int rdv_fault_server_start_at(const rdv_fault_plan *p, uint64_t seed,
                              const char *url,
                              const rdv_fault_server_where *where,
                              char *rank_url, size_t rank_url_len,
                              rdv_fault_server **out, char *errbuf,
                              size_t errlen)
{
    const char *pid_spec = where ? where->pid : NULL;
    const char *proxy = where ? where->proxy : NULL;
    rdv_fault_server *s;
    int rc = RDV_OK;

    if (!p || !url || !rank_url || !out)
        return RDV_EINVAL;
    *out = NULL;
    if ((rc = rdv_fault_server_check_at(p, url, where, errbuf, errlen)))
        return rc;
    if (snprintf(rank_url, rank_url_len, "%s", url) >= (int)rank_url_len)
        return RDV_EINVAL;
    if (!(s = calloc(1, sizeof *s)))
        return RDV_ENOMEM;
    s->proxy_pid = -1;
    s->to_proxy = s->from_proxy = -1;
    if (!(s->url = strdup(url)) ||
        (pid_spec && !(s->pid_spec = strdup(pid_spec)))) {
        free(s->url);
        free(s);
        return RDV_ENOMEM;
    }
    timeline(s, p, seed);
    if (rdv_fault_plan_needs(p) & RDV_FAULT_NEEDS_PROXY)
        rc = start_proxy(s, url, proxy, rank_url, rank_url_len, errbuf,
                         errlen);
    if (rc) {
        rdv_fault_server_stop(s);
        return rc;
    }
    *out = s;
    return RDV_OK;
}

/* server.pause by PID: the PID is read now (a restart changes it). */
static int stop_server(rdv_fault_server *s, char *errbuf, size_t errlen)
{
    pid_t pid;
    int rc = rdv_fault_server_pid_read(s->pid_spec, &pid, errbuf, errlen);

    if (rc)
        return rc;
    if (kill(pid, SIGSTOP)) {
        snprintf(errbuf, errlen, "server.pause: cannot stop PID %d: %s",
                 (int)pid, strerror(errno));
        return RDV_EIO;
    }
    s->stopped = pid;
    return RDV_OK;
}

static void continue_server(rdv_fault_server *s)
{
    if (s->stopped > 0)
        kill(s->stopped, SIGCONT);
    s->stopped = 0;
}

/* Sends one command and reads its one-line reply. */
static int proxy_command(rdv_fault_server *s, const char *cmd, char *errbuf,
                         size_t errlen)
{
    char line[256];
    size_t o = 0;
    int len = snprintf(line, sizeof line, "%s\n", cmd);

    if (s->to_proxy < 0 || write(s->to_proxy, line, (size_t)len) != len) {
        snprintf(errbuf, errlen, "fault proxy: cannot send '%s'", cmd);
        return RDV_EIO;
    }
    while (o + 1 < sizeof line) {
        struct pollfd pf = {.fd = s->from_proxy, .events = POLLIN};

        if (poll(&pf, 1, 5000) != 1 || read(s->from_proxy, line + o, 1) != 1)
            break;
        if (line[o] == '\n')
            break;
        o++;
    }
    line[o] = '\0';
    if (strncmp(line, "ok", 2)) {
        snprintf(errbuf, errlen, "fault proxy: '%s' answered '%s'", cmd,
                 line);
        return RDV_EIO;
    }
    return RDV_OK;
}

int rdv_fault_server_poll(rdv_fault_server *s, int64_t elapsed_ms,
                          int *next_ms, int *restart_due, char *errbuf,
                          size_t errlen)
{
    int rc = RDV_OK;

    if (restart_due)
        *restart_due = 0;
    while (s && s->next < s->n && s->acts[s->next].at_ms <= elapsed_ms) {
        const action *a = &s->acts[s->next++];
        int r = RDV_OK;

        if (a->kind == ACT_PAUSE)
            r = rdv_fault_redis_pause(s->url, a->ms, errbuf, errlen);
        else if (a->kind == ACT_STOP)
            r = stop_server(s, errbuf, errlen);
        else if (a->kind == ACT_CONT)
            continue_server(s);
        else if (a->kind == ACT_PROXY)
            r = proxy_command(s, a->command, errbuf, errlen);
        else if (restart_due)
            *restart_due = 1;
        if (r && !rc)
            rc = r;
    }
    if (next_ms) {
        int64_t left = s && s->next < s->n
                           ? s->acts[s->next].at_ms - elapsed_ms : -1;

        *next_ms = left > 0x7fffffff ? 0x7fffffff : (int)left;
    }
    return rc;
}

void rdv_fault_server_stop(rdv_fault_server *s)
{
    int st;

    if (!s)
        return;
    continue_server(s); /* a run cut short never leaves it stopped */
    if (s->to_proxy >= 0)
        close(s->to_proxy); /* end of input: the proxy child stops */
    /* It stops at end of input; a child that does not within 5 s is
     * killed, by its pid, so stop never hangs. */
    for (int i = 0; s->proxy_pid > 0 && i < 500; i++) {
        pid_t r = waitpid(s->proxy_pid, &st, WNOHANG);

        if (r == s->proxy_pid || (r < 0 && errno != EINTR))
            s->proxy_pid = -1;
        else
            usleep(10000);
    }
    if (s->proxy_pid > 0) {
        kill(s->proxy_pid, SIGKILL);
        waitpid(s->proxy_pid, &st, 0);
    }
    if (s->from_proxy >= 0)
        close(s->from_proxy);
    free(s->url);
    free(s->pid_spec);
    free(s);
}
