//! FetchXML queries through `?fetchXml=`, paged with paging cookies.

use http::Method;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::page::{PagePosition, PagedRead};
use crate::query::{Annotation, encode_query_value, include_annotations};
use crate::transport::ApiRequest;

impl Client {
    /// Reads the records of a FetchXML query on `entity_set`, page by page:
    /// each next page is asked for with the paging cookie of the one before
    /// (`@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`) until `morerecords` is false.
    /// Set the page size with the `count` attribute of `<fetch>`.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// use dynamics_webapi::{Client, Record};
    ///
    /// # async fn run(client: Client) -> dynamics_webapi::Result<()> {
    /// let fetch = r#"<fetch count="500"><entity name="contact"><attribute name="fullname"/></entity></fetch>"#;
    /// let contacts: Vec<Record> = client.fetch_xml("contacts", fetch).records().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn fetch_xml<T: DeserializeOwned>(&self, entity_set: &str, fetch_xml: &str) -> PagedRead<T> {
        self.fetch_xml_annotated(entity_set, fetch_xml, [])
    }

    /// As [`fetch_xml`](Self::fetch_xml), also asking for `annotations` (formatted values, lookup names)
    /// beside the `Microsoft.Dynamics.CRM.*` ones the paging cookie needs.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// use dynamics_webapi::query::Annotation;
    /// use dynamics_webapi::{Client, Record};
    ///
    /// # async fn run(client: Client) -> dynamics_webapi::Result<()> {
    /// let fetch = r#"<fetch count="500"><entity name="account"><attribute name="revenue"/></entity></fetch>"#;
    /// let accounts: Vec<Record> =
    ///     client.fetch_xml_annotated("accounts", fetch, [Annotation::FormattedValue]).records().try_collect().await?;
    /// for account in &accounts {
    ///     println!("{:?}", account.formatted_value("revenue"));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fetch_xml_annotated<T: DeserializeOwned>(
        &self,
        entity_set: &str,
        fetch_xml: &str,
        annotations: impl IntoIterator<Item = Annotation>,
    ) -> PagedRead<T> {
        let cursor = FetchXmlCursor {
            entity_set: entity_set.to_owned(),
            fetch_xml: fetch_xml.to_owned(),
            page: 1,
            cookie: None,
        };
        let mut wanted = vec![Annotation::Other("Microsoft.Dynamics.CRM.*".into())];
        wanted.extend(annotations);
        match include_annotations(&wanted) {
            Ok(prefer) => self.paged(PagePosition::fetch_xml(cursor, Some(prefer))),
            Err(error) => self.paged_error(error),
        }
    }
}

/// A FetchXML query at one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FetchXmlCursor {
    entity_set: String,
    fetch_xml: String,
    page: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cookie: Option<String>,
}

impl FetchXmlCursor {
    /// The request for this page: the query with its `page` and `paging-cookie` set.
    pub(crate) fn request(&self) -> Result<ApiRequest> {
        crate::entity_set::check_identifier(&self.entity_set)?;
        let mut attributes = vec![("page".to_owned(), self.page.to_string())];
        if let Some(cookie) = &self.cookie {
            attributes.push(("paging-cookie".to_owned(), cookie.clone()));
        }
        let xml = set_fetch_attributes(&self.fetch_xml, &attributes)?;
        let query = format!("fetchXml={}", encode_query_value(&xml));
        Ok(ApiRequest::new(Method::GET, self.entity_set.clone()).query(Some(query)))
    }

    /// The cursor of the next page.
    ///
    /// # Errors
    /// [`Error::Decode`] when the server asks for more pages past the largest page number.
    pub(crate) fn next(&self, cookie: Option<PagingCookie>) -> Result<Self> {
        let following = self.page.checked_add(1);
        let (page, cookie) = match cookie {
            Some(PagingCookie { page: Some(page), cookie }) => (Some(page), Some(cookie)),
            Some(PagingCookie { page: None, cookie }) => (following, Some(cookie)),
            None => (following, None),
        };
        let page = page.ok_or_else(|| {
            Error::decode(
                format!("the FetchXML answer asks for a page after page {}, the last there can be", self.page),
                None,
            )
        })?;
        Ok(Self { page, cookie, ..self.clone() })
    }
}

/// The paging cookie of a FetchXML page, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PagingCookie {
    page: Option<u32>,
    cookie: String,
}

impl PagingCookie {
    /// Reads `<cookie pagenumber="2" pagingcookie="%253ccookie…" />`: the inner cookie is URL-encoded twice.
    pub(crate) fn parse(annotation: &str) -> Result<Self> {
        let bad = || Error::decode(format!("the FetchXML paging cookie `{annotation}` cannot be read"), None);
        let (name, attributes) = parse_start_tag(annotation.trim()).ok_or_else(bad)?;
        if name != "cookie" {
            return Err(bad());
        }
        let find =
            |wanted: &str| attributes.iter().find(|(name, _)| name == wanted).map(|(_, value)| unescape_xml(value));
        let encoded = find("pagingcookie").ok_or_else(bad)?;
        let once = percent_decode_str(&encoded).decode_utf8().map_err(|_| bad())?.into_owned();
        let twice = percent_decode_str(&once).decode_utf8().map_err(|_| bad())?.into_owned();
        let page = find("pagenumber").and_then(|p| p.parse().ok());
        Ok(Self { page, cookie: twice })
    }
}

