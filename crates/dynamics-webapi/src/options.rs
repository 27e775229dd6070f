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

    /// The options with `other`'s set values taking precedence.
    pub(crate) fn merged_with(&self, other: &RequestOptions) -> RequestOptions {
        RequestOptions {
            caller_object_id: other.caller_object_id.or(self.caller_object_id),
            caller_systemuser_id: other.caller_systemuser_id.or(self.caller_systemuser_id),
            suppress_duplicate_detection: other.suppress_duplicate_detection.or(self.suppress_duplicate_detection),
            bypass_custom_plugins: other.bypass_custom_plugins.or(self.bypass_custom_plugins),
            solution: other.solution.clone().or_else(|| self.solution.clone()),
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
