//! The lowest layer of the Web API: what a request says, read without looking at the store.
//!
//! URLs ([`target`]), query options ([`query_options`], [`filter`], [`expand`] over the [`lexer`]),
//! write bodies ([`body`]), FetchXML documents ([`fetch_xml`]), the `$batch` codec ([`batch`]),
//! the request itself ([`request`]), value comparison as `$filter` does it ([`compare`]), and the error
//! answers ([`error`]). Nothing here imports the store, the handlers or the dispatcher.

pub(crate) mod batch;
pub(crate) mod body;
pub(crate) mod compare;
pub(crate) mod error;
pub(crate) mod expand;
pub(crate) mod fetch_xml;
pub(crate) mod filter;
pub(crate) mod lexer;
pub(crate) mod query_options;
pub(crate) mod request;
pub(crate) mod target;
