/* The collector session: everything `run` and `collect` share between reading the
 * configuration and printing the summary. */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ldtap_base_directory(const struct ldtap_config *config, char *path, size_t path_size, char *error,
                         size_t error_size) {
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    int length = config->run_dir ? snprintf(path, path_size, "%s", config->run_dir)
                 : runtime && runtime[0] == '/' ? snprintf(path, path_size, "%s/ldtap", runtime)
                                                 : snprintf(path, path_size, "/dev/shm/ldtap-%u", (unsigned)getuid());
    if (length < 0 || (size_t)length >= path_size) {
        snprintf(error, error_size, "the ring directory path is too long");
        return -1;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(error, error_size, "cannot create the ring directory %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat status;
    if (lstat(path, &status) != 0) {
        snprintf(error, error_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    const char *problem = S_ISLNK(status.st_mode)        ? "is a symbolic link"
                          : !S_ISDIR(status.st_mode)     ? "is not a directory"
                          : status.st_uid != geteuid()   ? "belongs to another user"
                          : (status.st_mode & 0022) != 0 ? "is writable by other users"
                                                         : NULL;
    if (problem) {
        snprintf(error, error_size, "the ring directory %s %s; refusing to use it (set LDTAP_RUN_DIR or --run-dir)",
                 path, problem);
        return -1;
    }
    return 0;
}

int ldtap_session_start(struct ldtap_session *session, const struct ldtap_config *config, const char *directory,
                        const char *fallback_service_name, char *error, size_t error_size) {
    memset(session, 0, sizeof *session);
    session->config = config;
    char detail[256] = "";
    session->summary = ldtap_summary_new();
    session->routes = ldtap_route_table_create(config->routes ? config->routes : "", config->max_routes, detail,
                                               sizeof detail);
    if (!session->summary || !session->routes) {
        snprintf(error, error_size, "%s", session->routes ? "out of memory" : detail);
        goto failed;
    }
    ldtap_sampler_init(&session->sampler, config->sampler, config->sampler_ratio);
    if (config->export_enabled) {
        struct ldtap_exporter_config exporter_config;
        ldtap_config_exporter(config, &exporter_config);
        session->exporter = ldtap_exporter_start(&exporter_config, detail, sizeof detail);
        if (!session->exporter) {
            snprintf(error, error_size, "%s", detail);
            goto failed;
        }
    }
    struct ldtap_drain_options options = {
        .directory = directory,
        .all_users = config->all_users,
        .quiet = config->quiet,
        .resource_defaults = {.service_name = config->service_name,
                              .resource_attributes = config->resource_attributes,
                              .fallback_service_name = fallback_service_name},
        .exporter = session->exporter,
        .routes = session->routes,
        .sampler = &session->sampler,
        .summary = session->summary,
    };
    session->drain = ldtap_drain_create(&options, error, error_size);
    if (session->drain) {
        return 0;
    }
failed:
    if (session->exporter) {
        ldtap_exporter_stop(session->exporter, 0, &(struct ldtap_export_stats){0});
    }
    ldtap_route_table_free(session->routes);
    ldtap_summary_free(session->summary);
    memset(session, 0, sizeof *session);
    return -1;
}

void ldtap_session_finish(struct ldtap_session *session, uint32_t grace_ms) {
    const struct ldtap_config *config = session->config;
    ldtap_drain_finish(session->drain, grace_ms);
    struct ldtap_summary_totals totals = {
        .destination = config->traces_url ? config->traces_url : config->output_path,
        .to_file = config->traces_url == NULL,
        .export_disabled = !config->export_enabled,
    };
    if (session->exporter) {
        struct ldtap_export_stats stats = {0};
        ldtap_exporter_stop(session->exporter, config->export_deadline_ms, &stats);
        totals.exported = stats.exported_spans;
        totals.dropped_queue_full = stats.dropped_queue_full;
        totals.dropped_after_retries = stats.dropped_after_retries;
        if (stats.last_error[0] && !config->quiet) {
            fprintf(stderr, "ldtap: export: %s\n", stats.last_error);
        }
    }
    ldtap_drain_totals(session->drain, &totals);
    totals.route_overflow = ldtap_route_overflow_count(session->routes);
    if (!config->quiet && !config->no_summary) {
        ldtap_summary_print(session->summary, &totals, stderr);
    }
    ldtap_drain_destroy(session->drain);
    ldtap_route_table_free(session->routes);
    ldtap_summary_free(session->summary);
    memset(session, 0, sizeof *session);
}
