//! The application user's setup: refusals for a missing or disabled user, and privilege checks
//! for a user without a security role or with a role that lacks a privilege.

use super::Ctx;
use crate::SetupState;
use crate::webapi::odata::error::ODataError;

/// What a request does to a table, for the privilege it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Create,
    Write,
    Delete,
}

impl Access {
    fn verb(self) -> &'static str {
        match self {
            Self::Read => "Read",
            Self::Create => "Create",
            Self::Write => "Write",
            Self::Delete => "Delete",
        }
    }
}

/// The refusal for a user that cannot use the org at all (missing or disabled), applying to every request.
pub(crate) fn check_user(ctx: &Ctx<'_>) -> Option<ODataError> {
    match ctx.state.faults.setup {
        SetupState::UnknownApplicationUser => {
            Some(ODataError::new(403, "0x80072560", "The user is not a member of the organization."))
        }
        SetupState::DisabledUser => Some(ODataError::new(
            403,
            "0x80040225",
            format!(
                "The user with SystemUserId={} in OrganizationContext={} is disabled. Disabled users cannot access the system. Consider enabling this user. Also, users are disabled if they don't have a license assigned to them.",
                ctx.config.user_id, ctx.config.organization_id
            ),
        )),
        _ => None,
    }
}

/// Checks the privilege `access` on the table `logical_name`: refused (403 `0x80040220`) when the
/// application user has no security role, or when its role lacks that privilege (revoked with
/// [`Faults::revoke_privilege`](crate::Faults::revoke_privilege)).
pub(crate) fn check_privilege(ctx: &Ctx<'_>, logical_name: &str, access: Access) -> Result<(), ODataError> {
    let (schema_name, type_code) = schema_name_and_type_code(logical_name);
    let privilege = format!("prv{}{schema_name}", access.verb());
    let (roles, privileges) = if ctx.state.faults.setup == SetupState::NoSecurityRole {
        (0, 0)
    } else if ctx.state.faults.revoked_privileges.iter().any(|revoked| revoked.eq_ignore_ascii_case(&privilege)) {
        (1, GRANTED_PRIVILEGES - ctx.state.faults.revoked_privileges.len().min(GRANTED_PRIVILEGES))
    } else {
        return Ok(());
    };
    let user = ctx.config.user_id;
    Err(ODataError::new(
        403,
        "0x80040220",
        format!(
            "Principal user (Id={user}, type=8, roleCount={roles}, privilegeCount={privileges}, accessMode=4), is missing {privilege} privilege (Id={}) on OTC={type_code} for entity '{logical_name}'. context.Caller={user}",
            privilege_id(&privilege)
        ),
    ))
}

/// How many privileges the emulated security role grants, for the count in the message (the emulator's figure).
const GRANTED_PRIVILEGES: usize = 648;

/// The schema name and object type code of the well-known tables; custom ones keep their logical name.
fn schema_name_and_type_code(logical_name: &str) -> (String, u32) {
    let known = match logical_name {
        "account" => Some(("Account", 1)),
        "contact" => Some(("Contact", 2)),
        "opportunity" => Some(("Opportunity", 3)),
        "systemuser" => Some(("User", 8)),
        "businessunit" => Some(("BusinessUnit", 10)),
        "organization" => Some(("Organization", 1019)),
        "task" => Some(("Task", 4212)),
        _ => None,
    };
    match known {
        Some((schema, code)) => (schema.to_owned(), code),
        None => (logical_name.to_owned(), 10_000),
    }
}

/// A stable GUID-shaped id for a privilege name.
fn privilege_id(privilege: &str) -> uuid::Uuid {
    let hash = privilege
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    uuid::Uuid::from_u64_pair(hash, hash.rotate_left(17) & 0x0fff_ffff_ffff_ffff | 0x8000_0000_0000_0000)
}
