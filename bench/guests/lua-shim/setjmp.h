/* Stands in for <setjmp.h>, which wasi-libc (clang 14) does not provide:
 * lua_wasi.h replaces Lua's use of setjmp/longjmp. */
#ifndef NC_LUA_SETJMP_H
#define NC_LUA_SETJMP_H
#endif
