//! The system query options of a read: `$select`, `$filter`, `$orderby`, `$top`, `$count`, `$skiptoken`,
//! and the `Prefer` preferences that shape a response.

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use uuid::Uuid;

use super::error::ODataError;
use super::expand::{self, Expand};
use super::filter::{Filter, check_column};

/// The parsed query options of a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryOptions {
    pub(crate) select: Option<Vec<String>>,
    pub(crate) filter: Option<Filter>,
    /// Columns to sort by, `true` for descending.
    pub(crate) order_by: Vec<(String, bool)>,
    pub(crate) top: Option<usize>,
    pub(crate) count: bool,
    /// The 1-based page number from `$skiptoken`.
    pub(crate) page: usize,
    pub(crate) expand: Vec<Expand>,
}

/// The pairs of a query string, decoded as Dataverse (IIS) decodes them: `+` is a space, `%2B` a plus.
pub(crate) fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(name), decode(value))
        })
        .collect()
}

impl QueryOptions {
    /// Parses the query string of a read. `single` is true for a single record (only `$select` and `$expand` apply).
    pub(crate) fn parse(query: Option<&str>, single: bool) -> Result<Self, ODataError> {
        let mut options = Self { page: 1, ..Self::default() };
        for (name, value) in pairs(query.unwrap_or_default()) {
            match name.as_str() {
                "$select" => {
                    let columns: Vec<String> =
                        value.split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
                    for column in &columns {
                        check_column(column).map_err(ODataError::bad_query)?;
                    }
                    options.select = Some(columns);
                }
                "$filter" if !single => {
                    let filter = Filter::parse(&value).map_err(|why| {
                        if why.contains("not emulated") {
                            ODataError::not_emulated(format!("$filter `{value}`: {why};"))
                        } else {
                            ODataError::bad_query(format!("Syntax error in $filter `{value}`: {why}."))
                        }
                    })?;
                    options.filter = Some(filter);
                }
                "$orderby" if !single => {
                    for part in value.split(',').map(str::trim).filter(|part| !part.is_empty()) {
                        let mut words = part.split_whitespace();
                        let column = words.next().unwrap_or_default().to_owned();
                        check_column(&column).map_err(ODataError::bad_query)?;
                        let descending = match words.next() {
                            None | Some("asc") => false,
                            Some("desc") => true,
                            Some(other) => {
                                return Err(ODataError::bad_query(format!(
                                    "Syntax error in $orderby: `{other}` is neither asc nor desc."
                                )));
                            }
                        };
                        options.order_by.push((column, descending));
                    }
                }
                "$top" if !single => {
                    options.top = Some(value.trim().parse().map_err(|_| {
                        ODataError::bad_query(format!("Invalid value '{value}' for $top query option found."))
                    })?);
                }
                "$count" if !single => {
                    options.count = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ODataError::bad_query(format!("'{value}' is not a valid count option.")));
                        }
                    };
                }
                "$skiptoken" if !single => options.page = page_number(&value)?,
                "$deltatoken" if !single => {} // read by `change_tracking`
                "$expand" => options.expand = expand::parse(&value)?,
                "$apply" => return Err(ODataError::not_emulated("$apply (aggregation)")),
                "fetchXml" => {} // answered by `fetch_xml` before these options are read
                "$skip" => return Err(ODataError::bad_query("The query parameter $skip is not supported")),
                other if other.starts_with('$') => {
                    return Err(ODataError::bad_query(format!("The query parameter {other} is not supported")));
                }
                _ => {}
            }
        }
        Ok(options)
    }
}

/// The page number of a `$skiptoken` paging cookie (`<cookie pagenumber="2" … />`).
fn page_number(token: &str) -> Result<usize, ODataError> {
    let invalid = || ODataError::bad_query(format!("The $skiptoken `{token}` is not a paging cookie of this org."));
    let start = token.find("pagenumber=\"").ok_or_else(invalid)? + "pagenumber=\"".len();
    let end = token[start..].find('"').ok_or_else(invalid)? + start;
    token[start..end].parse().ok().filter(|page| *page >= 1).ok_or_else(invalid)
}

