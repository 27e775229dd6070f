//! The command line, as clap parses it.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Examples at the end of `dynamics --help`.
const EXAMPLES: &str = "\
Examples:
  dynamics demo                                   the whole flow against a local emulator, no Azure account
  dynamics doctor                                 check the setup step by step (--format json for CI)
  dynamics whoami --url https://contoso.crm.dynamics.com
  dynamics query accounts --select name,revenue --filter \"statecode eq 0\" --all --format csv
  dynamics export accounts --out accounts.ndjson  rerun after an interruption to resume
  dynamics completions bash > ~/.local/share/bash-completion/completions/dynamics
  dynamics man > dynamics.1

The connection comes from DATAVERSE_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET
(or a profile, --profile); a secret is never a flag value.";

/// `dynamics --version`: the package version, and the commit when `DYNAMICS_BUILD_COMMIT` was set at build time.
pub(crate) fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| match option_env!("DYNAMICS_BUILD_COMMIT").filter(|commit| !commit.is_empty()) {
        Some(commit) => format!("{} ({commit})", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// Dataverse (Dynamics 365) from the command line, signed in as an app registration (client credentials).
#[derive(Debug, Parser)]
#[command(name = "dynamics", version = version(), about, max_term_width = 100, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Connection options, accepted by every subcommand.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection options (every command)")]
pub(crate) struct GlobalArgs {
    /// The org URL (default: DATAVERSE_URL), such as https://contoso.crm.dynamics.com.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) url: Option<String>,
    /// The Directory (tenant) ID or domain (default: AZURE_TENANT_ID).
    #[arg(long, global = true, value_name = "TENANT")]
    pub(crate) tenant: Option<String>,
    /// The Application (client) ID (default: AZURE_CLIENT_ID).
    #[arg(long = "client-id", global = true, value_name = "GUID")]
    pub(crate) client_id: Option<String>,
    /// Read the client secret from this file (instead of AZURE_CLIENT_SECRET).
    #[arg(long = "client-secret-file", global = true, value_name = "FILE")]
    pub(crate) client_secret_file: Option<PathBuf>,
    /// Read the client secret from standard input.
    #[arg(long = "client-secret-stdin", global = true)]
    pub(crate) client_secret_stdin: bool,
    /// Refused: a secret on the command line shows in shell history and process lists.
    #[arg(long = "client-secret", global = true, hide = true, value_name = "REFUSED")]
    pub(crate) client_secret_refused: Option<String>,
    /// A named profile from the config file (DYNAMICS_CONFIG, or the platform's config folder).
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) profile: Option<String>,
    /// Retry a throttled (429) or failed (502-504, timeout) request up to N times (default 5).
    #[arg(long, global = true, value_name = "N")]
    pub(crate) retries: Option<u32>,
    /// The Azure AD token endpoint: v2 (scope <org>/.default, the default) or v1 (resource <org>)
    /// (default: DYNAMICS_TOKEN_ENDPOINT, or the profile's token_endpoint).
    #[arg(long, global = true, value_enum, value_name = "VERSION")]
    pub(crate) endpoint: Option<Endpoint>,
    /// Log each HTTP request and its status to stderr (never a secret or a token).
    #[arg(long, short, global = true)]
    pub(crate) verbose: bool,
}

/// The Azure AD token endpoint version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Endpoint {
    /// `<authority>/<tenant>/oauth2/token` with `resource=<org>`.
    V1,
    /// `<authority>/<tenant>/oauth2/v2.0/token` with `scope=<org>/.default`.
    V2,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Acquire a token and show its claims (the token itself only with --raw).
    Token {
        /// Print the token itself, alone, to stdout.
        #[arg(long)]
        raw: bool,
    },
    /// Check the setup step by step and say what to fix (the exit code names the first failed step).
    #[command(after_help = "Exit codes: 0 every check passed; 10-14 configuration (org URL, tenant id, client id, \
credential, authority host); 20 the org's challenge; 21 authority reachable; 30 token acquired; 31 token audience; \
40 WhoAmI; 41 read a common table.

