//! The emulator: two loopback wiremock servers (Azure AD and the org) over one shared state.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use crate::connection_faults::{ConnectionFaults, FaultProxy};
use crate::faults::FaultPlan;
use crate::journal::{Counters, Server};
use crate::router::Router;
use crate::seed;
use crate::state::{Config, Shared, State};
use crate::webapi::handlers::file_column::DEFAULT_CHUNK_SIZE;
use crate::webapi::store::{Relationship, Store};
use crate::{EntitySetSpec, Error, Faults, Journal, Result, SetupState};

/// The default directory (tenant) id.
pub(crate) const DEFAULT_TENANT_ID: &str = "c0ffee00-7e57-4a1d-8000-00000000a11d";
/// The default application (client) id.
pub(crate) const DEFAULT_CLIENT_ID: &str = "d15ea5e0-7e57-4c11-8000-0000000c11e7";
/// The default client secret: shaped like a real secret value (not a GUID, which would be a secret's id).
pub(crate) const DEFAULT_CLIENT_SECRET: &str = "Tk8Q~emulator.secret-value_not.a.real.one";

/// A running emulator of Azure AD and a Dataverse org; cheap to clone (an `Arc` inside).
///
/// The servers stop when the last clone is dropped.
///
/// ```no_run
/// # async fn demo() {
/// let emulator = dynamics_testkit::Emulator::start().await;
/// println!("org at {}, tenant {}", emulator.org_url(), emulator.tenant_id());
/// # }
/// ```
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
    _servers: Arc<[MockServer; 2]>,
    proxy: Option<FaultProxy>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("org_url", &self.shared.config.org_url)
            .field("authority_host", &self.shared.config.authority_host)
            .field("tenant_id", &self.shared.config.tenant_id)
            .field("client_id", &self.shared.config.client_id)
            .field("client_secret", &"<redacted>")
            .field("fault_proxy", &self.proxy)
            .finish()
    }
}

impl Emulator {
    /// Starts configuring an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with the default tenant, client id and secret, and the seeded fixtures
    /// (`fixtures/testkit/`: accounts, contacts, system users, a business unit and the organization).
    ///
    /// # Panics
    /// Only if the fixtures compiled into the crate were broken (a unit test guards them), or if no loopback
    /// port can be bound (wiremock panics then).
    pub async fn start() -> Emulator {
        match Self::builder().start().await {
            Ok(emulator) => emulator,
            // The defaults are built from fixtures compiled into the crate; a unit test covers them.
            Err(error) => panic!("the built-in emulator defaults are broken: {error}"),
        }
    }

    /// The org URL without a trailing slash, such as `http://127.0.0.1:40123`;
    /// the Web API is at `<org_url>/api/data/v9.2/`. It is also the token audience (resource).
    /// With [`EmulatorBuilder::connection_faults`] it is the fault proxy's URL.
    pub fn org_url(&self) -> String {
        self.shared.config.org_url.clone()
    }

    /// The Web API service root, `<org_url>/api/data/v9.2/`.
    pub fn service_root(&self) -> String {
        format!("{}/api/data/v9.2/", self.shared.config.org_url)
    }

    /// The Azure AD authority host, such as `http://127.0.0.1:40124`, for `AZURE_AUTHORITY_HOST`
    /// or `aad_auth`'s `authority_url`. Tokens are at `<host>/<tenant>/oauth2/token` (v1) and
    /// `<host>/<tenant>/oauth2/v2.0/token` (v2).
    pub fn authority_host(&self) -> String {
        self.shared.config.authority_host.clone()
    }

    /// The directory (tenant) id.
    pub fn tenant_id(&self) -> &str {
        &self.shared.config.tenant_id
    }

    /// The application (client) id the token endpoints accept.
    pub fn client_id(&self) -> &str {
        &self.shared.config.client_id
    }

    /// The client secret the token endpoints accept. It is a test secret, but still never shown by `Debug`.
    pub fn client_secret(&self) -> &str {
        &self.shared.config.client_secret
    }

    /// The application user's `systemuserid`, as `WhoAmI` returns it.
    pub fn user_id(&self) -> Uuid {
        self.shared.config.user_id
    }

