/* A test guest (tests/unit/test_vm.c): booted by the vm tier's own launcher in
 * place of the guest runner, it reports what a guest can see of its machine
 * over the run's port, one line each, then "end":
 *   env NAME=VALUE      its environment (what the kernel hands init)
 *   file PATH SIZE      every file and directory of its root filesystem
 *   dev NAME            the device nodes devtmpfs made
 *   net IFACE           network interfaces (sysfs)
 *   block DEV           block devices
 *   virtio ID           virtio devices (the virtio device id)
 *   pci ADDR            PCI devices
 * It loads the same modules as the runner, from the same modules.order. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;
static FILE *port;

static void report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(port, fmt, ap);
    va_end(ap);
    fputc('\n', port);
}

static void load_modules(void)
{
    char line[256];
    FILE *f = fopen("/modules.order", "re");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char path[300];
        snprintf(path, sizeof path, "/modules/%s", line);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            syscall(SYS_finit_module, fd, "", 0);
        if (fd >= 0)
            close(fd);
    }
    if (f)
        fclose(f);
}

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, e->d_name);
        if (strcmp(p, "/proc") == 0 || strcmp(p, "/sys") == 0 || strcmp(p, "/dev") == 0) {
            report("file %s 0", p);
            continue;
        }
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        report("file %s %lld", p, S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size);
        if (S_ISDIR(st.st_mode))
            walk(p);
    }
    if (d)
        closedir(d);
}

static void list(const char *dir, const char *tag, const char *file_in_entry)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (!file_in_entry) {
            report("%s %s", tag, e->d_name);
            continue;
        }
        char p[512], v[64] = "";
        snprintf(p, sizeof p, "%s/%s/%s", dir, e->d_name, file_in_entry);
        FILE *f = fopen(p, "re");
        if (f && fgets(v, sizeof v, f))
            v[strcspn(v, "\n")] = '\0';
        if (f)
            fclose(f);
        report("%s %s", tag, v);
    }
    if (d)
        closedir(d);
}

int main(void)
{
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("proc", "/proc", "proc", 0, NULL);
    mkdir("/sys", 0555);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    load_modules();
    int fd = -1;
    for (int i = 0; i < 4000 && fd < 0; i++) {
        fd = open("/dev/vport0p1", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            usleep(5000);
    }
    if (fd < 0)
        reboot(RB_POWER_OFF);
    static const unsigned char hello[8] = {'N', 'C', 'V', 'H', 0, 0, 0, 1};
    if (write(fd, hello, sizeof hello) != (ssize_t)sizeof hello)
        reboot(RB_POWER_OFF);
    port = fdopen(fd, "w");
    for (char **e = environ; *e; e++)
        report("env %s", *e);
    walk("/");
    list("/dev", "dev", NULL);
    list("/sys/class/net", "net", NULL);
    list("/sys/block", "block", NULL);
    list("/sys/bus/virtio/devices", "virtio", "device");
    list("/sys/bus/pci/devices", "pci", NULL);
    report("end");
    fflush(port);
    fsync(fd);
    sleep(1);
    reboot(RB_POWER_OFF);
    return 0;
}
