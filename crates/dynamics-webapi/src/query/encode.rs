//! Percent-encoding of query option values: done here, once, and nowhere else.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The bytes left as they are: RFC 3986 unreserved characters plus the delimiters that
/// OData syntax uses and that mean nothing special inside a query component.
///
/// Everything else is encoded, in particular space, `"`, `#`, `%`, `&`, `'`, `+`, `=`, `?`,
/// `[`, `]`, control characters and every byte of non-ASCII text.
/// `'` is encoded because the `url` crate encodes it in `http(s)` queries anyway:
/// with it encoded here, passing the result to `Url::set_query` changes nothing.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b':')
    .remove(b';')
    .remove(b'@')
    .remove(b'/');

/// Percent-encodes one query option value (the text after `$filter=`) for the wire.
///
/// The result is safe between `=` and `&` in a URL query and decodes back to `value` exactly:
/// `&`, `#`, `+`, `%`, `=`, `?`, `'`, spaces and non-ASCII text are all encoded,
/// while the OData punctuation `( ) , : ; $ @ / *` stays readable.
/// Every query the crate renders goes through this one function.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::query::encode_query_value;
///
/// assert_eq!(
///     encode_query_value("contains(name,'A&B #1+2')"),
///     "contains(name,%27A%26B%20%231%2B2%27)",
/// );
/// assert_eq!(encode_query_value("Zoë"), "Zo%C3%AB");
/// ```
pub fn encode_query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// The bytes left as they are in a URL path segment (an entity key such as `accounts(accountnumber='A-1')`):
/// unreserved characters and the sub-delimiters OData keys use. `/`, `?`, `#`, `%`, space and non-ASCII are encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Percent-encodes text for one URL path segment, such as a key predicate with quoted string values.
///
/// ```
/// use dynamics_webapi::query::encode_path_segment;
///
/// assert_eq!(encode_path_segment("accounts(accountnumber='A/1 #2')"), "accounts(accountnumber='A%2F1%20%232')");
/// ```
pub fn encode_path_segment(segment: &str) -> String {
    utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::encode_query_value;
    use crate::query::literal::{Literal, unquote};
    use crate::query::prelude::*;
    use crate::query::{Query, RawField};
    use percent_encoding::percent_decode_str;
    use proptest::prelude::*;

    #[test]
    fn encodes_each_character_per_the_table() {
        let cases = [
            ("", ""),
            ("name", "name"),
            ("AZaz09-._~", "AZaz09-._~"),
            ("!$()*,:;@/", "!$()*,:;@/"),
            (" ", "%20"),
            ("'", "%27"),
            ("&", "%26"),
            ("#", "%23"),
            ("+", "%2B"),
            ("%", "%25"),
            ("%20", "%2520"),
            ("=", "%3D"),
            ("?", "%3F"),
            ("\"", "%22"),
            ("<>", "%3C%3E"),
            ("[]", "%5B%5D"),
            ("{|}", "%7B%7C%7D"),
            ("\\^`", "%5C%5E%60"),
            ("\n\t\0", "%0A%09%00"),
            ("\u{7f}", "%7F"),
            ("é", "%C3%A9"),
            ("東", "%E6%9D%B1"),
            ("😀", "%F0%9F%98%80"),
            ("name eq 'O''Neil & Sons #1'", "name%20eq%20%27O%27%27Neil%20%26%20Sons%20%231%27"),
        ];
        for (input, expected) in cases {
            assert_eq!(encode_query_value(input), expected, "encoding {input:?}");
        }
    }

    #[test]
    fn the_url_crate_leaves_an_encoded_query_unchanged() {
        let query = Query::untyped("accounts")
            .select(["name", "revenue"])
            .filter(RawField::new("name").eq("a'b&c#d+e%f/g?h i=j[k]\"l<m>n{o}é東").and(RawField::new("revenue").gt(5)))
            .to_query_string()
            .unwrap();
        let mut url = url::Url::parse("https://org.crm.dynamics.com/api/data/v9.2/accounts").unwrap();
        url.set_query(Some(&query));
        assert_eq!(url.query(), Some(query.as_str()));
    }

    fn decode(encoded: &str) -> String {
        percent_decode_str(encoded).decode_utf8().unwrap().into_owned()
    }

    proptest! {
        #[test]
        fn any_string_survives_quoting_encoding_and_decoding(value in any::<String>()) {
            let encoded = encode_query_value(&Literal::from(value.as_str()).to_string());
            prop_assert!(
                encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$()*,:;@/%".contains(&b)),
                "unexpected raw byte in {encoded:?}"
            );
            prop_assert_eq!(unquote(&decode(&encoded)), Some(value));
        }

        #[test]
        fn any_string_survives_a_whole_query_string(value in any::<String>()) {
            let query = Query::untyped("accounts")
                .filter(RawField::new("name").eq(value.as_str()))
                .to_query_string()
                .unwrap();
            let mut pairs = query.split('&');
            let filter = pairs.next().and_then(|pair| pair.strip_prefix("$filter=")).unwrap();
            prop_assert_eq!(pairs.next(), None);
            let decoded = decode(filter);
            let literal = decoded.strip_prefix("name eq ").unwrap();
            prop_assert_eq!(unquote(literal), Some(value));
        }
    }
}
