/* perc-tool: placeholder entry until the subcommands land. */
#include <stdio.h>

int main(void)
{
    fputs("perc-tool: no subcommands yet\n", stderr);
    return 2;
}
