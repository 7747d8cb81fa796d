/* Tests of collector/route.c: path templating, normalisation, LDTAP_ROUTES patterns and the
 * per-service cap on distinct routes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "route.h"

static struct ldtap_route_table *table_or_fail(const char *patterns, uint32_t limit) {
    char error[512] = "";
    struct ldtap_route_table *table = ldtap_route_table_create(patterns, limit, error, sizeof error);
    cr_assert_not_null(table, "create failed: %s", error);
    return table;
}

static void expect_route(struct ldtap_route_table *table, const char *service, const char *path,
                         const char *expected) {
    char route[LDTAP_ROUTE_MAX_BYTES];
    ldtap_route_for_path(table, service, path, strlen(path), route);
    cr_expect_str_eq(route, expected, "path %s", path);
}

Test(route, identifiers_are_templated) {
    struct ldtap_route_table *table = table_or_fail(NULL, 0);
    expect_route(table, "s", "/orders/123", "/orders/{id}");
    expect_route(table, "s", "/orders/123/items/7", "/orders/{id}/items/{id}");
    expect_route(table, "s", "/u/550e8400-e29b-41d4-a716-446655440000", "/u/{uuid}");
    expect_route(table, "s", "/u/550E8400-E29B-41D4-A716-446655440000/x", "/u/{uuid}/x");
    expect_route(table, "s", "/commit/9fceb02d0ae598e95dc970b74767f19372d61af8", "/commit/{hex}");
    expect_route(table, "s", "/obj/deadbeefdeadbeef", "/obj/{hex}");
    expect_route(table, "s", "/obj/5f3a9c21", "/obj/{hex}");
    expect_route(table, "s", "/reset/eyJhbGciOiJIUzI1NiJ9abcDEF", "/reset/{token}");
    expect_route(table, "s", "/s/Ab3_-xYz0123456789Qq==", "/s/{token}");
    ldtap_route_table_free(table);
}

Test(route, words_and_slugs_are_kept) {
    struct ldtap_route_table *table = table_or_fail(NULL, 0);
    const char *kept[] = {"/feedback",
                          "/api/v1/users",
                          "/decade/facade/defaced",
                          "/deadbeef",
                          "/cafe1234x",
                          "/my-blog-post-about-things-2024",
                          "/getUserAccountSettingsPage",
                          "/ab12cd3",
                          "/2024-01-31",
                          "/abcdefABCDEF123456789==="};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        expect_route(table, "s", kept[i], kept[i]);
    }
    ldtap_route_table_free(table);
}

Test(route, normalisation) {
    struct ldtap_route_table *table = table_or_fail(NULL, 0);
    expect_route(table, "s", "/", "/");
    expect_route(table, "s", "", "/");
    expect_route(table, "s", "//a///b//", "/a/b");
    expect_route(table, "s", "/a/b/", "/a/b");
    expect_route(table, "s", "/a?x=1/2", "/a");
    expect_route(table, "s", "/a#frag", "/a");
    expect_route(table, "s", "relative/1", "/relative/{id}");
    ldtap_route_table_free(table);
}

Test(route, long_paths_are_capped_at_segment_boundaries) {
    struct ldtap_route_table *table = table_or_fail(NULL, 0);
    char path[1200] = "";
    for (int i = 0; i < 100; i++) {
        strcat(path, "/segment");
    }
    char route[LDTAP_ROUTE_MAX_BYTES];
    ldtap_route_for_path(table, "s", path, strlen(path), route);
    size_t length = strlen(route);
    cr_expect_leq(length, LDTAP_ROUTE_MAX_BYTES - 1);
    cr_expect_str_eq(route + length - 2, "/*");
    cr_expect_str_eq(route + length - 10, "/segment/*");

    char huge_segment[600] = "/";
    memset(huge_segment + 1, 'w', 500);
    ldtap_route_for_path(table, "s", huge_segment, strlen(huge_segment), route);
    cr_expect_str_eq(route, "/*");

    /* More segments than the splitter keeps still ends in the marker. */
    char many[1100] = "";
    for (int i = 0; i < 300; i++) {
        strcat(many, "/a");
    }
    ldtap_route_for_path(table, "s", many, strlen(many), route);
    cr_expect_str_eq(route + strlen(route) - 2, "/*");
    ldtap_route_table_free(table);
}

Test(route, user_patterns_first) {
    struct ldtap_route_table *table =
        table_or_fail(" /users/{user_id}/posts/{post} , /static/*,/health,/,/orders/{id}/items", 0);
    expect_route(table, "s", "/users/alice/posts/hello", "/users/{user_id}/posts/{post}");
    expect_route(table, "s", "/users/alice/posts", "/users/alice/posts"); /* too short: template */
    expect_route(table, "s", "/static/css/site.css", "/static/*");
    expect_route(table, "s", "/static", "/static/*");
    expect_route(table, "s", "/health/", "/health");
    expect_route(table, "s", "/", "/");
    expect_route(table, "s", "/orders/abc/items", "/orders/{id}/items");
    expect_route(table, "s", "/Health", "/Health"); /* case-sensitive */
    expect_route(table, "s", "/other/99", "/other/{id}");
    ldtap_route_table_free(table);
}

