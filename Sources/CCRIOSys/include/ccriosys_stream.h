#ifndef CCRIOSYS_STREAM_H
#define CCRIOSYS_STREAM_H

/* Descriptors for the streaming server: pseudo-terminals, processes with
 * given stdio, and sockets connected from inside a network namespace.
 * Every function returns -errno on failure. */

/* Opens a pseudo-terminal pair in raw mode, both ends close-on-exec. */
int crio_openpty(int *master, int *slave);

/* Sets the window size of the terminal `fd`. */
int crio_set_winsize(int fd, unsigned short rows, unsigned short cols);

/* Reads the window size of the terminal `fd`. */
int crio_get_winsize(int fd, unsigned short *rows, unsigned short *cols);

/* Starts `path` with `argv`/`envp` in a new session, with `in`, `out` and
 * `err` as its descriptors 0, 1 and 2 (all others closed). When `ctty` is
 * non-zero, `in` (a terminal) becomes its controlling terminal. Returns the
 * pid. */
int crio_spawn_stdio(const char *path, char *const argv[], char *const envp[], int in, int out, int err, int ctty);

/* Connects a SOCK_SEQPACKET unix socket to `name` inside directory `dir`
 * (through /proc/self/fd, so long directory paths work). */
int crio_seqpacket_connect(const char *dir, const char *name);

/* A TCP connection to localhost:`port` made from inside the network
 * namespace pinned at `netns_path` (NULL or "" for the host's). The
 * namespace switch happens on a short-lived thread of its own; the calling
 * thread never changes namespace. Tries 127.0.0.1, then ::1. */
int crio_netns_connect(const char *netns_path, int port);

#endif
