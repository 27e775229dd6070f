//! Rust names from Dataverse names: snake and Pascal case, keywords, leading digits, clashes.
//!
//! Logical names are lower case (`parentaccountid`, `cr6a1_projectid`) and are kept as they are,
//! publisher prefix included, so a generated name always points back to its column. Navigation
//! properties in mixed case (`Account_Tasks`, `FeedbackId`) are split at case changes.

use std::collections::BTreeSet;

use crate::transliterate::ascii_spelling;

/// Words Rust reserves: as identifiers they need `r#` (or, for the few that cannot be raw, a suffix).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
    "true", "try", "type", "typeof", "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super", "_"];

/// Splits a name into lower-case words at `_`, other punctuation, and lower-to-upper case changes.
///
/// Latin letters with diacritics are spelled in ASCII first (`Café` is `cafe`); characters of other
/// scripts separate words like punctuation.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    let ascii = name.chars().flat_map(|c| match ascii_spelling(c) {
        Some(spelling) => Spelled::Many(spelling.chars()),
        None => Spelled::One(std::iter::once(c)),
    });
    for c in ascii {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        if c.is_ascii_uppercase() && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A character as it is, or its ASCII spelling.
enum Spelled {
    One(std::iter::Once<char>),
    Many(std::str::Chars<'static>),
}

impl Iterator for Spelled {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            Self::One(c) => c.next(),
            Self::Many(chars) => chars.next(),
        }
    }
}

/// `Account_Tasks` to `account_tasks`, `FeedbackId` to `feedback_id`, `cr6a1_name` to `cr6a1_name`;
/// a leading digit gets an `n` in front; empty input gives `field`.
pub(crate) fn snake(name: &str) -> String {
    let joined = words(name).join("_");
    match joined.chars().next() {
        None => "field".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("n{joined}"),
        Some(_) => joined,
    }
}

/// `cr6a1_project` to `Cr6a1Project`, `account` to `Account`, `2nd choice` to `N2ndChoice`; empty gives `None`.
pub(crate) fn pascal(name: &str) -> Option<String> {
    let mut out = String::new();
    for word in words(name) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    match out.chars().next() {
        None => None,
        Some(c) if c.is_ascii_digit() => Some(format!("N{out}")),
        Some(_) => Some(out),
    }
}

/// `snake` in upper case, for constants.
pub(crate) fn screaming(name: &str) -> String {
    snake(name).to_ascii_uppercase()
}

/// The identifier as written in code: `r#type` for a keyword, `self_` for one that cannot be raw.
pub(crate) fn ident(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// Hands out unique names in one namespace; a taken name gets `_2`, `_3`, ... (or `2`, `3` in Pascal case).
#[derive(Debug, Default)]
pub(crate) struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Reserves names the generated code uses itself.
    pub(crate) fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_ascii_lowercase());
    }

    /// True when `name` (in any case) is already handed out or reserved.
    pub(crate) fn is_taken(&self, name: &str) -> bool {
        self.taken.contains(&name.to_ascii_lowercase())
    }

    /// A unique name starting from `wanted`; the comparison ignores case, so `A` and `a` also clash.
    pub(crate) fn unique(&mut self, wanted: &str, separator: &str) -> String {
        if self.taken.insert(wanted.to_ascii_lowercase()) {
            return wanted.to_owned();
        }
        (2..)
            .map(|n| format!("{wanted}{separator}{n}"))
            .find(|candidate| self.taken.insert(candidate.to_ascii_lowercase()))
            .unwrap_or_else(|| wanted.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_splits_case_changes_and_keeps_prefixes() {
        assert_eq!(snake("Account_Tasks"), "account_tasks");
        assert_eq!(snake("FeedbackId"), "feedback_id");
        assert_eq!(snake("feedbackid"), "feedbackid");
        assert_eq!(snake("cr6a1_projectid"), "cr6a1_projectid");
        assert_eq!(snake("1st_value"), "n1st_value");
        assert_eq!(snake("__"), "field");
        assert_eq!(snake("lk_ACIViewMapper_createdby"), "lk_aciview_mapper_createdby");
    }

    #[test]
    fn pascal_and_keywords() {
        assert_eq!(pascal("cr6a1_project").as_deref(), Some("Cr6a1Project"));
        assert_eq!(pascal("Preferred Customer").as_deref(), Some("PreferredCustomer"));
        assert_eq!(pascal("2 days").as_deref(), Some("N2Days"));
        assert_eq!(pascal("  "), None);
        assert_eq!(pascal("über"), Some("Uber".to_owned()));
        assert_eq!(ident("type"), "r#type");
        assert_eq!(ident("abstract"), "r#abstract");
        assert_eq!(ident("self"), "self_");
        assert_eq!(ident("Self"), "Self_");
        assert_eq!(ident("name"), "name");
        assert_eq!(screaming("Account_Tasks"), "ACCOUNT_TASKS");
    }

    #[test]
    fn latin_letters_with_diacritics_are_spelled_in_ascii() {
        assert_eq!(pascal("Café crème").as_deref(), Some("CafeCreme"));
        assert_eq!(pascal("Größe").as_deref(), Some("Grosse"));
        assert_eq!(pascal("Ærø Ålesund").as_deref(), Some("AeroAlesund"));
        assert_eq!(pascal("Łódź façade niño").as_deref(), Some("LodzFacadeNino"));
        assert_eq!(pascal("ÉtéÜber").as_deref(), Some("EteUber"));
        assert_eq!(snake("CaféCrème"), "cafe_creme");
        assert_eq!(screaming("Straße"), "STRASSE");
    }

    #[test]
    fn other_scripts_still_separate_words() {
        assert_eq!(pascal("Ελληνικά"), None);
        assert_eq!(pascal("Москва 2"), Some("N2".to_owned()));
        assert_eq!(pascal("日本 office"), Some("Office".to_owned()));
        assert_eq!(pascal("caféΩbar").as_deref(), Some("CafeBar"));
    }

    #[test]
    fn clashes_get_numbered_whatever_the_case() {
        let mut names = Names::new();
        names.reserve("etag");
        assert_eq!(names.unique("etag", "_"), "etag_2");
        assert_eq!(names.unique("Active", ""), "Active");
        assert_eq!(names.unique("active", ""), "active2");
        assert_eq!(names.unique("active", ""), "active3");
    }
}
