//! Change tracking: a read with `Prefer: odata.track-changes` ends with an `@odata.deltaLink`, and following
//! a delta link (`$deltatoken`) returns what changed since: new and changed rows, then `$deletedEntity`
//! entries for deleted ones, then a new delta link ("Use change tracking to synchronize data with external
//! systems").
//!
//! Every change of the store gets the next org-wide row version, and a deletion leaves a tombstone with its
//! version. A delta token is `<version>!<MM/dd/yyyy HH:mm:ss>` (the shape of Dataverse's): the changes after
//! that version. A read is bounded by the version current when its first page was served, and pages go by
//! version (the paging cookie carries the last version served and that bound), so a change made while a
//! client is paging is never skipped: it is in the next delta.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::Ctx;
use crate::EntitySetSpec;
use crate::reply::Reply;
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::query_options::encode;
use crate::webapi::odata::query_options::{QueryOptions, pairs};
use crate::webapi::odata::request::ApiRequest;
use crate::webapi::store::Row;

type Result<T> = std::result::Result<T, ODataError>;

/// The largest page Dataverse serves.
const MAX_PAGE_SIZE: usize = 5000;

/// Whether a collection read is a change-tracking one: it prefers `odata.track-changes`, follows a delta
/// link, or is a later page of either.
pub(crate) fn applies(request: &ApiRequest) -> bool {
    request.preferences().track_changes
        || pairs(request.query.as_deref().unwrap_or_default())
            .iter()
            .any(|(name, value)| name == "$deltatoken" || (name == "$skiptoken" && Cookie::parse(value).is_some()))
}

/// `0x80072491` (`ChangeTrackingNotEnabledForEntity`), with Dataverse's message.
pub(crate) fn not_enabled(logical_name: &str) -> ODataError {
    ODataError::new(400, "0x80072491", format!("Entity {logical_name} isn't enabled for change tracking."))
}

/// Where a page of a tracked read starts and ends, carried in its `$skiptoken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cookie {
    page: usize,
    /// The version of the last change already served.
    after: u64,
    /// The latest version this read returns.
    upto: u64,
}

impl Cookie {
    /// `<cookie pagenumber="2" istracking="True" lastversion="…" upperversion="…" />`.
    fn to_token(self) -> String {
        format!(
            "<cookie pagenumber=\"{}\" istracking=\"True\" lastversion=\"{}\" upperversion=\"{}\" />",
            self.page, self.after, self.upto
        )
    }

    fn parse(token: &str) -> Option<Self> {
        if !token.contains("istracking=\"True\"") {
            return None;
        }
        let attribute = |name: &str| -> Option<u64> {
            let start = token.find(&format!("{name}=\""))? + name.len() + 2;
            let end = token[start..].find('"')? + start;
            token[start..end].parse().ok()
        };
        Some(Self {
            page: usize::try_from(attribute("pagenumber")?).ok()?,
            after: attribute("lastversion")?,
            upto: attribute("upperversion")?,
        })
    }
}

/// The version a `$deltatoken` names (`919042!08/22/2017 08:10:44`).
fn delta_version(token: &str) -> Result<u64> {
    token.split('!').next().and_then(|version| version.trim().parse().ok()).ok_or_else(|| {
        ODataError::bad_query(format!("The $deltatoken `{token}` is not a delta token of this org: start a new sync."))
    })
}

