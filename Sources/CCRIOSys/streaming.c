#define _GNU_SOURCE
#include "ccriosys_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int crio_openpty(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    char name[128];
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0) {
        int err = errno;
        close(m);
        return -err;
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int err = errno;
        close(m);
        return -err;
    }
    /* Raw: this terminal only relays bytes to the runtime, whose own
     * terminal in the container does the line discipline. Translating or
     * echoing here too would double CRs and echo early input. */
    struct termios attrs;
    if (tcgetattr(s, &attrs) == 0) {
        cfmakeraw(&attrs);
        tcsetattr(s, TCSANOW, &attrs);
    }
    *master = m;
    *slave = s;
    return 0;
}

int crio_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize size;
    memset(&size, 0, sizeof(size));
    size.ws_row = rows;
    size.ws_col = cols;
    return ioctl(fd, TIOCSWINSZ, &size) < 0 ? -errno : 0;
}

int crio_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) < 0) return -errno;
    *rows = size.ws_row;
    *cols = size.ws_col;
    return 0;
}

int crio_spawn_stdio(const char *path, char *const argv[], char *const envp[], int in, int out, int err, int ctty) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        return -e;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here on. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
        setsid();
        if (ctty && ioctl(in, TIOCSCTTY, 0) < 0) goto fail;
        /* Move the descriptors out of 0..2 first, so dup2 cannot clobber one
         * another's source. */
        int fds[3] = {in, out, err};
        for (int i = 0; i < 3; i++) {
            int moved = fcntl(fds[i], F_DUPFD, 3);
            if (moved < 0) goto fail;
            fds[i] = moved;
        }
        for (int i = 0; i < 3; i++) {
            if (dup2(fds[i], i) < 0) goto fail;
        }
        /* Everything else closes on exec (the report pipe already does). */
        if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) {
            for (int fd = 3; fd < 4096; fd++) {
                if (fd != report[1]) close(fd);
            }
        }
        execve(path, argv, envp);
    fail:;
        int e = errno;
        ssize_t ignored = write(report[1], &e, sizeof(e));
        (void)ignored;
        _exit(127);
    }
    close(report[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(report[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == sizeof(child_errno)) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return -child_errno;
    }
    return (int)pid;
}

int crio_seqpacket_connect(const char *dir, const char *name) {
    int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return -errno;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    int len = snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
    if (len < 0 || (size_t)len >= sizeof(addr.sun_path)) {
        close(dirfd);
        return -ENAMETOOLONG;
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        close(dirfd);
        return -e;
    }
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
    int e = errno;
    close(dirfd);
    if (rc < 0) {
        close(fd);
        return -e;
    }
    return fd;
}

struct netns_dial {
    const char *netns_path;
    int port;
    int result;
};

static int dial_localhost(int port) {
    struct sockaddr_in v4;
    memset(&v4, 0, sizeof(v4));
    v4.sin_family = AF_INET;
    v4.sin_port = htons((unsigned short)port);
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&v4, sizeof(v4)) == 0) return fd;
    int e = errno;
    close(fd);
    struct sockaddr_in6 v6;
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons((unsigned short)port);
    v6.sin6_addr = in6addr_loopback;
    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -e;
    if (connect(fd, (struct sockaddr *)&v6, sizeof(v6)) == 0) return fd;
    close(fd);
    return -e;
}

static void *netns_dial_thread(void *arg) {
    struct netns_dial *dial = arg;
    int nsfd = open(dial->netns_path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
        dial->result = -errno;
        return NULL;
    }
    /* setns(CLONE_NEWNET) changes this thread only; it ends right after. */
    if (setns(nsfd, CLONE_NEWNET) < 0) {
        dial->result = -errno;
        close(nsfd);
        return NULL;
    }
    close(nsfd);
    dial->result = dial_localhost(dial->port);
    return NULL;
}

int crio_netns_connect(const char *netns_path, int port) {
    if (netns_path == NULL || netns_path[0] == '\0') return dial_localhost(port);
    struct netns_dial dial = {netns_path, port, -EINVAL};
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, netns_dial_thread, &dial);
    if (rc != 0) return -rc;
    pthread_join(thread, NULL);
    return dial.result;
}
