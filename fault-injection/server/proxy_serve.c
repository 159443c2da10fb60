/*
 * server/proxy_serve.c - the fault proxy's command language and its serve loop:
 * one poll() over the proxy's epoll fd and the command input, with the
 * timeout cut short when a latency timer is due.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_internal.h" /* rdv_fault_number */
#include "server/proxy_internal.h"
#include "rdv/status.h"

/* Splits "word [arg]" (blanks around, a newline at the end): the word
 * into word, and returns 1, or 2 when a number follows (librdv-fault's
 * reader: digits only), or 3 when something else does. */
static int command_words(const char *line, char *word, size_t cap,
                         int64_t *arg)
{
    const char *w = line + strspn(line, " \t"), *a, *rest;
    size_t wlen = strcspn(w, " \t\r\n"), alen;

    snprintf(word, cap, "%.*s", (int)wlen, w);
    a = w + wlen + strspn(w + wlen, " \t");
    alen = strcspn(a, " \t\r\n");
    rest = a + alen + strspn(a + alen, " \t\r\n");
    if (!alen)
        return 1;
    return *rest || rdv_fault_number(a, alen, arg) ? 3 : 2;
}

int rdv_fault_proxy_command(rdv_fault_proxy *p, const char *line,
                            char *reply, size_t cap)
{
    char word[16];
    int64_t arg = -1;
    int n = command_words(line, word, sizeof word, &arg);

    if (n >= 1 && !strcmp(word, "pass")) {
        p->latency_ns = 0;
        p->blackhole = 0;
        snprintf(reply, cap, "ok pass");
    } else if (n >= 1 && !strcmp(word, "latency")) {
        if (n != 2 || arg < 0 || arg > 3600000) {
            snprintf(reply, cap, "error latency: expected a number of ms "
                     "0..3600000");
            return 0;
        }
        p->latency_ns = arg * 1000000;
        snprintf(reply, cap, "ok latency %lld", (long long)arg);
    } else if (n >= 1 && !strcmp(word, "reset")) {
        uint64_t before = p->resets;

        rdv_fault_proxy_reset_all(p);
        snprintf(reply, cap, "ok reset %llu",
                 (unsigned long long)(p->resets - before));
    } else if (n >= 1 && !strcmp(word, "blackhole")) {
        p->blackhole = 1;
        snprintf(reply, cap, "ok blackhole");
    } else if (n >= 1 && !strcmp(word, "stats")) {
        snprintf(reply, cap, "ok conns=%llu accepted=%llu resets=%llu "
                 "up=%llu down=%llu held=%llu",
                 (unsigned long long)p->nconns,
                 (unsigned long long)p->accepted,
                 (unsigned long long)p->resets, (unsigned long long)p->up,
                 (unsigned long long)p->down,
                 (unsigned long long)rdv_fault_proxy_held(p));
    } else if (n >= 1 && !strcmp(word, "quit")) {
        snprintf(reply, cap, "ok quit");
        return 1;
    } else {
        snprintf(reply, cap, "error unknown command '%s': expected pass, "
                 "latency MS, reset, blackhole, stats or quit", word);
    }
    return 0;
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = write(fd, s, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Runs every complete line in buf[0..*len); keeps the rest. Returns 1 on
 * quit, -1 when the reply cannot be written. */
static int run_lines(rdv_fault_proxy *p, char *buf, size_t *len, int out_fd)
{
    char *nl, reply[256];
    int quit = 0;

    while (!quit && (nl = memchr(buf, '\n', *len))) {
        size_t used = (size_t)(nl - buf) + 1;

        *nl = '\0';
        quit = rdv_fault_proxy_command(p, buf, reply, sizeof reply);
        strncat(reply, "\n", sizeof reply - strlen(reply) - 1);
        if (write_all(out_fd, reply, strlen(reply)))
            return -1;
        memmove(buf, buf + used, *len - used);
        *len -= used;
    }
    return quit;
}

int rdv_fault_proxy_serve(rdv_fault_proxy *p, int in_fd, int out_fd)
{
    char buf[1024];
    size_t len = 0;

    for (;;) {
        struct pollfd fds[2] = {{.fd = p->epfd, .events = POLLIN},
                                {.fd = in_fd, .events = POLLIN}};
        int r = poll(fds, 2, rdv_fault_proxy_next_ms(p));
        ssize_t n;

        if (r < 0 && errno != EINTR)
            return RDV_EIO;
        if (rdv_fault_proxy_step(p, 0))
            return RDV_EIO;
        if (r <= 0 || !(fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = read(in_fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? RDV_OK : RDV_EIO; /* end of input: stop */
        len += (size_t)n;
        if ((r = run_lines(p, buf, &len, out_fd)))
            return r > 0 ? RDV_OK : RDV_EIO;
        if (len == sizeof buf - 1)
            len = 0; /* a line this long is not a command: forget it */
    }
}