/// Sets attributes on the `<fetch>` element, replacing any with the same names.
fn set_fetch_attributes(xml: &str, set: &[(String, String)]) -> Result<String> {
    let start = xml
        .find("<fetch")
        .filter(|&i| xml[i + "<fetch".len()..].starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/'));
    let Some(start) = start else {
        return Err(Error::config("the FetchXML has no <fetch> element"));
    };
    let end =
        tag_end(&xml[start..]).map(|e| start + e).ok_or_else(|| Error::config("the <fetch> element is not closed"))?;
    let tag = &xml[start..end];
    let (_, mut attributes) =
        parse_start_tag(tag).ok_or_else(|| Error::config("the <fetch> element's attributes cannot be read"))?;
    attributes.retain(|(name, _)| !set.iter().any(|(wanted, _)| wanted == name));
    for (name, value) in set {
        attributes.push((name.clone(), escape_xml(value)));
    }
    let self_closing = tag.trim_end_matches('>').trim_end().ends_with('/');
    let mut rebuilt = String::from("<fetch");
    for (name, value) in &attributes {
        rebuilt.push_str(&format!(" {name}=\"{}\"", value.replace('"', "&quot;")));
    }
    rebuilt.push_str(if self_closing { "/>" } else { ">" });
    Ok(format!("{}{rebuilt}{}", &xml[..start], &xml[end..]))
}

/// The index just past the `>` closing the start tag at the beginning of `text`, respecting quotes.
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

/// The element name and attributes (values still XML-escaped) of a start tag such as `<fetch a="1" b='2'>`.
fn parse_start_tag(tag: &str) -> Option<(String, Vec<(String, String)>)> {
    let inner = tag.strip_prefix('<')?;
    let inner = inner.trim_end_matches('>').trim_end().trim_end_matches('/');
    let name_end = inner.find(|c: char| c.is_whitespace()).unwrap_or(inner.len());
    let name = inner[..name_end].to_owned();
    let mut rest = inner[name_end..].trim_start();
    let mut attributes = Vec::new();
    while !rest.is_empty() {
        let equals = rest.find('=')?;
        let attribute = rest[..equals].trim().to_owned();
        let after = rest[equals + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let close = after[1..].find(quote)? + 1;
        attributes.push((attribute, after[1..close].to_owned()));
        rest = after[close + 1..].trim_start();
    }
    Some((name, attributes))
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn unescape_xml(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_COOKIE: &str = r#"<cookie pagenumber="2" pagingcookie="%253ccookie%2520page%253d%25221%2522%253e%253cfullname%2520last%253d%2522Robert%2520Lyon%2520%2528sample%2529%2522%2520first%253d%2522Susanna%2520Stubberod%2520%2528sample%2529%2522%2520%252f%253e%253ccontactid%2520last%253d%2522%257b30717E9C-643F-ED11-9DB0-002248225E95%257d%2522%2520first%253d%2522%257b20717E9C-643F-ED11-9DB0-002248225E95%257d%2522%2520%252f%253e%253c%252fcookie%253e" istracking="False" />"#;

    #[test]
    fn decodes_the_double_encoded_cookie() {
        let cookie = PagingCookie::parse(REAL_COOKIE).unwrap();
        assert_eq!(cookie.page, Some(2));
        assert_eq!(
            cookie.cookie,
            r#"<cookie page="1"><fullname last="Robert Lyon (sample)" first="Susanna Stubberod (sample)" /><contactid last="{30717E9C-643F-ED11-9DB0-002248225E95}" first="{20717E9C-643F-ED11-9DB0-002248225E95}" /></cookie>"#
        );
        assert!(PagingCookie::parse("<cookie/>").is_err());
        assert!(PagingCookie::parse("not xml").is_err());
    }

    #[test]
    fn sets_page_and_cookie_on_the_fetch_element() {
        let xml = "<fetch count='3' page='1'>\n<entity name='contact'/></fetch>";
        let cookie = PagingCookie::parse(REAL_COOKIE).unwrap();
        let set = [("page".to_owned(), "2".to_owned()), ("paging-cookie".to_owned(), cookie.cookie)];
        let rebuilt = set_fetch_attributes(xml, &set).unwrap();
        assert!(rebuilt.starts_with(r#"<fetch count="3" page="2" paging-cookie="&lt;cookie page=&quot;1&quot;&gt;&lt;fullname last=&quot;Robert Lyon (sample)&quot;"#), "{rebuilt}");
        assert!(rebuilt.ends_with(">\n<entity name='contact'/></fetch>"));
        assert!(set_fetch_attributes("<entity/>", &set).is_err());
        assert!(set_fetch_attributes("<fetchx/>", &set).is_err());
    }
}
