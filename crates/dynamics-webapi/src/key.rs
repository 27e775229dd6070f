//! How a record is addressed: by its id, or by an alternate key.

use std::fmt::Write as _;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::query::{Literal, encode_path_segment};

/// A record's key: its primary id, or the values of an alternate key.
///
/// ```
/// use dynamics_webapi::RecordKey;
///
/// let by_id = RecordKey::from(uuid::Uuid::nil());
/// assert_eq!(by_id.to_string(), "(00000000-0000-0000-0000-000000000000)");
/// let by_number = RecordKey::alternate([("accountnumber", "A1")]);
/// assert_eq!(by_number.to_string(), "(accountnumber='A1')");
/// let composite = RecordKey::alternate([("firstname", "J"), ("lastname", "D")]);
/// assert_eq!(composite.to_string(), "(firstname='J',lastname='D')");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RecordKey {
    /// The primary id.
    Id(Uuid),
    /// The columns of an alternate key and their values.
    Alternate(Vec<(String, Literal)>),
}

impl RecordKey {
    /// An alternate key from column names and values.
    pub fn alternate<N: Into<String>, V: Into<Literal>>(parts: impl IntoIterator<Item = (N, V)>) -> Self {
        Self::Alternate(parts.into_iter().map(|(name, value)| (name.into(), value.into())).collect())
    }

    /// The key predicate for a URL path, percent-encoded.
    pub(crate) fn to_path(&self) -> Result<String> {
        if let Self::Alternate(parts) = self {
            if parts.is_empty() {
                return Err(Error::config("an alternate key needs at least one column"));
            }
            for (name, _) in parts {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(Error::config(format!("`{name}` is not a column name")));
                }
            }
        }
        Ok(encode_path_segment(&self.to_string()))
    }
}

impl std::fmt::Display for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "({id})"),
            Self::Alternate(parts) => {
                f.write_char('(')?;
                for (index, (name, value)) in parts.iter().enumerate() {
                    if index > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{name}={value}")?;
                }
                f.write_char(')')
            }
        }
    }
}

impl From<Uuid> for RecordKey {
    fn from(id: Uuid) -> Self {
        Self::Id(id)
    }
}

impl From<&Uuid> for RecordKey {
    fn from(id: &Uuid) -> Self {
        Self::Id(*id)
    }
}

/// Reads the id out of an `OData-EntityId` (or `@odata.id`) URL ending in `(<guid>)`.
pub(crate) fn id_from_entity_url(url: &str) -> Option<Uuid> {
    let open = url.rfind('(')?;
    let close = url[open..].find(')')? + open;
    Uuid::parse_str(&url[open + 1..close]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_are_quoted_then_encoded_for_the_path() {
        let key = RecordKey::alternate([("accountnumber", "O'Neil/7 #1")]);
        assert_eq!(key.to_path().unwrap(), "(accountnumber='O''Neil%2F7%20%231')");
        assert!(RecordKey::alternate([("bad name", "x")]).to_path().is_err());
        assert!(RecordKey::Alternate(Vec::new()).to_path().is_err());
    }

    #[test]
    fn reads_ids_from_entity_urls() {
        let url = "[Organization URI]/api/data/v9.0/accounts(7eb682f1-ca75-e511-80d4-00155d2a68d1)";
        assert_eq!(id_from_entity_url(url), Some(Uuid::parse_str("7eb682f1-ca75-e511-80d4-00155d2a68d1").unwrap()));
        assert_eq!(id_from_entity_url("accounts(accountnumber='A1')"), None);
    }
}
