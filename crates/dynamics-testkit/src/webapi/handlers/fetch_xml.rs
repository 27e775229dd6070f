//! FetchXML reads (`GET <set>?fetchXml=…`): the parsed `<fetch>` run on the table, with paging by `page`
//! and `count` and the `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` annotation.

use std::cmp::Ordering;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use super::Ctx;
use super::guard::{Access, check_privilege};
use crate::reply::Reply;
use crate::webapi::odata::compare;
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::fetch_xml::Fetch;
use crate::webapi::odata::request::ApiRequest;
use crate::webapi::store::Row;

/// `GET <set>?fetchXml=…`.
pub(crate) fn list(ctx: &mut Ctx<'_>, set: &str, fetch_xml: &str, request: &ApiRequest) -> Result<Reply, ODataError> {
    let table = ctx.state.store.table(set).ok_or_else(|| ODataError::segment_not_found(set))?;
    let spec = table.spec.clone();
    check_privilege(ctx, &spec.logical_name, Access::Read)?;
    let Fetch { columns, all_attributes, orders, condition, count, page, top } =
        Fetch::parse(fetch_xml, &spec.logical_name)?;

    let mut rows: Vec<&Row> = table.rows.iter().filter(|row| condition.matches(&row.fields)).collect();
    rows.sort_by(|a, b| {
        for (column, descending) in &orders {
            let ordering = compare::sort(a.get(column), b.get(column));
            let ordering = if *descending { ordering.reverse() } else { ordering };
            if ordering.is_ne() {
                return ordering;
            }
        }
        Ordering::Equal
    });
    if let Some(top) = top {
        rows.truncate(top);
    }
    let total = rows.len();
    let start = (page - 1).saturating_mul(count).min(total);
    let end = start.saturating_add(count).min(total);
    let selected = (!all_attributes && !columns.is_empty()).then(|| {
        let mut selected = columns.clone();
        if !selected.contains(&spec.primary_id) {
            selected.push(spec.primary_id.clone());
        }
        selected
    });
    let value: Vec<Value> = rows[start..end]
        .iter()
        .map(|row| {
            // FetchXML results leave out null columns.
            match row.project(selected.as_deref(), request.preferences().wants_lookup_names()) {
                Value::Object(map) => Value::Object(map.into_iter().filter(|(_, value)| !value.is_null()).collect()),
                other => other,
            }
        })
        .collect();
    let more = end < total;
    let mut body = Map::new();
    let context_columns = selected.map(|columns| format!("({})", columns.join(","))).unwrap_or_default();
    body.insert(
        "@odata.context".to_owned(),
        Value::String(format!("{}$metadata#{set}{context_columns}", ctx.service_root())),
    );
    if more {
        let first = rows[start].id;
        let last = rows[end - 1].id;
        let primary = &spec.primary_id;
        let inner = format!("<cookie page=\"{page}\"><{primary} last=\"{{{last}}}\" first=\"{{{first}}}\" /></cookie>");
        let twice = encode(&encode(&inner));
        let cookie = format!("<cookie pagenumber=\"{}\" pagingcookie=\"{twice}\" istracking=\"False\" />", page + 1);
        body.insert("@Microsoft.Dynamics.CRM.fetchxmlpagingcookie".to_owned(), Value::String(cookie));
    }
    body.insert("@Microsoft.Dynamics.CRM.morerecords".to_owned(), Value::Bool(more));
    body.insert("value".to_owned(), Value::Array(value));
    Ok(Reply::json(200, &Value::Object(body)))
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}
