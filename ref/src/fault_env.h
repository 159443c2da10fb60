/*
 * fault_env.h - where librdv meets the faults the environment asks for
 * (RDV_FAULTS; fault-injection/runtime/env_install.c, compiled into
 * librdv). Internal: programs see only the effect.
 */
#ifndef RDV_FAULT_ENV_H
#define RDV_FAULT_ENV_H

#include <stddef.h>

#include "rdv/hooks.h"
#include "rdv/store.h"

/* Wraps *s in the fault store when RDV_FAULTS is set; leaves it alone
 * otherwise. RDV_OK, or an error with the reason in errbuf (a spec or
 * environment that does not parse) and *s untouched: the caller still
 * owns it. Thread-safe; the first call reads the environment. */
int rdv_fault_env_wrap(rdv_store **s, char *errbuf, size_t errlen);

/* The hooks a new context should use: the faults' hooks chained to
 * chain when RDV_FAULTS is set, else chain itself. */
const rdv_hooks *rdv_fault_env_hooks(const rdv_hooks *chain);

#endif
