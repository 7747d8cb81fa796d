/* Redis command naming and argument redaction, driven by one table of how each command's
 * arguments are laid out. */
#include "redis_command.h"

#include <string.h>

/* Command words are short ASCII names; anything else is not taken for a command. */
#define COMMAND_WORD_MAX 24

enum argument_layout {
    VALUES_ONLY,     /* every argument becomes ? (also the default for unknown commands) */
    KEY_FIRST,       /* GET k, SET k ?, LPUSH k ? ? */
    KEYS_ONLY,       /* DEL k1 k2, MGET k1 k2 */
    KEY_VALUE_PAIRS, /* MSET k1 ? k2 ? */
    KEY_THEN_FIELDS, /* HGET k f, HDEL k f1 f2 */
    KEY_THEN_PAIRS,  /* HSET k f1 ? f2 ? */
};

static const struct command_layout {
    const char *name;
    enum argument_layout layout;
} LAYOUTS[] = {
    {"GET", KEY_FIRST},
    {"SET", KEY_FIRST},
    {"SETEX", KEY_FIRST},
    {"PSETEX", KEY_FIRST},
    {"SETNX", KEY_FIRST},
    {"GETSET", KEY_FIRST},
    {"GETDEL", KEY_FIRST},
    {"GETEX", KEY_FIRST},
    {"APPEND", KEY_FIRST},
    {"STRLEN", KEY_FIRST},
    {"INCR", KEY_FIRST},
    {"DECR", KEY_FIRST},
    {"INCRBY", KEY_FIRST},
    {"DECRBY", KEY_FIRST},
    {"INCRBYFLOAT", KEY_FIRST},
    {"EXPIRE", KEY_FIRST},
    {"PEXPIRE", KEY_FIRST},
    {"EXPIREAT", KEY_FIRST},
    {"PEXPIREAT", KEY_FIRST},
    {"TTL", KEY_FIRST},
    {"PTTL", KEY_FIRST},
    {"PERSIST", KEY_FIRST},
    {"TYPE", KEY_FIRST},
    {"LPUSH", KEY_FIRST},
    {"RPUSH", KEY_FIRST},
    {"LPUSHX", KEY_FIRST},
    {"RPUSHX", KEY_FIRST},
    {"LPOP", KEY_FIRST},
    {"RPOP", KEY_FIRST},
    {"LLEN", KEY_FIRST},
    {"LRANGE", KEY_FIRST},
    {"LINDEX", KEY_FIRST},
    {"LSET", KEY_FIRST},
    {"LREM", KEY_FIRST},
    {"LTRIM", KEY_FIRST},
    {"LINSERT", KEY_FIRST},
    {"SADD", KEY_FIRST},
    {"SREM", KEY_FIRST},
    {"SMEMBERS", KEY_FIRST},
    {"SISMEMBER", KEY_FIRST},
    {"SMISMEMBER", KEY_FIRST},
    {"SCARD", KEY_FIRST},
    {"SPOP", KEY_FIRST},
    {"SRANDMEMBER", KEY_FIRST},
    {"ZADD", KEY_FIRST},
    {"ZREM", KEY_FIRST},
    {"ZSCORE", KEY_FIRST},
    {"ZINCRBY", KEY_FIRST},
    {"ZCARD", KEY_FIRST},
    {"ZCOUNT", KEY_FIRST},
    {"ZRANGE", KEY_FIRST},
    {"ZRANGEBYSCORE", KEY_FIRST},
    {"ZREVRANGE", KEY_FIRST},
    {"ZREVRANGEBYSCORE", KEY_FIRST},
    {"ZRANK", KEY_FIRST},
    {"ZREVRANK", KEY_FIRST},
    {"ZREMRANGEBYSCORE", KEY_FIRST},
    {"ZREMRANGEBYRANK", KEY_FIRST},
    {"HGETALL", KEY_FIRST},
    {"HKEYS", KEY_FIRST},
    {"HVALS", KEY_FIRST},
    {"HLEN", KEY_FIRST},
    {"HINCRBY", KEY_FIRST},
    {"HINCRBYFLOAT", KEY_FIRST},
    {"HSCAN", KEY_FIRST},
    {"SSCAN", KEY_FIRST},
    {"ZSCAN", KEY_FIRST},
    {"XADD", KEY_FIRST},
    {"XRANGE", KEY_FIRST},
    {"XREVRANGE", KEY_FIRST},
    {"XLEN", KEY_FIRST},
    {"XTRIM", KEY_FIRST},
    {"XDEL", KEY_FIRST},
    {"PFADD", KEY_FIRST},
    {"GETRANGE", KEY_FIRST},
    {"SETRANGE", KEY_FIRST},
    {"GETBIT", KEY_FIRST},
    {"SETBIT", KEY_FIRST},
    {"BITCOUNT", KEY_FIRST},
    {"DUMP", KEY_FIRST},
    {"RESTORE", KEY_FIRST},
    {"SORT", KEY_FIRST},
    {"RENAME", KEYS_ONLY},
    {"DEL", KEYS_ONLY},
    {"UNLINK", KEYS_ONLY},
    {"EXISTS", KEYS_ONLY},
    {"MGET", KEYS_ONLY},
    {"TOUCH", KEYS_ONLY},
    {"WATCH", KEYS_ONLY},
    {"SUNION", KEYS_ONLY},
    {"SINTER", KEYS_ONLY},
    {"SDIFF", KEYS_ONLY},
    {"PFCOUNT", KEYS_ONLY},
    {"MSET", KEY_VALUE_PAIRS},
    {"MSETNX", KEY_VALUE_PAIRS},
    {"HGET", KEY_THEN_FIELDS},
    {"HMGET", KEY_THEN_FIELDS},
    {"HDEL", KEY_THEN_FIELDS},
    {"HEXISTS", KEY_THEN_FIELDS},
    {"HSTRLEN", KEY_THEN_FIELDS},
    {"HSET", KEY_THEN_PAIRS},
    {"HMSET", KEY_THEN_PAIRS},
    {"HSETNX", KEY_THEN_PAIRS},
};

