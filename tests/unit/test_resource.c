/* Criterion tests for collector/resource.c: identity from the ring header,
 * OTEL_RESOURCE_ATTRIBUTES decoding and the service.name precedence. */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"
#include "resource.h"

static struct ldtap_ring_header header;

static void setup(void) {
    memset(&header, 0, sizeof header);
    header.pid = 4242;
    header.parent_pid = 4200;
    strcpy(header.executable_name, "python3.11");
    strcpy(header.command_line, "python3 -m http.server");
}

TestSuite(resource, .init = setup);

static const struct ldtap_attribute *find(const struct ldtap_resource *resource, const char *key) {
    for (uint16_t i = 0; i < resource->attribute_count; i++) {
        if (strcmp(resource->attributes[i].key, key) == 0) {
            return &resource->attributes[i];
        }
    }
    return NULL;
}

static void assert_string(const struct ldtap_resource *resource, const char *key, const char *expected) {
    const struct ldtap_attribute *attribute = find(resource, key);
    cr_assert_not_null(attribute, "no %s", key);
    cr_assert_eq(attribute->type, LDTAP_VALUE_STRING);
    cr_assert_str_eq(ldtap_resource_string(resource, attribute), expected, "%s", key);
}

Test(resource, process_identity) {
    struct ldtap_resource_defaults defaults = {.host_name = "box"};
    struct ldtap_resource *resource = ldtap_resource_build(&header, &defaults);
    assert_string(resource, "service.name", "python3.11");
    cr_assert_eq(find(resource, "process.pid")->int_value, 4242);
    cr_assert_eq(find(resource, "process.parent_pid")->int_value, 4200);
    assert_string(resource, "process.executable.name", "python3.11");
    assert_string(resource, "process.command_line", "python3 -m http.server");
    assert_string(resource, "host.name", "box");
    assert_string(resource, "telemetry.sdk.name", "ldtap");
    assert_string(resource, "telemetry.sdk.language", "native");
    assert_string(resource, "telemetry.sdk.version", LDTAP_VERSION);
    ldtap_resource_release(resource);
}

Test(resource, percent_decoded_attributes) {
    strcpy(header.resource_attributes, "team=shop%2Cpayments, deployment.environment = prod%20eu ,bad,x=%zz");
    struct ldtap_resource_defaults defaults = {.host_name = "box", .resource_attributes = "region=eu%3D1,team=x"};
    struct ldtap_resource *resource = ldtap_resource_build(&header, &defaults);
    assert_string(resource, "team", "shop,payments"); /* the process's own value wins */
    assert_string(resource, "deployment.environment", "prod eu");
    assert_string(resource, "region", "eu=1");
    cr_assert_null(find(resource, "bad"));
    cr_assert_null(find(resource, "x"));
    ldtap_resource_release(resource);
}

Test(resource, service_name_precedence) {
    struct ldtap_resource_defaults defaults = {.host_name = "box", .fallback_service_name = "gunicorn"};
    struct ldtap_resource *resource = ldtap_resource_build(&header, &defaults);
    cr_assert_str_eq(ldtap_resource_service_name(resource), "gunicorn", "fallback beats the executable");
    ldtap_resource_release(resource);

    defaults.resource_attributes = "service.name=from-collector-attributes";
    resource = ldtap_resource_build(&header, &defaults);
    cr_assert_str_eq(ldtap_resource_service_name(resource), "from-collector-attributes");
    ldtap_resource_release(resource);

    strcpy(header.resource_attributes, "service.name=from%20process%20attributes");
    resource = ldtap_resource_build(&header, &defaults);
    cr_assert_str_eq(ldtap_resource_service_name(resource), "from process attributes");
    ldtap_resource_release(resource);

    strcpy(header.service_name, "process-otel-service-name");
    resource = ldtap_resource_build(&header, &defaults);
    cr_assert_str_eq(ldtap_resource_service_name(resource), "process-otel-service-name",
                     "OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES");
    ldtap_resource_release(resource);

    defaults.service_name = "flag";
    resource = ldtap_resource_build(&header, &defaults);
    cr_assert_str_eq(ldtap_resource_service_name(resource), "flag");
    int names = 0;
    for (uint16_t i = 0; i < resource->attribute_count; i++) {
        names += strcmp(resource->attributes[i].key, "service.name") == 0;
    }
    cr_assert_eq(names, 1);
    ldtap_resource_release(resource);
}

Test(resource, reserved_keys_cannot_be_overridden) {
    strcpy(header.resource_attributes, "process.pid=1,telemetry.sdk.name=fake,host.name=custom");
    struct ldtap_resource_defaults defaults = {.host_name = "box"};
    struct ldtap_resource *resource = ldtap_resource_build(&header, &defaults);
    cr_assert_eq(find(resource, "process.pid")->int_value, 4242);
    assert_string(resource, "telemetry.sdk.name", "ldtap");
    assert_string(resource, "host.name", "custom");
    ldtap_resource_release(resource);
}

Test(resource, unterminated_header_strings_are_bounded) {
    memset(header.executable_name, 'e', sizeof header.executable_name);
    memset(header.service_name, 's', sizeof header.service_name);
    memset(header.command_line, 'c', sizeof header.command_line);
    memset(header.resource_attributes, 'a', sizeof header.resource_attributes);
    struct ldtap_resource_defaults defaults = {.host_name = "box"};
    struct ldtap_resource *resource = ldtap_resource_build(&header, &defaults);
    cr_assert_not_null(resource);
    cr_assert_eq(strlen(ldtap_resource_service_name(resource)), sizeof header.service_name);
    ldtap_resource_release(resource);
}
