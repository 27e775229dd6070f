//! `$filter`: parsing the subset Dataverse users write most, and evaluating it on a record.
//!
//! Supported: `eq ne gt ge lt le` between a column and a literal (either side), `and`, `or`, `not`,
//! parentheses, `contains`, `startswith`, `endswith` on text columns, and `Microsoft.Dynamics.CRM.In` /
//! `NotIn` / `Null` / `NotNull`. Anything else is refused with a 400 naming what is not emulated.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::compare;
use super::lexer::{Token, tokenize};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    /// The operator with its sides swapped (`5 lt x` is `x gt 5`).
    fn swapped(self) -> Self {
        match self {
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            other => other,
        }
    }
}

/// A text function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextFunction {
    Contains,
    StartsWith,
    EndsWith,
}

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare { column: String, op: Comparison, value: Value },
    Text { function: TextFunction, column: String, needle: String },
    In { column: String, values: Vec<Value>, negated: bool },
}

impl Filter {
    /// Parses a `$filter` value (already percent-decoded).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let filter = parser.or()?;
        match parser.peek() {
            None => Ok(filter),
            Some(token) => Err(format!("unexpected {} after a complete expression", describe(token))),
        }
    }

    /// Whether a record with these columns matches (a column it does not have is `null`).
    pub(crate) fn matches(&self, fields: &Map<String, Value>) -> bool {
        let column_value = |column: &str| fields.get(column).unwrap_or(&Value::Null);
        match self {
            Self::And(left, right) => left.matches(fields) && right.matches(fields),
            Self::Or(left, right) => left.matches(fields) || right.matches(fields),
            Self::Not(inner) => !inner.matches(fields),
            Self::Compare { column, op, value } => {
                let actual = column_value(column);
                match op {
                    Comparison::Eq => compare::equal(actual, value),
                    Comparison::Ne => !compare::equal(actual, value),
                    ordering => match compare::order(actual, value) {
                        None => false,
                        Some(found) => match ordering {
                            Comparison::Gt => found == Ordering::Greater,
                            Comparison::Ge => found != Ordering::Less,
                            Comparison::Lt => found == Ordering::Less,
                            _ => found != Ordering::Greater,
                        },
                    },
                }
            }
            Self::Text { function, column, needle } => match column_value(column) {
                Value::String(text) => {
                    let (text, needle) = (text.to_lowercase(), needle.to_lowercase());
                    match function {
                        TextFunction::Contains => text.contains(&needle),
                        TextFunction::StartsWith => text.starts_with(&needle),
                        TextFunction::EndsWith => text.ends_with(&needle),
                    }
                }
                _ => false,
            },
            Self::In { column, values, negated } => {
                let actual = column_value(column);
                values.iter().any(|value| compare::equal(actual, value) || loosely_equal(actual, value)) != *negated
            }
        }
    }
}