/* Commands whose second word names the operation (CLIENT SETNAME, CONFIG GET). */
static const char *const CONTAINERS[] = {"CLIENT",  "CONFIG", "CLUSTER", "COMMAND",  "SCRIPT", "OBJECT",
                                         "MEMORY",  "XINFO",  "XGROUP",  "FUNCTION", "ACL",    "SLOWLOG",
                                         "LATENCY", "MODULE", "PUBSUB",  "DEBUG"};

struct words {
    const char *text;
    size_t length, position;
};

/* The next space-separated word; false at the end. */
static bool next_word(struct words *words, const char **word, size_t *length) {
    while (words->position < words->length && (unsigned char)words->text[words->position] <= ' ') {
        words->position++;
    }
    size_t start = words->position;
    while (words->position < words->length && (unsigned char)words->text[words->position] > ' ') {
        words->position++;
    }
    *word = words->text + start;
    *length = words->position - start;
    return *length > 0;
}

/* Upper-cases a plausible command word into `out`; false for anything else. */
static bool command_word(const char *word, size_t length, char out[COMMAND_WORD_MAX + 1]) {
    if (length == 0 || length > COMMAND_WORD_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char c = word[i];
        bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        if (!letter && !(i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '_' || c == '|' || c == '.'))) {
            return false;
        }
        out[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
    }
    out[length] = '\0';
    return true;
}

static enum argument_layout layout_of(const char *command) {
    for (size_t i = 0; i < sizeof LAYOUTS / sizeof *LAYOUTS; i++) {
        if (strcmp(LAYOUTS[i].name, command) == 0) {
            return LAYOUTS[i].layout;
        }
    }
    return VALUES_ONLY;
}

static bool is_container(const char *command) {
    for (size_t i = 0; i < sizeof CONTAINERS / sizeof *CONTAINERS; i++) {
        if (strcmp(CONTAINERS[i], command) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether argument `index` (0 = the first after the command) is a name to keep. */
static bool keeps_argument(enum argument_layout layout, size_t index) {
    switch (layout) {
    case KEY_FIRST:
        return index == 0;
    case KEYS_ONLY:
    case KEY_THEN_FIELDS:
        return true;
    case KEY_VALUE_PAIRS:
        return index % 2 == 0;
    case KEY_THEN_PAIRS:
        return index == 0 || index % 2 == 1;
    case VALUES_ONLY:
        break;
    }
    return false;
}

/* Appends " word" when it fits whole; false once the output is full. */
static bool append_word(char *out, size_t capacity, size_t *used, const char *word, size_t length) {
    size_t space = *used > 0;
    if (*used + space + length > capacity - 1) {
        return false;
    }
    if (space) {
        out[(*used)++] = ' ';
    }
    memcpy(out + *used, word, length);
    *used += length;
    return true;
}

void ldtap_redis_sanitize(const char *text, size_t length, char *out, size_t capacity,
                          struct ldtap_redis_result *result) {
    *result = (struct ldtap_redis_result){0};
    out[0] = '\0';
    struct words words = {text, text ? length : 0, 0};
    const char *word;
    size_t word_length;
    char command[COMMAND_WORD_MAX + 1];
    if (!next_word(&words, &word, &word_length) || !command_word(word, word_length, command)) {
        return;
    }
    enum argument_layout layout = layout_of(command);
    memcpy(result->operation, command, strlen(command) + 1);
    size_t after_command = words.position;
    char subcommand[COMMAND_WORD_MAX + 1];
    if (is_container(command) && next_word(&words, &word, &word_length) &&
        command_word(word, word_length, subcommand)) {
        size_t used = strlen(result->operation);
        result->operation[used] = ' ';
        memcpy(result->operation + used + 1, subcommand, strlen(subcommand) + 1);
    } else {
        words.position = after_command;
    }
    size_t used = 0;
    if (!append_word(out, capacity, &used, result->operation, strlen(result->operation))) {
        out[0] = '\0';
        return;
    }
    for (size_t index = 0; next_word(&words, &word, &word_length); index++) {
        bool keep = keeps_argument(layout, index);
        if (!append_word(out, capacity, &used, keep ? word : "?", keep ? word_length : 1)) {
            break;
        }
    }
    out[used] = '\0';
    result->length = used;
}
