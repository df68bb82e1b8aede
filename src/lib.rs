//! lancestore: a native Node.js embedding store on LanceDB. `store` is the plain-Rust core;
//! `napi` is the JS surface that only converts types and errors.

mod napi;
mod store;

/// On Linux every Rust allocation (LanceDB's included) goes to jemalloc: under many small commits glibc's
/// malloc fragmented until RSS climbed without end, where jemalloc levels off (measured; README "Reliability").
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
