//! FetchXML documents: a small XML reader, and the `<fetch>` of one entity with its attributes, orders,
//! nested `and`/`or` filters of conditions, and paging attributes.
//!
//! `link-entity` and aggregates answer 501, not emulated.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::compare;
use super::error::ODataError;

/// An XML element: name, attributes and text (unescaped), and child elements.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }
}

/// Parses a document with one root element.
fn parse_xml(text: &str) -> Result<Element, String> {
    let mut stack: Vec<Element> = Vec::new();
    let mut rest = text;
    let mut root = None;
    while let Some(open) = rest.find('<') {
        if let Some(current) = stack.last_mut() {
            current.text.push_str(&unescape(rest[..open].trim()));
        }
        rest = &rest[open..];
        if rest.starts_with("<?") || rest.starts_with("<!--") {
            let end = if rest.starts_with("<?") { "?>" } else { "-->" };
            let close = rest.find(end).ok_or("a declaration or comment is not closed")?;
            rest = &rest[close + end.len()..];
            continue;
        }
        let close = tag_end(rest).ok_or("a tag is not closed")?;
        let tag = &rest[1..close - 1];
        rest = &rest[close..];
        if let Some(name) = tag.strip_prefix('/') {
            let element = stack.pop().ok_or_else(|| format!("`</{}>` closes nothing", name.trim()))?;
            if element.name != name.trim() {
                return Err(format!("`<{}>` is closed by `</{}>`", element.name, name.trim()));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(element),
                None => root = Some(element),
            }
            continue;
        }
        let self_closing = tag.trim_end().ends_with('/');
        let element = start_tag(tag.trim_end().trim_end_matches('/'))?;
        if self_closing {
            match stack.last_mut() {
                Some(parent) => parent.children.push(element),
                None => root = Some(element),
            }
        } else {
            stack.push(element);
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("`<{}>` is not closed", open.name));
    }
    root.ok_or_else(|| "there is no element".to_owned())
}

/// The index just past the `>` of the tag at the start of `text`, respecting quoted values.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (index, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(index + 1),
            _ => {}
        }
    }
    None
}

fn start_tag(tag: &str) -> Result<Element, String> {
    let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
    let name = tag[..name_end].to_owned();
    let mut rest = tag[name_end..].trim_start();
    let mut attributes = Vec::new();
    while !rest.is_empty() {
        let equals = rest.find('=').ok_or_else(|| format!("an attribute of <{name}> has no value"))?;
        let key = rest[..equals].trim().to_owned();
        let after = rest[equals + 1..].trim_start();
        let quote = after
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| format!("the attribute `{key}` is not quoted"))?;
        let close = after[1..].find(quote).ok_or_else(|| format!("the attribute `{key}` is not closed"))? + 1;
        attributes.push((key, unescape(&after[1..close])));
        rest = after[close + 1..].trim_start();
    }
    Ok(Element { name, attributes, text: String::new(), children: Vec::new() })
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// A FetchXML condition tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Test { attribute: String, operator: String, values: Vec<Value> },
}

fn filter(element: &Element) -> Result<Condition, ODataError> {
    let mut parts = Vec::new();
    for child in &element.children {
        match child.name.as_str() {
            "filter" => parts.push(filter(child)?),
            "condition" => {
                let attribute = child.attribute("attribute").ok_or_else(|| bad("a <condition> has no attribute"))?;
                let operator = child.attribute("operator").unwrap_or("eq").to_owned();
                let mut values: Vec<Value> =
                    child.children("value").map(|value| Value::from(value.text.as_str())).collect();
                if let Some(value) = child.attribute("value") {
                    values.push(Value::from(value));
                }
                parts.push(Condition::Test { attribute: attribute.to_owned(), operator, values });
            }
            other => return Err(ODataError::not_emulated(format!("FetchXML <{other}> inside a filter"))),
        }
    }
    Ok(match element.attribute("type") {
        Some("or") => Condition::Any(parts),
        _ => Condition::All(parts),
    })
}

fn bad(message: &str) -> ODataError {
    ODataError::bad_query(format!("The FetchXML is not valid: {message}."))
}

impl Condition {
    fn check(&self) -> Result<(), ODataError> {
        match self {
            Self::All(parts) | Self::Any(parts) => parts.iter().try_for_each(Condition::check),
            Self::Test { operator, .. } => match operator.as_str() {
                "eq" | "ne" | "neq" | "gt" | "ge" | "lt" | "le" | "like" | "not-like" | "begins-with"
                | "not-begin-with" | "ends-with" | "not-end-with" | "null" | "not-null" | "in" | "not-in" => Ok(()),
                other => Err(ODataError::not_emulated(format!("the FetchXML operator `{other}`"))),
            },
        }
    }

