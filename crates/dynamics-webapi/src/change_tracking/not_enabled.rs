//! The error of a table without change tracking, with the setting to turn on.

use crate::error::Error;

/// `ChangeTrackingNotEnabledForEntity`: "Entity {0} isn't enabled for change tracking."
pub(crate) const NOT_ENABLED: &str = "0x80072491";

pub(crate) const TURN_ON: &str = "turn on change tracking for the table: in Power Apps open the table's properties, \
     Advanced options, and tick \"Track changes\" (EntityMetadata.ChangeTrackingEnabled; it cannot be turned off again)";

impl Error {
    /// True when the table is not enabled for change tracking (`0x80072491`): turn on its **Track changes** setting.
    pub fn is_change_tracking_not_enabled(&self) -> bool {
        self.service_code().is_some_and(|code| code.eq_ignore_ascii_case(NOT_ENABLED))
    }
}

/// Adds the hint naming the setting to a "not enabled for change tracking" answer.
pub(crate) fn name_the_setting(mut error: Error) -> Error {
    let not_enabled = error.is_change_tracking_not_enabled();
    if let Error::Service(service) = &mut error
        && not_enabled
    {
        service.hint = Some(TURN_ON.to_owned());
    }
    error
}
