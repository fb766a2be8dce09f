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

/* Extended attributes (Swift's Glibc module lacks <sys/xattr.h>). Each
 * returns 0 or -errno. */

/* Sets attribute `name` on the file `fd` is open on. */
int crio_fsetxattr(int fd, const char *name, const void *value, unsigned long size);

/* Sets attribute `name` on the entry `entry` (one path component) of the
 * directory `dirfd` is open on, without following `entry` if it is a symlink
 * (through /proc/self/fd, so nothing above `dirfd` is resolved again). */
int crio_lsetxattrat(int dirfd, const char *entry, const char *name, const void *value,
                     unsigned long size);

/* Reads attribute `name` of `path` without following a final symlink into
 * `value` (`size` bytes). Returns its length, or -errno (-ERANGE when `size`
 * is too small; size 0 asks for the length only). */
long crio_lgetxattr(const char *path, const char *name, void *value, unsigned long size);

/* Lists the attribute names of `path` (not following a final symlink) into
 * `list` as NUL-separated names. Returns the length used, or -errno. */
long crio_llistxattr(const char *path, char *list, unsigned long size);

/* Creates a device node or fifo `entry` in the directory `dirfd` is open on:
 * mknodat(dirfd, entry, mode, makedev(major, minor)). Returns 0 or -errno. */
int crio_mknodat(int dirfd, const char *entry, unsigned int mode, unsigned int major,
                 unsigned int minor);

/* The major and minor numbers of a device number (st_rdev). */
unsigned int crio_dev_major(unsigned long long dev);
unsigned int crio_dev_minor(unsigned long long dev);

/* Namespaces to pin, for crio_pin_namespaces. */
#define CRIO_PIN_NET 1
#define CRIO_PIN_IPC 2
#define CRIO_PIN_UTS 4

/* Creates new network, IPC and/or UTS namespaces (as `flags` says) in a
 * forked child and bind-mounts each onto its path (an existing empty file),
 * so the namespaces live on without any process. In the new UTS namespace
 * the host name is set to `hostname`; each of the `sysctl_count` pairs in
 * `sysctl_keys`/`sysctl_values` ("net.ipv4.ip_forward", "1") is written to
 * /proc/sys inside the new namespaces. The child makes only raw system calls,
 * so this is safe from a multi-threaded process. Returns 0, or a negative
 * errno from the step that failed (then nothing is left mounted), with a
 * description of the step in `error` (size `error_size`). */
int crio_pin_namespaces(int flags, const char *net_path, const char *ipc_path, const char *uts_path,
                        const char *hostname, const char *const *sysctl_keys,
                        const char *const *sysctl_values, int sysctl_count, char *error,
                        unsigned long error_size);

/* Mounts a tmpfs of `size_bytes` with `mode` at `path` (nosuid, nodev, noexec).
 * Returns 0 or -errno. */
int crio_mount_tmpfs(const char *path, unsigned long long size_bytes, unsigned int mode);

/* Detaches whatever is mounted at `path` (MNT_DETACH). Returns 0 or -errno
 * (-EINVAL when nothing is mounted there). */
int crio_unmount(const char *path);

/* The filesystem type (statfs f_type) of `path`, or -errno. */
long long crio_fs_type(const char *path);

/* Starts `path` with `argv` and `envp` (NULL-terminated), with `fds[i]`
 * given to the child as descriptor 3 + i, stdin/stdout/stderr on /dev/null,
 * in a new session, and no other descriptor. Returns the child's pid, or -errno. */
int crio_spawn_with_fds(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds);
/* The same, started in `directory` (NULL: the caller's working directory). */
int crio_spawn_with_fds_in(const char *directory, const char *path, char *const argv[], char *const envp[],
                           const int *fds, int nfds);

/* Starts `path` with `argv` and `envp` (NULL-terminated), with `in`, `out`
 * and `err` as its descriptors 0, 1 and 2 and no other descriptor, an empty
 * signal mask and every signal at its default disposition (posix_spawn with
 * POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF; glibc's own signals 32
 * and 33, which no program can use through glibc, stay ignored, as glibc's
 * posix_spawn leaves them in every child). Same session as the caller.
 * Returns the child's pid, or -errno (an exec failure included). */
