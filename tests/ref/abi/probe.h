/*
 * probe.h - the public header of the abi test's probe library, which
 * breaks the boundary on purpose: one function declared and defined
 * (but exported without a version node), one declared and never
 * defined, one defined and exported but declared nowhere (probe.c), a
 * static inline one (not an export), and one whose return type is a
 * function pointer (the name must still be found).
 */
#ifndef RDV_ABI_PROBE_H
#define RDV_ABI_PROBE_H

int rdv_probe_declared(int x);
int rdv_probe_missing(void);
int (*rdv_probe_picker(int which))(int);

static inline int rdv_probe_inline(void)
{
    return 7;
}

#endif
