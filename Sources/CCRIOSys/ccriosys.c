#define _GNU_SOURCE
#include "ccriosys.h"

#include <errno.h>
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

int crio_unix_connect(const char *path) {
    struct sockaddr_un addr;
    size_t len = strlen(path);
    if (len > sizeof(addr.sun_path) - 1) {
        return -ENAMETOOLONG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, len);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int crio_unix_listen(const char *path, unsigned int mode, int backlog) {
    struct sockaddr_un addr;
    size_t len = strlen(path);
    if (len > sizeof(addr.sun_path) - 1) {
        return -ENAMETOOLONG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, len);
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
