/*
 * context_report.h - what a program's contexts tell the launcher that
 * asked for it (`rdv launch --context-checks`): RDV_CONTEXT_REPORT_FD
 * names an inherited fd of shared memory laid out as below, and each
 * context of the job's size writes its rank's record there as it is
 * made, fails or connects. The launcher judges mesh-consistent from it
 * as `rdv run` does from its result area. Internal: the layout is
 * shared by librdv (context_report.c) and the harness
 * (run/launch_contexts.c), but the launched program may link another
 * librdv than the launcher's: the launcher stamps a head (magic, layout
 * version, N) and a librdv that does not know the stamp writes nothing,
 * which the launcher reads as ranks that reported nothing (a SKIP).
 */
#ifndef RDV_CONTEXT_REPORT_H
#define RDV_CONTEXT_REPORT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rdv/context.h"

#define RDV_CTX_REPORT_MAGIC 0x72647663u /* "rdvc" */
#define RDV_CTX_REPORT_VERSION 1u /* bump on any change below */

/* The memory's first bytes, written by the launcher before the ranks
 * start. */
typedef struct rdv_ctx_report_head {
    uint32_t magic;   /* RDV_CTX_REPORT_MAGIC */
    uint32_t version; /* RDV_CTX_REPORT_VERSION */
    uint32_t nranks;  /* the job's size: the records that follow */
    uint32_t zero;
} rdv_ctx_report_head;

/* A rank's record's state, stored last (release) once the rest is in. */
enum {
    RDV_CTX_REPORT_NONE = 0, /* no context of the job's size (yet) */
    RDV_CTX_REPORT_CREATED,  /* made, not connected */
    RDV_CTX_REPORT_FAILED,   /* failed before connecting: status, detail */
    RDV_CTX_REPORT_CONNECTED /* its row of links is filled */
};

typedef struct rdv_ctx_report_rank {
    uint32_t state; /* RDV_CTX_REPORT_*; written with atomic stores */
    int32_t status; /* the first failure, for FAILED */
    int32_t pid;
    int32_t size;   /* the context's size (the job's) */
    char transport[16];
    char detail[RDV_DETAIL_MAX];
} rdv_ctx_report_rank;

/* An end of a socket: a sockaddr_in or sockaddr_in6, family first. */
typedef union rdv_ctx_report_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} rdv_ctx_report_addr;

/* Rank r's socket to peer p: [r][p] of an N x N table (own link zero). */
typedef struct rdv_ctx_report_link {
    rdv_ctx_report_addr local;
    rdv_ctx_report_addr remote;
} rdv_ctx_report_link;

/* The bytes a job of n ranks needs: the head, n records, then the n x n
 * links. Memory of another length than its head's N gives is not the
 * launcher's, and a context of another size than N (a sub-group)
 * reports nothing. */
static inline size_t rdv_ctx_report_size(int n)
{
    return sizeof(rdv_ctx_report_head) +
           (size_t)n * sizeof(rdv_ctx_report_rank) +
           (size_t)n * (size_t)n * sizeof(rdv_ctx_report_link);
}

static inline rdv_ctx_report_rank *rdv_ctx_report_ranks(void *base)
{
    return (rdv_ctx_report_rank *)((char *)base +
                                   sizeof(rdv_ctx_report_head));
}

static inline rdv_ctx_report_link *rdv_ctx_report_links(void *base, int n,
                                                        int rank)
{
    return (rdv_ctx_report_link *)(rdv_ctx_report_ranks(base) + n) +
           (size_t)rank * (size_t)n;
}

/* librdv's side (context.c calls these); each does nothing unless
 * RDV_CONTEXT_REPORT_FD names the launcher's memory with the stamp this
 * librdv knows and the context is of the job's size. A rank's record is
 * the LATEST context of the job's size that connected: a program that
 * makes several such contexts in turn (a retry after a failure) is
 * judged on the last one each rank connected. A context made or failed
 * after one connected does not erase the connected mesh. */
void rdv_ctx_report_created(rdv_context *ctx);
void rdv_ctx_report_failed(rdv_context *ctx, int status, const char *detail);
void rdv_ctx_report_connected(rdv_context *ctx);

#endif
