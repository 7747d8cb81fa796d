/* `ldtap collect`: the collector as a long-running daemon over the base ring directory. */
#ifndef LDTAP_CLI_COLLECT_H
#define LDTAP_CLI_COLLECT_H

#include <stdio.h>

/* `argv[0]` is the first argument after "collect". Returns ldtap's exit status. */
int ldtap_cli_collect(int argc, char **argv);

void ldtap_cli_collect_help(FILE *out);

#endif
