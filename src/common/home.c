#include "common/home.h"
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

nc_err nc_home_resolve(const char *override, nc_home *out)
{
    const char *src = override && override[0] ? override : getenv("NIGHTCORE_HOME");
    char buf[PATH_MAX];
    int n;
    if (src && src[0]) {
        if (src[0] == '/') {
            n = snprintf(buf, sizeof buf, "%s", src);
        } else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd))
                return NC_ERR_IO;
            n = snprintf(buf, sizeof buf, "%s/%s", cwd, src);
        }
    } else {
        const char *home = getenv("HOME");
        if (!home || !home[0]) {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home)
            return NC_ERR_USAGE;
        n = snprintf(buf, sizeof buf, "%s/.nightcore", home);
    }
    if (n < 0 || (size_t)n >= sizeof buf || (size_t)n > sizeof out->root - 64)
        return NC_ERR_TOO_LARGE;
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    memcpy(out->root, buf, (size_t)n + 1);
    return NC_OK;
}

nc_err nc_home_path(const nc_home *h, const char *rel, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s", h->root, rel);
    return n < 0 || (size_t)n >= out_len ? NC_ERR_TOO_LARGE : NC_OK;
}
