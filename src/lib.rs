//! lancestore: a native Node.js embedding store on LanceDB. `store` is the plain-Rust core;
//! `napi` is the JS surface that only converts types and errors.

mod memory;
mod napi;
mod store;
