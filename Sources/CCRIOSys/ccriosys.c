#define _GNU_SOURCE
#include "ccriosys.h"

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <signal.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <string.h>
#include <sys/socket.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/un.h>
#include <unistd.h>

int crio_unix_path_max(void) {
    struct sockaddr_un addr;
    return (int)sizeof(addr.sun_path) - 1;
}

/* A unix socket address for `path`; -ENAMETOOLONG when it does not fit. */
static int unix_address(const char *path, struct sockaddr_un *addr) {
    size_t len = strlen(path);
    if (len > sizeof(addr->sun_path) - 1) {
        return -ENAMETOOLONG;
    }
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, path, len);
    return 0;
}

int crio_unix_connect(const char *path) {
    struct sockaddr_un addr;
    int rc = unix_address(path, &addr);
    if (rc < 0) {
        return rc;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int crio_unix_listen(const char *path, unsigned int mode, int backlog) {
    struct sockaddr_un addr;
    int rc = unix_address(path, &addr);
    if (rc < 0) {
        return rc;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    if (chmod(path, (mode_t)mode) < 0 || listen(fd, backlog) < 0) {
        int err = errno;
        close(fd);
        unlink(path);
        return -err;
    }
    return fd;
}

int crio_fsetxattr(int fd, const char *name, const void *value, unsigned long size) {
    return fsetxattr(fd, name, value, (size_t)size, 0) < 0 ? -errno : 0;
}

int crio_lsetxattrat(int dirfd, const char *entry, const char *name, const void *value,
                     unsigned long size) {
    if (strchr(entry, '/') != NULL || strcmp(entry, "..") == 0) {
        return -EINVAL;
    }
    char path[64 + 256];
    int n = snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, entry);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return -ENAMETOOLONG;
    }
    return lsetxattr(path, name, value, (size_t)size, 0) < 0 ? -errno : 0;
}

long crio_lgetxattr(const char *path, const char *name, void *value, unsigned long size) {
    ssize_t n = lgetxattr(path, name, value, (size_t)size);
    return n < 0 ? -errno : (long)n;
}

long crio_llistxattr(const char *path, char *list, unsigned long size) {
    ssize_t n = llistxattr(path, list, (size_t)size);
    return n < 0 ? -errno : (long)n;
}

int crio_mknodat(int dirfd, const char *entry, unsigned int mode, unsigned int major,
                 unsigned int minor) {
    return mknodat(dirfd, entry, (mode_t)mode, makedev(major, minor)) < 0 ? -errno : 0;
}

unsigned int crio_dev_major(unsigned long long dev) {
    return major((dev_t)dev);
}

unsigned int crio_dev_minor(unsigned long long dev) {
    return minor((dev_t)dev);
}

/* Writes `value` to /proc/sys/<key with dots as slashes>. Async-signal-safe. */
static int write_sysctl(const char *key, const char *value) {
    char path[512];
    size_t prefix = sizeof("/proc/sys/") - 1;
    size_t len = strlen(key);
    if (prefix + len + 1 > sizeof(path)) {
        return -ENAMETOOLONG;
    }
    memcpy(path, "/proc/sys/", prefix);
    for (size_t i = 0; i < len; i++) {
        path[prefix + i] = key[i] == '.' ? '/' : key[i];
    }
    path[prefix + len] = '\0';
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    size_t vlen = strlen(value);
    ssize_t n = write(fd, value, vlen);
    int err = n < 0 ? -errno : ((size_t)n == vlen ? 0 : -EIO);
    close(fd);
    return err;
}

int crio_pin_namespaces(int flags, const char *net_path, const char *ipc_path, const char *uts_path,
                        const char *hostname, const char *const *sysctl_keys,
                        const char *const *sysctl_values, int sysctl_count, char *error,
                        unsigned long error_size) {
    /* The child reports failure as (step << 16) | errno through a pipe. */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(error, error_size, "pipe: %s", strerror(errno));
        return -errno;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        snprintf(error, error_size, "fork: %s", strerror(err));
        return -err;
    }
    if (pid == 0) {
        close(fds[0]);
        int report = 0;
        int unshare_flags = ((flags & CRIO_PIN_NET) ? CLONE_NEWNET : 0) |
                            ((flags & CRIO_PIN_IPC) ? CLONE_NEWIPC : 0) |
                            ((flags & CRIO_PIN_UTS) ? CLONE_NEWUTS : 0);
        if (unshare(unshare_flags) < 0) {
            report = (1 << 16) | errno;
        } else if ((flags & CRIO_PIN_UTS) && hostname != NULL && hostname[0] != '\0' &&
                   sethostname(hostname, strlen(hostname)) < 0) {
            report = (2 << 16) | errno;
        } else {
            for (int i = 0; i < sysctl_count && report == 0; i++) {
                int rc = write_sysctl(sysctl_keys[i], sysctl_values[i]);
                if (rc < 0) {
                    report = ((16 + i) << 16) | -rc;
                }
            }
            if (report == 0 && (flags & CRIO_PIN_NET) && mount("/proc/self/ns/net", net_path, NULL, MS_BIND, NULL) < 0) {
                report = (3 << 16) | errno;
            }
            if (report == 0 && (flags & CRIO_PIN_IPC) && mount("/proc/self/ns/ipc", ipc_path, NULL, MS_BIND, NULL) < 0) {
                report = (4 << 16) | errno;
            }
            if (report == 0 && (flags & CRIO_PIN_UTS) && mount("/proc/self/ns/uts", uts_path, NULL, MS_BIND, NULL) < 0) {
                report = (5 << 16) | errno;
            }
        }
        if (report != 0) {
            ssize_t ignored = write(fds[1], &report, sizeof(report));
            (void)ignored;
        }
        _exit(report == 0 ? 0 : 1);
    }
    close(fds[1]);
    int report = 0;
    ssize_t n;
    do {
        n = read(fds[0], &report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (n == (ssize_t)sizeof(report) && report != 0) {
        int step = report >> 16;
        int err = report & 0xffff;
        const char *what = step == 1 ? "unshare" : step == 2 ? "sethostname" : step == 3 ? "pin network namespace"
                         : step == 4 ? "pin IPC namespace" : step == 5 ? "pin UTS namespace" : "set sysctl";
        if (step >= 16) {
            snprintf(error, error_size, "%s %s: %s", what, sysctl_keys[step - 16], strerror(err));
        } else {
            snprintf(error, error_size, "%s: %s", what, strerror(err));
        }
        /* A later step failed after earlier pins were mounted: undo them. */
        if (flags & CRIO_PIN_NET) umount2(net_path, MNT_DETACH);
        if (flags & CRIO_PIN_IPC) umount2(ipc_path, MNT_DETACH);
        if (flags & CRIO_PIN_UTS) umount2(uts_path, MNT_DETACH);
        return -err;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(error, error_size, "namespace helper died");
        return -ECHILD;
    }
    return 0;
}

int crio_mount_tmpfs(const char *path, unsigned long long size_bytes, unsigned int mode) {
    char options[64];
    snprintf(options, sizeof(options), "mode=%o,size=%llu", mode, size_bytes);
    if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) < 0) {
        return -errno;
    }
    return 0;
}

