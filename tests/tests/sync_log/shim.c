/*
 * LD_PRELOAD shim for the crash test: logs, in order, every write to a
 * SQLite WAL file, every fsync/fdatasync of one, and every write to
 * stdout (the crash writer's acknowledgements), one line each, to the
 * file named by PP_SYNC_LOG. The test then checks that no
 * acknowledgement was printed while a WAL write was still unsynced —
 * which SIGKILL alone cannot show, since the page cache survives it.
 *
 * Lines: "wal-write", "wal-sync", "ack" (writes are logged just before
 * they happen, syncs once they succeeded). Logging uses the raw syscall,
 * so it never re-enters the hooks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int log_fd = -1;

__attribute__((constructor)) static void pp_sync_log_init(void) {
    const char *path = getenv("PP_SYNC_LOG");
    if (path != NULL) {
        log_fd = (int)syscall(SYS_openat, AT_FDCWD, path,
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
}

static void note(const char *line) {
    if (log_fd >= 0) {
        syscall(SYS_write, log_fd, line, strlen(line));
    }
}

/* Whether `fd` is open on a file whose name ends in "-wal". */
static int is_wal(int fd) {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 4) {
        return 0;
    }
    target[n] = '\0';
    return strcmp(target + n - 4, "-wal") == 0;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*sync_fn)(int);

static void *real(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) {
        abort();
    }
    return f;
}

/* Logged before the write happens: an acknowledgement must not reach the
 * reader before the log does (the process may be killed right after),
 * and a write logged but never done only makes the check stricter. */
static void before_write(int fd) {
    if (fd == 1) {
        note("ack\n");
    } else if (is_wal(fd)) {
        note("wal-write\n");
    }
}

ssize_t write(int fd, const void *buf, size_t count) {
    static write_fn f = NULL;
    if (f == NULL) f = (write_fn)real("write");
    before_write(fd);
    return f(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    static pwrite_fn f = NULL;
    if (f == NULL) f = (pwrite_fn)real("pwrite");
    before_write(fd);
    return f(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    static pwrite_fn f = NULL;
    if (f == NULL) f = (pwrite_fn)real("pwrite64");
    before_write(fd);
    return f(fd, buf, count, offset);
}

int fsync(int fd) {
    static sync_fn f = NULL;
    if (f == NULL) f = (sync_fn)real("fsync");
    int r = f(fd);
    if (r == 0 && is_wal(fd)) {
        note("wal-sync\n");
    }
    return r;
}

int fdatasync(int fd) {
    static sync_fn f = NULL;
    if (f == NULL) f = (sync_fn)real("fdatasync");
    int r = f(fd);
    if (r == 0 && is_wal(fd)) {
        note("wal-sync\n");
    }
    return r;
}
