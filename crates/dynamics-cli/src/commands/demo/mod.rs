//! `dynamics demo`: the whole flow, printed step by step, against a local emulator of Azure AD and Dataverse
//! (`dynamics-testkit`), so that it runs on a fresh machine with no Azure account.
//!
//! The typed steps use the generated entities of `dynamics-entities` (`Account`, `AccountWrite`, `Contact`, ...).
//!
//! When the configuration names an org (DATAVERSE_URL or --url, with the AZURE_* variables), the demo runs the
//! non-destructive steps against that org instead: token, WhoAmI, a typed query and a paged read; it writes nothing.

use std::pin::pin;
use std::time::{Duration, Instant};

use aad_auth::{ClientCredential, ClientCredentialsProvider, SecretString, TokenProvider as _};
use dynamics_entities::account::{self, Account, AccountWrite};
use dynamics_entities::contact::{self, Contact, ContactWrite};
use dynamics_testkit::Emulator;
use dynamics_webapi::Record;
use dynamics_webapi::batch::{BatchRequest, ChangeSet, ChangeSetOperation, Operation, PartOutcome};
use dynamics_webapi::query::{Query, prelude::*};
use dynamics_webapi::{OptionalExt as _, Patch, RecordKey};
use futures_util::TryStreamExt as _;
use serde_json::json;

use crate::args::{DemoArgs, Destination, ExportFormat, GlobalArgs, ImportArgs, ImportMode, SyncArgs};
use crate::commands::import::{InputRecord, Origin};
use crate::commands::token::claim_lines;
use crate::error::{Error, Result};
use crate::io::Io;
use crate::output::progress::Progress;
use crate::settings::config::Settings;
use crate::settings::connection::Connection;
use crate::settings::env::Env;

const PAGE_SIZE: u32 = 500;
/// Records in the bulk import.
const BULK_RECORDS: usize = 2000;
/// The most targets the demo org takes in one bulk request (the emulator refuses more as too large).
const BULK_LIMIT: usize = 600;
/// The record of the bulk import that is refused (its account number is taken).
const BAD_RECORD: usize = 1234;
/// The chunk size the demo org asks file uploads for (Dataverse asks for 4 MiB), so a small file takes several.
const FILE_CHUNK: usize = 64 * 1024;
/// The size of the file the demo uploads.
const FILE_SIZE: usize = 300 * 1024;
/// The range size of the demo's download.
const FILE_RANGE: u64 = 100 * 1024;

pub(crate) async fn run(args: &DemoArgs, global: &GlobalArgs, env: &Env, io: &mut Io) -> Result<u8> {
    let settings = Settings::resolve(global, env, io)?;
    if settings.url.is_some() {
        return against_real_org(&settings, io).await;
    }
    let mut steps = Steps::default();
    io.println(
        "dynamics demo: the client-credentials flow end to end, against a local emulator (no Azure account needed)",
    );
    steps.title(io, "start the emulator");
    let emulator = Emulator::builder()
        .seed_generated("accounts", args.records)
        .max_bulk_targets(BULK_LIMIT)
        .file_chunk_size(FILE_CHUNK)
        .start()
        .await
        .map_err(|e| Error::input(format!("the emulator did not start: {e}")))?;
    io.println(format!("   Azure AD at {}, the org at {}", emulator.authority_host(), emulator.org_url()));
    let provider = ClientCredentialsProvider::builder(
        emulator.tenant_id(),
        emulator.client_id(),
        ClientCredential::secret(SecretString::from(emulator.client_secret().to_owned())),
    )
    .authority_url(&emulator.authority_host())
    .build()?;
    let connection = Connection::with_provider(&emulator.org_url(), provider, None)?;

    token_and_whoami(&connection, &mut steps, io).await?;
    let account_id = typed_create(&connection, &mut steps, io).await?;
    let contact_id = typed_query(&connection, account_id, &mut steps, io).await?;
    update_with_etag(&connection, account_id, &mut steps, io).await?;
    paged_read(&connection, None, &mut steps, io).await?;
    batch(&connection, &mut steps, io).await?;
    delete(&connection, contact_id, &mut steps, io).await?;
    bulk_import(&connection, &emulator, &mut steps, io).await?;
    sync(&connection, &mut steps, io).await?;
    file_column(&connection, &emulator, account_id, &mut steps, io).await?;
    throttled(&connection, &emulator, account_id, &mut steps, io).await?;
    io.println("");
    io.println(
        "demo complete: every step ran against the emulator; see `dynamics --help` for the same commands on a real org",
    );
    Ok(0)
}

