//! Entity structs generated from an org's CSDL `$metadata` by `cargo xtask gen-entities`.
//!
//! This crate is being built: see the project's issue on code generation.
