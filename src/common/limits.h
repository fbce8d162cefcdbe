/* Every cap on untrusted input or on a resource, in one place. */
#ifndef NC_COMMON_LIMITS_H
#define NC_COMMON_LIMITS_H

/* Modules */
#define NC_MAX_MODULE_BYTES (16u * 1024 * 1024)      /* a submitted .wasm */
#define NC_MAX_ARTIFACT_BYTES (256u * 1024 * 1024)   /* a precompiled artifact */

/* The compile child (docs/sandbox.md, "Compiling") */
#define NC_COMPILE_TIMEOUT_MS (120u * 1000)               /* killed past this (wall clock) */
#define NC_COMPILE_MAX_DATA_BYTES (4ull * 1024 * 1024 * 1024) /* RLIMIT_DATA: heap, thread stacks, code buffers */
#define NC_COMPILE_MAX_MESSAGE 480u                       /* the engine's one-line reason */

/* Run specification (parent -> sandbox child) */
#define NC_MAX_ARGS 256
#define NC_MAX_ARG_BYTES 4096
#define NC_MAX_ENV 128
#define NC_MAX_ENV_BYTES 8192
#define NC_MAX_DIRS 16
#define NC_MAX_GUEST_PATH 1024
#define NC_MAX_STDIN_BYTES (16u * 1024 * 1024)
#define NC_MAX_SPEC_BYTES (NC_MAX_STDIN_BYTES + 2u * 1024 * 1024)

/* Output caps a policy may set at most, and the result frame that carries them */
#define NC_MAX_OUTPUT_BYTES (64u * 1024 * 1024)
#define NC_MAX_RESULT_BYTES (2u * NC_MAX_OUTPUT_BYTES + 256u * 1024)

/* Resource envelope defaults (DESIGN.md §4, built-in `default` policy) */
#define NC_DEFAULT_TIMEOUT_MS 5000u
#define NC_DEFAULT_MEMORY_BYTES (64ull * 1024 * 1024)
#define NC_DEFAULT_TABLE_ELEMENTS 100000u
#define NC_DEFAULT_INSTANCES 1u
#define NC_DEFAULT_TABLES 4u
#define NC_DEFAULT_MEMORIES 1u
#define NC_DEFAULT_STACK_BYTES (512u * 1024)
#define NC_DEFAULT_OUTPUT_BYTES (1024u * 1024)
#define NC_MAX_TIMEOUT_MS (3600u * 1000)
#define NC_MAX_STACK_BYTES (2u * 1024 * 1024)   /* Wasmtime refuses more than its async stack size */
#define NC_MAX_MEMORY_BYTES (4ull * 1024 * 1024 * 1024)

/* Sandbox child */
#define NC_CHILD_KILL_GRACE_MS 500u   /* supervisor SIGKILL after timeout + grace */
#define NC_CHILD_MAX_FILES 128u       /* RLIMIT_NOFILE in the child: guest table + dir readers + own */
#define NC_CHILD_UMASK 022            /* whatever the worker's: files a module creates are 0644, directories 0755 */
#define NC_CHILD_MAX_FILE_BYTES (256ull * 1024 * 1024) /* RLIMIT_FSIZE */
#define NC_CHILD_HEAP_SLACK (256ull * 1024 * 1024)    /* RLIMIT_DATA above linear memory */
#define NC_ARTIFACT_IMAGES 32u                         /* sealed artifact copies the supervisor keeps */
#define NC_ARTIFACT_IMAGE_BYTES (512ull * 1024 * 1024) /* their total size */
/* The vm tier (docs/sandbox.md, "vm") */
#define NC_VM_OVERHEAD_BYTES (160ull * 1024 * 1024)  /* guest kernel, initramfs, runner, engine */
#define NC_VM_MAX_MEMORY_MIB (8u * 1024)              /* no VM is given more */
#define NC_VM_PROBE_MEMORY_MIB 160u                   /* the KVM probe guest */
#define NC_VM_POOL_ARTIFACT_BYTES (16ull * 1024 * 1024) /* artifact room in a VM the pool boots */
#define NC_VM_BOOT_TIMEOUT_MS 120000u                 /* spawn until the guest's hello */
#define NC_VM_KVM_PROBE_MS 10000u                     /* a KVM guest that is not up by then hangs */
#define NC_VM_KILL_GRACE_MS 10000u                    /* backstop above timeout + child grace: load in the guest */
#define NC_VM_KILL_GRACE_PER_MIB_MS 200u              /* and per MiB of artifact sent */
#define NC_VM_MAX_POOL 8u                             /* NIGHTCORE_VM_POOL at most */
#define NC_VM_GUEST_PORT_WAIT_MS 20000u               /* the guest waits this long for its port */
#define NC_VM_GUEST_MODULES_ORDER_MAX 4096u           /* the initramfs' modules.order, read by the guest */
#define NC_WASI_MAX_FDS 64u           /* guest descriptor table */
#define NC_WASI_MAX_DENIED 32u        /* denied calls kept in detail (all are counted) */
#define NC_WASI_MAX_IOVS 1024u
#define NC_WASI_MAX_PATH 4096u
#define NC_WASI_DIRENT_BYTES (32u * 1024)  /* host bounce buffer for fd_readdir (getdents64) */
#define NC_WASI_SYSCALL_RETRIES 8u        /* openat2 EAGAIN / EINTR retries before giving up */

