#define _GNU_SOURCE
#include "ccriosys_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct netns_read {
    const char *netns_path;
    const char *name;
    char *buf;
    unsigned long size;
    long result;
};

static void *netns_read_thread(void *arg) {
    struct netns_read *req = arg;
    int nsfd = open(req->netns_path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
        req->result = -errno;
        return NULL;
    }
    /* setns(CLONE_NEWNET) changes this thread only; it ends right after. */
    if (setns(nsfd, CLONE_NEWNET) < 0) {
        req->result = -errno;
        close(nsfd);
        return NULL;
    }
    close(nsfd);
    /* /proc/<pid>/task/<tid>/net shows the namespace of that thread. */
    char path[128];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/net/%s", (long)syscall(SYS_gettid), req->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        req->result = -errno;
        return NULL;
    }
    unsigned long used = 0;
    while (used < req->size) {
        ssize_t n = read(fd, req->buf + used, req->size - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            req->result = -errno;
            close(fd);
            return NULL;
        }
        if (n == 0) break;
        used += (unsigned long)n;
    }
    close(fd);
    req->result = (long)used;
    return NULL;
}

long crio_netns_read_proc_net(const char *netns_path, const char *name, char *buf, unsigned long size) {
    if (netns_path == NULL || name == NULL || strchr(name, '/') != NULL) return -EINVAL;
    struct netns_read req = {netns_path, name, buf, size, -EINVAL};
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, netns_read_thread, &req);
    if (rc != 0) return -rc;
    pthread_join(thread, NULL);
    return req.result;
}
