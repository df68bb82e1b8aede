//! lancestore: a native Node.js embedding store on LanceDB. `store` is the plain-Rust core;
//! `napi` is the JS surface that only converts types and errors. `memory` (the allocator and giving
//! pages back) and `mapped` (files mapped read-only, graphs viewed in them) hold the unsafe calls the
//! store needs outside JS.

mod mapped;
mod memory;
mod napi;
mod store;