/// `In` takes its values as strings (`PropertyValues=['1','2']`) even for number columns.
fn loosely_equal(actual: &Value, value: &Value) -> bool {
    match (actual, value) {
        (Value::Number(number), Value::String(text)) => text.parse::<f64>().ok() == number.as_f64(),
        (Value::Bool(flag), Value::String(text)) => text.eq_ignore_ascii_case(&flag.to_string()),
        _ => false,
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Name(name) => format!("`{name}`"),
        Token::Literal(value) => format!("the literal {value}"),
        Token::Open => "`(`".to_owned(),
        Token::Close => "`)`".to_owned(),
        Token::Comma => "`,`".to_owned(),
        Token::Equals => "`=`".to_owned(),
        Token::OpenBracket => "`[`".to_owned(),
        Token::CloseBracket => "`]`".to_owned(),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(name)) if name == word)
    }

    fn expect(&mut self, expected: &Token) -> Result<(), String> {
        match self.next() {
            Some(token) if &token == expected => Ok(()),
            Some(token) => Err(format!("expected {} but found {}", describe(expected), describe(&token))),
            None => Err(format!("expected {} but the expression ended", describe(expected))),
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.is_word("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.is_word("not") {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect(&Token::Close)?;
                Ok(inner)
            }
            Some(Token::Name(name)) if self.peek() == Some(&Token::Open) => self.function(&name),
            Some(Token::Name(column)) => {
                check_column(&column)?;
                let op = self.comparison()?;
                match self.next() {
                    Some(Token::Literal(value)) => Ok(Filter::Compare { column, op, value }),
                    Some(Token::Name(other)) => {
                        Err(format!("comparing two columns (`{column}` and `{other}`) is not emulated"))
                    }
                    Some(token) => Err(format!("expected a literal after the operator but found {}", describe(&token))),
                    None => Err("expected a literal after the operator but the expression ended".to_owned()),
                }
            }
            Some(Token::Literal(value)) => {
                let op = self.comparison()?;
                match self.next() {
                    Some(Token::Name(column)) => {
                        check_column(&column)?;
                        Ok(Filter::Compare { column, op: op.swapped(), value })
                    }
                    _ => Err("a comparison needs a column on one side".to_owned()),
                }
            }
            Some(token) => Err(format!("unexpected {}", describe(&token))),
            None => Err("the expression ended where a condition was expected".to_owned()),
        }
    }

    fn comparison(&mut self) -> Result<Comparison, String> {
        match self.next() {
            Some(Token::Name(word)) => Comparison::parse(&word).ok_or_else(|| {
                format!("`{word}` is not a comparison operator (eq, ne, gt, ge, lt, le) the emulator knows")
            }),
            Some(token) => Err(format!("expected a comparison operator but found {}", describe(&token))),
            None => Err("expected a comparison operator but the expression ended".to_owned()),
        }
    }

    fn function(&mut self, name: &str) -> Result<Filter, String> {
        self.expect(&Token::Open)?;
        let text = match name {
            "contains" => Some(TextFunction::Contains),
            "startswith" => Some(TextFunction::StartsWith),
            "endswith" => Some(TextFunction::EndsWith),
            _ => None,
        };
        if let Some(function) = text {
            let column = match self.next() {
                Some(Token::Name(column)) => column,
                _ => return Err(format!("{name}() takes a column first")),
            };
            check_column(&column)?;
            self.expect(&Token::Comma)?;
            let needle = match self.next() {
                Some(Token::Literal(Value::String(needle))) => needle,
                _ => return Err(format!("{name}() takes a quoted string second")),
            };
            self.expect(&Token::Close)?;
            return Ok(Filter::Text { function, column, needle });
        }
        let Some(short) = name.strip_prefix("Microsoft.Dynamics.CRM.") else {
            return Err(format!("the function `{name}` is not emulated"));
        };
        let parameters = self.parameters()?;
        let column = match parameters.iter().find(|(key, _)| key == "PropertyName") {
            Some((_, Parameter::Value(Value::String(column)))) => column.clone(),
            _ => return Err(format!("{name} needs PropertyName='<column>'")),
        };
        check_column(&column)?;
        let values = || match parameters.iter().find(|(key, _)| key == "PropertyValues") {
            Some((_, Parameter::List(values))) => Ok(values.clone()),
            _ => Err(format!("{name} needs PropertyValues=[...]")),
        };
        match short {
            "In" => Ok(Filter::In { column, values: values()?, negated: false }),
            "NotIn" => Ok(Filter::In { column, values: values()?, negated: true }),
            "Null" => Ok(Filter::Compare { column, op: Comparison::Eq, value: Value::Null }),
            "NotNull" => Ok(Filter::Compare { column, op: Comparison::Ne, value: Value::Null }),
            _ => Err(format!("the query function `{name}` is not emulated")),
        }
    }

    fn parameters(&mut self) -> Result<Vec<(String, Parameter)>, String> {
        let mut parameters = Vec::new();
        loop {
            match self.next() {
                Some(Token::Close) => return Ok(parameters),
                Some(Token::Comma) => continue,
                Some(Token::Name(key)) => {
                    self.expect(&Token::Equals)?;
                    let value = match self.next() {
                        Some(Token::Literal(value)) => Parameter::Value(value),
                        Some(Token::OpenBracket) => {
                            let mut values = Vec::new();
                            loop {
                                match self.next() {
                                    Some(Token::CloseBracket) => break,
                                    Some(Token::Comma) => {}
                                    Some(Token::Literal(value)) => values.push(value),
                                    _ => return Err(format!("the list of `{key}` holds something not a literal")),
                                }
                            }
                            Parameter::List(values)
                        }
                        _ => return Err(format!("the parameter `{key}` has no value")),
                    };
                    parameters.push((key, value));
                }
                _ => return Err("a function's parameters must be Name=value pairs".to_owned()),
            }
        }
    }
}

enum Parameter {
    Value(Value),
    List(Vec<Value>),
}

/// Column names are lower-case logical names; a navigation path (`a/b`) is not emulated.
pub(crate) fn check_column(column: &str) -> Result<(), String> {
    if column.contains('/') {
        return Err(format!("filtering on a related table's column (`{column}`) is not emulated"));
    }
    if column.chars().any(|c| c.is_ascii_uppercase()) || !column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!("Could not find a property named '{column}' (column names are lower-case logical names)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(filter: &str, fields: Value) -> bool {
        let Value::Object(fields) = fields else { panic!() };
        Filter::parse(filter).unwrap().matches(&fields)
    }

    #[test]
    fn evaluates_comparisons_logic_and_text_functions() {
        let record = json!({"name": "Contoso Ltd", "revenue": 5000000.0, "statecode": 0, "telephone1": null});
        assert!(matches("name eq 'contoso ltd'", record.clone()));
        assert!(matches("revenue ge 1000000 and statecode eq 0", record.clone()));
        assert!(matches("revenue lt 10 or startswith(name,'Con')", record.clone()));
        assert!(matches("not (statecode eq 1)", record.clone()));
        assert!(matches("telephone1 eq null and emailaddress1 eq null", record.clone()));
        assert!(matches("contains(name,'TOSO') and endswith(name,'ltd')", record.clone()));
        assert!(matches("1000 lt revenue", record.clone()));
        assert!(!matches("revenue gt 5000000", record.clone()));
        assert!(!matches("telephone1 gt 3", record.clone()));
        assert!(matches("Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0','1'])", record));
    }

    #[test]
    fn refuses_what_is_not_emulated_with_a_reason() {
        assert!(Filter::parse("Name eq 'x'").unwrap_err().contains("Could not find a property named 'Name'"));
        assert!(Filter::parse("name like 'x'").unwrap_err().contains("not a comparison operator"));
        assert!(Filter::parse("primarycontactid/fullname eq 'x'").unwrap_err().contains("not emulated"));
        assert!(Filter::parse("substringof('x',name)").unwrap_err().contains("not emulated"));
        assert!(Filter::parse("(name eq 'x'").unwrap_err().contains("expected `)`"));
        assert!(Filter::parse("name eq 'x' name").is_err());
    }
}
