/* `ldtap run`: validate the configuration, start CMD with the shim preloaded in a private
 * ring directory, forward signals, drain while it runs, and leave with its status. */
#include "cli_run.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "command.h"
#include "config.h"
#include "priority.h"
#include "run_directory.h"
#include "session.h"

/* How long descendants that outlive CMD get to finish their spans. */
#define DESCENDANT_GRACE_MS 2000u

extern char **environ;

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1,
                                        SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH};

/* The child's pid, read by the signal handler (0 before the fork). */
static volatile sig_atomic_t child_pid;

static void forward_signal(int signal_number, siginfo_t *info, void *unused) {
    (void)unused;
    int saved_errno = errno;
    /* A signal the terminal generated (SI_KERNEL) already reached the whole foreground
     * process group, CMD included: forwarding it would deliver it twice. */
    if (child_pid > 0 && info->si_code != SI_KERNEL && info->si_pid != child_pid) {
        kill((pid_t)child_pid, signal_number);
    }
    errno = saved_errno;
}

static void wake_up(int signal_number) { (void)signal_number; /* interrupts poll() */ }

static void set_handlers(void) {
    struct sigaction action = {0};
    action.sa_sigaction = forward_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++) {
        sigaction(forwarded_signals[i], &action, NULL);
    }
    struct sigaction child_exit = {0};
    child_exit.sa_handler = wake_up;
    child_exit.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &child_exit, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stderr or socket must not kill the collector */
}

/* In the child before exec: the dispositions CMD would have had without ldtap. Ignored
 * signals survive exec, so SIGPIPE needs this; caught ones would be reset anyway, but a
 * signal arriving before exec must not run our handler. */
static void reset_handlers(void) {
    struct sigaction default_action = {0};
    default_action.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++) {
        sigaction(forwarded_signals[i], &default_action, NULL);
    }
    sigaction(SIGCHLD, &default_action, NULL);
    sigaction(SIGPIPE, &default_action, NULL);
}

/* The child's environment is ours with these variables set to ldtap's values (LD_PRELOAD
 * and LDTAP_RUN_DIR always; the others when configured, validated, by flag or variable). */
enum { CHILD_PRELOAD, CHILD_RUN_DIR, CHILD_RING_SIZE, CHILD_CAPTURE_LOGS, CHILD_LOG_FILES, CHILD_VARIABLES };
static const char *const child_variables[CHILD_VARIABLES] = {"LD_PRELOAD=", "LDTAP_RUN_DIR=", "LDTAP_RING_SIZE=",
                                                             "LDTAP_CAPTURE_LOGS=", "LDTAP_LOG_FILES="};

static bool is_child_variable(const char *entry) {
    for (int i = 0; i < CHILD_VARIABLES; i++) {
        if (strncmp(entry, child_variables[i], strlen(child_variables[i])) == 0) {
            return true;
        }
    }
    return false;
}

static char **child_environment(const char *shim, const char *run_directory, const struct ldtap_config *config) {
    size_t count = 0;
    while (environ[count]) {
        count++;
    }
    char **environment = calloc(count + CHILD_VARIABLES + 1, sizeof *environment);
    char *values[CHILD_VARIABLES] = {ldtap_command_preload_value(shim, getenv("LD_PRELOAD")), NULL, NULL, NULL, NULL};
    char ring_size[32] = "";
    if (config->ring_size) {
        snprintf(ring_size, sizeof ring_size, "%llu", (unsigned long long)config->ring_size);
    }
    /* NULL: the variable is left as environ has it (LD_PRELOAD and the run dir are always set). */
    const char *sources[CHILD_VARIABLES] = {values[CHILD_PRELOAD], run_directory, ring_size[0] ? ring_size : NULL,
                                            config->capture_logs, config->log_files};
    char *entries[CHILD_VARIABLES] = {NULL};
    bool failed = !environment || !values[CHILD_PRELOAD];
    for (int i = 0; i < CHILD_VARIABLES && !failed; i++) {
        failed = sources[i] && asprintf(&entries[i], "%s%s", child_variables[i], sources[i]) < 0;
        entries[i] = failed ? NULL : entries[i]; /* asprintf leaves a failed entry undefined */
    }
    free(values[CHILD_PRELOAD]);
    if (failed) {
        for (int i = 0; i < CHILD_VARIABLES; i++) {
            free(entries[i]);
        }
        free(environment);
        return NULL;
    }
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        bool replaced = false;
        for (int j = 0; j < CHILD_VARIABLES; j++) {
            replaced |= entries[j] && strncmp(environ[i], child_variables[j], strlen(child_variables[j])) == 0;
        }
        if (!replaced) {
            environment[used++] = environ[i];
        }
    }
    for (int i = 0; i < CHILD_VARIABLES; i++) {
        if (entries[i]) {
            environment[used++] = entries[i];
        }
    }
    return environment;
}