/// A delta token for `version`, stamped with the time now.
fn delta_token(version: u64) -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{version}!{:02}/{:02}/{} {:02}:{:02}:{:02}",
        u8::from(now.month()),
        now.day(),
        now.year(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// One entry of a tracked read: a row as it is now, or a deleted row's id.
enum Entry<'a> {
    Row(&'a Row),
    Deleted(uuid::Uuid),
}

/// `GET <set>` with `Prefer: odata.track-changes`, a `$deltatoken`, or a tracked read's `$skiptoken`.
pub(crate) fn list(ctx: &mut Ctx<'_>, spec: &EntitySetSpec, request: &ApiRequest) -> Result<Reply> {
    if !spec.change_tracking {
        return Err(not_enabled(&spec.logical_name));
    }
    let options = QueryOptions::parse(request.query.as_deref(), false)?;
    let refused = [
        ("$filter", options.filter.is_some()),
        ("$orderby", !options.order_by.is_empty()),
        ("$top", options.top.is_some()),
        ("$expand", !options.expand.is_empty()),
    ];
    if let Some((option, _)) = refused.iter().find(|(_, used)| *used) {
        return Err(ODataError::bad_query(format!(
            "The query option {option} isn't supported with change tracking: select columns only."
        )));
    }
    let query = pairs(request.query.as_deref().unwrap_or_default());
    let since =
        query.iter().find(|(name, _)| name == "$deltatoken").map(|(_, token)| delta_version(token)).transpose()?;
    let cookie = match query.iter().find(|(name, _)| name == "$skiptoken") {
        Some((_, token)) => Cookie::parse(token).ok_or_else(|| {
            ODataError::bad_query(format!("The $skiptoken `{token}` is not a paging cookie of this tracked read."))
        })?,
        None => Cookie { page: 1, after: since.unwrap_or(0), upto: ctx.state.store.current_version() },
    };
    let preferences = request.preferences();
    let page_size = preferences.max_page_size.map_or(ctx.config.page_size, |size| size.min(MAX_PAGE_SIZE));
    let table = ctx.state.store.table(&spec.name).ok_or_else(|| ODataError::segment_not_found(&spec.name))?;
    let in_range = |version: u64| cookie.after < version && version <= cookie.upto;
    let mut entries: Vec<(u64, Entry<'_>)> =
        table.rows.iter().filter(|row| in_range(row.version)).map(|row| (row.version, Entry::Row(row))).collect();
    if since.is_some() {
        entries.extend(
            table
                .tombstones
                .iter()
                .filter(|tombstone| in_range(tombstone.version))
                .map(|tombstone| (tombstone.version, Entry::Deleted(tombstone.id))),
        );
    }
    entries.sort_by_key(|(version, _)| *version);
    let more = entries.len() > page_size;
    entries.truncate(page_size);

    let root = ctx.service_root();
    let set = &spec.name;
    let select = options.select.as_ref().map(|columns| {
        let mut columns = columns.clone();
        if !columns.contains(&spec.primary_id) {
            columns.push(spec.primary_id.clone());
        }
        columns
    });
    let annotations = preferences.wants_lookup_names();
    let value: Vec<Value> = entries
        .iter()
        .map(|(_, entry)| match entry {
            Entry::Row(row) => row.project(select.as_deref(), annotations),
            Entry::Deleted(id) => json!({
                "@odata.context": format!("{root}$metadata#{set}/$deletedEntity"),
                "id": id,
                "reason": "deleted",
            }),
        })
        .collect();
    let columns = options.select.as_ref().map(|columns| format!("({})", columns.join(","))).unwrap_or_default();
    let delta = if since.is_some() { "/$delta" } else { "" };
    let kept: Vec<String> = query
        .iter()
        .filter(|(name, _)| name != "$skiptoken" && name != "$deltatoken")
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect();
    let link = |extra: String| {
        let mut all = kept.clone();
        all.push(extra);
        format!("{root}{set}?{}", all.join("&"))
    };
    let mut body = Map::new();
    body.insert("@odata.context".to_owned(), Value::String(format!("{root}$metadata#{set}{columns}{delta}")));
    if more {
        let last = entries.last().map_or(cookie.after, |(version, _)| *version);
        let next = Cookie { page: cookie.page + 1, after: last, upto: cookie.upto };
        let mut extra = format!("$skiptoken={}", encode(&next.to_token()));
        // A later page of a delta is still a delta (it reports deletions).
        if let Some((_, token)) = query.iter().find(|(name, _)| name == "$deltatoken") {
            extra = format!("$deltatoken={}&{extra}", utf8_lower(token));
        }
        body.insert("@odata.nextLink".to_owned(), Value::String(link(extra)));
    } else {
        let token = utf8_lower(&delta_token(cookie.upto));
        body.insert("@odata.deltaLink".to_owned(), Value::String(link(format!("$deltatoken={token}"))));
    }
    body.insert("value".to_owned(), Value::Array(value));
    let mut applied = Vec::new();
    if preferences.track_changes {
        applied.push("odata.track-changes".to_owned());
    }
    if let Some(size) = preferences.max_page_size {
        applied.push(format!("odata.maxpagesize={size}"));
    }
    let reply = Reply::json(200, &Value::Object(body));
    Ok(if applied.is_empty() { reply } else { reply.header("Preference-Applied", applied.join(",")) })
}

/// Percent-encodes a delta token as Dataverse does (`919042%2108%2f22%2f2017%2008%3a10%3a44`).
fn utf8_lower(token: &str) -> String {
    percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC).to_string().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_delta_tokens_round_trip() {
        let cookie = Cookie { page: 3, after: 1200, upto: 1500 };
        assert_eq!(Cookie::parse(&cookie.to_token()), Some(cookie));
        assert_eq!(Cookie::parse("<cookie pagenumber=\"2\" istracking=\"False\" />"), None);
        let token = delta_token(919_042);
        assert!(token.starts_with("919042!"), "{token}");
        assert_eq!(delta_version(&token).unwrap(), 919_042);
        assert_eq!(delta_version("919042!08/22/2017 08:10:44").unwrap(), 919_042);
        assert_eq!(delta_version("nonsense").unwrap_err().status, 400);
        assert_eq!(utf8_lower("919042!08/22/2017 08:10:44"), "919042%2108%2f22%2f2017%2008%3a10%3a44");
    }
}
