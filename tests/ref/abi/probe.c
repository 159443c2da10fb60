/*
 * probe.c - the abi test's probe library (see probe.h): built with
 * default visibility and no version script, so it leaks rdv_probe_extra
 * and versions nothing.
 */
#include "probe.h"

int rdv_probe_declared(int x)
{
    return x + rdv_probe_inline();
}

int (*rdv_probe_picker(int which))(int)
{
    return which ? rdv_probe_declared : 0;
}

int rdv_probe_extra(void)
{
    return 1;
}
