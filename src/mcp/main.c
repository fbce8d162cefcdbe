/* nightcore-mcp: the MCP server through which agents submit modules to the inbox. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("nightcore-mcp %s\n", NC_VERSION);
        return 0;
    }
    FILE *f = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? stdout : stderr;
    fprintf(f, "usage: nightcore-mcp --version\n\nnightcore-mcp: the MCP server through which agents submit modules to the inbox.\n"
               "Not available in this version yet: only --version and --help.\n");
    return f == stdout ? 0 : 2;
}
