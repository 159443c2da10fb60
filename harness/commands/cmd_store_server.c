/*
 * harness/commands/cmd_store_server.c - `rdv store-server`: librdv's store
 * server (rdv/store_server.h) in the foreground, for tcp:// stores.
 *
 *   rdv store-server --bind ADDR:PORT [--token T | --token-file F]
 *                    [--max-clients N] [--transport uring|epoll] [--quiet]
 *
 * Once clients can connect it prints one line on stdout, "listening on
 * ADDR:PORT" (the bound port when PORT was 0), and flushes it, so a
 * script or a test can read the port; the server's log (clients dropped
 * and why, refused logins) goes to stderr. SIGINT or SIGTERM stops it
 * (exit 0). A token on the command line shows in `ps`: --token-file or
 * $RDV_STORE_TOKEN keep it out of sight; it is never printed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands/commands.h"
#include "common/cli_args.h"
#include "common/number.h"
#include "rdv/store_server.h"

static const char usage[] =
    "usage: rdv store-server --bind ADDR:PORT [options]\n"
    "\n"
    "Serves tcp:// stores (tcp://ADDR:PORT[?token=T]) from memory until\n"
    "SIGINT or SIGTERM. Prints \"listening on ADDR:PORT\" on stdout once\n"
    "clients can connect; the log goes to stderr.\n"
    "\n"
    "  --bind ADDR:PORT   where to listen: 127.0.0.1:29500, [::1]:0,\n"
    "                     0.0.0.0:29500 (port 0: the kernel picks one)\n"
    "  --token T          a shared secret clients must give (?token=T)\n"
    "  --token-file F     read the token from the first line of F\n"
    "                     ($RDV_STORE_TOKEN also works; never printed)\n"
    "  --max-clients N    connections at once (default 4096)\n"
    "  --transport T      uring or epoll (default: io_uring, epoll where\n"
    "                     it is refused)\n"
    "  --quiet            no log on stderr\n"
    "\n"
    "Exit status: 0 stopped by a signal, 2 bad usage, 3 could not run\n"
    "(the address is taken, resources).\n";

enum { OPT_TOKEN_FILE = 0x100, OPT_MAX_CLIENTS, OPT_TRANSPORT, OPT_QUIET };

static const struct option options[] = {
    {"bind", required_argument, NULL, 'b'},
    {"token", required_argument, NULL, 't'},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void log_line(void *arg, const char *line)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;

    (void)arg;
    strftime(when, sizeof when, "%H:%M:%S", localtime_r(&now, &tm));
    fprintf(stderr, "rdv store-server %s: %s\n", when, line);
}

static int bad_usage(const char *why)
{
    return rdv_cli_usage_error("rdv store-server", why);
}

/* The first line of path into buf. 0, or -1 with err set. */
static int read_token(const char *path, char *buf, size_t cap, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "re");

    if (!f || !fgets(buf, (int)cap, f)) {
        snprintf(err, errlen, "--token-file %s: %s", path,
                 f ? "empty" : strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* Blocks until SIGINT, SIGTERM or SIGHUP. Those stay blocked from
 * before the server starts, so none of them is lost or kills us. */
static void wait_for_stop(const sigset_t *set)
{
    int sig;

    while (sigwait(set, &sig) != 0)
        ;
}

int rdv_cmd_store_server(int argc, char **argv)
{
    rdv_store_server_options o = rdv_store_server_options_default();
    static char token[1100];
    rdv_store_server *srv;
    char err[512];
    sigset_t stop;
    rdv_cli_args a;
    int c, n, rc;

    o.log = log_line;
    o.token = getenv("RDV_STORE_TOKEN");
    o.bind = NULL;
    rdv_cli_args_init(&a, "rdv store-server", argc, argv, "h", options);
    while ((c = rdv_cli_args_next(&a)) != -1) {
        switch (c) {
        case 'b':
            o.bind = a.arg;
            break;
        case 't':
            o.token = a.arg;
            break;
        case OPT_TOKEN_FILE:
            if (read_token(a.arg, token, sizeof token, err, sizeof err))
                return bad_usage(err);
            o.token = token;
            break;
        case OPT_MAX_CLIENTS:
            if (rdv_cli_int("--max-clients", a.arg, 1, 1 << 20, &n, err,
                            sizeof err))
                return bad_usage(err);
            o.max_clients = (uint32_t)n;
            break;
        case OPT_TRANSPORT:
            o.transport = a.arg;
            break;
        case OPT_QUIET:
            o.log = NULL;
            break;
        case 'h':
            fputs(usage, stdout);
            return RDV_EXIT_OK;
        default:
            return bad_usage(a.err);
        }
    }
    if (!o.bind)
        return bad_usage("--bind ADDR:PORT is required");
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    rc = rdv_store_server_start(&o, &srv, err, sizeof err);
    memset(token, 0, sizeof token);
    if (rc != RDV_OK) {
        fprintf(stderr, "rdv store-server: %s\n", err);
        return rc == RDV_EINVAL ? RDV_EXIT_USAGE : RDV_EXIT_CANNOT_RUN;
    }
    printf("listening on %s\n", rdv_store_server_address(srv));
    fflush(stdout);
    wait_for_stop(&stop);
    rdv_store_server_stop(srv);
    return RDV_EXIT_OK;
}