/// Numbers the steps.
#[derive(Debug, Default)]
struct Steps(usize);

impl Steps {
    fn title(&mut self, io: &mut Io, title: &str) {
        self.0 += 1;
        io.println("");
        io.println(format!("{}. {title}", self.0));
    }
}

async fn token_and_whoami(connection: &Connection, steps: &mut Steps, io: &mut Io) -> Result<()> {
    steps.title(io, "client-credentials token (the claims; the token itself stays secret)");
    let token = connection.tokens.token(connection.resource()).await?;
    for line in claim_lines(&token) {
        io.println(format!("   {line}"));
    }
    steps.title(io, "WhoAmI");
    let me = connection.client.who_am_i().await?;
    io.println(format!(
        "   user {}, business unit {}, organization {}",
        me.user_id, me.business_unit_id, me.organization_id
    ));
    Ok(())
}

async fn typed_create(connection: &Connection, steps: &mut Steps, io: &mut Io) -> Result<uuid::Uuid> {
    steps.title(io, "typed create: an account, and a contact bound to it");
    let account = AccountWrite {
        name: Patch::Set("Contoso Demo Ltd".to_owned()),
        accountnumber: Patch::Set("DEMO-0001".to_owned()),
        telephone1: Patch::Set("555-0100".to_owned()),
        ..AccountWrite::default()
    };
    let account_id = connection.client.entities::<Account>().create(&account).send().await?;
    io.println(format!("   account \"Contoso Demo Ltd\" created: {account_id}"));
    let contact = ContactWrite {
        firstname: Patch::Set("Ana".to_owned()),
        lastname: Patch::Set("Lindqvist".to_owned()),
        parentcustomerid_account: Patch::Set(account_id),
        ..ContactWrite::default()
    };
    let contact_id = connection.client.entities::<Contact>().create(&contact).send().await?;
    io.println(format!(
        "   contact \"Ana Lindqvist\" created: {contact_id}, parentcustomerid -> accounts({account_id})"
    ));
    Ok(account_id)
}

async fn typed_query(
    connection: &Connection,
    account_id: uuid::Uuid,
    steps: &mut Steps,
    io: &mut Io,
) -> Result<uuid::Uuid> {
    steps.title(io, "typed filtered query: the account's contacts named Lindqvist");
    let query = Query::<Contact>::new()
        .select((contact::FIRSTNAME, contact::LASTNAME, contact::PARENTCUSTOMERID))
        .filter(contact::LASTNAME.eq("Lindqvist").and(contact::PARENTCUSTOMERID.eq(account_id)));
    io.println(format!("   GET contacts?{query}"));
    let page = connection.client.query::<Contact, _>(&query).first_page().await?;
    for found in page.records() {
        io.println(format!(
            "   found {} {} (parent {})",
            found.firstname.as_deref().unwrap_or_default(),
            found.lastname.as_deref().unwrap_or_default(),
            found.parentcustomerid.map(|id| id.to_string()).unwrap_or_default()
        ));
    }
    let contact_id = page
        .records()
        .iter()
        .find_map(|c| c.contactid)
        .ok_or_else(|| Error::input("the query did not find the contact just created"))?;
    Ok(contact_id)
}

async fn update_with_etag(
    connection: &Connection,
    account_id: uuid::Uuid,
    steps: &mut Steps,
    io: &mut Io,
) -> Result<()> {
    steps.title(io, "update with an ETag (optimistic concurrency)");
    let accounts = connection.client.entities::<Account>();
    let select = Query::<Account>::new().select((account::NAME, account::TELEPHONE1));
    let read: Account = accounts.retrieve(account_id).query(&select).send().await?;
    let etag = read.etag.clone().ok_or_else(|| Error::input("the account came back without @odata.etag"))?;
    io.println(format!("   read the account: telephone1 {:?}, ETag {etag}", read.telephone1.unwrap_or_default()));
    accounts.update(account_id, &json!({ "telephone1": "555-0199" })).if_match(etag.clone()).send().await?;
    io.println("   update with If-Match: the current ETag -> accepted");
    match accounts.update(account_id, &json!({ "telephone1": "555-0000" })).if_match(etag).send().await {
        Err(error) if error.is_concurrency_conflict() => {
            io.println("   update with If-Match: the old ETag -> refused with 412, as it must be (the record changed)");
        }
        Err(error) => return Err(error.into()),
        Ok(_) => io.println("   note: the stale ETag was accepted (the server does not check ETags)"),
    }
    Ok(())
}

