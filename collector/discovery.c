/* Finds ring files: readdir at start and on inotify queue overflow, inotify events
 * (a ring appears by create or rename) in between; in a shared directory, the same for
 * each `uid-<euid>` subdirectory, watched as soon as it appears. */
#include "discovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "shared_directory.h"

#define RING_EVENTS (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)
/* A subdirectory is only watched when it belongs to the uid it names, so there is at most
 * one per user: this bounds the users one shared run directory serves. */
#define MAX_USER_SUBDIRECTORIES 64
/*
 * A ring of another user is only read once its process is seen holding it (ring_owner.c),
 * and the first event about it (IN_CREATE) may come before that. No second event follows:
 * the shim closes its descriptor while the mapping keeps the file open, so IN_CLOSE_WRITE
 * comes at the process's exit. Such rings are therefore reported again on every poll for
 * a while, rather than waiting for the next full rescan.
 */
#define MAX_PENDING_RINGS 64
#define PENDING_NS (2ull * 1000000000ull)

struct user_subdirectory {
    int fd; /* pinned: rings are looked up relative to it, never through its name */
    int watch;
    dev_t device;
    ino_t inode;
    char name[32]; /* "uid-<euid>": checked by ldtap_user_subdirectory_uid, at most 14 bytes */
};

struct pending_ring {
    uint64_t until_ns;
    char subdirectory[32];
    char name[NAME_MAX + 1];
};

struct ldtap_discovery {
    int directory_fd;
    int inotify_fd;
    int directory_watch;
    bool shared; /* root in a shared directory: user subdirectories are watched too */
    size_t subdirectory_count;
    struct user_subdirectory subdirectories[MAX_USER_SUBDIRECTORIES];
    size_t pending_count;
    struct pending_ring pending[MAX_PENDING_RINGS];
};

static bool ring_name(const char *name) {
    size_t length = strlen(name);
    return length > 5 && strcmp(name + length - 5, ".ring") == 0 && name[0] != '.';
}

struct ldtap_discovery *ldtap_discovery_open(const char *directory, char *error, size_t error_size) {
    struct ldtap_discovery *discovery = calloc(1, sizeof *discovery);
    if (!discovery) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    discovery->directory_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    discovery->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    discovery->directory_watch = discovery->directory_fd < 0 || discovery->inotify_fd < 0
                                     ? -1
                                     : inotify_add_watch(discovery->inotify_fd, directory, RING_EVENTS);
    if (discovery->directory_watch < 0) {
        snprintf(error, error_size, "cannot watch %s: %s", directory, strerror(errno));
        ldtap_discovery_close(discovery);
        return NULL;
    }
    struct stat status;
    discovery->shared =
        geteuid() == 0 && fstat(discovery->directory_fd, &status) == 0 && ldtap_shared_directory(&status);
    return discovery;
}

void ldtap_discovery_close(struct ldtap_discovery *discovery) {
    if (!discovery) {
        return;
    }
    for (size_t i = 0; i < discovery->subdirectory_count; i++) {
        close(discovery->subdirectories[i].fd);
    }
    if (discovery->directory_fd >= 0) {
        close(discovery->directory_fd);
    }
    if (discovery->inotify_fd >= 0) {
        close(discovery->inotify_fd);
    }
    free(discovery);
}

int ldtap_discovery_fd(const struct ldtap_discovery *discovery) {
    return discovery->inotify_fd;
}

/* Reports `name` in the directory open as `directory_fd` if it is a regular file (not
 * followed through a symlink), prefixed with `subdirectory`'s name when there is one.
 * Returns whether it was reported. */
