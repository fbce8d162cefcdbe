/* nightcore: the operator command line (init, inbox, approve, run, audit). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("nightcore %s\n", NC_VERSION);
        return 0;
    }
    FILE *f = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? stdout : stderr;
    fprintf(f, "usage: nightcore --version\n\nnightcore: the operator command line (init, inbox, approve, run, audit).\n"
               "Not available in this version yet: only --version and --help.\n");
    return f == stdout ? 0 : 2;
}
