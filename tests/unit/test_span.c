/* Tests of collector/span.c: looking up several attributes at once, and dropping several
 * resource references at once. */
#include <criterion/criterion.h>
#include <string.h>

#include "span.h"

Test(span, find_many_matches_find_for_present_absent_and_copied_keys) {
    static struct ldtap_span span;
    memset(&span, 0, sizeof span);
    char copied_key[] = "db.operation.name"; /* same text, another pointer: compared as text */
    cr_assert(ldtap_span_add_string(&span, "db.system.name", "redis", 5));
    cr_assert(ldtap_span_add_string(&span, copied_key, "GET", 3));
    cr_assert(ldtap_span_add_int(&span, "server.port", 6379));
    cr_assert(ldtap_span_add_int(&span, "server.port", 1)); /* a duplicate: the first wins */
    const char *const keys[] = {"server.port", "error.type", "db.operation.name", "db.system.name"};
    const struct ldtap_attribute *found[4];
    ldtap_span_find_many(&span, keys, 4, found);
    for (size_t i = 0; i < 4; i++) {
        cr_expect_eq(found[i], ldtap_span_find(&span, keys[i]), "%s", keys[i]);
    }
    cr_expect_null(found[1]);
    cr_assert_not_null(found[0]);
    cr_expect_eq(found[0]->int_value, 6379);
    cr_assert_not_null(found[2]);
    cr_expect_eq(found[2]->key, copied_key);
}

Test(span, release_many_frees_with_the_last_reference) {
    struct ldtap_resource *resource = ldtap_resource_new();
    cr_assert_not_null(resource);
    for (int i = 0; i < 4; i++) {
        ldtap_resource_retain(resource);
    }
    ldtap_resource_release_many(resource, 3);
    cr_expect_eq(__atomic_load_n(&resource->reference_count, __ATOMIC_RELAXED), 2);
    ldtap_resource_release_many(resource, 0); /* nothing */
    ldtap_resource_release_many(NULL, 2);     /* nothing */
    ldtap_resource_release_many(resource, 2); /* freed: ASan would see a leak otherwise */
}