int crio_unmount(const char *path) {
    return umount2(path, MNT_DETACH) < 0 ? -errno : 0;
}

long long crio_fs_type(const char *path) {
    struct statfs st;
    if (statfs(path, &st) < 0) {
        return -errno;
    }
    return (long long)st.f_type;
}

int crio_spawn_with_fds(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds) {
    return crio_spawn_with_fds_in(NULL, path, argv, envp, fds, nfds);
}

int crio_spawn_with_fds_in(const char *directory, const char *path, char *const argv[], char *const envp[],
                           const int *fds, int nfds) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return -rc;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    if (directory != NULL) {
        /* conmon writes some files (its "oom" marker) relative to its working directory. */
        posix_spawn_file_actions_addchdir_np(&actions, directory);
    }
#endif
    for (int i = 0; i < nfds; i++) {
        /* dup2 clears close-on-exec on the new descriptor. */
        posix_spawn_file_actions_adddup2(&actions, fds[i], 3 + i);
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Nothing else: conmon outlives crio, and a descriptor crio inherited
     * without close-on-exec (a parent's pipe or socket) must not stay open
     * in it, or whoever waits for that descriptor's end waits forever. */
    posix_spawn_file_actions_addclosefrom_np(&actions, 3 + nfds);
#endif
    pid_t pid = 0;
    rc = posix_spawn(&pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc == 0 ? (int)pid : -rc;
}

int crio_spawn_piped(const char *path, char *const argv[], char *const envp[], int in, int out, int err) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return -rc;
    posix_spawnattr_init(&attr);
    /* The daemon's threads block signals and ignore SIGPIPE: none of that
     * may reach a helper (or, through runc exec, a container's process). */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    /* Moved above 2 first, so the dup2s below cannot clobber one another's
     * source (a caller's descriptor may itself be 0, 1 or 2). The copies
     * are closed by closefrom, or (older glibc) were close-on-exec. */
    int fds[3] = {in, out, err};
    int moved[3];
    for (int i = 0; i < 3; i++) {
        moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        if (moved[i] < 0) {
            int e = errno;
            for (int j = 0; j < i; j++) close(moved[j]);
            posix_spawn_file_actions_destroy(&actions);
            posix_spawnattr_destroy(&attr);
            return -e;
        }
    }
    for (int i = 0; i < 3; i++) {
        posix_spawn_file_actions_adddup2(&actions, moved[i], i);
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    pid_t pid = 0;
    rc = posix_spawn(&pid, path, &actions, &attr, argv, envp);
    for (int i = 0; i < 3; i++) close(moved[i]);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc == 0 ? (int)pid : -rc;
}

long crio_write_all_nosigpipe(int fd, const void *buffer, unsigned long length) {
    /* A reader that is gone raises SIGPIPE for this thread: keep it blocked
     * while writing and take it back, so it neither kills the daemon nor
     * stays pending. */
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    const char *bytes = buffer;
    unsigned long done = 0;
    long result = 0;
    while (done < length) {
        ssize_t n = write(fd, bytes + done, length - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            result = -errno;
            break;
        }
        done += (unsigned long)n;
    }
    if (result == -EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return result < 0 ? result : (long)done;
}

int crio_pidfd_open(int pid) {
    long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int crio_pidfd_send_signal(int pidfd, int sig) {
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int crio_wait_readable(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        return n > 0 ? 1 : 0;
    }
}

int crio_mount_overlay(const char *lowerdirs, const char *upperdir, const char *workdir, const char *target) {
    size_t len = strlen(lowerdirs) + strlen(upperdir) + strlen(workdir) + 64;
    char *options = malloc(len);
    if (options == NULL) return -ENOMEM;
    snprintf(options, len, "lowerdir=%s,upperdir=%s,workdir=%s", lowerdirs, upperdir, workdir);
    int rc = mount("overlay", target, "overlay", 0, options);
    int err = errno;
    free(options);
    return rc < 0 ? -err : 0;
}

int crio_mount_overlay_readonly(const char *lowerdirs, const char *target) {
    size_t len = strlen(lowerdirs) + 32;
    char *options = malloc(len);
    if (options == NULL) return -ENOMEM;
    snprintf(options, len, "lowerdir=%s", lowerdirs);
    int rc = mount("overlay", target, "overlay", MS_RDONLY, options);
    int err = errno;
    free(options);
    return rc < 0 ? -err : 0;
}

int crio_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

/* ---- user namespaces ---- */

#include <sys/syscall.h>
#include <stdint.h>

#ifndef CRIO_MOUNT_ATTR_IDMAP
#define CRIO_MOUNT_ATTR_IDMAP 0x00100000
#endif
#define CRIO_OPEN_TREE_CLONE 1
#define CRIO_AT_RECURSIVE 0x8000
#define CRIO_MOVE_MOUNT_F_EMPTY_PATH 0x00000004

struct crio_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

static int read_full(int fd, void *buf, size_t len) {
    ssize_t n;
    do {
        n = read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return (int)n;
}

static int write_proc_file(pid_t pid, const char *name, const char *content) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t len = strlen(content);
    ssize_t n = write(fd, content, len);
    int err = n < 0 ? -errno : ((size_t)n == len ? 0 : -EIO);
    close(fd);
    return err;
}

static int bind_ns(pid_t pid, const char *kind, const char *target) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kind);
    return mount(path, target, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
}

int crio_pin_userns_namespaces(const char *user_path, const char *uid_map, const char *gid_map, int flags,
                               const char *net_path, const char *ipc_path, const char *uts_path,
                               const char *hostname, const char *const *sysctl_keys,
                               const char *const *sysctl_values, int sysctl_count, char *error,
                               unsigned long error_size) {
    /* status: child -> parent ((step << 16) | errno, 0 for "done");
     * control: parent -> child (one byte: go on; end of file: exit). */
    int status_fds[2], control_fds[2];
    if (pipe2(status_fds, O_CLOEXEC) < 0) {
        snprintf(error, error_size, "pipe: %s", strerror(errno));
        return -errno;
    }
    if (pipe2(control_fds, O_CLOEXEC) < 0) {
        int err = errno;
        close(status_fds[0]);
        close(status_fds[1]);
        snprintf(error, error_size, "pipe: %s", strerror(err));
        return -err;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(status_fds[0]);
        close(status_fds[1]);
        close(control_fds[0]);
        close(control_fds[1]);
        snprintf(error, error_size, "fork: %s", strerror(err));
        return -err;
    }
    if (pid == 0) {
        close(status_fds[0]);
        close(control_fds[1]);
        int report = 0;
        char go = 0;
        if (unshare(CLONE_NEWUSER) < 0) {
            report = (1 << 16) | errno;
            ssize_t ignored = write(status_fds[1], &report, sizeof(report));
            (void)ignored;
            _exit(1);
        }
        ssize_t ignored = write(status_fds[1], &report, sizeof(report));
        (void)ignored;
        if (read_full(control_fds[0], &go, 1) != 1) _exit(1);
        int unshare_flags = ((flags & CRIO_PIN_NET) ? CLONE_NEWNET : 0) |
                            ((flags & CRIO_PIN_IPC) ? CLONE_NEWIPC : 0) |
                            ((flags & CRIO_PIN_UTS) ? CLONE_NEWUTS : 0);
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
            report = (6 << 16) | errno;
        } else if (unshare_flags != 0 && unshare(unshare_flags) < 0) {
            report = (1 << 16) | errno;
        } else if ((flags & CRIO_PIN_UTS) && hostname != NULL && hostname[0] != '\0' &&
                   sethostname(hostname, strlen(hostname)) < 0) {
            report = (2 << 16) | errno;
        } else {
            for (int i = 0; i < sysctl_count && report == 0; i++) {
                int rc = write_sysctl(sysctl_keys[i], sysctl_values[i]);
                if (rc < 0) report = ((16 + i) << 16) | -rc;
            }
        }
        ignored = write(status_fds[1], &report, sizeof(report));
        (void)ignored;
        /* Stay alive (so the parent can pin the namespaces) until the parent closes the control pipe. */
        read_full(control_fds[0], &go, 1);
        _exit(report == 0 ? 0 : 1);
    }
    close(status_fds[1]);
    close(control_fds[0]);
    int report = 0;
    int err = 0;
    const char *what = NULL;
    if (read_full(status_fds[0], &report, sizeof(report)) != (int)sizeof(report)) {
        err = ECHILD;
        what = "user namespace helper died";
    } else if (report != 0) {
        err = report & 0xffff;
        what = "unshare user namespace";
    } else {
        int rc = write_proc_file(pid, "uid_map", uid_map);
        if (rc == 0) rc = write_proc_file(pid, "gid_map", gid_map);
        if (rc < 0) {
            err = -rc;
            what = "write the user namespace's ID mappings";
        } else {
            char go = 1;
            ssize_t ignored = write(control_fds[1], &go, 1);
            (void)ignored;
            if (read_full(status_fds[0], &report, sizeof(report)) != (int)sizeof(report)) {
                err = ECHILD;
                what = "namespace helper died";
            } else if (report != 0) {
                int step = report >> 16;
                err = report & 0xffff;
                what = step == 1 ? "unshare" : step == 2 ? "sethostname" : step == 6 ? "become root in the user namespace"
                     : "set sysctl";
                if (step >= 16) {
                    snprintf(error, error_size, "%s %s: %s", what, sysctl_keys[step - 16], strerror(err));
                    what = NULL;
                }
            } else {
                int mounted = 0;
                if (user_path != NULL && user_path[0] != '\0') {
                    rc = bind_ns(pid, "user", user_path);
                    if (rc < 0) { err = -rc; what = "pin user namespace"; } else mounted |= 8;
                }
                if (err == 0 && (flags & CRIO_PIN_NET)) {
                    rc = bind_ns(pid, "net", net_path);
                    if (rc < 0) { err = -rc; what = "pin network namespace"; } else mounted |= CRIO_PIN_NET;
                }
                if (err == 0 && (flags & CRIO_PIN_IPC)) {
                    rc = bind_ns(pid, "ipc", ipc_path);
                    if (rc < 0) { err = -rc; what = "pin IPC namespace"; } else mounted |= CRIO_PIN_IPC;
                }
                if (err == 0 && (flags & CRIO_PIN_UTS)) {
                    rc = bind_ns(pid, "uts", uts_path);
                    if (rc < 0) { err = -rc; what = "pin UTS namespace"; } else mounted |= CRIO_PIN_UTS;
                }
                if (err != 0) {
                    if (mounted & 8) umount2(user_path, MNT_DETACH);
                    if (mounted & CRIO_PIN_NET) umount2(net_path, MNT_DETACH);
                    if (mounted & CRIO_PIN_IPC) umount2(ipc_path, MNT_DETACH);
                    if (mounted & CRIO_PIN_UTS) umount2(uts_path, MNT_DETACH);
                }
            }
        }
    }
    close(control_fds[1]);
    close(status_fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (err != 0) {
        if (what != NULL) snprintf(error, error_size, "%s: %s", what, strerror(err));
        return -err;
    }
    return 0;
}

int crio_idmap_mount(const char *source, const char *target, const char *userns_path, int recursive, int propagation) {
    int userns = open(userns_path, O_RDONLY | O_CLOEXEC);
    if (userns < 0) return -errno;
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source,
                            CRIO_OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? CRIO_AT_RECURSIVE : 0));
    if (tree < 0) {
        int err = errno;
        close(userns);
        return -err;
    }
    struct crio_mount_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.attr_set = CRIO_MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns;
    attr.propagation = propagation == CRIO_IDMAP_PRIVATE ? MS_PRIVATE : propagation == CRIO_IDMAP_SLAVE ? MS_SLAVE : 0;
    int rc = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? CRIO_AT_RECURSIVE : 0), &attr,
                          sizeof(attr));
    int err = rc < 0 ? errno : 0;
    close(userns);
    if (rc == 0) {
        rc = (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, target, CRIO_MOVE_MOUNT_F_EMPTY_PATH);
        if (rc < 0) err = errno;
    }
    close(tree);
    return err != 0 ? -err : 0;
}

