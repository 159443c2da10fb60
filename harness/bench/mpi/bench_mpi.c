/*
 * harness/bench/mpi/bench_mpi.c - rdv-bench-mpi: MPI_Allreduce and
 * rdv_allreduce side by side, within one mpirun job.
 *
 *   mpirun -np 4 --mca btl tcp,self rdv-bench-mpi [options]
 *
 * Every rank builds an rdv context through MPI_COMM_WORLD (librdv-mpi),
 * so both libraries run on the same processes, hosts and cores. For each
 * size (4 B .. 16 MiB, doubling) both run on the same send and receive
 * buffers: MPI first, then rdv, one size at a time, so slow drift on a
 * shared machine hits both alike. Each side: a barrier of its own, 5
 * warm-up calls, then up to --iters timed calls back to back. A call's
 * time is the slowest rank's (MPI_Reduce MAX of the per-call times);
 * p50 is taken over calls, as in `rdv bench allreduce`:
 *
 *   busbw = bytes / p50 * 2(n-1)/n        ratio = rdv busbw / MPI busbw
 *
 * so ratio > 1 means rdv moved the bytes faster. Before timing a size,
 * one call of each is compared element by element (the inputs are small
 * integers in floats, exact in any order): a mismatch stops the bench.
 *
 * What MPI uses is mpirun's choice (--mca btl tcp,self, or its default
 * shared memory); the header prints OMPI_MCA_btl as set by mpirun. Open
 * MPI polls its progress engine while it waits; rdv sleeps in the kernel
 * unless --busy-poll is given. The bench reports; it never judges speed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/samples.h"
#include "rdv/clock.h"
#include "rdv/collectives.h"
#include "rdv/mpi.h"
#include "common/number.h"
#include "common/size_text.h"

#define MAX_ITERS 1000
#define MAX_SIZES 40

typedef struct bench {
    size_t min_size, max_size;
    int iters, busy_poll, timeout_ms;
    const char *bind, *transport;
    int rank, n;
    rdv_context *ctx;
    float *send, *recv, *check;
    int64_t *lat, *worst;
} bench;

typedef struct row {
    size_t bytes;
    int iters;
    double p50[2], busbw[2]; /* [0] MPI, [1] rdv */
} row;

static int iters_for(const bench *b, size_t bytes)
{
    long it = bytes <= 65536 ? MAX_ITERS : (long)((256u << 20) / bytes);

    if (it < 20)
        it = 20;
    return it > b->iters ? b->iters : (int)it;
}

/* One call of side 0 (MPI) or 1 (rdv); RDV_OK or an error. */
static int one_call(bench *b, int side, float *out, size_t count)
{
    rdv_coll_options co = rdv_coll_options_default();

    co.busy_poll = b->busy_poll;
    if (side == 1)
        return rdv_allreduce(b->ctx, b->send, out, count, RDV_FLOAT, RDV_SUM,
                             &co);
    return MPI_Allreduce(b->send, out, (int)count, MPI_FLOAT, MPI_SUM,
                         MPI_COMM_WORLD) == MPI_SUCCESS
               ? RDV_OK
               : RDV_EIO;
}

static int side_barrier(bench *b, int side)
{
    if (side == 1)
        return rdv_barrier(b->ctx, NULL);
    return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? RDV_OK : RDV_EIO;
}

/* The other ranks may be inside an MPI call that will never complete:
 * a bench (not the library) ends the whole job. */
static int fail(bench *b, int side, const char *what, size_t bytes)
{
    fprintf(stderr, "rdv-bench-mpi: rank %d: %s %s of %zu bytes failed: %s\n",
            b->rank, side ? "rdv_allreduce" : "MPI_Allreduce", what, bytes,
            side ? rdv_context_errmsg(b->ctx) : "MPI error");
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}

/* Both sides must agree, element for element, before either is timed. */
static int check_size(bench *b, size_t count)
{
    int bad = 0, any = 0;

    if (one_call(b, 0, b->check, count) != RDV_OK)
        return fail(b, 0, "check", count * sizeof(float));
    if (one_call(b, 1, b->recv, count) != RDV_OK)
        return fail(b, 1, "check", count * sizeof(float));
    for (size_t i = 0; i < count && !bad; i++)
        if (b->recv[i] != b->check[i]) {
            fprintf(stderr,
                    "rdv-bench-mpi: rank %d: %zu floats: element %zu is %g "
                    "from rdv but %g from MPI\n",
                    b->rank, count, i, (double)b->recv[i],
                    (double)b->check[i]);
            bad = 1;
        }
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}

