/* Lowering the collector's priority thread by thread: Linux keeps a niceness per thread,
 * and setpriority(PRIO_PROCESS, 0, ...) changes only the calling one. */
#include "priority.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>

/* Never lowers a niceness: run under `nice -n 15`, the collector stays at 15, and as root
 * a smaller value would raise its priority instead. */
static void lower_thread(id_t thread_id, int niceness) {
    errno = 0;
    int current = getpriority(PRIO_PROCESS, thread_id);
    if ((current == -1 && errno != 0) || current >= niceness)
        return;
    setpriority(PRIO_PROCESS, thread_id, niceness);
}

void ldtap_priority_lower(int niceness) {
    if (niceness <= 0)
        return;
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) {
        lower_thread(0, niceness);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        char *end = NULL;
        long thread_id = strtol(entry->d_name, &end, 10);
        if (thread_id > 0 && *end == '\0')
            lower_thread((id_t)thread_id, niceness);
    }
    closedir(tasks);
}
