#include "common/home.h"
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fs.h"
#include "common/json.h"

static nc_err absolute(const char *src, char *out, size_t out_len)
{
    char buf[PATH_MAX];
    int n;
    if (src[0] == '/') {
        n = snprintf(buf, sizeof buf, "%s", src);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return NC_ERR_IO;
        n = snprintf(buf, sizeof buf, "%s/%s", cwd, src);
    }
    if (n < 0 || (size_t)n >= sizeof buf || (size_t)n > out_len - 64)
        return NC_ERR_TOO_LARGE;
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    memcpy(out, buf, (size_t)n + 1);
    return NC_OK;
}

static const char *user_home(void)
{
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    return home;
}

static nc_err single_user(const char *root, nc_home *out)
{
    nc_err err = absolute(root, out->root, sizeof out->root);
    if (err != NC_OK)
        return err;
    if (nc_home_path(out, "run", out->run_dir, sizeof out->run_dir) != NC_OK ||
        nc_home_path(out, NC_HOME_CONFIG, out->config, sizeof out->config) != NC_OK)
        return NC_ERR_TOO_LARGE;
    out->worker_uid = geteuid();
    struct passwd *pw = getpwuid(out->worker_uid);
    snprintf(out->worker_user, sizeof out->worker_user, "%s", pw ? pw->pw_name : "?");
    return NC_OK;
}

/* system.json: {"home": "/var/lib/nightcore", "run_dir": "/run/nightcore", "user": "nightcore", "uid": N} */
static nc_err service(const char *path, nc_home *out, char *msg, size_t msg_len)
{
    static const char *const keys[] = {"home", "run_dir", "user", "uid", "operators", "worker", "worker_key", NULL};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, msg_len, "cannot read %.300s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NC_ERR_IO;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        snprintf(msg, msg_len, "%.300s must be a file of root's that only root can write (it says where the worker "
                 "is): refusing it", path);
        return NC_ERR_UNAUTHORIZED;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    nc_err err = nc_read_fd(fd, 64 * 1024, &data, &len);
    close(fd);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read %.300s", path);
        return err;
    }
    json_t *o = NULL;
    uint64_t uid = 0;
    err = nc_json_parse_strict(data, len, &o, NULL, 0);
    free(data);
    const char *home = json_string_value(json_object_get(o, "home")),
               *run = json_string_value(json_object_get(o, "run_dir")),
               *user = json_string_value(json_object_get(o, "user"));
    if (err != NC_OK || !json_is_object(o) || nc_json_only_keys(o, keys, NULL, 0) != NC_OK || !home ||
        home[0] != '/' || !run || run[0] != '/' || !user || strlen(user) >= sizeof out->worker_user ||
        nc_json_uint(json_object_get(o, "uid"), 0x7fffffff, &uid) != NC_OK ||
        (size_t)snprintf(out->root, sizeof out->root, "%s", home) >= sizeof out->root - 64 ||
        (size_t)snprintf(out->run_dir, sizeof out->run_dir, "%s", run) >= sizeof out->run_dir - 64) {
        json_decref(o);
        snprintf(msg, msg_len, "%.300s is malformed (want {\"home\", \"run_dir\", \"user\", \"uid\"}); run "
                 "`nightcore system install` again", path);
        return NC_ERR_MALFORMED;
    }
    snprintf(out->worker_user, sizeof out->worker_user, "%s", user);
    const char *wk = json_string_value(json_object_get(o, "worker_key"));
    if (wk && strlen(wk) < sizeof out->worker_key)
        snprintf(out->worker_key, sizeof out->worker_key, "%s", wk);
    out->worker_uid = (uid_t)uid;
    out->service = true;
    json_decref(o);
    const char *xdg = getenv("XDG_CONFIG_HOME"), *h = user_home();
    int n = xdg && xdg[0] == '/' ? snprintf(out->config, sizeof out->config, "%s/nightcore/config.json", xdg)
            : h                  ? snprintf(out->config, sizeof out->config, "%s/.config/nightcore/config.json", h)
                                 : snprintf(out->config, sizeof out->config, "/nonexistent/config.json");
    return n < 0 || (size_t)n >= sizeof out->config ? NC_ERR_TOO_LARGE : NC_OK;
}

nc_err nc_home_resolve_ex(const char *override, nc_home *out, char *msg, size_t msg_len)
{
    memset(out, 0, sizeof *out);
    if (msg_len)
        msg[0] = '\0';
    const char *src = override && override[0] ? override : getenv("NIGHTCORE_HOME");
    if (src && src[0])
        return single_user(src, out);
    const char *sys = getenv(NC_SYSTEM_CONFIG_ENV);
    if (!sys || !sys[0])
        sys = NC_SYSTEM_CONFIG;
    struct stat st;
    if (lstat(sys, &st) == 0)
        return service(sys, out, msg, msg_len);
    const char *home = user_home();
    if (!home)
        return NC_ERR_USAGE;
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s/.nightcore", home) >= sizeof buf)
        return NC_ERR_TOO_LARGE;
    return single_user(buf, out);
}

nc_err nc_home_resolve(const char *override, nc_home *out)
{
    char msg[8];
    return nc_home_resolve_ex(override, out, msg, sizeof msg);
}

nc_err nc_home_path(const nc_home *h, const char *rel, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s", h->root, rel);
    return n < 0 || (size_t)n >= out_len ? NC_ERR_TOO_LARGE : NC_OK;
}

nc_err nc_home_socket(const nc_home *h, const char *name, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s", h->run_dir, name);
    return n < 0 || (size_t)n >= out_len ? NC_ERR_TOO_LARGE : NC_OK;
}
