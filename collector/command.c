/* What `ldtap run` executes and preloads: PATH search with execvp's rules, the static
 * binary check, locating libldtap.so, and the child's LD_PRELOAD. */
#include "command.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 0 when `path` is an executable regular file, else an errno value. */
static int check_executable(const char *path) {
    struct stat status;
    if (stat(path, &status) != 0) {
        return errno;
    }
    if (S_ISDIR(status.st_mode)) {
        return EISDIR;
    }
    return access(path, X_OK) == 0 && S_ISREG(status.st_mode) ? 0 : EACCES;
}

int ldtap_command_resolve(const char *name, char *path, size_t path_size, char *error, size_t error_size) {
    if (name[0] == '\0') {
        snprintf(error, error_size, "'': command not found");
        return 127;
    }
    if (strchr(name, '/')) {
        int problem = check_executable(name);
        if (problem == 0 && strlen(name) < path_size) {
            strcpy(path, name);
            return 0;
        }
        snprintf(error, error_size, "%s: %s", name, strerror(problem ? problem : ENAMETOOLONG));
        return problem == ENOENT || problem == ENOTDIR ? 127 : 126;
    }
    const char *search = getenv("PATH");
    if (!search) {
        search = "/bin:/usr/bin"; /* glibc's execvp default */
    }
    int best_problem = ENOENT;
    for (const char *entry = search;;) {
        size_t length = strcspn(entry, ":");
        /* An empty PATH entry means the current directory. */
        int written = length ? snprintf(path, path_size, "%.*s/%s", (int)length, entry, name)
                             : snprintf(path, path_size, "./%s", name);
        if (written > 0 && (size_t)written < path_size) {
            int problem = check_executable(path);
            if (problem == 0) {
                return 0;
            }
            if (problem == EACCES) {
                best_problem = EACCES; /* execvp reports EACCES if nothing better turns up */
            }
        }
        if (entry[length] == '\0') {
            break;
        }
        entry += length + 1;
    }
    if (best_problem == EACCES) {
        snprintf(error, error_size, "%s: %s", name, strerror(EACCES));
        return 126;
    }
    snprintf(error, error_size, "%s: command not found", name);
    return 127;
}

bool ldtap_command_is_static_elf(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    unsigned char identity[EI_NIDENT];
    bool is_static = false;
    if (pread(fd, identity, sizeof identity, 0) == (ssize_t)sizeof identity &&
        memcmp(identity, ELFMAG, SELFMAG) == 0) {
        bool wide = identity[EI_CLASS] == ELFCLASS64;
        uint64_t table_offset = 0, entry_size = 0, count = 0;
        if (wide) {
            Elf64_Ehdr header;
            if (pread(fd, &header, sizeof header, 0) == (ssize_t)sizeof header) {
                table_offset = header.e_phoff, entry_size = header.e_phentsize, count = header.e_phnum;
            }
        } else {
            Elf32_Ehdr header;
            if (pread(fd, &header, sizeof header, 0) == (ssize_t)sizeof header) {
                table_offset = header.e_phoff, entry_size = header.e_phentsize, count = header.e_phnum;
            }
        }
        /* Only executables with a readable program header table are judged. */
        is_static = count > 0 && entry_size >= (wide ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr));
        for (uint64_t i = 0; is_static && i < count && i < 4096; i++) {
            uint32_t type = 0;
            if (pread(fd, &type, sizeof type, (off_t)(table_offset + i * entry_size)) != (ssize_t)sizeof type) {
                is_static = false;
            } else if (type == PT_INTERP) {
                is_static = false;
            }
        }
    }
    close(fd);
    return is_static;
}

int ldtap_command_find_shim(const char *configured, char *path, size_t path_size, char *error, size_t error_size) {
    char candidate[PATH_MAX + 32];
    char resolved[PATH_MAX];
    if (configured) {
        if (!realpath(configured, resolved) || access(resolved, R_OK) != 0) {
            snprintf(error, error_size, "--shim/LDTAP_SHIM: '%s' cannot be used: %s", configured, strerror(errno));
            return -1;
        }
    } else {
        char executable[PATH_MAX];
        ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
        if (length <= 0) {
            snprintf(error, error_size, "cannot find the ldtap binary: %s; use --shim PATH", strerror(errno));
            return -1;
        }
        executable[length] = '\0';
        char *slash = strrchr(executable, '/');
        *slash = '\0';
        const char *const relatives[] = {"libldtap.so", "../lib/ldtap/libldtap.so"};
        bool found = false;
        for (size_t i = 0; i < 2 && !found; i++) {
            snprintf(candidate, sizeof candidate, "%s/%s", executable, relatives[i]);
            found = realpath(candidate, resolved) && access(resolved, R_OK) == 0;
        }
        if (!found) {
            snprintf(error, error_size,
                     "cannot find libldtap.so in %s or %s/../lib/ldtap; use --shim PATH or LDTAP_SHIM",
                     executable, executable);
            return -1;
        }
    }
    if (strpbrk(resolved, " :") || strlen(resolved) >= path_size) {
        snprintf(error, error_size, "the shim path '%s' contains a space or ':', which LD_PRELOAD cannot hold",
                 resolved);
        return -1;
    }
    strcpy(path, resolved);
    return 0;
}

static bool sanitizer_runtime(const char *entry, size_t length) {
    static const char *const names[] = {"libasan", "libtsan", "libhwasan", "libmsan", "libubsan", "libclang_rt."};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t name_length = strlen(names[i]);
        for (size_t at = 0; at + name_length <= length; at++) {
            if (memcmp(entry + at, names[i], name_length) == 0) {
                return true;
            }
        }
    }
    return false;
}

char *ldtap_command_preload_value(const char *shim_path, const char *existing) {
    existing = existing ? existing : "";
    size_t capacity = strlen(shim_path) + strlen(existing) + 2;
    char *value = calloc(1, capacity);
    if (!value) {
        return NULL;
    }
    /* Pass 0: sanitizer runtimes; then the shim; pass 1: everything else, in order. */
    for (int pass = 0; pass < 2; pass++) {
        for (const char *entry = existing; *entry;) {
            size_t length = strcspn(entry, " :");
            bool is_shim = length == strlen(shim_path) && memcmp(entry, shim_path, length) == 0;
            if (length > 0 && !is_shim && sanitizer_runtime(entry, length) == (pass == 0)) {
                if (value[0]) {
                    strcat(value, ":");
                }
                strncat(value, entry, length);
            }
            entry += length + (entry[length] != '\0');
        }
        if (pass == 0) {
            if (value[0]) {
                strcat(value, ":");
            }
            strcat(value, shim_path);
        }
    }
    return value;
}

void ldtap_command_exec(const char *path, char **argv, char **environment) {
    execve(path, argv, environment);
    if (errno == ENOEXEC) {
        int count = 0;
        while (argv[count]) {
            count++;
        }
        char *shell_argv[count + 3];
        shell_argv[0] = "sh";
        shell_argv[1] = (char *)path;
        for (int i = 1; i <= count; i++) {
            shell_argv[i + 1] = argv[i];
        }
        execve("/bin/sh", shell_argv, environment);
        errno = ENOEXEC;
    }
}
