//! What a Web API URL addresses, parsed from the path after the service root.

use percent_encoding::percent_decode_str;
use serde_json::Value;
use uuid::Uuid;

use super::error::ODataError;
use super::lexer::{Token, tokenize};

/// How a record is addressed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    /// `accounts(<guid>)`.
    Id(Uuid),
    /// `accounts(accountnumber='A1')` or a composite `contacts(firstname='A',lastname='B')`.
    Alternate(Vec<(String, Value)>),
}

/// The resource a URL addresses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// The service document (`/api/data/v9.2/`).
    ServiceDocument,
    /// `$metadata`.
    Metadata,
    /// `$batch`.
    Batch,
    /// An entity set: `accounts`.
    Collection { set: String },
    /// One record: `accounts(<key>)`.
    Record { set: String, key: Key },
    /// One column of a record: `accounts(<key>)/name`, or its raw value with `/$value`.
    Property { set: String, key: Key, property: String, raw_value: bool },
    /// A navigation property's reference: `contacts(<key>)/parentcustomerid_account/$ref` (single-valued),
    /// or `accounts(<key>)/contact_customer_accounts/$ref` and `…/contact_customer_accounts(<id>)/$ref` (collection).
    Reference { set: String, key: Key, navigation: String, related: Option<Key> },
    /// A table's definition: `EntityDefinitions(LogicalName='account')` or `EntityDefinitions(<MetadataId>)`.
    EntityDefinition { key: Key },
    /// A function or action, unbound (`WhoAmI()`) or bound to a set (`accounts/Microsoft.Dynamics.CRM.X`).
    Operation { bound_to: Option<String>, name: String, parameters: String },
}

/// Parses the percent-encoded path below the service root, such as `accounts(accountnumber='A%201')/name`.
/// `is_set` says which names are entity sets, and `is_operation` which (without the `Microsoft.Dynamics.CRM.`
/// namespace) are emulated operations.
pub(crate) fn parse(
    path: &str,
    is_set: impl Fn(&str) -> bool,
    is_operation: impl Fn(&str) -> bool,
) -> Result<Target, ODataError> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
        .collect();
    let Some(first) = segments.first() else {
        return Ok(Target::ServiceDocument);
    };
    match first.as_str() {
        "$metadata" if segments.len() == 1 => return Ok(Target::Metadata),
        "$batch" if segments.len() == 1 => return Ok(Target::Batch),
        _ => {}
    }
    let (name, key_text) = split_call(first)?;
    if name == "EntityDefinitions" {
        return match (key_text, segments.len()) {
            (Some(key_text), 1) => Ok(Target::EntityDefinition { key: parse_key(key_text)? }),
            _ => {
                Err(ODataError::not_emulated(format!("the metadata path `{path}` (only EntityDefinitions(<key>) is)")))
            }
        };
    }
    if !is_set(name) {
        let short = name.strip_prefix("Microsoft.Dynamics.CRM.").unwrap_or(name);
        if segments.len() == 1 && is_operation(short) {
            return Ok(Target::Operation {
                bound_to: None,
                name: short.to_owned(),
                parameters: key_text.unwrap_or_default().to_owned(),
            });
        }
        return Err(ODataError::segment_not_found(name));
    }
    let set = name.to_owned();
    let Some(key_text) = key_text else {
        return match segments.as_slice() {
            [_] => Ok(Target::Collection { set }),
            [_, operation] => {
                let (operation, parameters) = split_call(operation)?;
                let short = operation.strip_prefix("Microsoft.Dynamics.CRM.").unwrap_or(operation);
                if is_operation(short) {
                    Ok(Target::Operation {
                        bound_to: Some(set),
                        name: short.to_owned(),
                        parameters: parameters.unwrap_or_default().to_owned(),
                    })
                } else {
                    Err(ODataError::segment_not_found(operation))
                }
            }
            _ => Err(ODataError::not_emulated(format!("the path `{path}`"))),
        };
    };
    let key = parse_key(key_text)?;
    match segments.as_slice() {
        [_] => Ok(Target::Record { set, key }),
        [_, property] => Ok(Target::Property { set, key, property: property.clone(), raw_value: false }),
        [_, property, value] if value == "$value" => {
            Ok(Target::Property { set, key, property: property.clone(), raw_value: true })
        }
        [_, navigation, reference] if reference == "$ref" => {
            let (navigation, related) = split_call(navigation)?;
            let related = related.map(parse_key).transpose()?;
            Ok(Target::Reference { set, key, navigation: navigation.to_owned(), related })
        }
        _ => Err(ODataError::not_emulated(format!("the path `{path}`"))),
    }
}

