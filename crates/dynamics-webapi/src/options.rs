//! Options any request can carry: impersonation and Dataverse's behaviour headers.

use http::{HeaderMap, HeaderName, HeaderValue};
use uuid::Uuid;

/// Per-request options, as Dataverse's request headers.
///
/// ```
/// use dynamics_webapi::RequestOptions;
///
/// let options = RequestOptions::new()
///     .impersonate_entra_object(uuid::Uuid::nil())
///     .bypass_custom_plugins(true)
///     .solution("contoso_core");
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct RequestOptions {
    caller_object_id: Option<Uuid>,
    caller_systemuser_id: Option<Uuid>,
    suppress_duplicate_detection: Option<bool>,
    bypass_custom_plugins: Option<bool>,
    solution: Option<String>,
    bypass_business_logic: Option<BusinessLogic>,
    bypass_steps: Vec<Uuid>,
    merge_labels: Option<bool>,
    strong_consistency: bool,
    suppress_callback_expander: Option<bool>,
    tag: Option<String>,
    headers: Vec<(String, String)>,
}

/// Which custom business logic `MSCRM.BypassBusinessLogicExecution` skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusinessLogic {
    /// Synchronous plug-ins and real-time workflows (`CustomSync`).
    Sync,
    /// Asynchronous plug-ins, workflows and flows (`CustomAsync`).
    Async,
    /// Both (`CustomSync,CustomAsync`).
    All,
}

impl BusinessLogic {
    fn header_value(self) -> &'static str {
        match self {
            BusinessLogic::Sync => "CustomSync",
            BusinessLogic::Async => "CustomAsync",
            BusinessLogic::All => "CustomSync,CustomAsync",
        }
    }
}