    /// Whether a record with these columns matches.
    pub(crate) fn matches(&self, fields: &Map<String, Value>) -> bool {
        match self {
            Self::All(parts) => parts.iter().all(|part| part.matches(fields)),
            Self::Any(parts) => parts.iter().any(|part| part.matches(fields)),
            Self::Test { attribute, operator, values } => {
                let actual = fields.get(attribute).unwrap_or(&Value::Null);
                let first = values.first().unwrap_or(&Value::Null);
                let text = || actual.as_str().map(str::to_lowercase);
                let needle = first.as_str().unwrap_or_default().to_lowercase();
                let ordered = |wanted: &[Ordering]| compare::order(actual, first).is_some_and(|o| wanted.contains(&o));
                match operator.as_str() {
                    "eq" => compare::equal(actual, first),
                    "ne" | "neq" => !compare::equal(actual, first),
                    "gt" => ordered(&[Ordering::Greater]),
                    "ge" => ordered(&[Ordering::Greater, Ordering::Equal]),
                    "lt" => ordered(&[Ordering::Less]),
                    "le" => ordered(&[Ordering::Less, Ordering::Equal]),
                    "null" => actual.is_null(),
                    "not-null" => !actual.is_null(),
                    "in" => values.iter().any(|value| compare::equal(actual, value)),
                    "not-in" => !values.iter().any(|value| compare::equal(actual, value)),
                    "like" => text().is_some_and(|text| like(&text, &needle)),
                    "not-like" => !text().is_some_and(|text| like(&text, &needle)),
                    "begins-with" => text().is_some_and(|text| text.starts_with(&needle)),
                    "not-begin-with" => !text().is_some_and(|text| text.starts_with(&needle)),
                    "ends-with" => text().is_some_and(|text| text.ends_with(&needle)),
                    _ => !text().is_some_and(|text| text.ends_with(&needle)),
                }
            }
        }
    }
}

/// SQL `LIKE` with `%` (any run) and `_` (one character).
fn like(text: &str, pattern: &str) -> bool {
    fn go(text: &[char], pattern: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('%', rest)) => (0..=text.len()).any(|skip| go(&text[skip..], rest)),
            Some(('_', rest)) => !text.is_empty() && go(&text[1..], rest),
            Some((c, rest)) => text.first() == Some(c) && go(&text[1..], rest),
        }
    }
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    go(&text, &pattern)
}

/// A parsed `<fetch>` of one entity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fetch {
    /// The `<attribute>` names, in order.
    pub(crate) columns: Vec<String>,
    /// Whether `<all-attributes/>` was given.
    pub(crate) all_attributes: bool,
    /// The `<order>`s: column, descending.
    pub(crate) orders: Vec<(String, bool)>,
    /// Every `<filter>` of the entity, all of which must match.
    pub(crate) condition: Condition,
    /// The page size (`count`, 5000 when absent or 0).
    pub(crate) count: usize,
    /// The page number, from 1.
    pub(crate) page: usize,
    pub(crate) top: Option<usize>,
}

impl Fetch {
    /// Parses a FetchXML document whose `<entity>` must be `logical_name`.
    pub(crate) fn parse(text: &str, logical_name: &str) -> Result<Self, ODataError> {
        let fetch = parse_xml(text).map_err(|why| bad(&why))?;
        if fetch.name != "fetch" {
            return Err(bad("the root element must be <fetch>"));
        }
        if fetch.attribute("aggregate") == Some("true") {
            return Err(ODataError::not_emulated("FetchXML aggregation"));
        }
        let entity = fetch.children("entity").next().ok_or_else(|| bad("there is no <entity>"))?;
        if entity.attribute("name") != Some(logical_name) {
            return Err(ODataError::bad_query(format!(
                "The entity name specified in FetchXml ({}) does not match the entity name in the EntitySet ({})",
                entity.attribute("name").unwrap_or_default(),
                logical_name
            )));
        }
        let mut columns = Vec::new();
        let mut all_attributes = false;
        let mut orders = Vec::new();
        let mut conditions = Vec::new();
        for child in &entity.children {
            match child.name.as_str() {
                "attribute" => columns.extend(child.attribute("name").map(str::to_owned)),
                "all-attributes" => all_attributes = true,
                "order" => {
                    let column = child.attribute("attribute").ok_or_else(|| bad("an <order> has no attribute"))?;
                    orders.push((column.to_owned(), child.attribute("descending") == Some("true")));
                }
                "filter" => conditions.push(filter(child)?),
                "link-entity" => return Err(ODataError::not_emulated("FetchXML <link-entity>")),
                other => return Err(bad(&format!("<{other}> is not an element of <entity>"))),
            }
        }
        let condition = Condition::All(conditions);
        condition.check()?;
        let number = |name: &str| {
            fetch
                .attribute(name)
                .map(|value| value.parse::<usize>().map_err(|_| bad(&format!("{name}=\"{value}\" is not a number"))))
        };
        let count = number("count").transpose()?.filter(|count| *count > 0).unwrap_or(5000);
        let page = number("page").transpose()?.filter(|page| *page > 0).unwrap_or(1);
        let top = number("top").transpose()?;
        Ok(Self { columns, all_attributes, orders, condition, count, page, top })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fetch_xml_elements() {
        let xml = r#"<?xml version="1.0"?><fetch count='2' page="1"><entity name="account"><attribute name="name"/><!-- c --><filter type="or"><condition attribute="name" operator="like" value="%o&amp;n%"/><condition attribute="statecode" operator="in"><value>0</value></condition></filter></entity></fetch>"#;
        let fetch = parse_xml(xml).unwrap();
        assert_eq!((fetch.name.as_str(), fetch.attribute("count")), ("fetch", Some("2")));
        let entity = fetch.children("entity").next().unwrap();
        assert_eq!(entity.children.len(), 2);
        let Condition::Any(parts) = filter(&entity.children[1]).unwrap() else { panic!() };
        assert_eq!(
            parts[0],
            Condition::Test { attribute: "name".into(), operator: "like".into(), values: vec![Value::from("%o&n%")] }
        );
        assert!(parse_xml("<fetch><entity></fetch>").is_err());
        assert!(parse_xml("<fetch").is_err());
    }

    #[test]
    fn like_follows_sql_wildcards() {
        assert!(like("contoso ltd", "%toso%"));
        assert!(like("contoso", "c_ntoso"));
        assert!(!like("contoso", "c_toso"));
        assert!(like("", "%"));
    }
}