/* Frees what child_environment allocated: the array and the entries it added. An entry of
 * environ naming one of child_variables is kept only when we added none of that name, so
 * it must not be freed: those copied from environ are recognised by pointer. */
static void free_child_environment(char **environment) {
    if (!environment) {
        return;
    }
    for (size_t i = 0; environment[i]; i++) {
        if (!is_child_variable(environment[i])) {
            continue; /* copied from environ: only ours are looked for there */
        }
        bool from_environ = false;
        for (size_t j = 0; environ[j] && !from_environ; j++) {
            from_environ = environ[j] == environment[i];
        }
        if (!from_environ) {
            free(environment[i]);
        }
    }
    free(environment);
}

/* Leaves the way CMD left: same exit code, or death by the same signal. */
static int exit_like(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    int signal_number = WTERMSIG(status);
    /* CMD already dumped core if it was going to; a second core from ldtap helps nobody. */
    setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    signal(signal_number, SIG_DFL);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, signal_number);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    raise(signal_number);
    return 128 + signal_number; /* the signal was not fatal after all */
}

static pid_t start_child(char *path, char **argv, char **environment) {
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) {
        reset_handlers();
        sigprocmask(SIG_SETMASK, &previous, NULL);
        ldtap_command_exec(path, argv, environment);
        int failure = errno;
        /* Only async-signal-safe calls here: the exporter's thread may hold malloc's lock. */
        static const char message[] = "ldtap: exec of the command failed\n";
        ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
        (void)ignored;
        _exit(failure == ENOENT ? 127 : 126);
    }
    if (pid > 0) {
        child_pid = pid;
    }
    sigprocmask(SIG_SETMASK, &previous, NULL);
    return pid;
}

void ldtap_cli_run_help(FILE *out) {
    fputs("Usage: ldtap run [options] [--] CMD [ARGS...]\n"
          "\n"
          "Runs CMD with libldtap.so preloaded, turns every HTTP request it serves or makes\n"
          "into an OpenTelemetry span, and exports the spans (OTLP/HTTP to an endpoint, or\n"
          "OTLP-JSON lines to a file). Signals sent to ldtap reach CMD; when CMD exits, ldtap\n"
          "drains what is left, prints a summary on stderr and exits with CMD's status.\n"
          "Statically linked programs cannot be instrumented: they run untraced.\n\n",
          out);
    ldtap_config_print_options(LDTAP_COMMAND_RUN, out);
    fputs("\nExit status: CMD's; 127 if CMD is not found, 126 if it cannot be executed,\n"
          "2 for a bad option or variable.\n",
          out);
}