static bool report(int directory_fd, const struct user_subdirectory *subdirectory, const char *name,
                   ldtap_ring_found found, void *context) {
    struct stat status;
    if (!ring_name(name) || fstatat(directory_fd, name, &status, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(status.st_mode)) {
        return false;
    }
    if (!subdirectory) {
        found(name, status.st_uid, context);
        return true;
    }
    char path[sizeof subdirectory->name + NAME_MAX + 1];
    int length = snprintf(path, sizeof path, "%s/%s", subdirectory->name, name);
    if (length <= 0 || (size_t)length >= sizeof path) {
        return false;
    }
    found(path, status.st_uid, context);
    return true;
}

/* Reports a ring that just appeared in a user subdirectory, and keeps reporting it for a
 * while (see MAX_PENDING_RINGS). */
static void report_new(struct ldtap_discovery *discovery, const struct user_subdirectory *subdirectory,
                       const char *name, ldtap_ring_found found, void *context) {
    if (!report(subdirectory->fd, subdirectory, name, found, context)) {
        return;
    }
    for (size_t i = 0; i < discovery->pending_count; i++) {
        const struct pending_ring *pending = &discovery->pending[i];
        if (strcmp(pending->name, name) == 0 && strcmp(pending->subdirectory, subdirectory->name) == 0) {
            return;
        }
    }
    if (discovery->pending_count < MAX_PENDING_RINGS && strlen(name) < sizeof discovery->pending[0].name) {
        struct pending_ring *pending = &discovery->pending[discovery->pending_count++];
        pending->until_ns = ldtap_monotonic_ns() + PENDING_NS;
        snprintf(pending->subdirectory, sizeof pending->subdirectory, "%s", subdirectory->name);
        snprintf(pending->name, sizeof pending->name, "%s", name);
    }
}

/* The kernel drops a watch by itself when its directory goes (IN_IGNORED): `remove_watch`
 * false then. */
static void forget_subdirectory(struct ldtap_discovery *discovery, struct user_subdirectory *subdirectory,
                                bool remove_watch) {
    if (remove_watch) {
        inotify_rm_watch(discovery->inotify_fd, subdirectory->watch);
    }
    close(subdirectory->fd);
    *subdirectory = discovery->subdirectories[--discovery->subdirectory_count];
}

/* The watched subdirectory now at `name`: watched from now on if it is new and is what a
 * shim creates (a real directory, private to the uid it names); NULL otherwise. */
static struct user_subdirectory *subdirectory_named(struct ldtap_discovery *discovery, const char *name) {
    uid_t uid;
    struct stat status;
    if (!discovery->shared || !ldtap_user_subdirectory_uid(name, strlen(name), &uid) ||
        fstatat(discovery->directory_fd, name, &status, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(status.st_mode)) {
        return NULL;
    }
    for (size_t i = 0; i < discovery->subdirectory_count; i++) {
        struct user_subdirectory *known = &discovery->subdirectories[i];
        if (strcmp(known->name, name) == 0) {
            if (known->device == status.st_dev && known->inode == status.st_ino) {
                return known;
            }
            forget_subdirectory(discovery, known, true); /* replaced since: watch the new one */
            break;
        }
    }
    if (discovery->subdirectory_count == MAX_USER_SUBDIRECTORIES) {
        return NULL;
    }
    int fd = openat(discovery->directory_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    /* The checks that count are on the opened directory: the name may have been swapped. */
    char fd_path[64];
    snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", fd);
    int watch = -1;
    if (fstat(fd, &status) != 0 || status.st_uid != uid || (status.st_mode & 077) != 0 ||
        (watch = inotify_add_watch(discovery->inotify_fd, fd_path, RING_EVENTS | IN_ONLYDIR)) < 0) {
        close(fd);
        return NULL;
    }
    struct user_subdirectory *added = &discovery->subdirectories[discovery->subdirectory_count++];
    *added =
        (struct user_subdirectory){.fd = fd, .watch = watch, .device = status.st_dev, .inode = status.st_ino};
    snprintf(added->name, sizeof added->name, "%s", name);
    return added;
}

/* Reports every ring in a directory: the top level (`subdirectory` NULL), whose user
 * subdirectories are listed in turn, or one user subdirectory (its rings as new ones when
 * `fresh`: it has just been watched). */
static void scan_directory(struct ldtap_discovery *discovery, struct user_subdirectory *subdirectory,
                           bool fresh, ldtap_ring_found found, void *context) {
    int directory_fd = subdirectory ? subdirectory->fd : discovery->directory_fd;
    int listing_fd = openat(directory_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *listing = listing_fd >= 0 ? fdopendir(listing_fd) : NULL;
    if (!listing) {
        if (listing_fd >= 0) {
            close(listing_fd);
        }
        return;
    }
    for (struct dirent *entry = readdir(listing); entry; entry = readdir(listing)) {
        if ((entry->d_type == DT_REG || entry->d_type == DT_UNKNOWN) && fresh) {
            report_new(discovery, subdirectory, entry->d_name, found, context);
        } else if (entry->d_type == DT_REG || entry->d_type == DT_UNKNOWN) {
            report(directory_fd, subdirectory, entry->d_name, found, context);
        }
        struct user_subdirectory *user = NULL;
        if (!subdirectory && discovery->shared && (entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN) &&
            (user = subdirectory_named(discovery, entry->d_name)) != NULL) {
            scan_directory(discovery, user, false, found, context);
        }
    }
    closedir(listing);
}

void ldtap_discovery_scan(struct ldtap_discovery *discovery, ldtap_ring_found found, void *context) {
    scan_directory(discovery, NULL, false, found, context);
}

static struct user_subdirectory *subdirectory_watched_by(struct ldtap_discovery *discovery, int watch) {
    for (size_t i = 0; i < discovery->subdirectory_count; i++) {
        if (discovery->subdirectories[i].watch == watch) {
            return &discovery->subdirectories[i];
        }
    }
    return NULL;
}

static void handle_event(struct ldtap_discovery *discovery, const struct inotify_event *event,
                         ldtap_ring_found found, void *context) {
    if (event->wd == discovery->directory_watch) {
        struct user_subdirectory *user = NULL;
        if (event->len > 0 && !(event->mask & IN_ISDIR)) {
            report(discovery->directory_fd, NULL, event->name, found, context);
        } else if (event->len > 0 && (user = subdirectory_named(discovery, event->name)) != NULL) {
            /* Its first ring may have been created before the watch existed. */
            scan_directory(discovery, user, true, found, context);
        }
        return;
    }
    struct user_subdirectory *subdirectory = subdirectory_watched_by(discovery, event->wd);
    if (!subdirectory) {
        return;
    }
    if (event->mask & IN_IGNORED) {
        forget_subdirectory(discovery, subdirectory, false);
    } else if (event->len > 0 && !(event->mask & IN_ISDIR)) {
        report_new(discovery, subdirectory, event->name, found, context);
    }
}

/* Reports the rings still pending; forgets those whose time is up or that are gone. */
static void report_pending(struct ldtap_discovery *discovery, ldtap_ring_found found, void *context) {
    uint64_t now = ldtap_monotonic_ns();
    for (size_t i = 0; i < discovery->pending_count;) {
        const struct pending_ring *pending = &discovery->pending[i];
        const struct user_subdirectory *subdirectory = NULL;
        for (size_t j = 0; j < discovery->subdirectory_count && !subdirectory; j++) {
            if (strcmp(discovery->subdirectories[j].name, pending->subdirectory) == 0) {
                subdirectory = &discovery->subdirectories[j];
            }
        }
        if (now < pending->until_ns && subdirectory &&
            report(subdirectory->fd, subdirectory, pending->name, found, context)) {
            i++;
        } else {
            discovery->pending[i] = discovery->pending[--discovery->pending_count];
        }
    }
}

void ldtap_discovery_poll(struct ldtap_discovery *discovery, ldtap_ring_found found, void *context) {
    _Alignas(struct inotify_event) char buffer[8192];
    bool overflowed = false;
    for (;;) {
        ssize_t length = read(discovery->inotify_fd, buffer, sizeof buffer);
        if (length <= 0) {
            break; /* EAGAIN: no more events */
        }
        for (ssize_t offset = 0; offset + (ssize_t)sizeof(struct inotify_event) <= length;) {
            const struct inotify_event *event = (const struct inotify_event *)(buffer + offset);
            if (event->mask & IN_Q_OVERFLOW) {
                overflowed = true;
            } else {
                handle_event(discovery, event, found, context);
            }
            offset += (ssize_t)sizeof(struct inotify_event) + event->len;
        }
    }
    if (overflowed) {
        ldtap_discovery_scan(discovery, found, context);
    }
    report_pending(discovery, found, context);
}
