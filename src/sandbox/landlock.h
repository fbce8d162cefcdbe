/* Landlock's stable kernel ABI, for the sandbox child (isolate.c) and for
 * QEMU in the vm tier (vm.c). Debian's headers predate some of it. */
#ifndef NC_SANDBOX_LANDLOCK_H
#define NC_SANDBOX_LANDLOCK_H
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NC_LL_CREATE_RULESET_VERSION (1u << 0)
#define NC_LL_RULE_PATH_BENEATH 1
#define NC_LL_FS_EXECUTE (1ull << 0)
#define NC_LL_FS_WRITE_FILE (1ull << 1)
#define NC_LL_FS_READ_FILE (1ull << 2)
#define NC_LL_FS_READ_DIR (1ull << 3)
#define NC_LL_FS_REMOVE_DIR (1ull << 4)
#define NC_LL_FS_REMOVE_FILE (1ull << 5)
#define NC_LL_FS_MAKE_CHAR (1ull << 6)
#define NC_LL_FS_MAKE_DIR (1ull << 7)
#define NC_LL_FS_MAKE_REG (1ull << 8)
#define NC_LL_FS_MAKE_SOCK (1ull << 9)
#define NC_LL_FS_MAKE_FIFO (1ull << 10)
#define NC_LL_FS_MAKE_BLOCK (1ull << 11)
#define NC_LL_FS_MAKE_SYM (1ull << 12)
#define NC_LL_FS_REFER (1ull << 13)      /* ABI 2 */
#define NC_LL_FS_TRUNCATE (1ull << 14)   /* ABI 3 */
#define NC_LL_FS_IOCTL_DEV (1ull << 15)  /* ABI 5 */
#define NC_LL_NET_BIND_TCP (1ull << 0)   /* ABI 4 */
#define NC_LL_NET_CONNECT_TCP (1ull << 1)
#define NC_LL_SCOPE_ABSTRACT_UNIX (1ull << 0) /* ABI 6 */
#define NC_LL_SCOPE_SIGNAL (1ull << 1)

struct nc_ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct nc_ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

/* The kernel's Landlock ABI version, 0 without Landlock. */
static inline int nc_landlock_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, NC_LL_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

/* Every filesystem right the kernel of this ABI knows. */
static inline uint64_t nc_landlock_fs_rights(int abi)
{
    uint64_t fs = NC_LL_FS_EXECUTE | NC_LL_FS_WRITE_FILE | NC_LL_FS_READ_FILE | NC_LL_FS_READ_DIR |
                  NC_LL_FS_REMOVE_DIR | NC_LL_FS_REMOVE_FILE | NC_LL_FS_MAKE_CHAR | NC_LL_FS_MAKE_DIR |
                  NC_LL_FS_MAKE_REG | NC_LL_FS_MAKE_SOCK | NC_LL_FS_MAKE_FIFO | NC_LL_FS_MAKE_BLOCK |
                  NC_LL_FS_MAKE_SYM;
    if (abi >= 2)
        fs |= NC_LL_FS_REFER;
    if (abi >= 3)
        fs |= NC_LL_FS_TRUNCATE;
    if (abi >= 5)
        fs |= NC_LL_FS_IOCTL_DEV;
    return fs;
}

#endif
