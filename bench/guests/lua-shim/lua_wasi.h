/* Lua on wasm32-wasi (clang 14, wasi-libc): there is no setjmp/longjmp, so a
 * Lua error cannot unwind; it aborts the guest (a trap). The benchmark script
 * raises no errors. WASI has no processes and no temporary names: os.execute,
 * os.tmpname and io.tmpfile fail. Included before every Lua source file. */
#ifndef NC_LUA_WASI_H
#define NC_LUA_WASI_H
#include <stdio.h>
#include <stdlib.h>
#define LUAI_THROW(L, c) abort()
#define LUAI_TRY(L, c, a) { a }
#define luai_jmpbuf int
#define l_system(cmd) ((cmd) == NULL ? 0 : -1)
#define LUA_TMPNAMBUFSIZE 32
#define lua_tmpnam(b, e) { (b)[0] = '\0'; e = 1; }
#define tmpfile() ((FILE *)NULL)
#endif