async fn paged_read(connection: &Connection, limit_pages: Option<usize>, steps: &mut Steps, io: &mut Io) -> Result<()> {
    steps.title(io, &format!("paged read of the accounts ({PAGE_SIZE} a page, following @odata.nextLink)"));
    let query = Query::<Account>::new()
        .select((account::ACCOUNTID, account::NAME, account::ACCOUNTNUMBER))
        .max_page_size(PAGE_SIZE);
    let progress = Progress::records(io, "reading accounts");
    let started = Instant::now();
    let mut pages = pin!(connection.client.query::<Account, _>(&query).pages());
    let (mut records, mut count) = (0_u64, 0_usize);
    while let Some(page) = pages.try_next().await.inspect_err(|_| progress.finish())? {
        records += page.records().len() as u64;
        count += 1;
        progress.add(page.records().len() as u64);
        if limit_pages.is_some_and(|limit| count >= limit) {
            break;
        }
    }
    progress.finish();
    let seconds = started.elapsed().as_secs_f64().max(0.001);
    io.println(format!("   read {records} accounts in {count} pages ({:.0} records/s)", records as f64 / seconds));
    Ok(())
}

async fn batch(connection: &Connection, steps: &mut Steps, io: &mut Io) -> Result<()> {
    steps.title(io, "$batch: a change set of two creates (all or nothing) and a read");
    let mut change_set = ChangeSet::new();
    change_set.push(ChangeSetOperation::post("accounts", &json!({ "name": "Batch Co A", "accountnumber": "DEMO-B1" })));
    change_set.push(ChangeSetOperation::post("accounts", &json!({ "name": "Batch Co B", "accountnumber": "DEMO-B2" })));
    let request = BatchRequest::builder()
        .change_set(change_set)
        .operation(Operation::get("accounts?$select=name&$filter=startswith(name,'Batch%20Co')"))
        .build()
        .map_err(|e| Error::input(format!("the batch: {e}")))?;
    let response = connection.client.batch(&request).await?;
    for outcome in response.outcomes() {
        let text = match outcome.outcome() {
            PartOutcome::Answered(part) => format!("{} {}", part.status(), part.entity_id().unwrap_or("")),
            PartOutcome::ChangeSetFailed(part) => format!("change set failed: {}", part.status()),
            PartOutcome::NotExecuted => "not executed".to_owned(),
            PartOutcome::Unknown => "unknown".to_owned(),
            _ => "unexpected".to_owned(),
        };
        let which = match outcome.index_in_change_set() {
            Some(index) => format!("change set, operation {}", index + 1),
            None => format!("operation {}", outcome.item() + 1),
        };
        io.println(format!("   {which}: {}", text.trim_end()));
    }
    if !response.is_success() {
        return Err(Error::input("the batch did not succeed"));
    }
    Ok(())
}

async fn delete(connection: &Connection, contact_id: uuid::Uuid, steps: &mut Steps, io: &mut Io) -> Result<()> {
    steps.title(io, "delete the contact");
    let contacts = connection.client.entities::<Contact>();
    contacts.delete(contact_id).send().await?;
    let gone = contacts.retrieve::<Contact>(contact_id).send().await.optional()?.is_none();
    io.println(format!(
        "   deleted contacts({contact_id}); reading it again: {}",
        if gone { "404, gone" } else { "still there!" }
    ));
    if gone { Ok(()) } else { Err(Error::input("the deleted contact is still there")) }
}

