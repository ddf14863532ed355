/* perc-tool's subcommand groups; each gets the words after its name. */
#ifndef PERC_TOOL_COMMANDS_H
#define PERC_TOOL_COMMANDS_H

int cmd_srtp(int argc, char **argv);
int cmd_double(int argc, char **argv);
int cmd_ekt(int argc, char **argv);
int cmd_tunnel(int argc, char **argv);
int cmd_vectors(int argc, char **argv);
int cmd_identity(int argc, char **argv);
int cmd_wav(int argc, char **argv);

#endif
