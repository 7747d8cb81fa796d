/* `ldtap run [options] [--] CMD [ARGS...]`: run a program with the shim preloaded and
 * collect its spans until it (and, briefly, its descendants) exit. */
#ifndef LDTAP_CLI_RUN_H
#define LDTAP_CLI_RUN_H

#include <stdio.h>

/* `argv[0]` is the first argument after "run". Returns the exit status for ldtap, or
 * does not return (CMD exec'd untraced, or ldtap dies of CMD's fatal signal). */
int ldtap_cli_run(int argc, char **argv);

void ldtap_cli_run_help(FILE *out);

#endif
