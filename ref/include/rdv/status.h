/*
 * rdv/status.h - status codes shared by every librdv call.
 *
 * Every public function returns int: RDV_OK (0) or one of the negative
 * codes below. The table is an X-macro so the enum, rdv_strerror() and
 * rdv_status_name() can never drift apart.
 *
 * A code says what kind of failure happened; the object that failed
 * (store, context) keeps a detail string that says what, where and who.
 */
#ifndef RDV_STATUS_H
#define RDV_STATUS_H

#include "rdv/export.h"

RDV_API_BEGIN

#define RDV_STATUS_MAP(X)                                                   \
    X(OK, 0, "success")                                                     \
    X(ETIMEDOUT, -1, "timed out")                                           \
    X(ENOTFOUND, -2, "key not found")                                       \
    X(EEXIST, -3, "already exists")                                         \
    X(ECONN, -4, "connection failed")                                       \
    X(EPROTO, -5, "protocol error or malformed data")                       \
    X(EIO, -6, "I/O error")                                                 \
    X(EINVAL, -7, "invalid argument")                                       \
    X(ENOMEM, -8, "out of memory")                                          \
    X(ENOTSUP, -9, "not supported")                                         \
    X(EPEER, -10, "peer failed")                                            \
    X(ECANCELED, -11, "canceled")                                           \
    X(EAUTH, -12, "authentication failed")                                  \
    X(ESTATE, -13, "object is unusable after an earlier failure")

typedef enum rdv_status {
#define RDV_STATUS_ENUM(name, value, text) RDV_##name = (value),
    RDV_STATUS_MAP(RDV_STATUS_ENUM)
#undef RDV_STATUS_ENUM
} rdv_status;

/* A static, human-readable sentence for a status ("timed out").
 * Unknown values give "unknown status". Thread-safe. */
const char *rdv_strerror(int status);

/* The status' symbolic name ("RDV_ETIMEDOUT"). Thread-safe. */
const char *rdv_status_name(int status);

/* Size of the detail strings kept by stores and contexts. */
#define RDV_DETAIL_MAX 1024

RDV_API_END
#endif