async fn bulk_import(connection: &Connection, emulator: &Emulator, steps: &mut Steps, io: &mut Io) -> Result<()> {
    steps.title(
        io,
        &format!(
            "bulk import: {BULK_RECORDS} accounts through CreateMultiple (this org takes at most {BULK_LIMIT} a request)"
        ),
    );
    let records: Vec<InputRecord> = (0..BULK_RECORDS)
        .map(|n| {
            // One record takes an account number the org already has: it is refused, the others are written.
            let number = if n == BAD_RECORD { "CON-001".to_owned() } else { format!("BULK-{n:04}") };
            let fields = json!({ "name": format!("Bulk Co {n:04}"), "accountnumber": number });
            InputRecord::from_fields(Origin::Index(n), fields.as_object().cloned().unwrap_or_default())
        })
        .collect::<crate::error::Result<_>>()?;
    let args = ImportArgs {
        entity_set: "accounts".to_owned(),
        file: "-".into(),
        mode: ImportMode::Create,
        key: Vec::new(),
        logical_name: None,
        primary_id: None,
        max_chunk_size: None,
    };
    let before = emulator.journal().len();
    let progress = Progress::counted(io, "importing accounts", BULK_RECORDS as u64);
    let bar = progress.clone();
    let imported = crate::commands::import::import(connection, &args, records, move |p| bar.set(p.done() as u64)).await;
    progress.finish();
    let imported = imported?;
    io.println("   the requests in order, as records:answer (ok: written; 400: too large, 412: holds the bad record;");
    io.println("   a refused request is split in halves and sent again; the size grows while requests are quick):");
    let mut line = String::from("  ");
    for entry in emulator
        .journal()
        .entries()
        .iter()
        .skip(before)
        .filter(|entry| entry.method() == "POST" && entry.decoded_path().starts_with("/api/data/v9.2/accounts"))
    {
        let path = entry.decoded_path();
        let request = if path.ends_with("CreateMultiple") {
            let targets = entry.body_json().and_then(|body| body["Targets"].as_array().map(Vec::len)).unwrap_or(0);
            format!("{targets}")
        } else {
            "1 (single POST)".to_owned()
        };
        let status = match entry.status() {
            200 | 204 => "ok".to_owned(),
            other => format!("{other}"),
        };
        let item = format!(" {request}:{status}");
        if line.len() + item.len() > 100 {
            io.println(&line);
            line = String::from("  ");
        }
        line.push_str(&item);
    }
    io.println(line);
    for failure in imported.failure_lines() {
        io.println(format!("   refused {failure}"));
    }
    io.println(format!("   {}", imported.summary("accounts")));
    let written = emulator
        .records("accounts")
        .iter()
        .filter(|r| r["accountnumber"].as_str().is_some_and(|n| n.starts_with("BULK-")))
        .count();
    io.println(format!("   the org now holds {written} BULK- accounts: each written once, the refused one not at all"));
    if written != BULK_RECORDS - 1 || imported.report.written() != written {
        return Err(Error::input("the bulk import did not write every good record exactly once"));
    }
    Ok(())
}