/* Times one side at one size; fills p50 and busbw on rank 0. */
static int time_side(bench *b, int side, size_t count, row *r)
{
    size_t bytes = count * sizeof(float);

    if (side_barrier(b, side) != RDV_OK)
        return fail(b, side, "barrier before", bytes);
    for (int i = 0; i < 5; i++)
        if (one_call(b, side, b->recv, count) != RDV_OK)
            return fail(b, side, "warm-up", bytes);
    for (int i = 0; i < r->iters; i++) {
        int64_t t0 = rdv_now_ns();

        if (one_call(b, side, b->recv, count) != RDV_OK)
            return fail(b, side, "timed call", bytes);
        b->lat[i] = rdv_now_ns() - t0;
    }
    MPI_Reduce(b->lat, b->worst, r->iters, MPI_INT64_T, MPI_MAX, 0,
               MPI_COMM_WORLD);
    if (b->rank == 0) {
        rdv_samples_sort_i64(b->worst, (size_t)r->iters);
        r->p50[side] = (double)b->worst[r->iters / 2] / 1e3;
        r->busbw[side] = (double)bytes / (r->p50[side] * 1e3) * 2.0 *
                         (b->n - 1) / b->n;
    }
    return 0;
}

/* "load 1.52 1.20 0.98 on 2 CPUs": numbers from a busy host say so. */
static const char *loadavg(char *buf, size_t cap)
{
    FILE *f = fopen("/proc/loadavg", "re");
    double l[3] = {0, 0, 0};

    if (!f || fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
        snprintf(buf, cap, "load unknown");
    else
        snprintf(buf, cap, "load %.2f %.2f %.2f on %ld CPUs", l[0], l[1],
                 l[2], sysconf(_SC_NPROCESSORS_ONLN));
    if (f)
        fclose(f);
    return buf;
}

static void print_header(const bench *b, int64_t mesh_ns)
{
    char ver[MPI_MAX_LIBRARY_VERSION_STRING], load[96];
    const char *btl = getenv("OMPI_MCA_btl");
    int len = 0;

    MPI_Get_library_version(ver, &len);
    ver[strcspn(ver, ",\n")] = 0;
    printf("# rdv-bench-mpi: allreduce float sum, N=%d, same buffers, "
           "p50 of the slowest rank per call\n", b->n);
    printf("# MPI: %s, btl %s\n", ver, btl ? btl : "(mpirun's default)");
    printf("# rdv: %s transport%s, mesh bound to %s, built through MPI in "
           "%.1f ms\n",
           rdv_context_transport_name(b->ctx),
           b->busy_poll ? " (busy-poll)" : "", b->bind ? b->bind : "host",
           (double)mesh_ns / 1e6);
    printf("# ratio = rdv busbw / MPI busbw (> 1: rdv faster); %s\n",
           loadavg(load, sizeof load));
    printf("# %10s %6s | %11s %11s | %11s %11s | %6s\n", "", "", "MPI", "",
           "rdv", "", "");
    printf("# %10s %6s | %11s %11s | %11s %11s | %6s\n", "size(B)", "iters",
           "p50(us)", "busbw(GB/s)", "p50(us)", "busbw(GB/s)", "ratio");
    fflush(stdout);
}

static void print_row(const row *r)
{
    printf("  %10zu %6d | %11.1f %11.3f | %11.1f %11.3f | %6.2f\n", r->bytes,
           r->iters, r->p50[0], r->busbw[0], r->p50[1], r->busbw[1],
           r->busbw[1] / r->busbw[0]);
    fflush(stdout);
}

static int run(bench *b)
{
    for (size_t bytes = b->min_size; bytes <= b->max_size; bytes *= 2) {
        size_t count = bytes < sizeof(float) ? 1 : bytes / sizeof(float);
        row r = {.bytes = count * sizeof(float),
                 .iters = iters_for(b, bytes)};

        if (check_size(b, count) || time_side(b, 0, count, &r) ||
            time_side(b, 1, count, &r))
            return 1;
        if (b->rank == 0)
            print_row(&r);
    }
    return 0;
}

static int setup(bench *b)
{
    rdv_context_options o = rdv_context_options_default();
    size_t count = b->max_size / sizeof(float) + 1;
    char err[512];
    int rc;

    o.rank = b->rank;
    o.size = b->n;
    o.job = "rdv-bench-mpi";
    o.bind = b->bind;
    o.transport = b->transport;
    o.timeout_ms = b->timeout_ms;
    rc = rdv_context_create(&o, &b->ctx, err, sizeof err);
    if (rc != RDV_OK) {
        fprintf(stderr, "rdv-bench-mpi: rank %d: %s\n", b->rank, err);
        return rc;
    }
    b->send = malloc(count * sizeof(float));
    b->recv = malloc(count * sizeof(float));
    b->check = malloc(count * sizeof(float));
    b->lat = malloc(MAX_ITERS * sizeof *b->lat);
    b->worst = malloc(MAX_ITERS * sizeof *b->worst);
    if (!b->send || !b->recv || !b->check || !b->lat || !b->worst) {
        fprintf(stderr, "rdv-bench-mpi: rank %d: out of memory\n", b->rank);
        return RDV_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) /* small integers: exact sums */
        b->send[i] = (float)((b->rank + 1) + (int)(i % 13));
    return RDV_OK;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun [mpirun options] rdv-bench-mpi [options]\n"
            "\n"
            "Runs MPI_Allreduce and rdv_allreduce (float sum) on the same "
            "buffers\nwithin one mpirun job and prints p50 latency and bus "
            "bandwidth of each\nper size, with the ratio rdv/MPI. The rdv "
            "mesh is built through\nMPI_COMM_WORLD.\n"
            "\n"
            "  --min-size B     smallest message in bytes (4)\n"
            "  --max-size B     largest message, K/M suffixes ok (16M)\n"
            "  --iters N        most timed calls per size, 1..1000 (1000)\n"
            "  --bind ADDR      rdv's bind address or interface (127.0.0.1;\n"
            "                   'host' = the host name's address)\n"
            "  --transport B    rdv backend: uring or epoll (auto)\n"
            "  --busy-poll      rdv spins in waits, as MPI does\n"
            "  --timeout MS     rdv's per-call timeout (60000)\n"
            "  -h, --help       this text\n");
}

