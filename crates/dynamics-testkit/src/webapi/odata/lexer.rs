//! The tokens of OData expressions in URLs: `$filter`, key segments and function parameters.
//!
//! Literals follow OData's URL conventions: `'text'` with `''` for a quote, numbers, GUIDs,
//! `true`/`false`/`null`, and unquoted dates and date-times (kept as text, compared as instants).

use serde_json::{Number, Value};
use uuid::Uuid;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// A name: a column, a function, an operator word (`eq`, `and`…).
    Name(String),
    /// A literal value.
    Literal(Value),
    Open,
    Close,
    Comma,
    Equals,
    OpenBracket,
    CloseBracket,
}

/// Splits `text` into tokens; the error says what is wrong and where.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        match c {
            c if c.is_whitespace() => at += 1,
            '(' => push(&mut tokens, &mut at, Token::Open),
            ')' => push(&mut tokens, &mut at, Token::Close),
            ',' => push(&mut tokens, &mut at, Token::Comma),
            '=' => push(&mut tokens, &mut at, Token::Equals),
            '[' => push(&mut tokens, &mut at, Token::OpenBracket),
            ']' => push(&mut tokens, &mut at, Token::CloseBracket),
            '\'' | '"' => {
                let quote = c;
                let start = at;
                at += 1;
                let mut value = String::new();
                loop {
                    match chars.get(at) {
                        None => return Err(format!("the string starting at position {start} is not closed")),
                        Some(&q) if q == quote && chars.get(at + 1) == Some(&quote) => {
                            value.push(quote);
                            at += 2;
                        }
                        Some(&q) if q == quote => {
                            at += 1;
                            break;
                        }
                        Some(&other) => {
                            value.push(other);
                            at += 1;
                        }
                    }
                }
                tokens.push(Token::Literal(Value::String(value)));
            }
            c if is_word_char(c) => {
                let start = at;
                while at < chars.len() && is_word_char(chars[at]) {
                    at += 1;
                }
                let word: String = chars[start..at].iter().collect();
                tokens.push(classify(&word, start)?);
            }
            other => return Err(format!("unexpected character `{other}` at position {at}")),
        }
    }
    Ok(tokens)
}

fn push(tokens: &mut Vec<Token>, at: &mut usize, token: Token) {
    tokens.push(token);
    *at += 1;
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '+' | '@' | '$' | '/' | '{' | '}')
}

fn classify(word: &str, position: usize) -> Result<Token, String> {
    match word {
        "true" => return Ok(Token::Literal(Value::Bool(true))),
        "false" => return Ok(Token::Literal(Value::Bool(false))),
        "null" => return Ok(Token::Literal(Value::Null)),
        _ => {}
    }
    let unbraced = word.trim_start_matches('{').trim_end_matches('}');
    if unbraced.len() == 36
        && let Ok(guid) = Uuid::parse_str(unbraced)
    {
        return Ok(Token::Literal(Value::String(guid.to_string())));
    }
    let first = word.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() || (first == '-' && word.len() > 1) {
        if let Ok(integer) = word.parse::<i64>() {
            return Ok(Token::Literal(Value::Number(integer.into())));
        }
        let trimmed = word.trim_end_matches(['m', 'M', 'd', 'D']);
        if let Ok(float) = trimmed.parse::<f64>()
            && let Some(number) = Number::from_f64(float)
        {
            return Ok(Token::Literal(Value::Number(number)));
        }
        if looks_like_date(word) {
            return Ok(Token::Literal(Value::String(word.to_owned())));
        }
        return Err(format!("`{word}` at position {position} is not a valid literal"));
    }
    if word.contains(['-', '+', ':', '{', '}']) {
        return Err(format!("`{word}` at position {position} is neither a name nor a literal"));
    }
    Ok(Token::Name(word.to_owned()))
}

fn looks_like_date(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() >= 10 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' && bytes[7] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn literal(text: &str) -> Value {
        match tokenize(text).unwrap().as_slice() {
            [Token::Literal(value)] => value.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_odata_literals() {
        assert_eq!(literal("'O''Neil'"), json!("O'Neil"));
        assert_eq!(literal("42"), json!(42));
        assert_eq!(literal("-1.5"), json!(-1.5));
        assert_eq!(literal("1000000.00"), json!(1000000.0));
        assert_eq!(literal("true"), json!(true));
        assert_eq!(literal("null"), Value::Null);
        assert_eq!(literal("A0000001-0000-4000-8000-000000000001"), json!("a0000001-0000-4000-8000-000000000001"));
        assert_eq!(literal("2026-01-05T09:00:00Z"), json!("2026-01-05T09:00:00Z"));
        assert_eq!(literal("2026-01-05"), json!("2026-01-05"));
    }

    #[test]
    fn splits_expressions_and_reports_mistakes() {
        let tokens = tokenize("contains(name,'a b') and revenue ge 10").unwrap();
        assert_eq!(tokens.len(), 10);
        assert_eq!(tokens[0], Token::Name("contains".into()));
        assert!(tokenize("name eq 'open").unwrap_err().contains("not closed"));
        assert!(tokenize("name eq 12ab").unwrap_err().contains("not a valid literal"));
        assert!(tokenize("name # 1").is_err());
    }
}
