#![doc = include_str!("../README.md")]

mod config;
mod csdl;
mod emit;
mod error;
mod generator;
mod model;
mod naming;
mod optionset;
mod plan;
mod transliterate;

pub use config::{GenConfig, sha256_hex};
pub use error::{CsdlError, Error, InputError, IoError, Result, UnknownEntityError, Warning};
pub use generator::{Generator, Output};
pub use model::{CsdlDocument, Tolerated};
pub use optionset::{OptionSet, OptionSets};