/* OpenSSH formats (docs/ssh-formats.md) */
#define NC_MAX_SSH_KEY_TYPE_BYTES 64u      /* key or signature type name */
#define NC_MAX_SSH_APPLICATION_BYTES 256u  /* sk key application ("ssh:...") */
#define NC_MAX_SSHSIG_ARMOR_BYTES (16u * 1024) /* an armored signature, whole */
#define NC_MAX_SSHSIG_ARMOR_LINE 76u       /* base64 characters per armor line */
#define NC_MAX_SSHSIG_FIELD_BYTES 8192u    /* any one string inside an SSHSIG blob */
#define NC_MAX_SSHSIG_NAMESPACE_BYTES 128u /* an expected namespace / a namespaces= entry */
#define NC_MAX_TRUST_FILE_BYTES (1024u * 1024) /* allowed_signers, revoked_keys */
#define NC_MAX_TRUST_LINE_BYTES 4096u      /* one line of either, without the newline */
#define NC_MAX_PRINCIPALS_PER_LINE 32u
#define NC_MAX_PRINCIPAL_BYTES 256u
#define NC_MAX_NAMESPACES_PER_LINE 16u
#define NC_MAX_ALLOWED_SIGNERS 1024u       /* entries in allowed_signers */
#define NC_MAX_REVOKED_KEYS 4096u          /* entries in revoked_keys */

/* WebAssembly static analysis (docs/analysis.md). Every count a module
 * declares is checked against these before anything is allocated for it. */
#define NC_WASM_MAX_TYPES 100000u          /* type section entries */
#define NC_WASM_MAX_FUNC_PARAMS 1000u      /* params of one function type */
#define NC_WASM_MAX_FUNC_RESULTS 1000u     /* results of one function type */
#define NC_WASM_MAX_IMPORTS 10000u
#define NC_WASM_MAX_EXPORTS 100000u
#define NC_WASM_MAX_FUNCTIONS 1000000u     /* defined (function section) */
#define NC_WASM_MAX_TABLES 100u            /* imported + defined */
#define NC_WASM_MAX_MEMORIES 100u          /* imported + defined */
#define NC_WASM_MAX_GLOBALS 1000000u       /* defined */
#define NC_WASM_MAX_TAGS 100000u           /* defined */
#define NC_WASM_MAX_ELEM_SEGMENTS 100000u
#define NC_WASM_MAX_ELEM_ITEMS 10000000u   /* entries in one element segment */
#define NC_WASM_MAX_DATA_SEGMENTS 100000u
#define NC_WASM_MAX_CUSTOM_SECTIONS 1000u
#define NC_WASM_MAX_NAME_BYTES 4096u       /* an import, export or custom section name */
#define NC_WASM_MAX_CONST_EXPR_OPS 16u     /* instructions in one constant expression */
#define NC_WASM_MAX_SIGNATURE_TEXT 256u    /* "(i32,i64)->i32" text, longer ones end in "..." */

#endif
