/* nightcore-worker: the only Night Core program that links the engine and the
 * only one that can execute a module. */
#include <stdio.h>
#include <string.h>
#include "sandbox/sandbox.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nightcore-worker serve [--home DIR]\n"
            "       nightcore-worker --version\n"
            "\n"
            "The Night Core worker: verifies, sandboxes and records every run.\n");
}

static void print_version(void)
{
    nc_isolation_report iso;
    nc_isolation_probe(&iso);
    printf("nightcore-worker %s (engine: Wasmtime C API 48.0.8)\n", NC_VERSION);
    printf("isolation available: user+net namespaces %s, Landlock ABI %d, seccomp %s\n",
           iso.userns ? "yes" : "no", iso.landlock_abi, iso.seccomp ? "yes" : "no");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sandbox-child") == 0)
        nc_sandbox_child_main();
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        print_version();
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        fprintf(stderr, "nightcore-worker: the daemon is not available in this version yet\n");
        return 1;
    }
    usage(stderr);
    return 2;
}
