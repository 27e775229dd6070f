//! A response under construction, turned into wiremock's `ResponseTemplate` at the end.

use wiremock::ResponseTemplate;

/// A response: status, headers and an optional body with its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<(Vec<u8>, String)>,
}

impl Reply {
    pub(crate) fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: None }
    }

    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::empty(status).with_body(body.to_string().into_bytes(), "application/json; odata.metadata=minimal")
    }

    pub(crate) fn with_body(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.body = Some((body, content_type.to_owned()));
        self
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(key, _)| key.eq_ignore_ascii_case(name))
    }

    pub(crate) fn into_template(self) -> ResponseTemplate {
        let mut template = ResponseTemplate::new(self.status);
        for (name, value) in self.headers {
            template = template.append_header(name.as_str(), value.as_str());
        }
        if let Some((body, content_type)) = self.body {
            template = template.set_body_raw(body, &content_type);
        }
        template
    }
}
