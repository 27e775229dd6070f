//! Turning `--select`, `--filter`, `--orderby`, `--top`, `--expand` and `--page-size` into the first page of a read.

use dynamics_webapi::query::{Annotation, ColumnMethods, Expand, Filter, Query, RawField};
use dynamics_webapi::{Client, PagePosition};

use crate::args::QueryOptions;
use crate::error::{Error, Result};

/// The position of a read's first page: the URL with its query string, and the `Prefer` header.
///
/// `$expand` is passed through as written, as a raw expand.
pub(crate) fn first_page(client: &Client, entity_set: &str, options: &QueryOptions) -> Result<PagePosition> {
    check_entity_set(entity_set)?;
    let mut query = Query::untyped(entity_set.to_owned());
    if !options.select.is_empty() {
        query = query.select(options.select.iter().map(|c| c.trim().to_owned()).collect::<Vec<_>>());
    }
    if let Some(filter) = options.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        query = query.filter(Filter::raw(filter.trim()));
    }
    if let Some(orderby) = options.orderby.as_deref() {
        for item in orderby.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let mut words = item.split_whitespace();
            let column = words.next().unwrap_or_default().to_owned();
            let field = RawField::new(column);
            query = match (words.next().map(str::to_ascii_lowercase).as_deref(), words.next()) {
                (None | Some("asc"), None) => query.order_by(field.asc()),
                (Some("desc"), None) => query.order_by(field.desc()),
                _ => {
                    return Err(Error::usage(format!(
                        "--orderby item `{item}` is not `column`, `column asc` or `column desc`"
                    )));
                }
            };
        }
    }
    if let Some(top) = options.top {
        query = query.top(top);
    }
    if let Some(size) = options.page_size {
        query = query.max_page_size(size);
    }
    if let Some(expand) = options.expand.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        query = query.expand(Expand::raw(expand.to_owned()));
    }
    if options.formatted {
        query = query.annotations([Annotation::FormattedValue]);
    }
    let text = query.to_query_string().map_err(|e| Error::usage(format!("the query options: {e}")))?;
    let mut url = format!("{}{entity_set}", client.service_root());
    if !text.is_empty() {
        url.push('?');
        url.push_str(&text);
    }
    Ok(PagePosition::from_next_link(url).with_prefer(query.prefer_header()))
}

/// The columns to print for `--select` (empty: the records' own): the selected columns, then the navigation
/// properties `--expand` names (printed as JSON), so that an expansion is never left out.
pub(crate) fn printed_columns(options: &QueryOptions) -> Vec<String> {
    let mut columns: Vec<String> =
        options.select.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
    if columns.is_empty() {
        return columns;
    }
    let expand = options.expand.as_deref().unwrap_or_default();
    let mut depth = 0_usize;
    let mut items = vec![String::new()];
    for c in expand.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(item) = items.last_mut() {
            item.push(c);
        }
    }
    for item in &items {
        let name = item.split('(').next().unwrap_or_default().trim();
        if !name.is_empty() && !columns.iter().any(|c| c == name) {
            columns.push(name.to_owned());
        }
    }
    columns
}

/// An entity set name: letters, digits and `_` (the plural, such as `accounts`).
pub(crate) fn check_entity_set(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::usage_with_hint(
            format!("`{name}` is not an entity set name"),
            "give the entity set (plural) name, such as accounts or contacts",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn client() -> Client {
        let provider = aad_auth::ClientCredentialsProvider::builder(
            "contoso.onmicrosoft.com",
            "11111111-2222-3333-4444-555555555555",
            aad_auth::ClientCredential::secret(aad_auth::SecretString::from("x".to_owned())),
        )
        .build()
        .unwrap();
        Client::builder("https://org.crm.dynamics.com", Arc::new(provider)).build().unwrap()
    }

    #[test]
    fn renders_every_option_into_the_first_page() {
        let options = QueryOptions {
            select: vec!["name".into(), "revenue".into()],
            filter: Some("contains(name,'a b')".into()),
            orderby: Some("name desc, revenue".into()),
            top: Some(5),
            expand: Some("primarycontactid($select=fullname)".into()),
            page_size: Some(100),
            formatted: true,
        };
        let position = first_page(&client(), "accounts", &options).unwrap();
        let text = serde_json::to_value(&position).unwrap();
        let url = text["url"].as_str().unwrap();
        assert_eq!(
            url,
            "https://org.crm.dynamics.com/api/data/v9.2/accounts?$select=name,revenue\
             &$filter=contains(name,%27a%20b%27)&$orderby=name%20desc,revenue%20asc&$top=5\
             &$expand=primarycontactid($select%3Dfullname)"
        );
        let prefer = text["prefer"].as_str().unwrap();
        assert!(prefer.contains("odata.maxpagesize=100") && prefer.contains("FormattedValue"), "{prefer}");
    }

    #[test]
    fn printed_columns_are_the_selection_then_the_expansions() {
        let options = |select: &[&str], expand: Option<&str>| QueryOptions {
            select: select.iter().map(|c| (*c).to_owned()).collect(),
            expand: expand.map(str::to_owned),
            ..QueryOptions::default()
        };
        let expand = Some("primarycontactid($select=fullname,emailaddress1), contact_customer_accounts ,ownerid");
        assert_eq!(
            printed_columns(&options(&["name", " revenue"], expand)),
            ["name", "revenue", "primarycontactid", "contact_customer_accounts", "ownerid"]
        );
        assert_eq!(printed_columns(&options(&["name"], Some("a($expand=b($select=c)),d"))), ["name", "a", "d"]);
        assert!(printed_columns(&options(&[], expand)).is_empty(), "no selection: the records' own columns");
    }

    #[test]
    fn refuses_bad_names_and_order_items() {
        assert!(first_page(&client(), "accounts?x", &QueryOptions::default()).is_err());
        let options = QueryOptions { orderby: Some("name sideways".into()), ..QueryOptions::default() };
        assert!(first_page(&client(), "accounts", &options).is_err());
    }
}
