//! Reading a record key from the command line: a GUID, or `column=value[,column=value]`.

use dynamics_webapi::RecordKey;
use dynamics_webapi::query::Literal;
use uuid::Uuid;

use crate::error::{Error, Result};

/// Parses `id-or-key`: a GUID (braces and parentheses allowed), or an alternate key `name=value,...`.
/// A value in single quotes is text; a bare whole number is a number; anything else is text.
pub(crate) fn parse_key(text: &str) -> Result<RecordKey> {
    let trimmed = text.trim().trim_start_matches('(').trim_end_matches(')');
    let unbraced = trimmed.trim_start_matches('{').trim_end_matches('}');
    if let Ok(id) = Uuid::parse_str(unbraced) {
        return Ok(RecordKey::Id(id));
    }
    if !trimmed.contains('=') {
        return Err(Error::usage_with_hint(
            format!("`{text}` is neither a GUID nor an alternate key"),
            "give the record's id (a GUID) or an alternate key such as accountnumber=A-1",
        ));
    }
    let mut parts: Vec<(String, Literal)> = Vec::new();
    for part in split_outside_quotes(trimmed) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(Error::usage(format!("`{part}` in the key is not column=value")));
        };
        let value = value.trim();
        let literal = if let Some(quoted) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            Literal::from(quoted.replace("''", "'"))
        } else if let Ok(number) = value.parse::<i64>() {
            Literal::from(number)
        } else {
            Literal::from(value.to_owned())
        };
        parts.push((name.trim().to_owned(), literal));
    }
    Ok(RecordKey::Alternate(parts))
}

fn split_outside_quotes(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_alternate_keys() {
        let id = "7eb682f1-ca75-e511-80d4-00155d2a68d1";
        assert_eq!(parse_key(id).unwrap().to_string(), format!("({id})"));
        assert_eq!(parse_key(&format!("{{{id}}}")).unwrap().to_string(), format!("({id})"));
        assert_eq!(parse_key("accountnumber=A-1").unwrap().to_string(), "(accountnumber='A-1')");
        assert_eq!(parse_key("a='x,y',n=7").unwrap().to_string(), "(a='x,y',n=7)");
        assert_eq!(parse_key("name='O''Neil'").unwrap().to_string(), "(name='O''Neil')");
        assert!(parse_key("not-a-key").is_err());
    }
}
