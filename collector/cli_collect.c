/* `ldtap collect`: drain every ring in the base directory (programs started with
 * LD_PRELOAD=libldtap.so directly, not through `ldtap run`) until SIGINT or SIGTERM. */
#include "cli_collect.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "priority.h"
#include "session.h"
#include "shared_directory.h"

static volatile sig_atomic_t stop_requested;

static void request_stop(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

/* With --all-users, --run-dir may name a shared directory (root-owned, mode 01733, made by
 * the administrator) for servers whose workers switch user: they put their rings in
 * `uid-<euid>` subdirectories of it. The base directory's own checks would refuse it as
 * writable by others, which is what it is for. */
static bool shared_directory_for_all_users(const struct ldtap_config *config, char *directory, size_t size) {
    struct stat status;
    if (!config->all_users || !config->run_dir || lstat(config->run_dir, &status) != 0 ||
        !ldtap_shared_directory(&status) || strlen(config->run_dir) >= size) {
        return false;
    }
    snprintf(directory, size, "%s", config->run_dir);
    return true;
}

void ldtap_cli_collect_help(FILE *out) {
    fputs("Usage: ldtap collect [options]\n"
          "\n"
          "Drains the rings of every traced process of your user in the base ring\n"
          "directory (top-level *.ring files; run-* directories belong to `ldtap run`) and\n"
          "exports their spans, until SIGINT or SIGTERM; then drains once more, flushes and\n"
          "prints a summary. Start programs with LD_PRELOAD=/path/to/libldtap.so.\n"
          "Servers whose workers switch user (nginx as root): as root, make a shared ring\n"
          "directory (install -d -m 1733 DIR), start them with LDTAP_RUN_DIR=DIR, and run\n"
          "ldtap collect --all-users --run-dir DIR.\n\n",
          out);
    ldtap_config_print_options(LDTAP_COMMAND_COLLECT, out);
}

int ldtap_cli_collect(int argc, char **argv) {
    struct ldtap_config config;
    char error[1024] = "";
    if (ldtap_config_load(&config, LDTAP_COMMAND_COLLECT, argc, argv, NULL, error, sizeof error) != 0) {
        fprintf(stderr, "ldtap: %s\n", error);
        ldtap_config_free(&config);
        return 2;
    }
    int status = 0;
    char directory[PATH_MAX];
    struct ldtap_session session;
    if (config.help) {
        ldtap_cli_collect_help(stdout);
    } else if (config.all_users && geteuid() != 0) {
        fprintf(stderr, "ldtap: --all-users: only root can read other users' rings\n");
        status = 2;
    } else if (config.sdk_disabled) {
        if (!config.quiet) {
            fprintf(stderr, "ldtap: OTEL_SDK_DISABLED=true: nothing to collect\n");
        }
    } else if ((!shared_directory_for_all_users(&config, directory, sizeof directory) &&
                ldtap_base_directory(&config, directory, sizeof directory, error, sizeof error) != 0) ||
               ldtap_session_start(&session, &config, directory, NULL, error, sizeof error) != 0) {
        fprintf(stderr, "ldtap: %s\n", error);
        status = 2;
    } else {
        ldtap_priority_lower((int)config.collector_nice);
        struct sigaction action = {0};
        action.sa_handler = request_stop;
        sigemptyset(&action.sa_mask);
        sigaction(SIGINT, &action, NULL);
        sigaction(SIGTERM, &action, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* A daemon outlives any number of processes: their heap state goes once reported. */
        ldtap_heap_set_evict_exited(session.heap, true);
        if (!config.quiet) {
            fprintf(stderr, "ldtap: collecting rings in %s (stop with Ctrl-C)\n", directory);
        }
        while (!stop_requested) {
            ldtap_session_drain_round(&session);
        }
        ldtap_session_finish(&session, 0);
    }
    ldtap_config_free(&config);
    return status;
}
