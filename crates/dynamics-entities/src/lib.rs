#![doc = include_str!("../README.md")]

pub mod generated;

#[cfg(all(doctest, feature = "account"))]
mod doctests;
mod extensions;

pub use generated::*;