/* 0: run; 1: done (help); -1: bad usage (message printed by rank 0). */
static int parse(bench *b, int argc, char **argv)
{
    enum { O_MIN = 256, O_MAX, O_ITERS, O_BIND, O_TRANSPORT, O_BUSY,
           O_TIMEOUT };
    static const struct option longs[] = {
        {"min-size", required_argument, NULL, O_MIN},
        {"max-size", required_argument, NULL, O_MAX},
        {"iters", required_argument, NULL, O_ITERS},
        {"bind", required_argument, NULL, O_BIND},
        {"transport", required_argument, NULL, O_TRANSPORT},
        {"busy-poll", no_argument, NULL, O_BUSY},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    FILE *err = b->rank == 0 ? stderr : NULL;
    char why[256] = "";
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case O_MIN:
        case O_MAX:
            if (rdv_size_parse_message(optarg, c == O_MIN ? &b->min_size
                                                          : &b->max_size))
                goto bad;
            break;
        case O_ITERS:
            if (rdv_cli_int("--iters", optarg, 1, MAX_ITERS, &b->iters, why,
                            sizeof why))
                goto bad;
            break;
        case O_BIND:
            b->bind = strcmp(optarg, "host") ? optarg : NULL;
            break;
        case O_TRANSPORT:
            b->transport = optarg;
            break;
        case O_BUSY:
            b->busy_poll = 1;
            break;
        case O_TIMEOUT:
            if (rdv_cli_int("--timeout", optarg, 1, 3600000, &b->timeout_ms,
                            why, sizeof why))
                goto bad;
            break;
        case 'h':
            if (err)
                usage(stdout);
            return 1;
        default:
            goto bad;
        }
    }
    if (optind == argc && b->min_size <= b->max_size)
        return 0;
bad:
    if (err && why[0]) {
        fprintf(err, "rdv-bench-mpi: %s\n", why);
        usage(err);
    } else if (err) {
        fprintf(err, "rdv-bench-mpi: bad option or value near '%s'\n",
                optind > 1 && optind <= argc ? argv[optind - 1] : "?");
        usage(err);
    }
    return -1;
}

int main(int argc, char **argv)
{
    bench b = {.min_size = 4, .max_size = 16u << 20, .iters = MAX_ITERS,
               .timeout_ms = 60000, .bind = "127.0.0.1"};
    int64_t t0;
    int rc, any = 0, p;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &b.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &b.n);
    p = parse(&b, argc, argv);
    if (p != 0) {
        MPI_Finalize();
        return p < 0 ? 2 : 0;
    }
    rc = setup(&b);
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (any == RDV_OK) {
        t0 = rdv_now_ns();
        rc = rdv_context_connect_full_mesh_mpi(b.ctx, MPI_COMM_WORLD);
        t0 = rdv_now_ns() - t0;
        if (rc != RDV_OK)
            fprintf(stderr, "rdv-bench-mpi: rank %d: %s\n", b.rank,
                    rdv_context_errmsg(b.ctx));
        else if (b.rank == 0)
            print_header(&b, t0);
        MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    }
    rc = any == RDV_OK ? run(&b) : 1;
    rdv_context_destroy(b.ctx);
    free(b.send);
    free(b.recv);
    free(b.check);
    free(b.lat);
    free(b.worst);
    MPI_Finalize();
    return rc;
}
