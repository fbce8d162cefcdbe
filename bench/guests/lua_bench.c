/* Night Core's Lua benchmark guest: Lua 5.4 (from the lua-src crate's
 * sources) running a fixed script of common workloads: recursion, tables,
 * sorting, string building, closures and floating point. Prints one line of
 * results.
 *
 *   lua_bench [SCALE]   (default 1) */
#include <stdio.h>
#include <stdlib.h>
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

static const char script[] =
    "local scale = ...\n"
    "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end\n"
    "local t0 = fib(27 + scale)\n"
    "local t = {}\n"
    "local seed = 42\n"
    "for i = 1, 300000 * scale do seed = (seed * 1103515245 + 12345) % 2147483648; t[i] = seed end\n"
    "table.sort(t)\n"
    "local parts = {}\n"
    "for i = 1, 100000 * scale do parts[#parts + 1] = string.format('%d:%x', i, t[i]) end\n"
    "local s = table.concat(parts, ',')\n"
    "local words = 0\n"
    "for w in s:gmatch('[^,]+') do words = words + 1 end\n"
    "local function counter() local n = 0; return function() n = n + 1; return n end end\n"
    "local c = counter()\n"
    "for i = 1, 1000000 * scale do c() end\n"
    "local function spectral(n)\n"
    "  local function A(i, j) local ij = i + j - 1; return 1.0 / (ij * (ij - 1) * 0.5 + i) end\n"
    "  local function Av(x, y, N) for i = 1, N do local a = 0; for j = 1, N do a = a + x[j] * A(i, j) end; y[i] = a end end\n"
    "  local function Atv(x, y, N) for i = 1, N do local a = 0; for j = 1, N do a = a + x[j] * A(j, i) end; y[i] = a end end\n"
    "  local u, v, w = {}, {}, {}\n"
    "  for i = 1, n do u[i] = 1 end\n"
    "  for _ = 1, 10 do Av(u, w, n); Atv(w, v, n); Av(v, w, n); Atv(w, u, n) end\n"
    "  local vBv, vv = 0, 0\n"
    "  for i = 1, n do local ui, vi = u[i], v[i]; vBv = vBv + ui * vi; vv = vv + vi * vi end\n"
    "  return math.sqrt(vBv / vv)\n"
    "end\n"
    "local sn = spectral(200 * scale)\n"
    "print(string.format('%d %d %d %d %.9f', t0, #s, words, c(), sn))\n";

int main(int argc, char **argv)
{
    int scale = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 1;
    lua_State *L = luaL_newstate();
    if (!L)
        return 1;
    luaL_openlibs(L);
    if (luaL_loadbuffer(L, script, sizeof script - 1, "bench") != LUA_OK) {
        fprintf(stderr, "lua_bench: %s\n", lua_tostring(L, -1));
        return 1;
    }
    lua_pushinteger(L, scale);
    lua_call(L, 1, 0);
    lua_close(L);
    return 0;
}
