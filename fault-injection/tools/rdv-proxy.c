/*
 * rdv-proxy - a loopback TCP proxy for server faults (rdv/fault_proxy.h).
 *
 *   rdv-proxy --target 127.0.0.1:6379 [--listen PORT]
 *
 * Prints "listening 127.0.0.1:PORT" once it accepts connections (a
 * readiness line for whoever started it), then reads commands on stdin
 * (pass, latency MS, reset, blackhole, stats, quit) and answers each on
 * stdout. End of stdin stops it, so it never outlives its parent's pipe.
 *
 * Ports go through the number parser every rdv command uses
 * (harness/common/number.c, compiled in): a command's options are read
 * one way; librdv-fault itself depends on nothing of the harness.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/number.h"
#include "rdv/fault_proxy.h"

static int usage(FILE *to)
{
    fprintf(to, "usage: rdv-proxy --target HOST:PORT [--listen PORT]\n"
                "  HOST must be loopback; commands on stdin: pass, "
                "latency MS, reset, blackhole, stats, quit\n");
    return to == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},
        {"listen", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char host[256] = "", err[256] = "", *colon;
    uint64_t port = 0;
    int listen_port = 0;
    rdv_fault_proxy *p;
    int c, rc;

    while ((c = getopt_long(argc, argv, "t:l:h", opts, NULL)) != -1) {
        if (c == 't') {
            colon = strrchr(optarg, ':');
            if (!colon || (size_t)(colon - optarg) >= sizeof host) {
                fprintf(stderr, "rdv-proxy: --target '%s': expected "
                        "HOST:PORT\n", optarg);
                return 2;
            }
            memcpy(host, optarg, (size_t)(colon - optarg));
            host[colon - optarg] = '\0';
            if (rdv_number_parse(colon + 1, strlen(colon + 1), 65535,
                                 &port) || port == 0) {
                fprintf(stderr, "rdv-proxy: --target '%s': expected a port "
                        "1..65535 after ':'\n", optarg);
                return 2;
            }
        } else if (c == 'l') {
            if (rdv_cli_int("--listen", optarg, 0, 65535, &listen_port, err,
                            sizeof err)) {
                fprintf(stderr, "rdv-proxy: %s\n", err);
                return 2;
            }
        } else {
            return usage(c == 'h' ? stdout : stderr);
        }
    }
    if (!host[0] || optind != argc)
        return usage(stderr);
    if ((rc = rdv_fault_proxy_create(listen_port, host, (int)port, &p, err,
                                     sizeof err))) {
        fprintf(stderr, "rdv-proxy: %s\n", err);
        return 1;
    }
    printf("listening 127.0.0.1:%d\n", rdv_fault_proxy_port(p));
    fflush(stdout);
    rc = rdv_fault_proxy_serve(p, STDIN_FILENO, STDOUT_FILENO);
    rdv_fault_proxy_destroy(p);
    return rc ? 1 : 0;
}