    /// The business unit id `WhoAmI` returns.
    pub fn business_unit_id(&self) -> Uuid {
        self.shared.config.business_unit_id
    }

    /// The organization id `WhoAmI` returns.
    pub fn organization_id(&self) -> Uuid {
        self.shared.config.organization_id
    }

    /// The environment variables that point `aad-auth`, `dynamics-webapi` and the `dynamics` command line
    /// at this emulator: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST`
    /// and `DATAVERSE_URL`.
    pub fn env(&self) -> Vec<(String, String)> {
        let config = &self.shared.config;
        [
            ("AZURE_TENANT_ID", config.tenant_id.as_str()),
            ("AZURE_CLIENT_ID", config.client_id.as_str()),
            ("AZURE_CLIENT_SECRET", config.client_secret.as_str()),
            ("AZURE_AUTHORITY_HOST", config.authority_host.as_str()),
            ("DATAVERSE_URL", config.org_url.as_str()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    /// The proxy in front of the org when the emulator was built with
    /// [`EmulatorBuilder::connection_faults`]: what it injected ([`FaultProxy::requests`], [`FaultProxy::counts`]),
    /// and [`FaultProxy::set_faults`] to change the faults while the emulator runs. `None` otherwise.
    pub fn fault_proxy(&self) -> Option<&FaultProxy> {
        self.proxy.as_ref()
    }

    /// A handle to inject and clear faults while the emulator runs.
    pub fn faults(&self) -> Faults {
        Faults::new(Arc::clone(&self.shared))
    }

    /// The recorded requests and counters.
    pub fn journal(&self) -> Journal {
        Journal::new(Arc::clone(&self.shared))
    }

    /// The running totals (same as `journal().counters()`).
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters
    }

    /// The records of an entity set as the Web API would return them (with `@odata.etag`), in insertion order.
    /// Empty for an unknown set.
    pub fn records(&self, entity_set: &str) -> Vec<Value> {
        self.shared.lock().store.snapshot(entity_set)
    }

    /// One record by id, as the Web API would return it.
    pub fn record(&self, entity_set: &str, id: Uuid) -> Option<Value> {
        self.shared.lock().store.snapshot_one(entity_set, id)
    }

    /// Inserts a record directly (no request, no journal entry) and returns its id:
    /// the primary id column when the record has one, otherwise a new one.
    /// An unknown entity set is registered with [`EntitySetSpec`]'s guess from its name.
    ///
    /// # Panics
    /// When `record` is not a JSON object; use [`try_insert`](Self::try_insert) to get an error instead.
    pub fn insert(&self, entity_set: &str, record: Value) -> Uuid {
        match self.try_insert(entity_set, record) {
            Ok(id) => id,
            Err(error) => panic!("{error}"),
        }
    }

    /// As [`insert`](Self::insert), returning an error for a record that is not a JSON object
    /// or whose primary id is not a GUID.
    ///
    /// # Errors
    /// [`Error::Seed`] naming the entity set and the problem.
    pub fn try_insert(&self, entity_set: &str, record: Value) -> Result<Uuid> {
        self.shared.lock().store.insert_seed(entity_set, record)
    }

    /// Changes columns of a record directly (no request, no journal entry), as another user of the org would:
    /// the record gets a new row version (so a delta link reports it) and `modifiedon`.
    /// Returns false when there is no such record.
    ///
    /// # Errors
    /// [`Error::Change`] when `changes` is not a JSON object or tries to change the primary id.
    pub fn update(&self, entity_set: &str, id: Uuid, changes: Value) -> Result<bool> {
        self.shared.lock().store.update_direct(entity_set, id, changes)
    }

    /// Deletes a record directly (no request, no journal entry), as another user of the org would;
    /// change tracking reports it as removed. Returns false when there is no such record.
    pub fn delete(&self, entity_set: &str, id: Uuid) -> bool {
        let mut state = self.shared.lock();
        let at = state.store.table(entity_set).and_then(|table| table.position(id));
        at.and_then(|at| state.store.delete_row(entity_set, at)).is_some()
    }
}

/// Configures an [`Emulator`]; from [`Emulator::builder`].
#[must_use]
pub struct EmulatorBuilder {
    tenant_id: String,
    client_id: String,
    client_secret: String,
    specs: Vec<EntitySetSpec>,
    seeds: Vec<(String, Vec<Value>)>,
    generated: Vec<(String, usize)>,
    fixtures: bool,
    page_size: usize,
    setup: SetupState,
    token_lifetime: Duration,
    extra_resources: HashSet<String>,
    roles: Vec<String>,
    relationships: Vec<Relationship>,
    revoked_privileges: Vec<String>,
    max_bulk_targets: Option<usize>,
    max_bulk_bytes: Option<usize>,
    file_chunk_size: usize,
    connection_faults: Option<ConnectionFaults>,
}

/// `Debug` shows the configuration, never the client secret (as [`Emulator`]'s does not).
impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("specs", &self.specs)
            .field("seeds", &self.seeds)
            .field("generated", &self.generated)
            .field("fixtures", &self.fixtures)
            .field("page_size", &self.page_size)
            .field("setup", &self.setup)
            .field("token_lifetime", &self.token_lifetime)
            .field("extra_resources", &self.extra_resources)
            .field("roles", &self.roles)
            .field("relationships", &self.relationships)
            .field("revoked_privileges", &self.revoked_privileges)
            .field("max_bulk_targets", &self.max_bulk_targets)
            .field("max_bulk_bytes", &self.max_bulk_bytes)
            .field("file_chunk_size", &self.file_chunk_size)
            .field("connection_faults", &self.connection_faults)
            .finish()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            tenant_id: DEFAULT_TENANT_ID.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            specs: EntitySetSpec::defaults(),
            seeds: Vec::new(),
            generated: Vec::new(),
            fixtures: true,
            page_size: 5000,
            setup: SetupState::Ready,
            token_lifetime: Duration::from_secs(3599),
            extra_resources: HashSet::new(),
            roles: Vec::new(),
            relationships: Vec::new(),
            revoked_privileges: Vec::new(),
            max_bulk_targets: None,
            max_bulk_bytes: None,
            file_chunk_size: DEFAULT_CHUNK_SIZE,
            connection_faults: None,
        }
    }
}