/* The state letter of /proc/<pid>/stat (after the command's closing paren),
 * or 0 when the process is gone. */
static char crio_process_state(int pid) {
  char path[64], buffer[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  if (n <= 0) return 0;
  buffer[n] = 0;
  char *end = strrchr(buffer, ')');
  if (!end || end[1] != ' ' || !end[2]) return 0;
  return end[2];
}

int crio_runc_exec_fifo_start(const char *fifo_path, int pid, int timeout_ms) {
  struct stat st;
  if (lstat(fifo_path, &st) != 0) return -errno;
  if (!S_ISFIFO(st.st_mode)) return -EINVAL;
  /* Non-blocking: the open succeeds at once, and the writer's blocked open
   * completes because a reader now exists. Until a writer has connected,
   * poll reports nothing (no POLLHUP) on a fifo opened this way. */
  int fd = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  char buffer[16];
  long total = 0;
  int waited = 0;
  int result = 0;
  for (;;) {
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    int ready = poll(&entry, 1, 5);
    if (ready < 0) {
      if (errno == EINTR) continue;
      result = -errno;
      break;
    }
    if (ready > 0) {
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n > 0) { total += n; continue; }
      if (n == 0) break; /* the writer closed its end (exec'd) */
      if (errno == EAGAIN || errno == EINTR) continue;
      result = -errno;
      break;
    }
    char state = crio_process_state(pid);
    if (state == 0 || state == 'Z' || state == 'X') {
      /* Died, or ran and exited between two polls: take what it wrote. */
      ssize_t n;
      while ((n = read(fd, buffer, sizeof buffer)) > 0) total += n;
      if (total == 0) result = -ESRCH;
      break;
    }
    waited += 5;
    if (timeout_ms >= 0 && waited >= timeout_ms) { result = -ETIMEDOUT; break; }
  }
  close(fd);
  if (result != 0) return result;
  if (total == 0) return -EALREADY;
  if (unlink(fifo_path) != 0 && errno != ENOENT) return -errno;
  return 0;
}