static int run_untraced(char *path, char **argv) {
    ldtap_command_exec(path, argv, environ);
    fprintf(stderr, "ldtap: %s: %s\n", argv[0], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}

/* Drains until the child exits; returns its wait status. A subreaper also reaps the
 * orphans it adopted, as they exit. */
static int supervise(struct ldtap_session *session, pid_t pid, bool subreaper) {
    for (;;) {
        int status = 0;
        pid_t finished;
        while ((finished = waitpid(subreaper ? -1 : pid, &status, WNOHANG)) > 0 && finished != pid) {
            /* an adopted orphan: nothing to report */
        }
        if (finished == pid || (finished < 0 && errno == ECHILD)) {
            return status;
        }
        ldtap_session_drain_round(session);
    }
}

/* As root, CMD's processes may switch to other users, and their rings are read only when
 * they descend from us (ring_owner.c). A process that daemonizes would be reparented to
 * init and stop being one; as a child subreaper we adopt it instead. */
static bool become_subreaper(void) { return geteuid() == 0 && prctl(PR_SET_CHILD_SUBREAPER, 1) == 0; }

static int run_traced(const struct ldtap_config *config, char *path, char **argv) {
    char error[PATH_MAX + 256];
    char shim[PATH_MAX];
    char base[PATH_MAX];
    char run_directory[PATH_MAX + 64];
    if (ldtap_command_find_shim(config->shim_path, shim, sizeof shim, error, sizeof error) != 0 ||
        ldtap_base_directory(config, base, sizeof base, error, sizeof error) != 0) {
        fprintf(stderr, "ldtap: %s\n", error);
        return 2;
    }
    if (ldtap_run_directory_create(base, config->run_dir != NULL, run_directory, sizeof run_directory, error,
                                   sizeof error) != 0) {
        fprintf(stderr, "ldtap: %s\n", error);
        return 2;
    }
    const char *slash = strrchr(argv[0], '/');
    const char *command_name = slash ? slash + 1 : argv[0];
    struct ldtap_session session;
    if (ldtap_session_start(&session, config, run_directory, command_name, error, sizeof error) != 0) {
        fprintf(stderr, "ldtap: %s\n", error);
        rmdir(run_directory);
        return 2;
    }
    char **environment = child_environment(shim, run_directory, config);
    set_handlers();
    bool subreaper = become_subreaper();
    pid_t pid = environment ? start_child(path, argv, environment) : -1;
    free_child_environment(environment);
    if (pid < 0) {
        fprintf(stderr, "ldtap: cannot start %s: %s\n", argv[0], strerror(errno));
        ldtap_session_finish(&session, 0);
        ldtap_run_directory_remove(run_directory);
        return 126;
    }
    /* Only now: the child must not inherit a lower priority (it could not raise it back). */
    ldtap_priority_lower((int)config->collector_nice);
    int status = supervise(&session, pid, subreaper);
    ldtap_session_finish(&session, DESCENDANT_GRACE_MS);
    ldtap_run_directory_remove(run_directory);
    return exit_like(status);
}

int ldtap_cli_run(int argc, char **argv) {
    struct ldtap_config config;
    char error[1024] = "";
    int command_index = argc;
    if (ldtap_config_load(&config, LDTAP_COMMAND_RUN, argc, argv, &command_index, error, sizeof error) != 0) {
        fprintf(stderr, "ldtap: %s\n", error);
        ldtap_config_free(&config);
        return 2;
    }
    if (config.help) {
        ldtap_cli_run_help(stdout);
        ldtap_config_free(&config);
        return 0;
    }
    if (command_index >= argc) {
        fprintf(stderr, "ldtap: run: no command given; usage: ldtap run [options] [--] CMD [ARGS...]\n");
        ldtap_config_free(&config);
        return 2;
    }
    char **command = argv + command_index;
    char path[PATH_MAX];
    int resolved = ldtap_command_resolve(command[0], path, sizeof path, error, sizeof error);
    if (resolved != 0) {
        fprintf(stderr, "ldtap: %s\n", error);
        ldtap_config_free(&config);
        return resolved;
    }
    if (config.sdk_disabled) {
        ldtap_config_free(&config);
        return run_untraced(path, command);
    }
    if (ldtap_command_is_static_elf(path)) {
        if (!config.quiet) {
            fprintf(stderr, "ldtap: warning: %s is statically linked, so LD_PRELOAD cannot instrument it; "
                            "running it untraced\n", command[0]);
        }
        ldtap_config_free(&config);
        return run_untraced(path, command);
    }
    int status = run_traced(&config, path, command);
    ldtap_config_free(&config);
    return status;
}
