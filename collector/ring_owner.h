/* Which rings a collector reads: its own user's; every user's for `ldtap collect
 * --all-users`; and, for `ldtap run` as root, rings in its shared run directory that a
 * process of its command wrote after switching to another user, once that is proven. */
#ifndef LDTAP_RING_OWNER_H
#define LDTAP_RING_OWNER_H

#include <stdbool.h>
#include <sys/types.h>

/* `name` as discovery reports it, relative to `directory`; `owner` the file's owner.
 * A ring of another user is accepted only when this process runs as root, `directory` is
 * its own shared run directory (ldtap_run_directory_is_ours), the ring is
 * "uid-<owner>/<pid>-<time>.ring", and process <pid> is alive, runs as `owner`, descends
 * from this process and has that very file open or mapped. */
bool ldtap_ring_owner_accepted(const char *directory, const char *name, uid_t owner, bool all_users);

/* Parsers over /proc text, pure for tests. */
/* /proc/<pid>/stat: the parent pid (field 4, after the command name in parentheses). */
bool ldtap_proc_stat_parent(const char *text, pid_t *parent);
/* /proc/<pid>/status: the four numbers of the "Uid:" line (real, effective, saved, fs). */
bool ldtap_proc_status_uids(const char *text, uid_t uids[4]);
/* One /proc/<pid>/maps line: whether it maps the file with this device and inode. */
bool ldtap_proc_maps_line_maps(const char *line, unsigned device_major, unsigned device_minor,
                               unsigned long long inode);

#endif
