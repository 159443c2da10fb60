/*
 * rdv/export.h - which functions librdv exports: those its public
 * headers declare, and no others.
 *
 * librdv (and librdv-mpi) are compiled with -fvisibility=hidden, so a
 * function is internal to the library unless a public header declares
 * it between RDV_API_BEGIN and RDV_API_END. Every public header wraps
 * its declarations so:
 *
 *   #include "rdv/export.h"
 *   RDV_API_BEGIN
 *   int rdv_thing_do(rdv_thing *t);
 *   RDV_API_END
 *
 * The pair gives the declarations default visibility (a GCC/Clang
 * pragma) and C linkage for C++ callers. The shared library is also
 * linked with a version script (RDV_0 { global: ...; local: *; })
 * generated at build time from the same headers, and the `abi` test
 * compares what librdv.so exports with what the headers declare.
 *
 * Why a region per header and not a marker per function: declaring a
 * function in a public header is then the whole act of publishing it;
 * there is no marker to forget and no second list to keep in step.
 * Include system headers before RDV_API_BEGIN, never inside it, so that
 * only rdv's own declarations are affected.
 */
#ifndef RDV_EXPORT_H
#define RDV_EXPORT_H

#if defined(__GNUC__) /* GCC and Clang */
#define RDV_VISIBLE_PUSH_ _Pragma("GCC visibility push(default)")
#define RDV_VISIBLE_POP_ _Pragma("GCC visibility pop")
#else
#define RDV_VISIBLE_PUSH_
#define RDV_VISIBLE_POP_
#endif

#ifdef __cplusplus
#define RDV_API_BEGIN RDV_VISIBLE_PUSH_ extern "C" {
#define RDV_API_END } RDV_VISIBLE_POP_
#else
#define RDV_API_BEGIN RDV_VISIBLE_PUSH_
#define RDV_API_END RDV_VISIBLE_POP_
#endif

#endif
