#ifndef CCRIOSYS_NETNS_H
#define CCRIOSYS_NETNS_H

/* Reads a file of /proc/<tid>/net (`name`: "dev", "snmp", ...) as seen from
 * inside the network namespace pinned at `netns_path`, into `buf` (`size`
 * bytes). The namespace switch happens on a short-lived thread of its own;
 * the calling thread never changes namespace. Returns the number of bytes
 * read (the file is cut at `size`), or -errno. */
long crio_netns_read_proc_net(const char *netns_path, const char *name, char *buf, unsigned long size);

#endif
