/* Power-loss recorder for the power-cut harness (tests/it/power_cut.rs).
 *
 * SIGKILL alone cannot show what a real power cut loses: the kernel's page cache survives
 * a killed process. Loaded with LD_PRELOAD, this library journals every write, truncate,
 * unlink and fsync that the process makes to files under $POWERLOSS_DIR into the
 * append-only file $POWERLOSS_LOG. After the kill, the harness rebuilds each file as the
 * disk would hold it after a power cut in the worst case the kernel allows: only what an
 * fsync/fdatasync confirmed is kept; every later write is lost.
 *
 * Journal records: 1 byte op ('W' write, 'T' truncate, 'S' sync, 'U' unlink), u16 path
 * length, path, i64 offset (or length for 'T'), u32 data length, data. Little-endian.
 * A sync is journalled only after the real call succeeded, so the journal never claims
 * more durability than the disk gave.
 *
 * With $POWERLOSS_CUT_AT=N the power goes at a chosen point rather than a chosen moment:
 * the process kills itself (SIGKILL) when it is about to make its N-th watched write,
 * truncate, sync or unlink, which it therefore never makes. Where the cut lands is then a
 * matter of the operation count, not of how fast the machine runs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static const char *watched_dir(void) {
    static const char *dir;
    static int loaded;
    if (!loaded) {
        dir = getenv("POWERLOSS_DIR");
        loaded = 1;
    }
    return dir;
}

static int journal_fd(void) {
    static int fd = -2;
    if (fd == -2) {
        const char *path = getenv("POWERLOSS_LOG");
        fd = path ? (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    }
    return fd;
}

/* The path of fd if it lies under the watched directory. */
static int watched_path_of_fd(int fd, char *out, size_t size) {
    const char *dir = watched_dir();
    if (!dir) return 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, size - 1);
    if (n <= 0) return 0;
    out[n] = 0;
    /* A file already unlinked: whatever is written to it is lost anyway. */
    if (n > 10 && strcmp(out + n - 10, " (deleted)") == 0) return 0;
    size_t dir_len = strlen(dir);
    return strncmp(out, dir, dir_len) == 0 && (out[dir_len] == '/' || out[dir_len] == 0);
}

static int watched_path(const char *path, char *out, size_t size) {
    const char *dir = watched_dir();
    if (!dir || !path) return 0;
    (void)size;
    if (!realpath(path, out)) return 0;
    size_t dir_len = strlen(dir);
    return strncmp(out, dir, dir_len) == 0 && (out[dir_len] == '/' || out[dir_len] == 0);
}

static void journal(char op, const char *path, int64_t offset, const void *data, uint32_t len) {
    int fd = journal_fd();
    if (fd < 0) return;
    uint16_t path_len = (uint16_t)strlen(path);
    size_t total = 1 + 2 + path_len + 8 + 4 + len;
    unsigned char *record = malloc(total);
    if (!record) abort();
    unsigned char *p = record;
    *p++ = (unsigned char)op;
    memcpy(p, &path_len, 2); p += 2;
    memcpy(p, path, path_len); p += path_len;
    memcpy(p, &offset, 8); p += 8;
    memcpy(p, &len, 4); p += 4;
    if (len) memcpy(p, data, len);
    /* One write per record: a record is in the journal whole or not at all. */
    ssize_t written = syscall(SYS_write, fd, record, total);
    free(record);
    if (written != (ssize_t)total) abort();
}

/* Cuts the power before the N-th watched operation when $POWERLOSS_CUT_AT=N. */
static void cut_power_if_due(void) {
    static long limit = -1;
    static long operations;
    if (limit < 0) {
        const char *value = getenv("POWERLOSS_CUT_AT");
        limit = value ? atol(value) : 0;
    }
    if (limit <= 0) return;
    if (__atomic_add_fetch(&operations, 1, __ATOMIC_SEQ_CST) < limit) return;
    syscall(SYS_kill, syscall(SYS_getpid), SIGKILL);
    /* SIGKILL cannot be caught: this thread never reaches the operation. */
    for (;;) pause();
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*truncate_fn)(int, off_t);
typedef int (*sync_fn)(int);
typedef int (*unlink_fn)(const char *);

#define REAL(name, type) \
    static type real_##name; \
    if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write, write_fn);
    char path[PATH_MAX];
    if (!watched_path_of_fd(fd, path, sizeof path)) return real_write(fd, buf, count);
    cut_power_if_due();
    off_t offset = lseek(fd, 0, SEEK_CUR);
    if (fcntl(fd, F_GETFL) & O_APPEND) offset = lseek(fd, 0, SEEK_END);
    ssize_t n = real_write(fd, buf, count);
    if (n > 0) journal('W', path, offset, buf, (uint32_t)n);
    return n;
}

static ssize_t journalled_pwrite(pwrite_fn real, int fd, const void *buf,
                                 size_t count, off_t offset) {
    char path[PATH_MAX];
    int watched = watched_path_of_fd(fd, path, sizeof path);
    if (watched) cut_power_if_due();
    ssize_t n = real(fd, buf, count, offset);
    if (n > 0 && watched) journal('W', path, offset, buf, (uint32_t)n);
    return n;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    REAL(pwrite, pwrite_fn);
    return journalled_pwrite(real_pwrite, fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    REAL(pwrite64, pwrite_fn);
    return journalled_pwrite(real_pwrite64, fd, buf, count, offset);
}

static int journalled_truncate(truncate_fn real, int fd, off_t length) {
    char path[PATH_MAX];
    int watched = watched_path_of_fd(fd, path, sizeof path);
    if (watched) cut_power_if_due();
    int result = real(fd, length);
    if (result == 0 && watched) journal('T', path, length, NULL, 0);
    return result;
}

int ftruncate(int fd, off_t length) {
    REAL(ftruncate, truncate_fn);
    return journalled_truncate(real_ftruncate, fd, length);
}

int ftruncate64(int fd, off_t length) {
    REAL(ftruncate64, truncate_fn);
    return journalled_truncate(real_ftruncate64, fd, length);
}

static int journalled_sync(sync_fn real, int fd) {
    char path[PATH_MAX];
    int watched = watched_path_of_fd(fd, path, sizeof path);
    if (watched) cut_power_if_due();
    int result = real(fd);
    if (result == 0 && watched) journal('S', path, 0, NULL, 0);
    return result;
}

int fsync(int fd) {
    REAL(fsync, sync_fn);
    return journalled_sync(real_fsync, fd);
}

int fdatasync(int fd) {
    REAL(fdatasync, sync_fn);
    return journalled_sync(real_fdatasync, fd);
}

int unlink(const char *pathname) {
    REAL(unlink, unlink_fn);
    char path[PATH_MAX];
    int watched = watched_path(pathname, path, sizeof path);
    if (watched) cut_power_if_due();
    int result = real_unlink(pathname);
    if (result == 0 && watched) journal('U', path, 0, NULL, 0);
    return result;
}
