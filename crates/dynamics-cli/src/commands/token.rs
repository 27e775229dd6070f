//! `dynamics token`: acquire a token and show its claims; the token itself only with `--raw`.

use aad_auth::{AccessToken, ExposeSecret, TokenProvider};
use time::OffsetDateTime;

use crate::claims::{Claims, describe_time};
use crate::error::Result;
use crate::io::Io;
use crate::settings::connection::Connection;

pub(crate) async fn run(connection: &Connection, raw: bool, io: &mut Io) -> Result<()> {
    let token = connection.tokens.token(connection.resource()).await?;
    if raw {
        io.println(token.secret().expose_secret());
        return Ok(());
    }
    for line in claim_lines(&token) {
        io.println(line);
    }
    Ok(())
}

/// The claims of `token`, one per line, for people.
pub(crate) fn claim_lines(token: &AccessToken) -> Vec<String> {
    let claims = match Claims::decode(token.secret().expose_secret()) {
        Ok(claims) => claims,
        Err(why) => return vec![format!("the token's claims cannot be shown: {why}")],
    };
    let now = OffsetDateTime::now_utc();
    let text = |value: Option<&str>| value.unwrap_or("(none)").to_owned();
    let roles = match &claims.roles {
        Some(roles) if !roles.is_empty() => roles.join(", "),
        _ => "(none; expected: Dataverse grants access through the application user's security role)".to_owned(),
    };
    let time = |value: Option<i64>| value.map(|t| describe_time(t, now)).unwrap_or_else(|| "(none)".to_owned());
    vec![
        format!("audience (aud)   {}", claims.audience_text()),
        format!("app id (appid)   {}", text(claims.app_id())),
        format!("tenant (tid)     {}", text(claims.tid.as_deref())),
        format!("roles            {roles}"),
        format!("issued (iat)     {}", time(claims.iat)),
        format!("expires (exp)    {}", time(claims.exp)),
    ]
}
