//! How the org's application user is set up, for rehearsing the failures `dynamics doctor` explains.

/// The state of the application user that stands for the app in the emulated org.
///
/// With the client-credentials grant a token can be perfectly valid while Dataverse refuses it,
/// because the org has no application user for the app, or it is disabled, or it has no security role.
/// Each state other than [`Ready`](SetupState::Ready) makes the Web API answer the way Dataverse does
/// (`0x80072560` and its message as Microsoft's dual-write troubleshooting page quotes them; the disabled-user
/// message as Microsoft's troubleshooting docs quote it, with the code Dataverse clients map to it; the
/// missing-privilege message in the shape Dataverse sends):
///
/// | state | status | code | message |
/// |---|---|---|---|
/// | `UnknownApplicationUser` | 403 | `0x80072560` | `The user is not a member of the organization.` |
/// | `DisabledUser` | 403 | `0x80040225` | `The user with SystemUserId=… in OrganizationContext=… is disabled. …` |
/// | `NoSecurityRole` | 403 | `0x80040220` | `Principal user (Id=…, type=8, roleCount=0, …), is missing prvReadAccount privilege …` |
///
/// The token endpoint is not affected: these are failures of the org, not of Azure AD.
/// `NoSecurityRole` lets `WhoAmI` succeed (the emulator's choice) and refuses reads and writes of tables,
/// naming the missing privilege for the table (`prvReadAccount`, `prvCreateContact`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SetupState {
    /// The application user exists, is enabled and has a role: everything is allowed.
    #[default]
    Ready,
    /// No application user exists for the app's client id in the environment.
    UnknownApplicationUser,
    /// The application user exists but is disabled.
    DisabledUser,
    /// The application user exists but has no security role.
    NoSecurityRole,
}
