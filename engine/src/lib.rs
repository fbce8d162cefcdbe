//! Night Core's engine: the Wasmtime C API, linked as one static library.
//! Every `wasm_*`/`wasmtime_*` symbol comes from `wasmtime-c-api-impl`; this
//! crate makes it a staticlib the C build can link and adds one function the
//! C API lacks: a store resource limiter that reports what it refused, and
//! compiling a module to artifact bytes without loading it
//! (`nightcore_engine.h`).
pub use wasmtime_c_api::*;

use wasmtime_c_api::wasmtime::{Engine, ResourceLimiter, Result};

/// Mirrors `nightcore_limits_t` in `include/nightcore_engine.h`.
#[repr(C)]
pub struct nightcore_limits_t {
    pub memory_bytes: u64,
    pub table_elements: u64,
    pub instances: u32,
    pub tables: u32,
    pub memories: u32,
    pub peak_memory_bytes: u64,
    pub memory_refused: bool,
}

/// The limiter is the caller's struct itself; no allocation per store.
#[repr(transparent)]
struct Limiter(nightcore_limits_t);

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool> {
        let l = &mut self.0;
        if desired as u64 > l.memory_bytes {
            l.memory_refused = true;
            return Ok(false);
        }
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false); // the module's own maximum: not our limit
        }
        l.peak_memory_bytes = l.peak_memory_bytes.max(desired as u64);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool> {
        Ok(desired as u64 <= self.0.table_elements && !maximum.is_some_and(|max| desired > max))
    }

    fn instances(&self) -> usize {
        self.0.instances as usize
    }

    fn tables(&self) -> usize {
        self.0.tables as usize
    }

    fn memories(&self) -> usize {
        self.0.memories as usize
    }
}

struct LimitsPtr(*mut nightcore_limits_t);

// SAFETY: a store is used by one thread at a time, and the caller keeps the
// limits alive and unaliased for the store's lifetime (nightcore_engine.h).
unsafe impl Send for LimitsPtr {}
unsafe impl Sync for LimitsPtr {}

impl LimitsPtr {
    fn limiter(&self) -> &'static mut dyn ResourceLimiter {
        // SAFETY: see above; `Limiter` is a transparent wrapper.
        unsafe { &mut *(self.0 as *mut Limiter) }
    }
}

// `wasmtime_store_t` is `#[repr(C)]` with the `Store` as its only field: a
// pointer to it is a pointer to the `Store`. Checked here at compile time for
// the pinned C API version.
const _: () = assert!(
    std::mem::size_of::<wasmtime_store_t>() == std::mem::size_of::<WasmtimeStore>()
        && std::mem::align_of::<wasmtime_store_t>() == std::mem::align_of::<WasmtimeStore>()
);

/// Installs `limits` as the store's resource limiter (replacing any other).
///
/// # Safety
/// `store` must be a live store and `limits` must stay valid, and not be
/// written by the caller while wasm runs, until the store is deleted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nightcore_store_limiter(store: *mut wasmtime_store_t, limits: *mut nightcore_limits_t) {
    let store = unsafe { &mut *(store as *mut WasmtimeStore) };
    let ptr = LimitsPtr(limits);
    store.limiter(move |_| ptr.limiter());
}

// `wasm_engine_t` is `#[repr(C)]` with the `Engine` as its only field: a
// pointer to it is a pointer to the `Engine`. Checked here at compile time.
const _: () = assert!(
    std::mem::size_of::<wasm_engine_t>() == std::mem::size_of::<Engine>()
        && std::mem::align_of::<wasm_engine_t>() == std::mem::align_of::<Engine>()
);

/// Compiles `wasm` to the bytes `wasmtime_module_deserialize` takes, as
/// `wasmtime compile` does (`Engine::precompile_module`): the machine code
/// is produced and serialized but never mapped executable in this process.
///
/// # Safety
/// `engine` must be a live engine, `wasm` must point to `len` readable bytes
/// and `out` to a vector the caller frees with `wasm_byte_vec_delete`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nightcore_precompile_module(
    engine: *const wasm_engine_t,
    wasm: *const u8,
    len: usize,
    out: &mut wasm_byte_vec_t,
) -> Option<Box<wasmtime_error_t>> {
    let engine = unsafe { &*(engine as *const Engine) };
    let bytes = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(wasm, len) } };
    match engine.precompile_module(bytes) {
        Ok(buf) => {
            out.set_buffer(buf);
            None
        }
        Err(e) => Some(Box::new(wasmtime_error_t::from(e))),
    }
}