impl RequestOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Acts on behalf of the user with this Entra (Azure AD) object id (`CallerObjectId`).
    /// The application user needs the *Act on Behalf of Another User* privilege.
    pub fn impersonate_entra_object(mut self, object_id: Uuid) -> Self {
        self.caller_object_id = Some(object_id);
        self
    }

    /// Acts on behalf of the Dataverse user with this `systemuserid` (`MSCRMCallerID`).
    pub fn impersonate_systemuser(mut self, systemuser_id: Uuid) -> Self {
        self.caller_systemuser_id = Some(systemuser_id);
        self
    }

    /// Sets `MSCRM.SuppressDuplicateDetection` (`false` runs duplicate detection rules on create and update).
    pub fn suppress_duplicate_detection(mut self, suppress: bool) -> Self {
        self.suppress_duplicate_detection = Some(suppress);
        self
    }

    /// Sets `MSCRM.BypassCustomPluginExecution`: synchronous custom plug-ins do not run
    /// (needs the `prvBypassCustomPlugins` privilege).
    pub fn bypass_custom_plugins(mut self, bypass: bool) -> Self {
        self.bypass_custom_plugins = Some(bypass);
        self
    }

    /// Sets `MSCRM.SolutionUniqueName`: new solution components are added to this unmanaged solution.
    pub fn solution(mut self, unique_name: impl Into<String>) -> Self {
        self.solution = Some(unique_name.into());
        self
    }

    /// Sets `MSCRM.BypassBusinessLogicExecution`: the chosen custom logic does not run
    /// (needs the `prvBypassCustomBusinessLogic` privilege).
    pub fn bypass_business_logic(mut self, logic: BusinessLogic) -> Self {
        self.bypass_business_logic = Some(logic);
        self
    }

    /// Sets `MSCRM.BypassBusinessLogicExecutionStepIds`: these registered plug-in steps do not run.
    pub fn bypass_steps(mut self, step_ids: impl IntoIterator<Item = Uuid>) -> Self {
        self.bypass_steps = step_ids.into_iter().collect();
        self
    }

    /// Sets `MSCRM.MergeLabels`: a metadata update keeps the labels of other languages (`true`).
    pub fn merge_labels(mut self, merge: bool) -> Self {
        self.merge_labels = Some(merge);
        self
    }

    /// Sends `Consistency: Strong`: a read right after a metadata change sees it (no cached metadata).
    pub fn strong_consistency(mut self) -> Self {
        self.strong_consistency = true;
        self
    }

    /// Sets `MSCRM.SuppressCallbackRegistrationExpanderJob`: change notifications (webhooks, flows) for
    /// this request are not queued.
    pub fn suppress_callback_registration_expander_job(mut self, suppress: bool) -> Self {
        self.suppress_callback_expander = Some(suppress);
        self
    }

    /// Adds the `tag` query parameter, which plug-ins read as the `tag` shared variable.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Adds a header of the caller's (one the typed options do not cover). A name or value that is not valid
    /// header text is refused when the request is sent.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The `tag` query parameter, encoded, when set.
    pub(crate) fn tag_query(&self) -> Option<String> {
        self.tag.as_ref().map(|tag| format!("tag={}", crate::query::encode_query_value(tag)))
    }

    /// The options with `other`'s set values taking precedence.
    pub(crate) fn merged_with(&self, other: &RequestOptions) -> RequestOptions {
        RequestOptions {
            caller_object_id: other.caller_object_id.or(self.caller_object_id),
            caller_systemuser_id: other.caller_systemuser_id.or(self.caller_systemuser_id),
            suppress_duplicate_detection: other.suppress_duplicate_detection.or(self.suppress_duplicate_detection),
            bypass_custom_plugins: other.bypass_custom_plugins.or(self.bypass_custom_plugins),
            solution: other.solution.clone().or_else(|| self.solution.clone()),
            bypass_business_logic: other.bypass_business_logic.or(self.bypass_business_logic),
            bypass_steps: if other.bypass_steps.is_empty() {
                self.bypass_steps.clone()
            } else {
                other.bypass_steps.clone()
            },
            merge_labels: other.merge_labels.or(self.merge_labels),
            strong_consistency: other.strong_consistency || self.strong_consistency,
            suppress_callback_expander: other.suppress_callback_expander.or(self.suppress_callback_expander),
            tag: other.tag.clone().or_else(|| self.tag.clone()),
            headers: self.headers.iter().chain(&other.headers).cloned().collect(),
        }
    }

    /// Writes the options as headers.
    /// Refuses a value that cannot go in its header, rather than sending the request without it.
    pub(crate) fn check(&self) -> crate::error::Result<()> {
        if let Some(solution) = &self.solution
            && HeaderValue::from_str(solution).is_err()
        {
            return Err(crate::error::Error::config(format!(
                "the solution unique name {solution:?} is not valid header text; give the solution's unique name                  (letters, digits and underscores)"
            )));
        }
        for (name, value) in &self.headers {
            if HeaderName::try_from(name.as_str()).is_err() || HeaderValue::from_str(value).is_err() {
                return Err(crate::error::Error::config(format!(
                    "the header `{name}` given in the request options is not valid header text"
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        let mut put = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        if let Some(id) = self.caller_object_id {
            put("callerobjectid", id.to_string());
        }
        if let Some(id) = self.caller_systemuser_id {
            put("mscrmcallerid", id.to_string());
        }
        if let Some(flag) = self.suppress_duplicate_detection {
            put("mscrm.suppressduplicatedetection", flag.to_string());
        }
        if let Some(flag) = self.bypass_custom_plugins {
            put("mscrm.bypasscustompluginexecution", flag.to_string());
        }
        if let Some(solution) = &self.solution {
            put("mscrm.solutionuniquename", solution.clone());
        }
        if let Some(logic) = self.bypass_business_logic {
            put("mscrm.bypassbusinesslogicexecution", logic.header_value().to_owned());
        }
        if !self.bypass_steps.is_empty() {
            let ids: Vec<String> = self.bypass_steps.iter().map(Uuid::to_string).collect();
            put("mscrm.bypassbusinesslogicexecutionstepids", ids.join(","));
        }
        if let Some(flag) = self.merge_labels {
            put("mscrm.mergelabels", flag.to_string());
        }
        if self.strong_consistency {
            put("consistency", "Strong".to_owned());
        }
        if let Some(flag) = self.suppress_callback_expander {
            put("mscrm.suppresscallbackregistrationexpanderjob", flag.to_string());
        }
        // Checked by `check` before anything is sent.
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
                headers.insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_each_option_as_its_header() {
        let mut headers = HeaderMap::new();
        RequestOptions::new()
            .impersonate_entra_object(Uuid::nil())
            .impersonate_systemuser(Uuid::max())
            .suppress_duplicate_detection(false)
            .bypass_custom_plugins(true)
            .solution("contoso")
            .apply(&mut headers);
        assert_eq!(headers["callerobjectid"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(headers["mscrmcallerid"], "ffffffff-ffff-ffff-ffff-ffffffffffff");
        assert_eq!(headers["mscrm.suppressduplicatedetection"], "false");
        assert_eq!(headers["mscrm.bypasscustompluginexecution"], "true");
        assert_eq!(headers["mscrm.solutionuniquename"], "contoso");
    }

    #[test]
    fn request_options_override_client_defaults() {
        let defaults = RequestOptions::new().solution("a").bypass_custom_plugins(true);
        let merged = defaults.merged_with(&RequestOptions::new().solution("b"));
        assert_eq!(merged, RequestOptions::new().solution("b").bypass_custom_plugins(true));
    }
}
