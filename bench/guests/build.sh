#!/usr/bin/env bash
# Builds the benchmark guests (real programs, wasm32-wasip1) once per
# (sources, toolchains) into a cache directory outside the checkout and
# prints that directory. Nothing here is committed: the programs come from
# the Go toolchain (GOROOT), the SQLite amalgamation bundled in the
# libsqlite3-sys crate, the Lua sources in the lua-src crate and QuickJS-ng
# in the rquickjs-sys crate (fetched with `cargo fetch` into Cargo's
# registry), plus the small drivers beside this script.
#
#   gobench.wasm       Go: sieve + SHA-256 ("cpu"), or one line ("hello")
#   gofmt.wasm         Go's own cmd/gofmt; gofmt_input.go is a file to format
#   sqlite_bench.wasm  SQLite in-memory workload (sqlite_bench.c)
#   lua_bench.wasm     Lua 5.4 running a fixed script (lua_bench.c)
#   js_bench.wasm      QuickJS-ng running a fixed script (js_bench.c)
#   io_bench.wasm      raw stdin / stdout throughput (io_bench.c)
#
#   NIGHTCORE_CACHE  cache root (default: $XDG_CACHE_HOME/nightcore or ~/.cache/nightcore)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${NIGHTCORE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nightcore}
sqlite_version=0.30.1   # libsqlite3-sys (SQLite 3.46.0)
lua_version=547.1.0     # lua-src (Lua 5.4.7)
quickjs_version=0.9.0   # rquickjs-sys (QuickJS-ng 0.8.0)

for tool in go clang cargo python3; do
    command -v "$tool" >/dev/null || { echo "guests: $tool not found" >&2; exit 1; }
done
[ -f /usr/include/wasm32-wasi/stdio.h ] ||
    { echo "guests: wasi-libc missing (apt-get install wasi-libc libclang-rt-14-dev-wasm32 lld)" >&2; exit 1; }

goroot=$(go env GOROOT)
key=$( { cat "$0" "$here"/*.c "$here"/gobench/*.go "$here"/lua-shim/*.h; go version; clang --version;
         echo "$sqlite_version $lua_version $quickjs_version"; } | sha256sum | cut -c1-24)
dest="$cache_root/bench-guests/$key"
want="gobench.wasm gofmt.wasm gofmt_input.go sqlite_bench.wasm lua_bench.wasm js_bench.wasm io_bench.wasm"
have() { for f in $want; do [ -f "$dest/$f" ] || return 1; done; }
if have; then
    echo "$dest"
    exit 0
fi

mkdir -p "$cache_root/bench-guests"
exec 9>"$cache_root/bench-guests/$key.lock"
flock 9
if have; then
    echo "$dest"
    exit 0
fi
echo "guests: building the benchmark guests (first time only; about a minute)" >&2
stage="$cache_root/bench-guests/.stage-$key.$$"
rm -rf "$stage"
mkdir -p "$stage/fetch/src"
trap 'rm -rf "$stage"' EXIT

# The C sources, from the crates' own published files.
cat >"$stage/fetch/Cargo.toml" <<EOF
[package]
name = "nightcore-bench-guest-sources"
version = "0.0.0"
edition = "2021"
publish = false
[lib]
path = "src/lib.rs"
[dependencies]
libsqlite3-sys = { version = "=$sqlite_version", features = ["bundled"] }
lua-src = "=$lua_version"
rquickjs-sys = "=$quickjs_version"
EOF
: >"$stage/fetch/src/lib.rs"
cargo fetch --quiet --manifest-path "$stage/fetch/Cargo.toml" >&2
crate_dir() {
    cargo metadata --quiet --format-version 1 --manifest-path "$stage/fetch/Cargo.toml" |
        python3 -c 'import json, os, sys
name, version = sys.argv[1], sys.argv[2]
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == name and p["version"] == version:
        print(os.path.dirname(p["manifest_path"]))' "$1" "$2"
}
sqlite_dir="$(crate_dir libsqlite3-sys "$sqlite_version")/sqlite3"
lua_dir="$(crate_dir lua-src "$lua_version")/lua-5.4.7"
[ -f "$sqlite_dir/sqlite3.c" ] || { echo "guests: sqlite3.c not found in libsqlite3-sys $sqlite_version" >&2; exit 1; }
qjs_dir="$(crate_dir rquickjs-sys "$quickjs_version")/quickjs"
[ -f "$qjs_dir/quickjs.c" ] || { echo "guests: quickjs.c not found in rquickjs-sys $quickjs_version" >&2; exit 1; }
[ -f "$lua_dir/lapi.c" ] || { echo "guests: Lua sources not found in lua-src $lua_version" >&2; exit 1; }

wasi_cc=(clang --target=wasm32-wasi --sysroot=/usr -O2)

# Go: our CPU benchmark and Go's own gofmt, from GOROOT.
GOOS=wasip1 GOARCH=wasm go build -trimpath -o "$stage/gobench.wasm" "$here/gobench/main.go" >&2
(cd "$goroot/src" && GOOS=wasip1 GOARCH=wasm go build -trimpath -o "$stage/gofmt.wasm" cmd/gofmt) >&2
cp "$goroot/src/go/types/expr.go" "$stage/gofmt_input.go"

# SQLite: single-threaded, no extensions, temporary tables in memory.
"${wasi_cc[@]}" -w -I"$sqlite_dir" -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_TEMP_STORE=3 \
    -DSQLITE_OMIT_WAL -DLONGDOUBLE_TYPE=double -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_GETPID \
    -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS \
    "$sqlite_dir/sqlite3.c" "$here/sqlite_bench.c" -lwasi-emulated-mman -lwasi-emulated-getpid \
    -lwasi-emulated-signal -lwasi-emulated-process-clocks -o "$stage/sqlite_bench.wasm" >&2

# Lua: every library file of the release plus our driver (lua_wasi.h explains the shims).
"${wasi_cc[@]}" -w -DLUA_COMPAT_5_3 -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_SIGNAL \
    -I"$here/lua-shim" -include "$here/lua-shim/lua_wasi.h" -I"$lua_dir" "$lua_dir"/*.c "$here/lua_bench.c" \
    -lwasi-emulated-process-clocks -lwasi-emulated-signal -o "$stage/lua_bench.wasm" >&2

# QuickJS-ng: the engine's own files (no quickjs-libc: the driver brings its print).
"${wasi_cc[@]}" -w -D_GNU_SOURCE -D_WASI_EMULATED_SIGNAL -I"$qjs_dir" "$qjs_dir/quickjs.c" "$qjs_dir/libregexp.c" \
    "$qjs_dir/libunicode.c" "$qjs_dir/cutils.c" "$qjs_dir/libbf.c" "$here/js_bench.c" -lwasi-emulated-signal -lm \
    -o "$stage/js_bench.wasm" >&2

"${wasi_cc[@]}" -Wall -Werror "$here/io_bench.c" -o "$stage/io_bench.wasm" >&2

rm -rf "$stage/fetch" "$dest"
trap - EXIT
mv "$stage" "$dest"
echo "$dest"
