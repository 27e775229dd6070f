//! Writing Rust source text laid out the way rustfmt lays it out (`max_width = 120`), so the
//! output needs no formatter and `cargo fmt --check` agrees with it.

use std::fmt::Write as _;

/// The line width the output keeps to (the workspace's `rustfmt.toml`).
pub(crate) const MAX_WIDTH: usize = 120;

/// Source text under construction.
#[derive(Debug, Default)]
pub(crate) struct Source {
    text: String,
}

impl Source {
    pub(crate) fn new() -> Self {
        Self { text: String::with_capacity(16 * 1024) }
    }

    pub(crate) fn line(&mut self, indent: usize, text: &str) {
        if text.is_empty() {
            self.text.push('\n');
            return;
        }
        for _ in 0..indent {
            self.text.push_str("    ");
        }
        self.text.push_str(text);
        self.text.push('\n');
    }

    pub(crate) fn blank(&mut self) {
        self.text.push('\n');
    }

    /// `/// text` lines; `text` is one paragraph (already one line).
    pub(crate) fn doc(&mut self, indent: usize, text: &str) {
        if text.is_empty() {
            self.line(indent, "///");
        } else {
            self.line(indent, &format!("/// {text}"));
        }
    }

    /// `//! text`.
    pub(crate) fn inner_doc(&mut self, text: &str) {
        if text.is_empty() {
            self.text.push_str("//!\n");
        } else {
            let _ = writeln!(self.text, "//! {text}");
        }
    }

    /// An attribute `#[name(item, item, ...)]`, broken one item a line when it is too long.
    pub(crate) fn attribute(&mut self, indent: usize, name: &str, items: &[String]) {
        let one_line = format!("#[{name}({})]", items.join(", "));
        if indent * 4 + one_line.len() < MAX_WIDTH {
            self.line(indent, &one_line);
            return;
        }
        self.line(indent, &format!("#[{name}("));
        if name == "derive" {
            // rustfmt puts derives on one line inside the brackets when they fit, else one a line,
            // each followed by a comma.
            let packed = format!("{},", items.join(", "));
            if (indent + 1) * 4 + packed.len() <= MAX_WIDTH {
                self.line(indent + 1, &packed);
            } else {
                for item in items {
                    self.line(indent + 1, &format!("{item},"));
                }
            }
            self.line(indent, ")]");
            return;
        }
        for (i, item) in items.iter().enumerate() {
            let comma = if i + 1 < items.len() { "," } else { "" };
            self.line(indent + 1, &format!("{item}{comma}"));
        }
        self.line(indent, ")]");
    }

    /// `#[cfg(feature = "a")]` or `#[cfg(any(feature = "a", ...))]`, laid out like rustfmt does.
    pub(crate) fn cfg_features<'a>(&mut self, indent: usize, features: impl IntoIterator<Item = &'a str>) {
        let items: Vec<String> = features.into_iter().map(|f| format!("feature = {f:?}")).collect();
        match items.as_slice() {
            [] => {}
            [one] => self.line(indent, &format!("#[cfg({one})]")),
            _ => {
                let one_line = format!("#[cfg(any({}))]", items.join(", "));
                if indent * 4 + one_line.len() <= MAX_WIDTH {
                    self.line(indent, &one_line);
                } else {
                    self.line(indent, "#[cfg(any(");
                    for (i, item) in items.iter().enumerate() {
                        let comma = if i + 1 < items.len() { "," } else { "" };
                        self.line(indent + 1, &format!("{item}{comma}"));
                    }
                    self.line(indent, "))]");
                }
            }
        }
    }

    /// A struct field `pub name: Type,`, with the type on its own line when too long.
    pub(crate) fn field(&mut self, indent: usize, name: &str, ty: &str) {
        let one_line = format!("pub {name}: {ty},");
        if indent * 4 + one_line.len() <= MAX_WIDTH {
            self.line(indent, &one_line);
        } else if (indent + 1) * 4 + ty.len() < MAX_WIDTH {
            self.line(indent, &format!("pub {name}:"));
            self.line(indent + 1, &format!("{ty},"));
        } else if let Some((outer, inner)) = ty.split_once('<').filter(|_| ty.ends_with('>')) {
            self.line(indent, &format!("pub {name}: {outer}<"));
            self.line(indent + 1, &format!("{},", &inner[..inner.len() - 1]));
            self.line(indent, ">,");
        } else {
            self.line(indent, &format!("pub {name}:"));
            self.line(indent + 1, &format!("{ty},"));
        }
    }

    /// `pub const NAME: Type<A, B> = value;` (at the top level of a module), broken like rustfmt.
    pub(crate) fn constant(&mut self, name: &str, ty_head: &str, ty_args: &[&str], value: &str) {
        let ty = format!("{ty_head}<{}>", ty_args.join(", "));
        let one_line = format!("pub const {name}: {ty} = {value};");
        if one_line.len() <= MAX_WIDTH {
            self.line(0, &one_line);
            return;
        }
        let head = format!("pub const {name}: {ty} =");
        let tail = format!("{value};");
        if head.len() <= MAX_WIDTH && 4 + tail.len() <= MAX_WIDTH {
            self.line(0, &head);
            self.line(1, &tail);
            return;
        }
        self.line(0, &format!("pub const {name}: {ty_head}<"));
        for arg in ty_args {
            self.line(1, &format!("{arg},"));
        }
        self.line(0, &format!("> = {value};"));
    }

    /// A match arm `pattern => value,`, wrapped in a block when too long.
    pub(crate) fn arm(&mut self, indent: usize, pattern: &str, value: &str) {
        let one_line = format!("{pattern} => {value},");
        if indent * 4 + one_line.len() <= MAX_WIDTH {
            self.line(indent, &one_line);
        } else {
            self.line(indent, &format!("{pattern} => {{"));
            self.line(indent + 1, value);
            self.line(indent, "}");
        }
    }

    /// The text, without the spare capacity of its growth (the output of a large org is big).
    pub(crate) fn finish(mut self) -> String {
        self.text.shrink_to_fit();
        self.text
    }
}

/// Text for a doc comment: one line, trimmed, control characters as spaces.
pub(crate) fn doc_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A Rust string literal.
pub(crate) fn literal(text: &str) -> String {
    format!("{text:?}")
}