Example:
  dynamics doctor --format json | jq '.steps[] | select(.status == \"fail\")'")]
    Doctor {
        /// Output format: a checklist for people, or one JSON document for CI.
        #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
        format: DoctorFormat,
    },
    /// Show who the app acts as (WhoAmI).
    Whoami {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Read records of an entity set.
    #[command(after_help = "Examples:
  dynamics query accounts --select name,revenue --top 10
  dynamics query accounts --filter \"contains(name,'Contoso')\" --all --format ndjson | jq .name
  dynamics query contacts --expand \"parentcustomerid_account($select=name)\" --format json")]
    Query(QueryArgs),
    /// Read one record by id or alternate key.
    Get(GetArgs),
    /// Create a record from a JSON body (a file, or stdin).
    Create(WriteArgs),
    /// Update an existing record from a JSON body (never creates).
    Update(KeyedWriteArgs),
    /// Update a record, or create it when it does not exist.
    Upsert(KeyedWriteArgs),
    /// Delete a record.
    Delete(DeleteArgs),
    /// Run a FetchXML query from a file.
    Fetchxml(FetchXmlArgs),
    /// Save the org's $metadata (CSDL) to a file.
    #[command(after_help = "Example:\n  dynamics metadata --out metadata/contoso.xml")]
    Metadata {
        /// Where to write it (its folder is created; the file is replaced whole); `-` writes to stdout.
        #[arg(long, value_name = "FILE", value_parser = Destination::parse)]
        out: Destination,
    },
    /// Export an entity set to a file, page by page; rerun after an interruption to resume.
    #[command(after_help = "Examples:
  dynamics export accounts --out accounts.ndjson
  dynamics export accounts --out accounts.csv --format csv --select name,accountnumber
  dynamics export accounts --out - | gzip > accounts.ndjson.gz")]
    Export(ExportArgs),
    /// Sync an entity set to a file with change tracking: everything the first time, then only the changes.
    Sync(SyncArgs),
    /// Write records from a file (NDJSON or a JSON array) through the bulk API (CreateMultiple, ...).
    Import(ImportArgs),
    /// Upload, download or delete the file in a file or image column of a record.
    #[command(subcommand)]
    File(FileCommand),
    /// Run the whole flow against a local emulator of Azure AD and Dataverse (no Azure account needed).
    Demo(DemoArgs),
    /// Print a shell completion script to stdout.
    #[command(after_help = "Examples:
  dynamics completions bash > ~/.local/share/bash-completion/completions/dynamics
  dynamics completions zsh > \"${fpath[1]}/_dynamics\"
  dynamics completions fish > ~/.config/fish/completions/dynamics.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    #[command(after_help = "Example:\n  dynamics man > dynamics.1 && man ./dynamics.1")]
    Man,
}

