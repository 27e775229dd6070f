//! Plain-language hints for the errors a missing or incomplete org setup produces.
//!
//! With the client-credentials grant the app acts as a Dataverse *application user*:
//! the token can be perfectly valid while the org refuses it because that user is missing,
//! disabled, or has no security role granting the privilege.

/// The hint for a Dataverse error, from its status, code and message.
pub(crate) fn hint(status: u16, code: &str, message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    if code.eq_ignore_ascii_case("0x80072560") || lower.contains("not a member of the organization") {
        return Some(
            "no application user exists for this app in this environment: in the Power Platform admin center \
             open the environment, Settings, Users + permissions, Application users, and add one for the app's \
             client id, with a security role"
                .to_owned(),
        );
    }
    if lower.contains("is disabled") && (lower.contains("user") || lower.contains("systemuserid")) {
        return Some(
            "the application user is disabled: enable it in the Power Platform admin center \
             (Application users), and check the app registration still exists"
                .to_owned(),
        );
    }
    if let Some(privilege) = missing_privilege(message) {
        let no_role = lower.contains("rolecount=0");
        return Some(if no_role {
            format!(
                "the application user has no security role (it lacks {privilege}): assign a role to it \
                 in the Power Platform admin center (Application users, Edit security roles)"
            )
        } else {
            format!("the application user's security roles lack the privilege {privilege}: add it to one of its roles")
        });
    }
    match status {
        401 => Some(
            "the org refused the token: check that the token's audience is this org's URL \
             (the resource https://<org>.crm.dynamics.com) and that the app's tenant owns the environment"
                .to_owned(),
        ),
        _ => None,
    }
}

/// The privilege named in a "missing prvXxx privilege" message.
fn missing_privilege(message: &str) -> Option<&str> {
    let start = message.find("missing prv")? + "missing ".len();
    let rest = &message[start..];
    let end = rest.find(|c: char| !c.is_ascii_alphanumeric() && c != '_').unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_missing_privilege_and_the_missing_role() {
        let message = "Principal user (Id=5c3a, type=8, roleCount=0, privilegeCount=0, accessMode=4), is missing prvReadAccount privilege (Id=886b) on OTC=1 for entity 'account'.";
        let hint = hint(403, "0x80040220", message).unwrap();
        assert!(hint.contains("prvReadAccount") && hint.contains("no security role"), "{hint}");
        let with_role = message.replace("roleCount=0", "roleCount=2");
        assert!(hint_for(&with_role).contains("lack the privilege prvReadAccount"));
    }

    fn hint_for(message: &str) -> String {
        hint(403, "", message).unwrap()
    }

    #[test]
    fn recognises_a_missing_and_a_disabled_application_user() {
        assert!(hint_for("The user is not a member of the organization.").contains("Application users"));
        let disabled = "The user with SystemUserId=1 in OrganizationContext=2 is disabled. Disabled users cannot access the system.";
        assert!(hint_for(disabled).contains("disabled"));
        assert_eq!(hint(404, "0x80040217", "account With Id = 1 Does Not Exist"), None);
    }
}
