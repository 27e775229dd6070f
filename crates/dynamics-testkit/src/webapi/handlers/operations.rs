//! Functions and actions, by name: `WhoAmI`, and the bulk actions bound to an entity set
//! (`CreateMultiple`, `UpdateMultiple`, `UpsertMultiple`, `DeleteMultiple`, in [`super::bulk`]).

use serde_json::json;

use super::Ctx;
use crate::reply::Reply;
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::request::ApiRequest;

type Handler = fn(&mut Ctx<'_>, &ApiRequest, Option<&str>, &str) -> Result<Reply, ODataError>;

/// The operations the emulator knows: name, HTTP method, handler.
const OPERATIONS: &[(&str, &str, Handler)] = &[
    ("WhoAmI", "GET", who_am_i),
    ("CreateMultiple", "POST", super::bulk::create_multiple),
    ("UpdateMultiple", "POST", super::bulk::update_multiple),
    ("UpsertMultiple", "POST", super::bulk::upsert_multiple),
    ("DeleteMultiple", "POST", super::bulk::delete_multiple),
];

/// Whether `name` (without the `Microsoft.Dynamics.CRM.` namespace) is an emulated operation.
pub(crate) fn is_known(name: &str) -> bool {
    OPERATIONS.iter().any(|(known, _, _)| *known == name)
}

/// Calls the operation `name`.
pub(crate) fn call(
    ctx: &mut Ctx<'_>,
    request: &ApiRequest,
    bound_to: Option<&str>,
    name: &str,
    parameters: &str,
) -> Result<Reply, ODataError> {
    let (_, method, handler) =
        OPERATIONS.iter().find(|(known, _, _)| *known == name).ok_or_else(|| ODataError::segment_not_found(name))?;
    if !request.method.eq_ignore_ascii_case(method) {
        return Err(ODataError::method_not_allowed(&request.method, &format!("the operation '{name}'")));
    }
    handler(ctx, request, bound_to, parameters)
}

/// `GET WhoAmI()`: the application user, its business unit and the organization.
fn who_am_i(ctx: &mut Ctx<'_>, _: &ApiRequest, bound_to: Option<&str>, _: &str) -> Result<Reply, ODataError> {
    if let Some(set) = bound_to {
        return Err(ODataError::segment_not_found(&format!("{set}/WhoAmI")));
    }
    Ok(Reply::json(
        200,
        &json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", ctx.service_root()),
            "BusinessUnitId": ctx.config.business_unit_id,
            "UserId": ctx.config.user_id,
            "OrganizationId": ctx.config.organization_id,
        }),
    ))
}
