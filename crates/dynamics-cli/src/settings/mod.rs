//! Where a run's connection comes from: the environment, the config file's profiles, the flags,
//! resolved into settings and opened as a connection.

pub(crate) mod config;
pub(crate) mod connection;
pub(crate) mod env;
pub(crate) mod profile;
