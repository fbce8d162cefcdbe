// Copies the Wasmtime C API headers (including the generated wasmtime/conf.h,
// which records the enabled features) next to the built library so the C
// build uses exactly the headers that match it, with our own header
// (include/nightcore_engine.h) beside them.
use std::{env, fs, path::Path};

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).expect("create include dir");
    for entry in fs::read_dir(src).expect("read include dir") {
        let entry = entry.expect("dir entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            fs::copy(entry.path(), &to).expect("copy header");
        }
    }
}

fn main() {
    let include = env::var("DEP_WASMTIME_C_API_INCLUDE")
        .expect("wasmtime-c-api-impl did not export its include directory");
    let out = env::var("NIGHTCORE_ENGINE_INCLUDE_OUT").unwrap_or_else(|_| {
        format!("{}/include", env::var("OUT_DIR").expect("OUT_DIR"))
    });
    let out = Path::new(&out);
    if out.exists() {
        fs::remove_dir_all(out).expect("clear include dir");
    }
    copy_dir(Path::new(&include), out);
    let ours = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR")).join("include/nightcore_engine.h");
    fs::copy(&ours, out.join("nightcore_engine.h")).expect("copy nightcore_engine.h");
    println!("cargo:rerun-if-env-changed=NIGHTCORE_ENGINE_INCLUDE_OUT");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=include/nightcore_engine.h");
}
