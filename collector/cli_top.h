/* `ldtap top`: a live terminal view of a collector's Prometheus endpoint. */
#ifndef LDTAP_CLI_TOP_H
#define LDTAP_CLI_TOP_H

#include <stdio.h>

/* `argv[0]` is the first argument after "top". Returns ldtap's exit status. */
int ldtap_cli_top(int argc, char **argv);

void ldtap_cli_top_help(FILE *out);

#endif
