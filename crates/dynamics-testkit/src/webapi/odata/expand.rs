//! `$expand`: navigation properties with an optional nested `$select`,
//! such as `contacts?$expand=parentcustomerid_account($select=name)`.

use super::error::ODataError;
use super::filter::check_column;

/// One expanded navigation property and the columns to return from the related record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expand {
    pub(crate) navigation: String,
    pub(crate) select: Option<Vec<String>>,
}

/// Parses `$expand`: navigation properties separated by commas, each with an optional `($select=…)`.
pub(crate) fn parse(text: &str) -> Result<Vec<Expand>, ODataError> {
    let mut expands = Vec::new();
    for item in split_top_level(text) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (navigation, options) = match item.find('(') {
            Some(open) if item.ends_with(')') => (&item[..open], Some(&item[open + 1..item.len() - 1])),
            Some(_) => {
                return Err(ODataError::bad_query(format!("Syntax error in $expand: `{item}` has an unclosed `(`.")));
            }
            None => (item, None),
        };
        if navigation.is_empty() || !navigation.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ODataError::bad_query(format!(
                "Syntax error in $expand: `{navigation}` is not a navigation property."
            )));
        }
        let mut select = None;
        for option in options.map(split_options).unwrap_or_default() {
            match option.split_once('=') {
                Some(("$select", columns)) => {
                    let columns: Vec<String> =
                        columns.split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
                    for column in &columns {
                        check_column(column).map_err(ODataError::bad_query)?;
                    }
                    select = Some(columns);
                }
                _ => return Err(ODataError::not_emulated(format!("the $expand option `{option}`"))),
            }
        }
        expands.push(Expand { navigation: navigation.to_owned(), select });
    }
    Ok(expands)
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_options(text: &str) -> Vec<&str> {
    text.split(';').map(str::trim).filter(|option| !option.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_navigation_properties_with_nested_select() {
        let expands = parse("parentcustomerid_account($select=name,accountnumber),ownerid").unwrap();
        assert_eq!(expands.len(), 2);
        assert_eq!(expands[0].select.as_deref(), Some(&["name".to_owned(), "accountnumber".to_owned()][..]));
        assert_eq!(expands[1], Expand { navigation: "ownerid".into(), select: None });
        assert_eq!(parse("x($filter=a eq 1)").unwrap_err().status, 501);
        assert_eq!(parse("x($select=a").unwrap_err().status, 400);
    }
}
