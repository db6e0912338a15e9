#define _GNU_SOURCE
#include "CShim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). The PFN is hidden
// without CAP_SYS_ADMIN; these flags are not.
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PAGEMAP_FILE_OR_SHARED_ANON (1ULL << 61)
#define PAGE 4096UL

// Whether the page may be dropped: anything but a private copy (a copy-on-write page, present
// or swapped out), whose contents exist nowhere else.
static int droppable(uint64_t entry) {
    if (entry & PAGEMAP_SWAPPED) return 0;
    return !(entry & PAGEMAP_PRESENT) || (entry & PAGEMAP_FILE_OR_SHARED_ANON);
}

// Every call below is syscall(2): after the code's own pages are dropped, each other libc
// function called would be mapped again with its 64 KiB neighbourhood.
static void drop_range(int pagemap, unsigned long start, unsigned long end) {
    uint64_t entries[512];
    unsigned long address = start;
    while (address < end) {
        unsigned long count = (end - address) / PAGE;
        if (count > 512) count = 512;
        long got = syscall(SYS_pread64, pagemap, entries, count * sizeof(uint64_t), (long)(address / PAGE * sizeof(uint64_t)));
        if (got <= 0) return;
        count = (unsigned long)got / sizeof(uint64_t);
        // Runs of droppable pages, one madvise each.
        unsigned long index = 0;
        while (index < count) {
            if (!droppable(entries[index])) { index++; continue; }
            unsigned long first = index;
            while (index < count && droppable(entries[index])) index++;
            syscall(SYS_madvise, address + first * PAGE, (index - first) * PAGE, MADV_DONTNEED);
        }
        address += count * PAGE;
    }
}

int berth_drop_pages_and_poll(const unsigned long *starts, const unsigned long *ends, int count,
                              struct pollfd *fds, unsigned long nfds, int timeout) {
    int pagemap = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pagemap >= 0) {
        // Between reading a page's entry and dropping it nothing may write to the page (a write
        // would make a private copy that MADV_DONTNEED then discards): this code writes only its
        // stack and errno, and with signals blocked no handler runs in between. The caller has
        // a single thread. The kernel's sigset is 8 bytes.
        sigset_t all, saved;
        sigfillset(&all);
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, 8);
        for (int i = 0; i < count; i++) drop_range(pagemap, starts[i], ends[i]);
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, 8);
        syscall(SYS_close, pagemap);
    }
    return (int)syscall(SYS_poll, fds, nfds, timeout);
}
