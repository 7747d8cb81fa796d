/* Resource building: process identity from the ring header, host and SDK facts, and
 * OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME with OpenTelemetry's precedence. */
#include "resource.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define MAX_USER_ATTRIBUTES 24

/* User attributes gathered before being added, so later lists can replace earlier keys. */
struct attribute_set {
    char *keys[MAX_USER_ATTRIBUTES];
    char *values[MAX_USER_ATTRIBUTES];
    size_t count;
};

static bool reserved_key(const char *key) {
    return strncmp(key, "process.", 8) == 0 || strncmp(key, "telemetry.sdk.", 14) == 0;
}

static bool collect_attribute(const char *key, const char *value, void *context, char *error, size_t error_size) {
    (void)error, (void)error_size;
    struct attribute_set *set = context;
    if (reserved_key(key)) {
        return true;
    }
    for (size_t i = 0; i < set->count; i++) {
        if (strcmp(set->keys[i], key) == 0) {
            char *copy = strdup(value);
            if (copy) {
                free(set->values[i]);
                set->values[i] = copy;
            }
            return true;
        }
    }
    if (set->count < MAX_USER_ATTRIBUTES) {
        set->keys[set->count] = strdup(key);
        set->values[set->count] = strdup(value);
        if (set->keys[set->count] && set->values[set->count]) {
            set->count++;
        } else {
            free(set->keys[set->count]);
            free(set->values[set->count]);
        }
    }
    return true;
}

/* Members are parsed one by one so that one malformed member of a process's list (which
 * ldtap did not validate) does not cost the others. */
static void collect_list(struct attribute_set *set, const char *list) {
    char error[8];
    char *copy = strdup(list);
    for (char *member = copy ? strtok(copy, ",") : NULL; member; member = strtok(NULL, ",")) {
        ldtap_parse_pairs(member, "OTEL_RESOURCE_ATTRIBUTES", collect_attribute, set, error, sizeof error);
    }
    free(copy);
}

/* A copy of a fixed-size header string, cut at its first NUL or at `size`. */
static void bounded_copy(char *out, const char *field, size_t size) {
    size_t length = strnlen(field, size);
    memcpy(out, field, length);
    out[length] = '\0';
}

static void free_set(struct attribute_set *set) {
    for (size_t i = 0; i < set->count; i++) {
        free(set->keys[i]);
        free(set->values[i]);
    }
}

static const char *find_value(const struct attribute_set *set, const char *key) {
    for (size_t i = 0; i < set->count; i++) {
        if (strcmp(set->keys[i], key) == 0) {
            return set->values[i];
        }
    }
    return NULL;
}

struct ldtap_resource *ldtap_resource_build(const struct ldtap_ring_header *header,
                                            const struct ldtap_resource_defaults *defaults) {
    struct ldtap_resource *resource = ldtap_resource_new();
    if (!resource) {
        return NULL;
    }
    char executable[LDTAP_NAME_BYTES + 1];
    char own_service[LDTAP_NAME_BYTES + 1];
    char command_line[LDTAP_IDENTITY_TEXT_BYTES + 1];
    char own_attributes[LDTAP_IDENTITY_TEXT_BYTES + 1];
    bounded_copy(executable, header->executable_name, sizeof header->executable_name);
    bounded_copy(own_service, header->service_name, sizeof header->service_name);
    bounded_copy(command_line, header->command_line, sizeof header->command_line);
    bounded_copy(own_attributes, header->resource_attributes, sizeof header->resource_attributes);

    /* Merged: the collector's list first so that the process's own values replace its keys. */
    struct attribute_set collector_set = {0}, own_set = {0}, set = {0};
    if (defaults->resource_attributes) {
        collect_list(&collector_set, defaults->resource_attributes);
        collect_list(&set, defaults->resource_attributes);
    }
    collect_list(&own_set, own_attributes);
    collect_list(&set, own_attributes);

    const char *service = defaults->service_name;
    if (!service || !*service) {
        const char *own_listed = find_value(&own_set, "service.name");
        const char *collector_listed = find_value(&collector_set, "service.name");
        service = own_service[0] ? own_service
                  : own_listed ? own_listed
                  : collector_listed ? collector_listed
                  : defaults->fallback_service_name ? defaults->fallback_service_name
                  : executable[0] ? executable
                                   : "unknown_service";
    }
    char host[256] = "";
    const char *host_name = defaults->host_name;
    if (!host_name) {
        if (gethostname(host, sizeof host - 1) != 0) {
            host[0] = '\0';
        }
        host_name = host;
    }

    ldtap_resource_add_string(resource, "service.name", service, strlen(service));
    ldtap_resource_add_int(resource, "process.pid", header->pid);
    ldtap_resource_add_int(resource, "process.parent_pid", header->parent_pid);
    ldtap_resource_add_string(resource, "process.executable.name", executable, strlen(executable));
    ldtap_resource_add_string(resource, "process.command_line", command_line, strlen(command_line));
    if (host_name[0] && !find_value(&set, "host.name")) {
        ldtap_resource_add_string(resource, "host.name", host_name, strlen(host_name));
    }
    ldtap_resource_add_string(resource, "telemetry.sdk.name", "ldtap", 5);
    ldtap_resource_add_string(resource, "telemetry.sdk.version", LDTAP_VERSION, strlen(LDTAP_VERSION));
    ldtap_resource_add_string(resource, "telemetry.sdk.language", LDTAP_SDK_LANGUAGE, strlen(LDTAP_SDK_LANGUAGE));
    for (size_t i = 0; i < set.count; i++) {
        if (strcmp(set.keys[i], "service.name") != 0) {
            ldtap_resource_add_string(resource, set.keys[i], set.values[i], strlen(set.values[i]));
        }
    }
    free_set(&set);
    free_set(&own_set);
    free_set(&collector_set);
    return resource;
}

const char *ldtap_resource_service_name(const struct ldtap_resource *resource) {
    for (uint16_t i = 0; i < resource->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &resource->attributes[i];
        if (attribute->type == LDTAP_VALUE_STRING && strcmp(attribute->key, "service.name") == 0) {
            return ldtap_resource_string(resource, attribute);
        }
    }
    return "";
}
