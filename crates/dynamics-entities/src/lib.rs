#![doc = include_str!("../README.md")]

pub mod generated;

mod extensions;

pub use generated::*;
