/*
 * context_report.c - a context's record for the launcher that asked for
 * one (RDV_CONTEXT_REPORT_FD, context_report.h): made, failed with what,
 * or connected with its socket to every peer.
 *
 *   RDV_CONTEXT_REPORT_FD  FD:DEV:INODE, an inherited fd of shared
 *                   memory sized rdv_ctx_report_size(N) for the job's N
 *
 * Choices:
 *  - Read once per process under pthread_once and mapped until exit,
 *    as RDV_FAULTS_FIRED_FD is (fault-injection/runtime/env_install.c),
 *    and named the same way: DEV:INODE tell the launcher's fd from
 *    whatever a process the rank started has at that number (it
 *    inherits the variable, not always the fd, and is not the rank; it
 *    ignores it). The launcher's fd is closed once read,
 *    mapped or not.
 *  - A malformed variable, memory of the wrong length, or a head whose
 *    magic or layout version this librdv does not know (the program
 *    may link another librdv than the launcher's) reports nothing: the
 *    launcher then says the rank reported nothing (a SKIP), which is
 *    true; failing the program's calls over a check it asked for on the
 *    side would change what is being checked.
 *  - Only a context of the job's size reports (the head says which size
 *    that is), and a rank's record is the latest such context that
 *    connected: a program that retries with new contexts after a
 *    failure is judged on the mesh it ended with, not on one attempt's
 *    sockets for some ranks and another's for the rest. A context made
 *    or failed after one connected leaves the connected record alone.
 *  - Plain stores for the fields, the state last with a release store:
 *    the launcher reads after the rank has exited, and a rank killed
 *    half-way leaves the previous state standing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context_report.h"
#include "launcher_fd.h"

static struct {
    pthread_once_t once;
    void *base;  /* the launcher's memory, or NULL: report nothing */
    int nranks;  /* the job's size its head gives */
} rep = {.once = PTHREAD_ONCE_INIT};

/* The launcher's fd is closed on every path, mapped or not. */
static void report_init(void)
{
    const rdv_ctx_report_head *h;
    struct stat st;
    void *m;
    int fd;

    /* malformed, or not the launcher's fd (we are not its rank) */
    if (rdv_launcher_fd(getenv("RDV_CONTEXT_REPORT_FD"), &fd, &st) != 1)
        return;
    if ((size_t)st.st_size < sizeof *h) {
        close(fd);
        return;
    }
    m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
             fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return;
    h = m;
    if (h->magic != RDV_CTX_REPORT_MAGIC ||
        h->version != RDV_CTX_REPORT_VERSION || h->nranks < 1 ||
        h->nranks > 65536 ||
        rdv_ctx_report_size((int)h->nranks) != (size_t)st.st_size) {
        munmap(m, (size_t)st.st_size);
        return;
    }
    rep.base = m;
    rep.nranks = (int)h->nranks;
}

/* This context's record, or NULL when it reports nothing. */
static rdv_ctx_report_rank *record_of(const rdv_context *ctx)
{
    pthread_once(&rep.once, report_init);
    if (!rep.base || rdv_context_size(ctx) != rep.nranks)
        return NULL;
    return rdv_ctx_report_ranks(rep.base) + rdv_context_rank(ctx);
}

static int connected(const rdv_ctx_report_rank *r)
{
    return __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) ==
           RDV_CTX_REPORT_CONNECTED;
}

static void publish(rdv_ctx_report_rank *r, const rdv_context *ctx,
                    uint32_t state)
{
    r->pid = (int32_t)getpid();
    r->size = rdv_context_size(ctx);
    snprintf(r->transport, sizeof r->transport, "%s",
             rdv_context_transport_name(ctx)
                 ? rdv_context_transport_name(ctx) : "");
    __atomic_store_n(&r->state, state, __ATOMIC_RELEASE);
}

void rdv_ctx_report_created(rdv_context *ctx)
{
    rdv_ctx_report_rank *r = record_of(ctx);

    if (!r || connected(r))
        return; /* an earlier context connected: it stands until a later
                   one connects */
    r->status = 0;
    r->detail[0] = '\0';
    publish(r, ctx, RDV_CTX_REPORT_CREATED);
}

void rdv_ctx_report_failed(rdv_context *ctx, int status, const char *detail)
{
    rdv_ctx_report_rank *r = record_of(ctx);

    if (!r || connected(r) || __atomic_load_n(&r->state,
                                              __ATOMIC_ACQUIRE) ==
                                  RDV_CTX_REPORT_FAILED)
        return; /* the first failure is the cause; a connected mesh
                   stands */
    r->status = status;
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    publish(r, ctx, RDV_CTX_REPORT_FAILED);
}

void rdv_ctx_report_connected(rdv_context *ctx)
{
    rdv_ctx_report_rank *r = record_of(ctx);
    rdv_ctx_report_link *row;
    int me = rdv_context_rank(ctx);

    if (!r)
        return;
    /* An earlier mesh's row is rewritten below: a rank killed half-way
     * shows a context that never connected, not a mix of two meshes. */
    __atomic_store_n(&r->state, RDV_CTX_REPORT_CREATED, __ATOMIC_RELEASE);
    row = rdv_ctx_report_links(rep.base, rep.nranks, me);
    for (int p = 0; p < rep.nranks; p++) {
        rdv_peer_info pi;

        if (p == me)
            continue;
        memset(&row[p], 0, sizeof row[p]);
        /* A socket that cannot tell its ends leaves them zero (no
         * family): the launcher counts that pair as not seen. */
        if (rdv_context_peer_info(ctx, p, &pi) != RDV_OK)
            continue;
        memcpy(&row[p].local, &pi.local, sizeof row[p].local);
        memcpy(&row[p].remote, &pi.remote, sizeof row[p].remote);
    }
    r->status = 0;
    r->detail[0] = '\0';
    publish(r, ctx, RDV_CTX_REPORT_CONNECTED);
}
