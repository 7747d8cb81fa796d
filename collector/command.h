/* Finding what `ldtap run` executes and preloads: CMD on PATH (execvp rules, with the
 * shell's 126/127 exit codes), statically linked binaries, the shim, LD_PRELOAD order. */
#ifndef LDTAP_COMMAND_H
#define LDTAP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

/* Resolves `name` as execvp would. Returns 0 with the path in `path`, or the exit code a
 * shell would use (127 not found, 126 found but not executable) with a message. */
int ldtap_command_resolve(const char *name, char *path, size_t path_size, char *error, size_t error_size);

/* True for an ELF executable without PT_INTERP (statically linked: LD_PRELOAD is ignored). */
bool ldtap_command_is_static_elf(const char *path);

/* The shim: `configured` (--shim/LDTAP_SHIM) if given, else libldtap.so next to the ldtap
 * binary, else ../lib/ldtap/libldtap.so relative to it. Returns 0 with an absolute path,
 * or -1 with a message. */
int ldtap_command_find_shim(const char *configured, char *path, size_t path_size, char *error, size_t error_size);

/* The LD_PRELOAD value for the child: sanitizer runtimes already listed stay first (they
 * must be the first object loaded), then the shim, then the other existing entries.
 * Heap string, or NULL when out of memory. */
char *ldtap_command_preload_value(const char *shim_path, const char *existing);

/* execv(path, argv) falling back to /bin/sh for a script without "#!" (ENOEXEC), as
 * execvp does. Returns only on failure, with errno set. Async-signal-safe. */
void ldtap_command_exec(const char *path, char **argv, char **environment);

#endif
