#ifndef CCRIOSYS_H
#define CCRIOSYS_H

/* Small syscall wrappers that are awkward or missing in Swift's Glibc module.
 * Plain prototypes only; feature macros live in the .c file. */

/* Connects a SOCK_STREAM unix socket to `path`. Returns the connected fd, or
 * -errno on failure (-ENAMETOOLONG when the path does not fit sun_path). */
int crio_unix_connect(const char *path);

/* The longest path a unix socket address can hold (sizeof sun_path - 1). */
int crio_unix_path_max(void);

/* Creates a listening SOCK_STREAM unix socket at `path` (which must not
 * exist) and sets the socket file's mode to `mode` before listening, so no
 * client can connect while it is more open. Returns the fd, or -errno. */
int crio_unix_listen(const char *path, unsigned int mode, int backlog);

#endif
