/* Redis commands for database spans: db.operation.name (the command, upper-case, with its
 * subcommand for container commands such as CLIENT SETNAME) and a db.query.text that keeps
 * key names and replaces values with ?, as the semantic conventions' Redis page shows
 * ("HMSET myhash field1 ? field2 ?"). */
#ifndef LDTAP_REDIS_COMMAND_H
#define LDTAP_REDIS_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#define LDTAP_REDIS_OPERATION_BYTES 48

struct ldtap_redis_result {
    size_t length;                               /* sanitised bytes written, NUL excluded */
    char operation[LDTAP_REDIS_OPERATION_BYTES]; /* "" when the command word is not plausible */
};

/*
 * `text` is the command as the shim framed it: arguments separated by spaces. Which
 * arguments are kept depends on the command: the key of single-key commands (GET k ?),
 * every key of multi-key ones (DEL k1 k2, MSET k1 ? k2 ?), hash field names (HSET k f ?,
 * HGET k f). Arguments of every other command, known or not (AUTH, EVAL, PUBLISH,
 * CONFIG SET, …), become ?: a value is never kept by default. `out` (capacity >= 1) is
 * always NUL-terminated; arguments that do not fit are left off.
 */
void ldtap_redis_sanitize(const char *text, size_t length, char *out, size_t capacity,
                          struct ldtap_redis_result *result);

#endif
