//! Night Core's engine: the Wasmtime C API, linked as one static library.
//! Every `extern "C"` symbol comes from `wasmtime-c-api-impl`; this crate only
//! makes it a staticlib the C build can link.
pub use wasmtime_c_api::*;
