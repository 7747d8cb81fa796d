/* Recognises shared ring directories and parses their `uid-<euid>` subdirectory names:
 * the collector's half of the layout ldtap_ring_abi.h describes. */
#include "shared_directory.h"

#include <string.h>

#include "ldtap_ring_abi.h"

bool ldtap_shared_directory(const struct stat *status) {
    return S_ISDIR(status->st_mode) && status->st_uid == 0 &&
           (status->st_mode & 07777) == LDTAP_RING_SHARED_DIRECTORY_MODE;
}

bool ldtap_user_subdirectory_uid(const char *name, size_t length, uid_t *uid) {
    static const char prefix[] = LDTAP_RING_USER_SUBDIRECTORY_PREFIX;
    size_t prefix_length = sizeof prefix - 1;
    if (length <= prefix_length || memcmp(name, prefix, prefix_length) != 0) {
        return false;
    }
    const char *digits = name + prefix_length;
    size_t count = length - prefix_length;
    if (count > 10 || (digits[0] == '0' && count > 1)) {
        return false;
    }
    unsigned long long value = 0;
    for (size_t i = 0; i < count; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            return false;
        }
        value = value * 10 + (unsigned long long)(digits[i] - '0');
    }
    if (value >= (unsigned long long)(uid_t)-1) {
        return false;
    }
    *uid = (uid_t)value;
    return true;
}