/// Splits `name(inside)` into the name and what is inside the parentheses.
fn split_call(segment: &str) -> Result<(&str, Option<&str>), ODataError> {
    match segment.find('(') {
        None => Ok((segment, None)),
        Some(open) if segment.ends_with(')') => Ok((&segment[..open], Some(&segment[open + 1..segment.len() - 1]))),
        Some(_) => {
            Err(ODataError::bad_query(format!("Bad Request - Error in query syntax: `{segment}` has an unclosed `(`.")))
        }
    }
}

/// Parses a key: a GUID, or `column=literal` pairs.
pub(crate) fn parse_key(text: &str) -> Result<Key, ODataError> {
    let trimmed = text.trim();
    if let Ok(id) = Uuid::parse_str(trimmed.trim_start_matches('{').trim_end_matches('}')) {
        return Ok(Key::Id(id));
    }
    let bad =
        |why: String| ODataError::bad_query(format!("Bad Request - Error in query syntax: the key `({text})` {why}."));
    let tokens = tokenize(trimmed).map_err(bad)?;
    let mut parts = Vec::new();
    let mut tokens = tokens.into_iter();
    loop {
        match (tokens.next(), tokens.next(), tokens.next()) {
            (Some(Token::Name(column)), Some(Token::Equals), Some(Token::Literal(value))) => {
                parts.push((column, value));
            }
            (None, None, None) if !parts.is_empty() => break,
            _ => return Err(bad("is neither a GUID nor column='value' pairs".to_owned())),
        }
        match tokens.next() {
            None => break,
            Some(Token::Comma) => continue,
            Some(_) => return Err(bad("has something other than a comma between its pairs".to_owned())),
        }
    }
    Ok(Key::Alternate(parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntitySetSpec;
    use serde_json::json;

    /// Parses with the default entity sets and the operation `WhoAmI`.
    fn parse(path: &str) -> Result<Target, ODataError> {
        let sets = EntitySetSpec::defaults();
        super::parse(path, |name| sets.iter().any(|spec| spec.name == name), |name| name == "WhoAmI")
    }

    #[test]
    fn parses_sets_records_keys_properties_and_operations() {
        let id = "a0000001-0000-4000-8000-000000000001";
        assert_eq!(parse("").unwrap(), Target::ServiceDocument);
        assert_eq!(parse("accounts").unwrap(), Target::Collection { set: "accounts".into() });
        let Target::Record { key, .. } = parse(&format!("accounts({id})")).unwrap() else { panic!() };
        assert_eq!(key, Key::Id(Uuid::parse_str(id).unwrap()));
        let Target::Record { key, .. } = parse("contacts(firstname='Ann',lastname='O''Neil%2F7')").unwrap() else {
            panic!()
        };
        assert_eq!(
            key,
            Key::Alternate(vec![("firstname".into(), json!("Ann")), ("lastname".into(), json!("O'Neil/7"))])
        );
        assert!(matches!(
            parse(&format!("accounts({id})/name/$value")).unwrap(),
            Target::Property { raw_value: true, .. }
        ));
        assert!(matches!(
            parse(&format!("contacts({id})/parentcustomerid_account/$ref")).unwrap(),
            Target::Reference { .. }
        ));
        assert!(matches!(parse("WhoAmI()").unwrap(), Target::Operation { bound_to: None, .. }));
        assert!(matches!(parse("WhoAmI").unwrap(), Target::Operation { .. }));
        assert_eq!(parse("widgets").unwrap_err().code, "0x8006088a");
        assert_eq!(parse("accounts(nonsense").unwrap_err().status, 400);
        assert_eq!(parse("accounts(accountnumber=)").unwrap_err().status, 400);
    }
}
