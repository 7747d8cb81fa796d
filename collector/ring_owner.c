/* The ring acceptance rule: a root collector reads another user's ring only when it can
 * prove, from /proc, that a live descendant of its own command created it. */
#include "ring_owner.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "run_directory.h"
#include "shared_directory.h"

/* A parent chain longer than this is not followed (pids reused mid-walk could loop). */
#define MAX_ANCESTORS 4096

bool ldtap_proc_stat_parent(const char *text, pid_t *parent) {
    const char *fields = strrchr(text, ')'); /* the command name may contain spaces and ')' */
    if (!fields || fields[1] != ' ' || fields[2] == '\0' || fields[3] != ' ') {
        return false;
    }
    char *end = NULL;
    long value = strtol(fields + 4, &end, 10);
    if (end == fields + 4 || (*end != ' ' && *end != '\0') || value < 0 || value > INT_MAX) {
        return false;
    }
    *parent = (pid_t)value;
    return true;
}

bool ldtap_proc_status_uids(const char *text, uid_t uids[4]) {
    for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        unsigned long values[4];
        if (strncmp(line, "Uid:", 4) == 0) {
            if (sscanf(line + 4, "%lu %lu %lu %lu", &values[0], &values[1], &values[2], &values[3]) != 4) {
                return false;
            }
            for (int i = 0; i < 4; i++) {
                if (values[i] >= (unsigned long)(uid_t)-1) {
                    return false;
                }
                uids[i] = (uid_t)values[i];
            }
            return true;
        }
    }
    return false;
}

bool ldtap_proc_maps_line_maps(const char *line, unsigned device_major, unsigned device_minor,
                               unsigned long long inode) {
    unsigned major_number, minor_number;
    unsigned long long line_inode;
    return sscanf(line, "%*s %*s %*s %x:%x %llu", &major_number, &minor_number, &line_inode) == 3 &&
           major_number == device_major && minor_number == device_minor && line_inode == inode;
}

/* A small /proc file into `buffer`, NUL-terminated; false when it cannot be read. */
static bool read_proc_file(pid_t pid, const char *file, char *buffer, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    size_t length = 0;
    for (ssize_t count; length + 1 < size && (count = read(fd, buffer + length, size - 1 - length)) > 0;) {
        length += (size_t)count;
    }
    close(fd);
    buffer[length] = '\0';
    return length > 0;
}

/* Whether `uid` is one of the process's (real, effective, saved, file system): the ring was
 * created with its file system uid, which a process may have changed back since. */
static bool runs_as(pid_t pid, uid_t uid) {
    char status[4096];
    uid_t uids[4];
    return read_proc_file(pid, "status", status, sizeof status) && ldtap_proc_status_uids(status, uids) &&
           (uids[0] == uid || uids[1] == uid || uids[2] == uid || uids[3] == uid);
}

/* A process that daemonized was reparented away from us: it is not a descendant any more
 * (`ldtap run` as root is a child subreaper, so only a process it can no longer see). */
static bool descends_from_this_process(pid_t pid) {
    pid_t self = getpid();
    for (int hops = 0; hops < MAX_ANCESTORS && pid > 1; hops++) {
        char stat[1024];
        pid_t parent;
        if (!read_proc_file(pid, "stat", stat, sizeof stat) || !ldtap_proc_stat_parent(stat, &parent)) {
            return false;
        }
        if (parent == self) {
            return true;
        }
        pid = parent;
    }
    return false;
}

static bool is_file(const struct stat *status, const struct stat *file) {
    return status->st_dev == file->st_dev && status->st_ino == file->st_ino;
}

/* Whether one of the process's descriptors is `file`. */
static bool has_open(pid_t pid, const struct stat *file) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    int directory_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *descriptors = directory_fd >= 0 ? fdopendir(directory_fd) : NULL;
    if (!descriptors) {
        if (directory_fd >= 0) {
            close(directory_fd);
        }
        return false;
    }
    bool found = false;
    struct stat status;
    for (struct dirent *entry = readdir(descriptors); entry && !found; entry = readdir(descriptors)) {
        found = entry->d_name[0] != '.' && fstatat(directory_fd, entry->d_name, &status, 0) == 0 &&
                is_file(&status, file);
    }
    closedir(descriptors);
    return found;
}

/* Whether the file is in the process's address space. */
static bool has_mapped(pid_t pid, const struct stat *file) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "re");
    if (!maps) {
        return false;
    }
    char *line = NULL;
    size_t capacity = 0;
    bool found = false;
    while (!found && getline(&line, &capacity, maps) > 0) {
        found = ldtap_proc_maps_line_maps(line, major(file->st_dev), minor(file->st_dev),
                                          (unsigned long long)file->st_ino);
    }
    free(line);
    fclose(maps);
    return found;
}

/* The proof that `pid` created the ring rather than someone naming it after `pid`: the
 * shim creates the file, maps it and only then closes it, and keeps the mapping for the
 * process's life, so the ring is open or mapped in it from creation on. Descriptors first:
 * a ring closed after that look was mapped before it. */
static bool holds_file(pid_t pid, const struct stat *file) {
    return has_open(pid, file) || has_mapped(pid, file);
}

/* The pid a ring's file name starts with ("<pid>-<start_time_ns>.ring"); 0 if none. */
static pid_t ring_pid(const char *file_name) {
    char *end = NULL;
    long value = strtol(file_name, &end, 10);
    return file_name[0] >= '1' && file_name[0] <= '9' && *end == '-' && value > 1 && value <= INT_MAX
               ? (pid_t)value
               : 0;
}

/* The ring file `file_name` in `subdirectory` of `directory`, through descriptors that
 * follow no symlink; false unless it is a regular file. */
static bool stat_ring(const char *directory, const char *subdirectory, size_t subdirectory_length,
                      const char *file_name, struct stat *ring) {
    char name[NAME_MAX + 1];
    if (subdirectory_length >= sizeof name) {
        return false;
    }
    memcpy(name, subdirectory, subdirectory_length);
    name[subdirectory_length] = '\0';
    int directory_fd = open(directory, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int subdirectory_fd =
        directory_fd >= 0 ? openat(directory_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    bool found = subdirectory_fd >= 0 &&
                 fstatat(subdirectory_fd, file_name, ring, AT_SYMLINK_NOFOLLOW) == 0 &&
                 S_ISREG(ring->st_mode);
    if (subdirectory_fd >= 0) {
        close(subdirectory_fd);
    }
    if (directory_fd >= 0) {
        close(directory_fd);
    }
    return found;
}

bool ldtap_ring_owner_accepted(const char *directory, const char *name, uid_t owner, bool all_users) {
    if (all_users || owner == getuid()) {
        return true;
    }
    const char *slash = strchr(name, '/');
    uid_t named;
    if (geteuid() != 0 || !slash || strchr(slash + 1, '/') ||
        !ldtap_user_subdirectory_uid(name, (size_t)(slash - name), &named) || named != owner ||
        !ldtap_run_directory_is_ours(directory)) {
        return false;
    }
    pid_t pid = ring_pid(slash + 1);
    struct stat ring;
    if (pid == 0 || !stat_ring(directory, name, (size_t)(slash - name), slash + 1, &ring) ||
        ring.st_uid != owner) {
        return false;
    }
    return runs_as(pid, owner) && descends_from_this_process(pid) && holds_file(pid, &ring);
}
