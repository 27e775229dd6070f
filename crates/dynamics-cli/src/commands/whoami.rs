//! `dynamics whoami`: who the app acts as.

use crate::args::Format;
use crate::error::{Error, Result};
use crate::io::Io;
use crate::settings::connection::Connection;

pub(crate) async fn run(connection: &Connection, format: Format, io: &mut Io) -> Result<()> {
    let me = connection.client.who_am_i().await?;
    match format {
        Format::Json | Format::Ndjson => {
            let text =
                if format == Format::Json { serde_json::to_string_pretty(&me) } else { serde_json::to_string(&me) };
            io.println(text.map_err(|e| Error::input(format!("the WhoAmI answer: {e}")))?);
        }
        Format::Csv => {
            io.println("UserId,BusinessUnitId,OrganizationId");
            io.println(format!("{},{},{}", me.user_id, me.business_unit_id, me.organization_id));
        }
        Format::Table => {
            io.println(format!("user (systemuserid)   {}", me.user_id));
            io.println(format!("business unit         {}", me.business_unit_id));
            io.println(format!("organization          {}", me.organization_id));
        }
    }
    Ok(())
}