int crio_spawn_piped(const char *path, char *const argv[], char *const envp[], int in, int out, int err);

/* Writes all `length` bytes to `fd` (retrying short writes and EINTR) with
 * SIGPIPE blocked in the calling thread; a SIGPIPE the write raised is
 * consumed. Returns the bytes written, or -errno (-EPIPE: no reader). */
long crio_write_all_nosigpipe(int fd, const void *buffer, unsigned long length);

/* pidfd_open(pid, 0): a descriptor that names the process `pid` is now,
 * whatever the pid names later. Returns it (close-on-exec), or -errno
 * (-ESRCH: no such process). Works for processes that are not children. */
int crio_pidfd_open(int pid);

/* pidfd_send_signal(pidfd, sig, NULL, 0). Returns 0 or -errno (-ESRCH: the
 * process has exited). */
int crio_pidfd_send_signal(int pidfd, int sig);

/* Waits up to `timeout_ms` (-1: forever) for `fd` to be readable (a pidfd
 * is once its process has exited). Returns 1 when readable, 0 on timeout,
 * or -errno. */
int crio_wait_readable(int fd, int timeout_ms);

/* Starts a container that `runc create` left waiting, as `runc start` does:
 * opens runc's exec fifo `fifo_path` (<runc root>/<id>/exec.fifo) for
 * reading, so the container's init (blocked opening it for writing) writes
 * its byte and execs the container process; reads until the writer closes,
 * then removes the fifo (runc then reports the container running). Gives up
 * when the process `pid` dies (-ESRCH) or after `timeout_ms` (-ETIMEDOUT).
 * Returns 0, or -errno (-ENOENT: no fifo, -EALREADY: nothing was written,
 * the container had already been started). */
int crio_runc_exec_fifo_start(const char *fifo_path, int pid, int timeout_ms);

/* Mounts an overlay at `target` with `lowerdirs` (colon-separated, top first),
 * `upperdir` and `workdir`. Returns 0 or -errno. */
int crio_mount_overlay(const char *lowerdirs, const char *upperdir, const char *workdir, const char *target);
/// A read-only overlay of lower directories only (no upper, no work dir): an image volume.
int crio_mount_overlay_readonly(const char *lowerdirs, const char *target);

/* Like crio_pin_namespaces, but first creates a user namespace with
 * `uid_map` and `gid_map` (the text of /proc/<pid>/uid_map, "0 1000 65536\n")
 * and pins it at `user_path` (when not empty); the network, IPC and UTS
 * namespaces are then created inside it (so it owns them) by the child as
 * root of the new user namespace, and pinned by the caller. Returns 0 or a
 * negative errno (then nothing is left mounted), with a description in `error`. */
int crio_pin_userns_namespaces(const char *user_path, const char *uid_map, const char *gid_map, int flags,
                               const char *net_path, const char *ipc_path, const char *uts_path,
                               const char *hostname, const char *const *sysctl_keys,
                               const char *const *sysctl_values, int sysctl_count, char *error,
                               unsigned long error_size);

/* Mounts an idmapped copy of the mount at `source` (its whole tree when
 * `recursive`) on `target`, mapped through the user namespace pinned (or
 * opened) at `userns_path`: open_tree(OPEN_TREE_CLONE), mount_setattr(
 * MOUNT_ATTR_IDMAP), move_mount. The copy of a shared mount is a peer of
 * it unless `propagation` says otherwise (same call to mount_setattr):
 * CRIO_IDMAP_PRIVATE, CRIO_IDMAP_SLAVE (receives what is mounted on the
 * source's peer group later, sends nothing back), or 0 (unchanged).
 * Returns 0 or -errno. */
#define CRIO_IDMAP_PRIVATE 1
#define CRIO_IDMAP_SLAVE 2
int crio_idmap_mount(const char *source, const char *target, const char *userns_path, int recursive, int propagation);

/* pipe2(fds, O_CLOEXEC). Returns 0 or -errno. */
int crio_pipe_cloexec(int fds[2]);

#include "ccriosys_stream.h"

#endif
