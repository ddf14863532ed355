/* perc-tool: offline PERC tool for interop testers, and the generator of
 * the project's published test vectors. Every subcommand is a thin layer
 * over libperc: the tool computes nothing that the daemons do not. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char USAGE[] =
    "usage: perc-tool <command> [options] [ARG]\n"
    "\n"
    "Offline PERC tool (RFC 8723, 8870, 9185, 7714). Binary inputs are hex on\n"
    "the command line, or '-' to read them from stdin; outputs are hex or JSON.\n"
    "\n"
    "commands:\n"
    "  srtp protect|unprotect     single SRTP/SRTCP AES-GCM (RFC 7714)\n"
    "  double protect|unprotect   double SRTP (RFC 8723), endpoint side\n"
    "  double relay               what a Media Distributor does to one packet\n"
    "  ekt wrap|unwrap            EKT Full fields (RFC 8870)\n"
    "  tunnel encode|decode       RFC 9185 tunnel messages, JSON <-> hex\n"
    "  vectors                    print the project's PERC test vectors\n"
    "  identity new|show          an endpoint's DTLS identity (perc-endpoint --identity)\n"
    "  wav speech|info            test audio for perc-endpoint --audio-in; check a WAV\n"
    "\n"
    "'perc-tool <command> --help' describes each. Exit status: 0 success,\n"
    "1 processing failed (e.g. authentication), 2 bad usage or malformed input.\n";

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command COMMANDS[] = {
    {"srtp", cmd_srtp},     {"double", cmd_double}, {"ekt", cmd_ekt},
    {"tunnel", cmd_tunnel}, {"vectors", cmd_vectors}, {"identity", cmd_identity},
    {"wav", cmd_wav},
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("perc-tool %s\n", PERC_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].run(argc - 2, argv + 2);
    }
    fprintf(stderr, "perc-tool: unknown command '%.40s' (see perc-tool --help)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
