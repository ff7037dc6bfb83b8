/* argp_parse with argp's standard options, -?/--help, --usage and
 * -V/--version, but without the two hidden ones that glibc adds along
 * with them: --HANG[=SECS], which sleeps (an hour by default) and which
 * any unambiguous prefix, "--H" or "--HA", reaches; and --program-name,
 * which renames the process for glibc's own messages. A command line
 * must never make a program hang. Shared by austin, austinp (cli.c) and
 * austinp-resolve (resolve_args.c). */
#ifndef ARGP_STD_H
#define ARGP_STD_H

#include <argp.h>

/* As argp_parse (flags, arg_index and input alike); ARGP_NO_HELP is
 * implied. --help and --usage print as argp prints them, -V prints
 * argp_program_version; each then exits 0 unless ARGP_NO_EXIT. */
error_t argp_std_parse(const struct argp *argp, int argc, char **argv, unsigned flags,
                       int *arg_index, void *input);

#endif
