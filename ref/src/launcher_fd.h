/*
 * launcher_fd.h - an fd of shared memory that a launcher (rdv launch)
 * hands its ranks, named in an environment variable as FD:DEV:INODE:
 * RDV_FAULTS_FIRED_FD (fault-injection/runtime/env_install.c) and
 * RDV_CONTEXT_REPORT_FD (context_report.c).
 *
 * DEV:INODE tell the launcher's fd from whatever a process the rank
 * started has at that number: it inherits the variable, not always the
 * fd, and is not the rank, so it must leave the number alone.
 */
#ifndef RDV_LAUNCHER_FD_H
#define RDV_LAUNCHER_FD_H

#include <sys/stat.h>

/* value is the variable's text. 1 with *fd and *st set when it names an
 * open fd with that device and inode; 0 when value is NULL or the fd is
 * not that one (leave it alone); -1 when value is not FD:DEV:INODE. */
int rdv_launcher_fd(const char *value, int *fd, struct stat *st);

#endif
