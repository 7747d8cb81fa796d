/* The `ldtap` binary: dispatches to `run`, `collect`, help and version. */
#include <stdio.h>
#include <string.h>

#include "cli_collect.h"
#include "cli_run.h"
#include "cli_top.h"
#include "config.h"

static void print_help(FILE *out) {
    fputs("Usage: ldtap COMMAND [options]\n"
          "\n"
          "OpenTelemetry traces for unmodified Linux programs.\n"
          "\n"
          "Commands:\n"
          "  run [options] [--] CMD [ARGS...]  run CMD traced; exit with its status\n"
          "  collect [options]                 drain the rings of programs preloaded by hand\n"
          "  top [--url URL] [--interval S]    live view of a collector's metrics (q quits)\n"
          "  help [COMMAND]                    show help (for COMMAND)\n"
          "\n"
          "Options:\n"
          "  -h, --help                        show this help\n"
          "  -V, --version                     show the version\n"
          "\n"
          "Configuration comes from the standard OTEL_* variables (OTEL_SERVICE_NAME,\n"
          "OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER, ...) and LDTAP_* ones; flags win.\n"
          "Without an endpoint, spans go to ./ldtap-traces.jsonl. See 'ldtap help run'.\n",
          out);
}

static int help_for(const char *command) {
    if (!command) {
        print_help(stdout);
    } else if (strcmp(command, "run") == 0) {
        ldtap_cli_run_help(stdout);
    } else if (strcmp(command, "collect") == 0) {
        ldtap_cli_collect_help(stdout);
    } else if (strcmp(command, "top") == 0) {
        ldtap_cli_top_help(stdout);
    } else {
        fprintf(stderr, "ldtap: help: unknown command '%s'; use run, collect or top\n", command);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "run") == 0) {
        return ldtap_cli_run(argc - 2, argv + 2);
    }
    if (strcmp(command, "collect") == 0) {
        return ldtap_cli_collect(argc - 2, argv + 2);
    }
    if (strcmp(command, "top") == 0) {
        return ldtap_cli_top(argc - 2, argv + 2);
    }
    if (strcmp(command, "help") == 0) {
        return help_for(argc > 2 ? argv[2] : NULL);
    }
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0) {
        return help_for(NULL);
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "-V") == 0) {
        printf("ldtap %s\n", LDTAP_VERSION);
        return 0;
    }
    fprintf(stderr, "ldtap: '%s' is not a command; use run, collect, top or help\n", command);
    return 2;
}
