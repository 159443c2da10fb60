/*
 * cmake/sanitize_prefault.c - linked into every program of a sanitizer
 * build (RDV_SANITIZE; cmake/RdvSanitizePrefault.cmake), never into a
 * release one: at start-up, reads one byte of every page of every loaded
 * module's writable segments.
 *
 * Why: LeakSanitizer scans every module's globals at each process exit,
 * about 15 MB with GCC's runtimes (libasan's and libubsan's bss alone are
 * 11.7 MB), most of it never touched. A forked rank has no page table
 * entries for those pages, so each exit takes thousands of page faults,
 * the same ones in every rank; on this project's 2-core CI VM that was
 * about a third of the cost of a leak check. Read once here, in the
 * process that forks, the pages are mapped (to the zero page, for bss: no
 * memory is used) and every child inherits the entries. A process that
 * never forks loses nothing: its own exit would have faulted them in.
 *
 * The reads cross the redzones ASan puts around globals, hence
 * no_sanitize_address; volatile keeps the compiler from dropping them.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stddef.h>
#include <unistd.h>

__attribute__((no_sanitize_address)) static int
prefault_module(struct dl_phdr_info *info, size_t size, void *page_size)
{
    size_t step = *(size_t *)page_size;

    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        const volatile char *base;

        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        base = (const volatile char *)(info->dlpi_addr + ph->p_vaddr);
        for (size_t off = 0; off < ph->p_memsz; off += step)
            (void)base[off];
    }
    return 0;
}

__attribute__((constructor)) static void sanitize_prefault(void)
{
    size_t step = (size_t)sysconf(_SC_PAGESIZE);

    dl_iterate_phdr(prefault_module, &step);
}