/// Query options shared by `query` and `export`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct QueryOptions {
    /// Columns to return, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub(crate) select: Vec<String>,
    /// An OData filter, such as "statecode eq 0 and contains(name,'Contoso')".
    #[arg(long, value_name = "EXPR")]
    pub(crate) filter: Option<String>,
    /// Sort order, such as "name asc,createdon desc".
    #[arg(long, value_name = "EXPR")]
    pub(crate) orderby: Option<String>,
    /// At most this many records.
    #[arg(long, value_name = "N")]
    pub(crate) top: Option<u32>,
    /// Related records, such as "primarycontactid($select=fullname)".
    #[arg(long, value_name = "EXPR")]
    pub(crate) expand: Option<String>,
    /// Records per page (Prefer: odata.maxpagesize).
    #[arg(long = "page-size", value_name = "N")]
    pub(crate) page_size: Option<u32>,
    /// Ask for formatted values (choice labels, money and dates as text).
    #[arg(long)]
    pub(crate) formatted: bool,
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The entity set, such as accounts.
    pub(crate) entity_set: String,
    #[command(flatten)]
    pub(crate) options: QueryOptions,
    /// Follow the next links and read every page (default: the first page only).
    #[arg(long)]
    pub(crate) all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The entity set, such as accounts.
    pub(crate) entity_set: String,
    /// The record's id (a GUID), or an alternate key such as accountnumber=A-1 or "name1=x,name2=y".
    pub(crate) key: String,
    /// Columns to return, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub(crate) select: Vec<String>,
    /// Ask for formatted values.
    #[arg(long)]
    pub(crate) formatted: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct WriteArgs {
    /// The entity set, such as accounts.
    pub(crate) entity_set: String,
    /// The JSON body; `-` or nothing reads standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Print the record as written (Prefer: return=representation).
    #[arg(long = "return")]
    pub(crate) returning: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KeyedWriteArgs {
    /// The entity set, such as accounts.
    pub(crate) entity_set: String,
    /// The record's id, or an alternate key such as accountnumber=A-1.
    pub(crate) key: String,
    /// The JSON body; `-` or nothing reads standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Write only if the record still has this ETag (optimistic concurrency).
    #[arg(long = "if-match", value_name = "ETAG")]
    pub(crate) if_match: Option<String>,
    /// Print the record as written (Prefer: return=representation).
    #[arg(long = "return")]
    pub(crate) returning: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The entity set, such as accounts.
    pub(crate) entity_set: String,
    /// The record's id, or an alternate key such as accountnumber=A-1.
    pub(crate) key: String,
    /// Delete only if the record still has this ETag.
    #[arg(long = "if-match", value_name = "ETAG")]
    pub(crate) if_match: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct FetchXmlArgs {
    /// The file with the <fetch> query; `-` reads standard input.
    pub(crate) file: PathBuf,
    /// The entity set (default: the plural of <entity name="...">).
    #[arg(long = "set", value_name = "ENTITY_SET")]
    pub(crate) entity_set: Option<String>,
    /// Read every page (default: the first page only).
    #[arg(long)]
    pub(crate) all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The entity set, such as accounts.
    pub(crate) entity_set: String,
    /// The file to write; its resume state is kept beside it in FILE.export-state.json.
    /// `-` writes to stdout (no resume: a rerun starts over).
    #[arg(long, value_name = "FILE", value_parser = Destination::parse)]
    pub(crate) out: Destination,
    /// File format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Ndjson)]
    pub(crate) format: ExportFormat,
    #[command(flatten)]
    pub(crate) options: QueryOptions,
    /// Start over, discarding a saved position.
    #[arg(long)]
    pub(crate) restart: bool,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct SyncArgs {
    /// The entity set, such as accounts (its table must have change tracking turned on).
    pub(crate) entity_set: String,
    /// The sync's state: the delta link to go on from, saved when a run completes.
    #[arg(long, value_name = "FILE")]
    pub(crate) state: PathBuf,
    /// Where this run's records (first run) or changes (later runs) go; replaced when the run completes.
    /// `-` writes them to stdout (the state is still saved when the run completes).
    #[arg(long, value_name = "FILE", value_parser = Destination::parse)]
    pub(crate) out: Destination,
    /// File format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Ndjson)]
    pub(crate) format: ExportFormat,
    /// Columns to sync, comma-separated (fixed by the first run).
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub(crate) select: Vec<String>,
    /// Records per page (Prefer: odata.maxpagesize; fixed by the first run, later runs may leave it out).
    #[arg(long = "page-size", value_name = "N")]
    pub(crate) page_size: Option<u32>,
    /// The primary id column, named in deletion lines (default: the singular of the set + id, such as accountid).
    #[arg(long = "primary-id", value_name = "COLUMN")]
    pub(crate) primary_id: Option<String>,
    /// Start over: read every record again and replace the saved state.
    #[arg(long)]
    pub(crate) restart: bool,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct ImportArgs {
    /// The entity set, such as accounts.
    pub(crate) entity_set: String,
    /// The records: one JSON object per line (NDJSON) or a JSON array of objects; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// What to do with each record.
    #[arg(long, value_enum, default_value_t = ImportMode::Create)]
    pub(crate) mode: ImportMode,
    /// For update and upsert: the alternate key columns, comma-separated (default: the primary id column).
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub(crate) key: Vec<String>,
    /// The table's logical name, stamped in each target's @odata.type (default: the singular of the set).
    #[arg(long = "logical-name", value_name = "NAME")]
    pub(crate) logical_name: Option<String>,
    /// The primary id column (default: the logical name + id; activityid for activities).
    #[arg(long = "primary-id", value_name = "COLUMN")]
    pub(crate) primary_id: Option<String>,
    /// The largest chunk, in records (default 1000; chunks start at 100 and grow while they finish quickly).
    #[arg(long = "max-chunk-size", value_name = "N")]
    pub(crate) max_chunk_size: Option<usize>,
}

/// `dynamics file upload|download|delete`.
#[derive(Debug, Subcommand)]
pub(crate) enum FileCommand {
    /// Upload a file to the column, in the chunks the server asks for (streamed from the file).
    Upload(FileUploadArgs),
    /// Download the column's file in ranges, to a file or to stdout (streamed, never held whole).
    Download(FileDownloadArgs),
    /// Delete the column's file.
    Delete(FileColumnArgs),
}

/// The file or image column of one record.
#[derive(Debug, Args, Clone)]
pub(crate) struct FileColumnArgs {
    /// The entity set, such as accounts.
    pub(crate) entity_set: String,
    /// The record's id (a GUID), or an alternate key such as accountnumber=A-1.
    pub(crate) key: String,
    /// The file or image column, such as sample_filecolumn or entityimage.
    pub(crate) column: String,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct FileUploadArgs {
    #[command(flatten)]
    pub(crate) target: FileColumnArgs,
    /// The file to upload.
    #[arg(long, value_name = "PATH")]
    pub(crate) file: PathBuf,
    /// The file name the column keeps (default: the name of --file).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// Send chunks of at most this many bytes (default: the x-ms-chunk-size the server asks for, 4 MiB).
    #[arg(long = "chunk-size", value_name = "BYTES")]
    pub(crate) chunk_size: Option<usize>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct FileDownloadArgs {
    #[command(flatten)]
    pub(crate) target: FileColumnArgs,
    /// Where to write the file; `-` writes it to stdout. A file is written as PATH.partial and renamed when complete.
    #[arg(long, value_name = "PATH", value_parser = Destination::parse)]
    pub(crate) out: Destination,
    /// Read ranges of this many bytes (default 4 MiB).
    #[arg(long = "chunk-size", value_name = "BYTES")]
    pub(crate) chunk_size: Option<u64>,
    /// For an image column: the full-size image (?size=full) rather than the thumbnail.
    #[arg(long = "full-size")]
    pub(crate) full_size: bool,
}

/// What `import` does with each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImportMode {
    /// New records (CreateMultiple).
    Create,
    /// Existing records, by primary id or --key (UpdateMultiple); a missing record fails.
    Update,
    /// Update, or create when missing, by primary id or --key (UpsertMultiple).
    Upsert,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many records to seed for the paged read.
    #[arg(long, default_value_t = 3000, value_name = "N")]
    pub(crate) records: usize,
}

/// How `doctor` prints its checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DoctorFormat {
    /// A line per step, with its fix.
    Text,
    /// One JSON object: `passed`, `exit_code`, and each step's number, title, status, cause, fix and exit code.
    Json,
}

/// How records are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns, for people.
    Table,
    /// One JSON array (or object).
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
}

/// How an export file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ExportFormat {
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
}

/// Where an `--out` goes: `-` is standard output, anything else a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Standard output (`--out -`).
    Stdout,
    /// A file.
    File(PathBuf),
}

impl Destination {
    /// Reads an `--out` value (`-` for standard output).
    pub(crate) fn parse(value: &str) -> Result<Self, std::convert::Infallible> {
        Ok(if value == "-" { Self::Stdout } else { Self::File(PathBuf::from(value)) })
    }

    /// The file, or `None` for standard output.
    pub(crate) fn file(&self) -> Option<&Path> {
        match self {
            Self::Stdout => None,
            Self::File(path) => Some(path),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdout => f.write_str("standard output"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}