Test(route, pattern_routes_do_not_use_the_cap) {
    struct ldtap_route_table *table = table_or_fail("/p/{x}", 1);
    char route[LDTAP_ROUTE_MAX_BYTES];
    cr_expect(ldtap_route_for_path(table, "s", "/p/1", 4, route));
    cr_expect(ldtap_route_for_path(table, "s", "/a", 2, route));
    cr_expect(ldtap_route_for_path(table, "s", "/p/2", 4, route));
    cr_expect_eq(ldtap_route_overflow_count(table), 0);
    ldtap_route_table_free(table);
}

Test(route, invalid_patterns_are_named) {
    const char *bad[] = {"users/{id}", "/a,,/b", "/a,", "/a//b", "/a/", "/{}/x", "/{id/x", "/a{id}",
                         "/*/x", "/a b", "/x/{na me}", "/q?x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char error[512] = "";
        struct ldtap_route_table *table = ldtap_route_table_create(bad[i], 10, error, sizeof error);
        cr_expect_null(table, "accepted \"%s\"", bad[i]);
        ldtap_route_table_free(table);
        cr_expect(strstr(error, "LDTAP_ROUTES") != NULL, "error: %s", error);
        cr_expect(strstr(error, "accepted:") != NULL, "error: %s", error);
    }
    char error[512];
    cr_assert_null(ldtap_route_table_create("/ok,nope", 10, error, sizeof error));
    cr_expect(strstr(error, "\"nope\"") != NULL, "error: %s", error);
    cr_expect(strstr(error, "does not start with '/'") != NULL, "error: %s", error);

    char long_pattern[400] = "/";
    memset(long_pattern + 1, 'a', 300);
    cr_expect_null(ldtap_route_table_create(long_pattern, 10, error, sizeof error));

    /* Empty or blank LDTAP_ROUTES means no patterns. */
    struct ldtap_route_table *table = table_or_fail("  ", 0);
    ldtap_route_table_free(table);
}

Test(route, overflow_bucket_and_counter) {
    struct ldtap_route_table *table = table_or_fail(NULL, 3);
    char route[LDTAP_ROUTE_MAX_BYTES];
    cr_expect(ldtap_route_for_path(table, "s", "/a", 2, route));
    cr_expect(ldtap_route_for_path(table, "s", "/b/1", 4, route));
    cr_expect(ldtap_route_for_path(table, "s", "/b/2", 4, route)); /* same route /b/{id} */
    cr_expect(ldtap_route_for_path(table, "s", "/c", 2, route));
    cr_expect_eq(ldtap_route_overflow_count(table), 0);

    cr_expect_not(ldtap_route_for_path(table, "s", "/d", 2, route));
    cr_expect_str_eq(route, LDTAP_ROUTE_OVERFLOW);
    cr_expect_not(ldtap_route_for_path(table, "s", "/e", 2, route));
    cr_expect_eq(ldtap_route_overflow_count(table), 2);

    /* Known routes keep working after the cap. */
    cr_expect(ldtap_route_for_path(table, "s", "/b/99", 5, route));
    cr_expect_str_eq(route, "/b/{id}");
    cr_expect(ldtap_route_for_path(table, "s", "/a/", 3, route));
    cr_expect_str_eq(route, "/a");
    cr_expect_eq(ldtap_route_overflow_count(table), 2);
    ldtap_route_table_free(table);
}

Test(route, caps_are_per_service) {
    struct ldtap_route_table *table = table_or_fail(NULL, 2);
    char route[LDTAP_ROUTE_MAX_BYTES];
    cr_expect(ldtap_route_for_path(table, "one", "/a", 2, route));
    cr_expect(ldtap_route_for_path(table, "one", "/b", 2, route));
    cr_expect_not(ldtap_route_for_path(table, "one", "/c", 2, route));
    cr_expect(ldtap_route_for_path(table, "two", "/c", 2, route));
    cr_expect(ldtap_route_for_path(table, "two", "/d", 2, route));
    cr_expect_not(ldtap_route_for_path(table, "two", "/e", 2, route));
    cr_expect(ldtap_route_for_path(table, NULL, "/x", 2, route)); /* no name: its own service */
    cr_expect_eq(ldtap_route_overflow_count(table), 2);
    ldtap_route_table_free(table);
}

Test(route, many_routes_grow_the_table) {
    struct ldtap_route_table *table = table_or_fail(NULL, 5000);
    char path[64], route[LDTAP_ROUTE_MAX_BYTES];
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof path, "/r%d", i);
        cr_assert(ldtap_route_for_path(table, "s", path, strlen(path), route), "route %d", i);
        cr_assert_str_eq(route, path);
    }
    cr_expect_not(ldtap_route_for_path(table, "s", "/one-more", 9, route));
    for (int i = 0; i < 5000; i += 97) {
        snprintf(path, sizeof path, "/r%d", i);
        cr_expect(ldtap_route_for_path(table, "s", path, strlen(path), route));
    }
    cr_expect_eq(ldtap_route_overflow_count(table), 1);
    ldtap_route_table_free(table);
}

Test(route, service_count_is_bounded) {
    struct ldtap_route_table *table = table_or_fail(NULL, 10);
    char service[32], route[LDTAP_ROUTE_MAX_BYTES];
    uint64_t overflowed = 0;
    for (int i = 0; i < 300; i++) {
        snprintf(service, sizeof service, "svc-%d", i);
        overflowed += !ldtap_route_for_path(table, service, "/a", 2, route);
    }
    cr_expect_gt(overflowed, 0);
    cr_expect_eq(ldtap_route_overflow_count(table), overflowed);
    ldtap_route_table_free(table);
}
