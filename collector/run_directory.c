/* Creating and removing `ldtap run`'s ring directory; as root, the shared kind and the
 * choice of a place that the users CMD may switch to can reach. */
#include "run_directory.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldtap_ring_abi.h"
#include "shared_directory.h"

/* Where a root run directory goes when the base is out of other users' reach: tmpfs,
 * like the default base, and sticky, so nobody else can rename or remove it. */
#define REACHABLE_PARENT "/dev/shm"
#define RUN_PREFIX "run-"
#define REACHABLE_PREFIX "ldtap-run-"

/* Whether every directory from / down to `path` lets other users search it. */
static bool searchable_by_everyone(const char *path) {
    char resolved[PATH_MAX];
    if (!realpath(path, resolved)) {
        return false;
    }
    for (;;) { /* from the directory itself up to / */
        struct stat status;
        if (stat(resolved, &status) != 0 || !S_ISDIR(status.st_mode) || !(status.st_mode & S_IXOTH)) {
            return false;
        }
        char *slash = strrchr(resolved, '/');
        if (slash == resolved && resolved[1] == '\0') {
            return true;
        }
        slash[slash == resolved] = '\0'; /* "/dev" becomes "/", "/dev/shm" becomes "/dev" */
    }
}

static bool is_reachable_parent(const char *path) {
    struct stat status;
    return lstat(path, &status) == 0 && S_ISDIR(status.st_mode) && status.st_uid == 0 &&
           (status.st_mode & (S_ISVTX | S_IXOTH)) == (S_ISVTX | S_IXOTH) && searchable_by_everyone(path);
}

/* Sets the shared mode on the directory mkdtemp just made, through a descriptor that
 * cannot follow a symlink. */
static int make_shared(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int result = fchmod(fd, LDTAP_RING_SHARED_DIRECTORY_MODE);
    close(fd);
    return result;
}

int ldtap_run_directory_create(const char *base, bool base_chosen, char *path, size_t path_size, char *error,
                               size_t error_size) {
    bool root = geteuid() == 0;
    const char *parent = base;
    const char *prefix = RUN_PREFIX;
    if (root && !base_chosen && !searchable_by_everyone(base) && is_reachable_parent(REACHABLE_PARENT)) {
        parent = REACHABLE_PARENT;
        prefix = REACHABLE_PREFIX;
    }
    int length = snprintf(path, path_size, "%s/%s%d-XXXXXX", parent, prefix, (int)getpid());
    if (length < 0 || (size_t)length >= path_size) {
        snprintf(error, error_size, "cannot create a run directory in %s: %s", parent,
                 strerror(ENAMETOOLONG));
        return -1;
    }
    if (!mkdtemp(path)) { /* mkdtemp creates it 0700 with a random suffix */
        snprintf(error, error_size, "cannot create a run directory in %s: %s", parent, strerror(errno));
        return -1;
    }
    if (root && make_shared(path) != 0) {
        snprintf(error, error_size, "cannot share the run directory %s: %s", path, strerror(errno));
        rmdir(path);
        return -1;
    }
    return 0;
}

bool ldtap_run_directory_is_ours(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    char expected[64];
    struct stat status;
    for (int i = 0; i < 2; i++) {
        int length =
            snprintf(expected, sizeof expected, "%s%d-", i ? REACHABLE_PREFIX : RUN_PREFIX, (int)getpid());
        if (strncmp(name, expected, (size_t)length) == 0) {
            return lstat(path, &status) == 0 && ldtap_shared_directory(&status);
        }
    }
    return false;
}

/* Unlinks every entry of the directory open as `fd`; with `depth` > 0, empties and
 * removes its subdirectories too (opened without following symlinks, so a name swapped
 * for a symlink leads nowhere). */
static void empty_directory(int fd, int depth) {
    int listing_fd = dup(fd);
    DIR *listing = listing_fd >= 0 ? fdopendir(listing_fd) : NULL;
    if (!listing) {
        if (listing_fd >= 0) {
            close(listing_fd);
        }
        return;
    }
    for (struct dirent *entry = readdir(listing); entry; entry = readdir(listing)) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || unlinkat(fd, name, 0) == 0 ||
            errno != EISDIR || depth == 0) {
            continue;
        }
        int subdirectory = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (subdirectory >= 0) {
            empty_directory(subdirectory, depth - 1);
            close(subdirectory);
        }
        unlinkat(fd, name, AT_REMOVEDIR);
    }
    closedir(listing);
}

void ldtap_run_directory_remove(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        empty_directory(fd, 1);
        close(fd);
    }
    rmdir(path);
}
