/* Finds ring files: readdir at start and on inotify queue overflow, inotify events
 * (a ring appears by create or rename) in between. */
#include "discovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

struct ldtap_discovery {
    int directory_fd;
    int inotify_fd;
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
    if (discovery->directory_fd < 0 || discovery->inotify_fd < 0 ||
        inotify_add_watch(discovery->inotify_fd, directory, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        snprintf(error, error_size, "cannot watch %s: %s", directory, strerror(errno));
        ldtap_discovery_close(discovery);
        return NULL;
    }
    return discovery;
}

void ldtap_discovery_close(struct ldtap_discovery *discovery) {
    if (!discovery) {
        return;
    }
    if (discovery->directory_fd >= 0) {
        close(discovery->directory_fd);
    }
    if (discovery->inotify_fd >= 0) {
        close(discovery->inotify_fd);
    }
    free(discovery);
}

int ldtap_discovery_fd(const struct ldtap_discovery *discovery) { return discovery->inotify_fd; }

/* Reports `name` if it is a regular file (not followed through a symlink). */
static void report(struct ldtap_discovery *discovery, const char *name, ldtap_ring_found found, void *context) {
    struct stat status;
    if (ring_name(name) && fstatat(discovery->directory_fd, name, &status, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(status.st_mode)) {
        found(name, status.st_uid, context);
    }
}

void ldtap_discovery_scan(struct ldtap_discovery *discovery, ldtap_ring_found found, void *context) {
    int listing_fd = openat(discovery->directory_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *listing = listing_fd >= 0 ? fdopendir(listing_fd) : NULL;
    if (!listing) {
        if (listing_fd >= 0) {
            close(listing_fd);
        }
        return;
    }
    for (struct dirent *entry = readdir(listing); entry; entry = readdir(listing)) {
        if (entry->d_type == DT_REG || entry->d_type == DT_UNKNOWN) {
            report(discovery, entry->d_name, found, context);
        }
    }
    closedir(listing);
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
            } else if (event->len > 0 && !(event->mask & IN_ISDIR)) {
                report(discovery, event->name, found, context);
            }
            offset += (ssize_t)sizeof(struct inotify_event) + event->len;
        }
    }
    if (overflowed) {
        ldtap_discovery_scan(discovery, found, context);
    }
}
