//! The Dataverse Web API client.
//!
//! This crate is being built: see the project's issue on `dynamics-webapi`.
//! It depends on authentication only through `aad_auth::TokenProvider`.

pub mod entity;
pub mod query;