/// The skip token for a page: a paging cookie like Dataverse's, naming the page to read and, in its
/// URL-encoded inner cookie, the primary ids of the first and last records of the page before
/// (in the next link the inner cookie is then encoded twice, as Dataverse's is).
pub(crate) fn skip_token(page: usize, primary_id: &str, first: Uuid, last: Uuid) -> String {
    let braced = |id: Uuid| format!("{{{}}}", id.to_string().to_uppercase());
    let inner = format!(
        "<cookie page=\"{}\"><{primary_id} last=\"{}\" first=\"{}\" /></cookie>",
        page - 1,
        braced(last),
        braced(first)
    );
    let encoded = utf8_percent_encode(&inner, NON_ALPHANUMERIC).to_string().to_lowercase();
    format!("<cookie pagenumber=\"{page}\" pagingcookie=\"{encoded}\" istracking=\"False\" />")
}

/// Percent-encodes a query name or value for a next link (`$` and `,` kept readable).
pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC)
        .to_string()
        .replace("%24", "$")
        .replace("%3D", "=")
        .replace("%2F", "/")
        .replace("%2C", ",")
        .replace("%2E", ".")
        .replace("%5F", "_")
}

/// The preferences of a `Prefer` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Preferences {
    pub(crate) return_representation: bool,
    pub(crate) max_page_size: Option<usize>,
    pub(crate) annotations: Option<String>,
    pub(crate) continue_on_error: bool,
    pub(crate) track_changes: bool,
}

impl Preferences {
    /// Reads every `Prefer` header value.
    pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut preferences = Self::default();
        for value in values {
            for preference in split_outside_quotes(value) {
                let (name, argument) =
                    preference.split_once('=').map_or((preference, ""), |(n, a)| (n.trim(), a.trim()));
                match name {
                    "return" if argument == "representation" => preferences.return_representation = true,
                    "odata.maxpagesize" => preferences.max_page_size = argument.parse().ok().filter(|size| *size > 0),
                    "odata.include-annotations" => {
                        preferences.annotations = Some(argument.trim_matches('"').to_owned());
                    }
                    "odata.continue-on-error" => preferences.continue_on_error = true,
                    "odata.track-changes" => preferences.track_changes = true,
                    _ => {}
                }
            }
        }
        preferences
    }

    /// Whether formatted values were asked for.
    pub(crate) fn wants_formatted(&self) -> bool {
        self.annotations.as_deref().is_some_and(|list| {
            list.split(',').any(|term| {
                let term = term.trim();
                term == "*" || term == "OData.Community.Display.V1.FormattedValue" || term == "OData.Community.*"
            })
        })
    }

    /// Whether the lookup logical name annotation was asked for.
    pub(crate) fn wants_lookup_names(&self) -> bool {
        self.annotations.as_deref().is_some_and(|list| {
            list.split(',').any(|term| {
                let term = term.trim();
                term == "*" || term == "Microsoft.Dynamics.CRM.*" || term == "Microsoft.Dynamics.CRM.lookuplogicalname"
            })
        })
    }
}

/// Splits a header value at the commas that are not inside double quotes.
fn split_outside_quotes(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (at, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(value[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_read_options() {
        let options = QueryOptions::parse(
            Some("$select=name,revenue&$filter=revenue%20gt%2010&$orderby=name%20desc,revenue&$top=3&$count=true"),
            false,
        )
        .unwrap();
        assert_eq!(options.select.unwrap(), ["name", "revenue"]);
        assert!(options.filter.is_some());
        assert_eq!(options.order_by, [("name".to_owned(), true), ("revenue".to_owned(), false)]);
        assert_eq!((options.top, options.count, options.page), (Some(3), true, 1));
        let token =
            utf8_percent_encode(&skip_token(4, "accountid", Uuid::nil(), Uuid::max()), NON_ALPHANUMERIC).to_string();
        assert_eq!(QueryOptions::parse(Some(&format!("$skiptoken={token}")), false).unwrap().page, 4);
        assert_eq!(QueryOptions::parse(Some("$top=x"), false).unwrap_err().status, 400);
        assert_eq!(QueryOptions::parse(Some("$expand=primarycontactid"), false).unwrap().expand.len(), 1);
        assert_eq!(QueryOptions::parse(Some("$skip=10"), false).unwrap_err().status, 400);
    }

    #[test]
    fn reads_preferences() {
        let preferences = Preferences::parse([
            "odata.maxpagesize=50, odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\"",
            "return=representation",
        ]);
        assert_eq!(preferences.max_page_size, Some(50));
        assert!(preferences.return_representation && preferences.wants_lookup_names());
        assert!(Preferences::parse(["odata.maxpagesize=0"]).max_page_size.is_none());
    }
}