async fn sync(connection: &Connection, steps: &mut Steps, io: &mut Io) -> Result<()> {
    steps.title(io, "change tracking: sync the accounts to a file, change a few, sync again (only the changes)");
    let dir = std::env::temp_dir().join(format!("dynamics-demo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("{} cannot be created", dir.display()), e))?;
    let outcome = sync_in(connection, &dir, io).await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn sync_in(connection: &Connection, dir: &std::path::Path, io: &mut Io) -> Result<()> {
    let out = dir.join("accounts.ndjson");
    let args = SyncArgs {
        entity_set: "accounts".to_owned(),
        state: dir.join("accounts.sync.json"),
        out: Destination::File(out.clone()),
        format: ExportFormat::Ndjson,
        select: vec!["name".to_owned(), "accountnumber".to_owned()],
        page_size: Some(1000),
        primary_id: None,
        restart: false,
    };
    io.println(
        "   dynamics sync accounts --state accounts.sync.json --out accounts.ndjson --select name,accountnumber",
    );
    let first = crate::commands::sync::sync(connection, &args, &mut std::io::sink(), |_| {}).await?;
    io.println(format!(
        "   first run: {} records to accounts.ndjson; the delta link is saved in accounts.sync.json",
        first.counts.upserted
    ));
    let accounts = connection.client.entity_set("accounts");
    let key = |number: &str| RecordKey::alternate([("accountnumber", number.to_owned())]);
    accounts.update(key("BULK-0007"), &json!({ "name": "Bulk Co 0007 (renamed)" })).send().await?;
    accounts.update(key("BULK-0008"), &json!({ "name": "Bulk Co 0008 (renamed)" })).send().await?;
    let created = accounts.create(&json!({ "name": "Synced Newcomer", "accountnumber": "SYNC-0001" })).send().await?;
    let gone: Record = accounts.retrieve(key("BULK-0009")).send().await?;
    let gone_id = gone.guid("accountid")?.ok_or_else(|| Error::input("BULK-0009 came back without its id"))?;
    accounts.delete(gone_id).send().await?;
    io.println(format!(
        "   changes through the client: BULK-0007 and BULK-0008 renamed, SYNC-0001 created ({created}), \
         BULK-0009 deleted ({gone_id})"
    ));
    let second = crate::commands::sync::sync(connection, &args, &mut std::io::sink(), |_| {}).await?;
    io.println(format!(
        "   second run: {} upserted, {} removed; accounts.ndjson now holds exactly:",
        second.counts.upserted, second.counts.removed
    ));
    let text = std::fs::read_to_string(&out).map_err(|e| Error::io(format!("{} cannot be read", out.display()), e))?;
    for line in text.lines() {
        io.println(format!("     {line}"));
    }
    if (second.counts.upserted, second.counts.removed) != (3, 1) {
        return Err(Error::input("the incremental sync did not return exactly the four changes"));
    }
    Ok(())
}

async fn file_column(
    connection: &Connection,
    emulator: &Emulator,
    account_id: uuid::Uuid,
    steps: &mut Steps,
    io: &mut Io,
) -> Result<()> {
    steps.title(io, "a file column: upload 300 KB in chunks, download it in ranges, compare, delete");
    let content: Vec<u8> = (0..FILE_SIZE).map(|i| (i % 251) as u8).collect();
    let column = connection.client.file_column("accounts", account_id, "sample_filecolumn");
    let before = emulator.journal().len();
    column.upload("demo.bin", FILE_SIZE as u64, &content[..]).send().await?;
    let mut copy = Vec::with_capacity(FILE_SIZE);
    let info = column.download().chunk_size(FILE_RANGE).to_writer(&mut copy).await?;
    let entries = emulator.journal().entries();
    let sent = entries.iter().skip(before);
    let chunks =
        sent.clone().filter(|entry| entry.method() == "PATCH" && entry.header("content-range").is_some()).count();
    let ranges = sent.filter(|entry| entry.method() == "GET" && entry.header("range").is_some()).count();
    io.println(format!(
        "   uploaded {FILE_SIZE} bytes in {chunks} chunks (the org asked for {FILE_CHUNK} bytes a chunk); \
         downloaded {} bytes of {} in {ranges} ranges",
        copy.len(),
        info.name().unwrap_or("?"),
    ));
    if copy != content {
        return Err(Error::input("the downloaded file differs from the uploaded one"));
    }
    column.delete().await?;
    let gone = column.download().to_writer(&mut Vec::new()).await.is_err_and(|e| e.is_not_found());
    io.println(format!(
        "   the copy is byte-identical; after delete, reading it again: {}",
        if gone { "404, gone" } else { "still there!" }
    ));
    if gone { Ok(()) } else { Err(Error::input("the deleted file is still there")) }
}

async fn throttled(
    connection: &Connection,
    emulator: &Emulator,
    account_id: uuid::Uuid,
    steps: &mut Steps,
    io: &mut Io,
) -> Result<()> {
    steps.title(io, "a throttled stretch: every 3rd request answered 429 with Retry-After: 1");
    let before = emulator.counters().throttled;
    emulator.faults().throttle_every(3, Duration::from_secs(1));
    let started = Instant::now();
    let accounts = connection.client.entities::<Account>();
    let select = Query::<Account>::new().select(account::NAME);
    for _ in 0..6 {
        let _: Account = accounts.retrieve(account_id).query(&select).send().await?;
    }
    emulator.faults().clear();
    let throttled = emulator.counters().throttled - before;
    io.println(format!(
        "   6 reads succeeded in {:.1} s; {throttled} were answered 429 and retried after Retry-After",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The non-destructive steps against the org the configuration names.
async fn against_real_org(settings: &Settings, io: &mut Io) -> Result<u8> {
    let connection = Connection::open(settings)?;
    io.println(format!(
        "dynamics demo: the configuration names {}; running the read-only steps there (nothing is written)",
        connection.client.org_url()
    ));
    let mut steps = Steps::default();
    token_and_whoami(&connection, &mut steps, io).await?;
    steps.title(io, "typed query: the first 5 accounts by name");
    let query =
        Query::<Account>::new().select((account::NAME, account::ACCOUNTNUMBER)).order_by(account::NAME.asc()).top(5);
    let page = connection.client.query::<Account, _>(&query).first_page().await?;
    for found in page.records() {
        io.println(format!("   {}", found.name.as_deref().unwrap_or("(no name)")));
    }
    paged_read(&connection, Some(3), &mut steps, io).await?;
    io.println("");
    io.println("demo complete (read-only against a real org)");
    Ok(0)
}