impl EmulatorBuilder {
    /// The directory (tenant) id: a GUID or a domain such as `contoso.onmicrosoft.com`.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = tenant_id.into();
        self
    }

    /// The application (client) id the token endpoints accept.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// The client secret the token endpoints accept.
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = client_secret.into();
        self
    }

    /// Registers (or replaces, by name) an entity set.
    pub fn entity_set(mut self, spec: EntitySetSpec) -> Self {
        self.specs.retain(|known| known.name != spec.name);
        self.specs.push(spec);
        self
    }

    /// Adds records to an entity set (after the fixtures). Records without a primary id get a new one.
    pub fn seed(mut self, entity_set: impl Into<String>, records: impl IntoIterator<Item = Value>) -> Self {
        self.seeds.push((entity_set.into(), records.into_iter().collect()));
        self
    }

    /// Adds `count` generated records to an entity set, for paged reads: deterministic ids and values
    /// (accounts get `name` "Generated account 00001", `accountnumber` "GEN-00001", revenue, employees…;
    /// contacts get first and last names and e-mail addresses; other sets a `name`).
    pub fn seed_generated(mut self, entity_set: impl Into<String>, count: usize) -> Self {
        self.generated.push((entity_set.into(), count));
        self
    }

    /// Starts with empty tables instead of the fixtures in `fixtures/testkit/`
    /// (the application user, business unit and organization records are kept).
    pub fn without_fixtures(mut self) -> Self {
        self.fixtures = false;
        self
    }

    /// The page size used when a request has no `Prefer: odata.maxpagesize` (Dataverse's is 5000).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// How the application user is set up at start; can be changed later with [`Faults::setup`].
    pub fn setup(mut self, setup: SetupState) -> Self {
        self.setup = setup;
        self
    }

    /// How long issued tokens live (default 3599 seconds, as Azure AD's).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Lets the token endpoints issue tokens for another resource too (such as `https://graph.microsoft.com`),
    /// for testing what happens when a token for the wrong audience reaches the org (401).
    /// Any other resource gets `AADSTS500011`.
    pub fn extra_resource(mut self, resource: impl Into<String>) -> Self {
        self.extra_resources.insert(resource.into().trim_end_matches('/').to_owned());
        self
    }

    /// App roles to put in the tokens' `roles` claim (none by default, as for a Dataverse application user).
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Registers a one-to-many relationship: records of `referencing_set` point at a record of `referenced_set`
    /// through the lookup column `_<lookup>_value`, and `navigation` is the referenced table's collection-valued
    /// navigation property. It serves `GET <referenced>(<id>)/<navigation>`, `$expand=<navigation>`, and
    /// associating and disassociating through `<navigation>/$ref`.
    ///
    /// Known out of the box: `accounts` `contact_customer_accounts` (contacts' `parentcustomerid`),
    /// `accounts` `Account_Tasks` and `contacts` `Contact_Tasks` (tasks' `regardingobjectid`),
    /// `accounts` `opportunity_customer_accounts` (opportunities' `customerid`).
    ///
    /// ```
    /// let builder = dynamics_testkit::Emulator::builder()
    ///     .one_to_many("new_projects", "new_project_tasks", "tasks", "new_projectid");
    /// # let _ = builder;
    /// ```
    pub fn one_to_many(
        mut self,
        referenced_set: impl Into<String>,
        navigation: impl Into<String>,
        referencing_set: impl Into<String>,
        lookup: impl Into<String>,
    ) -> Self {
        self.relationships.push(Relationship {
            referenced_set: referenced_set.into(),
            navigation: navigation.into(),
            referencing_set: referencing_set.into(),
            lookup: lookup.into(),
        });
        self
    }

    /// Starts with this privilege taken from the application user's security role (such as `prvReadAccount`);
    /// see [`Faults::revoke_privilege`], which can also do it at run time.
    pub fn revoke_privilege(mut self, privilege: impl Into<String>) -> Self {
        self.revoked_privileges.push(privilege.into());
        self
    }

    /// The most records one bulk action (`CreateMultiple`, `UpdateMultiple`, `UpsertMultiple`, `DeleteMultiple`)
    /// takes (no limit by default). A request with more is refused as a whole, nothing written, with Dataverse's
    /// payload error `0x80040216` "Message size exceeded when sending context to Sandbox. Message size: … Mb",
    /// which makes a bulk client send smaller chunks.
    pub fn max_bulk_targets(mut self, targets: usize) -> Self {
        self.max_bulk_targets = Some(targets);
        self
    }

    /// The largest body in bytes a bulk action takes (no limit by default; Dataverse's is about 116.85 MB);
    /// a larger one is refused with the same payload error as [`max_bulk_targets`](Self::max_bulk_targets).
    pub fn max_bulk_bytes(mut self, bytes: usize) -> Self {
        self.max_bulk_bytes = Some(bytes);
        self
    }

    /// The chunk size in bytes a file column's upload session asks for (`x-ms-chunk-size`; default 4 MiB, as
    /// Dataverse documents). A chunk larger than this is refused, so a small size shows that a client splits a
    /// file as the server asks.
    ///
    /// ```
    /// let builder = dynamics_testkit::Emulator::builder().file_chunk_size(64 * 1024);
    /// # let _ = builder;
    /// ```
    pub fn file_chunk_size(mut self, bytes: usize) -> Self {
        self.file_chunk_size = bytes;
        self
    }

    /// Puts a [`FaultProxy`] with these faults in front of the org: [`Emulator::org_url`] is then the proxy's URL
    /// (the token audience, the base of `@odata.nextLink`s and of every other URL the org answers with), so any
    /// client built from the emulator's settings meets the faults. The token endpoints are not behind it.
    /// [`Emulator::fault_proxy`] tells what was injected.
    ///
    /// ```no_run
    /// # async fn demo() -> dynamics_testkit::Result<()> {
    /// use std::time::Duration;
    /// use dynamics_testkit::{ConnectionFaults, Emulator, ThrottleKind};
    ///
    /// let emulator = Emulator::builder()
    ///     .connection_faults(
    ///         ConnectionFaults::seeded(42)
    ///             .closed_after_commit(0.005)
    ///             .closed_before_read(0.005)
    ///             .service_unavailable(0.01)
    ///             .throttled(0.02, Duration::from_secs(1), ThrottleKind::RequestCount),
    ///     )
    ///     .start()
    ///     .await?;
    /// // … run the code under test against emulator.org_url() …
    /// if let Some(proxy) = emulator.fault_proxy() {
    ///     println!("{:?}", proxy.counts());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn connection_faults(mut self, faults: ConnectionFaults) -> Self {
        self.connection_faults = Some(faults);
        self
    }

    /// Starts both servers on loopback ports (and the fault proxy, with
    /// [`connection_faults`](Self::connection_faults)) and seeds the tables.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty tenant id, client id or secret, a page size, bulk limit or file chunk size of 0,
    /// or connection faults whose rates or counts cannot be used;
    /// [`Error::Seed`] for a seed record that is not a JSON object or has a non-GUID primary id;
    /// [`Error::Loopback`] when the fault proxy cannot start.
    pub async fn start(self) -> Result<Emulator> {
        for (setting, value) in
            [("tenant_id", &self.tenant_id), ("client_id", &self.client_id), ("client_secret", &self.client_secret)]
        {
            if value.trim().is_empty() {
                return Err(Error::Config { setting, reason: "it is empty".to_owned() });
            }
        }
        for (setting, limit) in [("max_bulk_targets", self.max_bulk_targets), ("max_bulk_bytes", self.max_bulk_bytes)] {
            if limit == Some(0) {
                return Err(Error::Config { setting, reason: "a bulk limit must be at least 1".to_owned() });
            }
        }
        if self.file_chunk_size == 0 {
            return Err(Error::Config { setting: "file_chunk_size", reason: "it must be at least 1".to_owned() });
        }
        if self.page_size == 0 {
            return Err(Error::Config { setting: "page_size", reason: "it must be at least 1".to_owned() });
        }
        if let Some(faults) = &self.connection_faults {
            faults.check()?;
        }
        let ids = seed::Ids::default();
        let mut store = Store::new(self.specs);
        for relationship in self.relationships {
            store.add_relationship(relationship);
        }
        seed::seed_defaults(&mut store, &ids, &self.client_id, self.fixtures)?;
        for (entity_set, records) in self.seeds {
            for record in records {
                store.insert_seed(&entity_set, record)?;
            }
        }
        for (entity_set, count) in self.generated {
            seed::seed_generated(&mut store, &entity_set, count)?;
        }

        // The journal records requests; wiremock's own recording would only hold a second copy.
        let authority = MockServer::builder().disable_request_recording().start().await;
        let org = MockServer::builder().disable_request_recording().start().await;
        let proxy = self.connection_faults.map(|faults| FaultProxy::start(&org.uri(), faults)).transpose()?;
        let org_url = match &proxy {
            Some(proxy) => proxy.uri(),
            None => org.uri().trim_end_matches('/').to_owned(),
        };
        let config = Config {
            tenant_id: self.tenant_id,
            client_id: self.client_id,
            client_secret: self.client_secret,
            org_url,
            authority_host: authority.uri().trim_end_matches('/').to_owned(),
            extra_resources: self.extra_resources,
            user_id: ids.user_id,
            business_unit_id: ids.business_unit_id,
            organization_id: ids.organization_id,
            object_id: ids.object_id,
            token_lifetime: self.token_lifetime,
            page_size: self.page_size,
            signing_key: signing_key(),
            roles: self.roles,
            max_bulk_targets: self.max_bulk_targets,
            max_bulk_bytes: self.max_bulk_bytes,
            file_chunk_size: self.file_chunk_size,
        };
        let state = State {
            store,
            tokens: HashMap::new(),
            faults: FaultPlan {
                setup: self.setup,
                revoked_privileges: self.revoked_privileges,
                ..FaultPlan::default()
            },
            journal: Vec::new(),
            counters: Counters::default(),
        };
        let shared = Arc::new(Shared::new(config, state));
        Mock::given(any())
            .respond_with(Router { shared: Arc::clone(&shared), server: Server::Authority })
            .mount(&authority)
            .await;
        Mock::given(any()).respond_with(Router { shared: Arc::clone(&shared), server: Server::Org }).mount(&org).await;
        Ok(Emulator { shared, _servers: Arc::new([authority, org]), proxy })
    }
}

/// A fresh random HMAC key for the tokens of one emulator.
fn signing_key() -> [u8; 32] {
    let mut key = [0; 32];
    key[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    key
}
