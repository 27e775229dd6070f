//! What generated entity code shares, whatever the org: [`Annotated`] rows, the multi-select marker
//! [`ChoiceSet`] with its [`MultiChoiceColumn`] filters, and the serde helpers in [`support`].
//!
//! `dynamics-codegen` writes modules that name these by their full paths, and re-exports the types users name
//! (`Annotated`, `ChoiceSet`, `MultiChoiceColumn`) from the generated `mod.rs`, so
//! `dynamics_entities::Annotated` and `dynamics_webapi::entities::Annotated` are the same type.

mod annotated;
mod choice_set;
pub mod support;

pub use annotated::Annotated;
pub use choice_set::{ChoiceSet, MultiChoiceColumn};
