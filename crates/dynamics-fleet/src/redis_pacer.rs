//! [`RedisPacer`]: one in-flight limit and one rate for every worker of a fleet, through Redis.
//!
//! - **Slots** are leases in a sorted set (member: the lease, score: when it lapses, in Redis's own time).
//!   A worker renews its live leases together every third of the lease time; a worker that died stops
//!   renewing, and its slots lapse within one lease time (default 10 seconds).
//! - **Admission** is one script call: it gives back the worker's finished leases, counts its clean answers,
//!   drops lapsed leases, checks the limit and reserves the next rate slot. A finished request's lease rides on
//!   the worker's next admission, so a busy worker makes one Redis round trip per request; an idle one
//!   gives its leases back after a short delay.
//! - **Refusals** are shared at once: a 429 lowers the fleet's rate by a fifth (at most once per cool-down, one
//!   second by default, however many workers saw refusals in it), so one web server's refusal slows the fleet
//!   instead of stopping it. Clean answers raise the rate again by 1% each; past the rate it had before the
//!   refusals, the fleet is unpaced again. A concurrency refusal lowers the fleet's in-flight limit by one.
//! - **Redis unreachable**: the worker falls back to its own [`AdaptivePacer`], logs one warning, keeps going,
//!   and tries Redis again at most once a second; the first admission that reaches it rejoins the fleet.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use dynamics_webapi::ServiceProtectionLimit;
use dynamics_webapi::pacer::{AdaptivePacer, Admission, LimitSource, Observation, Pacer, PacerState, Signal};
use redis::Script;
use redis::aio::ConnectionManager;

/// Gives back finished leases, counts clean answers, drops lapsed leases, then admits (or says how long to wait).
/// KEYS: slots, state. ARGV: lease id, lease ms, default limit, clean answers, then leases to give back.
/// Returns {admitted, wait ms, limit, rate as text ('' when unpaced)}.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 5, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(redis.call('HGET', KEYS[2], 'limit')) or tonumber(ARGV[3])
local rate = tonumber(redis.call('HGET', KEYS[2], 'rate'))
local clean = tonumber(ARGV[4])
if rate and clean > 0 then
  rate = rate * (1 + 0.01 * clean)
  local before = tonumber(redis.call('HGET', KEYS[2], 'before'))
  if before and rate >= before then
    redis.call('HDEL', KEYS[2], 'rate', 'before', 'next_at')
    rate = nil
  else
    redis.call('HSET', KEYS[2], 'rate', tostring(rate))
  end
end
local start = tonumber(redis.call('HGET', KEYS[2], 'win_start')) or now
local count = (tonumber(redis.call('HGET', KEYS[2], 'win_count')) or 0)
if redis.call('ZCARD', KEYS[1]) >= limit then
  return {0, 20, limit, rate and tostring(rate) or ''}
end
local wait = 0
if rate then
  local next_at = tonumber(redis.call('HGET', KEYS[2], 'next_at')) or now
  local at = math.max(now, next_at)
  wait = at - now
  redis.call('HSET', KEYS[2], 'next_at', tostring(at + 1000 / rate))
end
if now - start >= 1000 then
  redis.call('HSET', KEYS[2], 'measured', tostring((count + 1) * 1000 / (now - start)), 'win_start', now, 'win_count', 0)
else
  redis.call('HSET', KEYS[2], 'win_start', start, 'win_count', count + 1)
end
redis.call('ZADD', KEYS[1], now + wait + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 3600000)
redis.call('PEXPIRE', KEYS[2], 3600000)
return {1, wait, limit, rate and tostring(rate) or ''}
",
    )
});

/// A refusal: the rate down by a fifth (once per cool-down), and for a concurrency refusal the limit down by one.
/// KEYS: state. ARGV: cool-down ms, 1 for a concurrency refusal, default limit. Returns the rate as text.
static THROTTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] == '1' then
  local limit = tonumber(redis.call('HGET', KEYS[1], 'limit')) or tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], 'limit', math.max(1, limit - 1))
  return redis.call('HGET', KEYS[1], 'rate') or ''
end
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate'))
local cut_at = tonumber(redis.call('HGET', KEYS[1], 'cut_at')) or 0
if rate and now - cut_at < tonumber(ARGV[1]) then return tostring(rate) end
if not rate then
  local start = tonumber(redis.call('HGET', KEYS[1], 'win_start')) or now
  local count = tonumber(redis.call('HGET', KEYS[1], 'win_count')) or 0
  local current = count * 1000 / math.max(now - start, 1)
  rate = math.max(tonumber(redis.call('HGET', KEYS[1], 'measured')) or 0, current, 1)
  redis.call('HSET', KEYS[1], 'before', tostring(rate))
end
rate = math.max(0.1, rate * 0.8)
redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'cut_at', now)
redis.call('PEXPIRE', KEYS[1], 3600000)
return tostring(rate)
",
    )
});

/// Renews leases still in flight. KEYS: slots. ARGV: lease ms, then the leases.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
return 0
",
    )
});

/// Gives back leases and counts clean answers. KEYS: slots, state. ARGV: clean answers, then the leases.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i = 2, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
local rate = tonumber(redis.call('HGET', KEYS[2], 'rate'))
local clean = tonumber(ARGV[1])
if rate and clean > 0 then
  rate = rate * (1 + 0.01 * clean)
  local before = tonumber(redis.call('HGET', KEYS[2], 'before'))
  if before and rate >= before then
    redis.call('HDEL', KEYS[2], 'rate', 'before', 'next_at')
  else
    redis.call('HSET', KEYS[2], 'rate', tostring(rate))
  end
end
return 0
",
    )
});

/// Configures a [`RedisPacer`]; see [`Fleet::pacer_builder`](crate::Fleet::pacer_builder).
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisPacerBuilder {
    connection: ConnectionManager,
    prefix: String,
    max_in_flight: usize,
    lease: Duration,
    call_timeout: Duration,
    retry_redis_after: Duration,
    throttle_cooldown: Duration,
    fallback: Option<AdaptivePacer>,
}

impl RedisPacerBuilder {
    pub(crate) fn new(connection: ConnectionManager, prefix: &str, org: &str, application_user: &str) -> Self {
        let part = |s: &str| s.trim().trim_end_matches('/').to_ascii_lowercase().replace(':', "%3A");
        Self {
            connection,
            prefix: format!("{prefix}:pace:{}:{}", part(org), part(application_user)),
            max_in_flight: 8,
            lease: Duration::from_secs(10),
            call_timeout: Duration::from_millis(500),
            retry_redis_after: Duration::from_secs(1),
            throttle_cooldown: Duration::from_secs(1),
            fallback: None,
        }
    }

    /// The fleet's in-flight limit, all workers together (default 8), until concurrency refusals lower it.
    /// The first worker to reach an empty Redis sets it; later workers read it from there.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = limit.max(1);
        self
    }

    /// How long a slot stays taken without being renewed (default 10 seconds): the most a dead worker's
    /// slots stay taken.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(300));
        self
    }

    /// The longest a Redis call may take before the worker falls back (default 500 ms).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// While fallen back, how often Redis is tried again (default 1 second).
    pub fn retry_redis_after(mut self, interval: Duration) -> Self {
        self.retry_redis_after = interval;
        self
    }

    /// The shortest time between two rate cuts (default 1 second).
    pub fn throttle_cooldown(mut self, cooldown: Duration) -> Self {
        self.throttle_cooldown = cooldown;
        self
    }

    /// The in-process pacer used while Redis is unreachable (default [`AdaptivePacer::default`]).
    pub fn fallback(mut self, pacer: AdaptivePacer) -> Self {
        self.fallback = Some(pacer);
        self
    }

    /// The pacer; its lease renewal runs on the current tokio runtime.
    pub fn build(self) -> RedisPacer {
        let shared = Arc::new(Shared {
            connection: self.connection,
            slots_key: format!("{}:slots", self.prefix),
            state_key: format!("{}:state", self.prefix),
            worker: format!("{:016x}", fastrand::u64(..)),
            default_limit: self.max_in_flight,
            lease: self.lease,
            call_timeout: self.call_timeout,
            retry_redis_after: self.retry_redis_after,
            throttle_cooldown: self.throttle_cooldown,
            fallback: self.fallback.unwrap_or_default(),
            sequence: AtomicU64::new(0),
            degraded: AtomicBool::new(false),
            next_try: Mutex::new(Instant::now()),
            pending: Mutex::new(Pending::default()),
            flush_scheduled: AtomicBool::new(false),
            live: Mutex::new(HashSet::new()),
            in_flight: AtomicUsize::new(0),
            seen: Mutex::new((self.max_in_flight, None)),
            fallback_admissions: Mutex::new(HashMap::new()),
            redis_calls: AtomicU64::new(0),
        });
        spawn_renewal(Arc::downgrade(&shared));
        RedisPacer { shared }
    }
}

/// A [`Pacer`] shared by every worker of one org and application user through Redis; see the module docs.
///
/// ```no_run
/// # async fn run() -> dynamics_fleet::Result<()> {
/// let fleet = dynamics_fleet::Fleet::from_env().await?;
/// let pacer = fleet.pacer_builder("https://contoso.crm.dynamics.com", "00000000-0000-0000-0000-000000000001")
///     .max_in_flight(16)
///     .build();
/// # let _ = pacer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisPacer {
    shared: Arc<Shared>,
}

struct Shared {
    connection: ConnectionManager,
    slots_key: String,
    state_key: String,
    worker: String,
    default_limit: usize,
    lease: Duration,
    call_timeout: Duration,
    retry_redis_after: Duration,
    throttle_cooldown: Duration,
    fallback: AdaptivePacer,
    sequence: AtomicU64,
    degraded: AtomicBool,
    next_try: Mutex<Instant>,
    pending: Mutex<Pending>,
    flush_scheduled: AtomicBool,
    live: Mutex<HashSet<String>>,
    in_flight: AtomicUsize,
    /// The limit and rate the last Redis answer said.
    seen: Mutex<(usize, Option<f64>)>,
    fallback_admissions: Mutex<HashMap<u64, Admission>>,
    redis_calls: AtomicU64,
}

#[derive(Default)]
struct Pending {
    releases: Vec<String>,
    clean: u64,
}

/// A slot leased in Redis; dropping it gives the lease back (with the worker's next call to Redis).
struct Lease {
    id: String,
    shared: Weak<Shared>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            lock(&shared.live).remove(&self.id);
            lock(&shared.pending).releases.push(std::mem::take(&mut self.id));
            Shared::schedule_flush(&shared);
        }
    }
}

/// A slot of the fallback pacer; dropping it drops the inner admission, which gives that slot back.
struct FallbackSlot {
    sequence: u64,
    shared: Weak<Shared>,
}

impl Drop for FallbackSlot {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            lock(&shared.fallback_admissions).remove(&self.sequence);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

enum Reply {
    Admitted { wait: Duration },
    Full,
}

impl Shared {
    fn is_fallen_back(&self) -> bool {
        self.degraded.load(Ordering::SeqCst) && Instant::now() < *lock(&self.next_try)
    }

    fn fall_back(&self, error: &dyn fmt::Display) {
        *lock(&self.next_try) = Instant::now() + self.retry_redis_after;
        if !self.degraded.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                error = %error,
                "fleet pacer: redis is unreachable; pacing this worker on its own until it is back"
            );
        }
    }

    fn rejoin(&self) {
        if self.degraded.swap(false, Ordering::SeqCst) {
            tracing::info!("fleet pacer: redis is back; pacing with the fleet again");
        }
    }

    async fn call<T: redis::FromRedisValue>(&self, invocation: redis::ScriptInvocation<'_>) -> Result<T, String> {
        let mut connection = self.connection.clone();
        self.redis_calls.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.call_timeout, invocation.invoke_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.call_timeout)),
        }
    }

    async fn try_admit(&self, id: &str) -> Result<Reply, String> {
        let pending = std::mem::take(&mut *lock(&self.pending));
        let mut invocation = ADMIT.prepare_invoke();
        invocation
            .key(&self.slots_key)
            .key(&self.state_key)
            .arg(id)
            .arg(millis(self.lease))
            .arg(self.default_limit)
            .arg(pending.clean);
        for release in &pending.releases {
            invocation.arg(release);
        }
        let result: Result<(i64, i64, i64, String), String> = self.call(invocation).await;
        let (admitted, wait, limit, rate) = match result {
            Ok(reply) => reply,
            Err(error) => {
                // Keep the releases for later: the leases lapse by themselves if Redis stays away.
                let mut kept = lock(&self.pending);
                kept.releases.extend(pending.releases);
                return Err(error);
            }
        };
        *lock(&self.seen) = (usize::try_from(limit).unwrap_or(1).max(1), rate.parse::<f64>().ok());
        Ok(if admitted == 1 {
            Reply::Admitted { wait: Duration::from_millis(u64::try_from(wait).unwrap_or_default()) }
        } else {
            Reply::Full
        })
    }

    fn schedule_flush(self: &Arc<Self>) {
        if self.flush_scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.flush_scheduled.store(false, Ordering::SeqCst);
            return;
        };
        let weak = Arc::downgrade(self);
        runtime.spawn(async move {
            // A busy worker's next admission carries the releases; only an idle worker's are sent on their own.
            tokio::time::sleep(Duration::from_millis(25)).await;
            let Some(shared) = weak.upgrade() else { return };
            shared.flush_scheduled.store(false, Ordering::SeqCst);
            shared.flush().await;
        });
    }

    async fn flush(&self) {
        let pending = std::mem::take(&mut *lock(&self.pending));
        if pending.releases.is_empty() && pending.clean == 0 {
            return;
        }
        let mut invocation = RELEASE.prepare_invoke();
        invocation.key(&self.slots_key).key(&self.state_key).arg(pending.clean);
        for release in &pending.releases {
            invocation.arg(release);
        }
        if self.call::<i64>(invocation).await.is_err() {
            lock(&self.pending).releases.extend(pending.releases);
        }
    }

    async fn share_refusal(&self, concurrency: bool) {
        let mut invocation = THROTTLE.prepare_invoke();
        invocation
            .key(&self.state_key)
            .arg(millis(self.throttle_cooldown))
            .arg(if concurrency { "1" } else { "0" })
            .arg(self.default_limit);
        match self.call::<String>(invocation).await {
            Ok(rate) => lock(&self.seen).1 = rate.parse::<f64>().ok(),
            Err(error) => self.fall_back(&error),
        }
    }

    async fn admit_fallback(self: &Arc<Self>) -> Admission {
        let inner = self.fallback.admit().await;
        let sequence = self.sequence.fetch_add(1, Ordering::SeqCst);
        lock(&self.fallback_admissions).insert(sequence, inner);
        Admission::new(sequence, SystemTime::now()).holding(FallbackSlot { sequence, shared: Arc::downgrade(self) })
    }
}

fn spawn_renewal(weak: Weak<Shared>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        loop {
            let Some(interval) = weak.upgrade().map(|shared| shared.lease / 3) else { return };
            tokio::time::sleep(interval).await;
            let Some(shared) = weak.upgrade() else { return };
            let live: Vec<String> = lock(&shared.live).iter().cloned().collect();
            if live.is_empty() || shared.is_fallen_back() {
                continue;
            }
            let mut invocation = RENEW.prepare_invoke();
            invocation.key(&shared.slots_key).arg(millis(shared.lease));
            for id in &live {
                invocation.arg(id);
            }
            let _ = shared.call::<i64>(invocation).await;
        }
    });
}

impl RedisPacer {
    /// How many Redis calls this worker's pacer made (admissions, releases, renewals, refusals).
    pub fn redis_calls(&self) -> u64 {
        self.shared.redis_calls.load(Ordering::Relaxed)
    }

    /// True while the worker paces on its own because Redis was unreachable.
    pub fn is_fallen_back(&self) -> bool {
        self.shared.degraded.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Pacer for RedisPacer {
    async fn admit(&self) -> Admission {
        let shared = &self.shared;
        loop {
            if shared.is_fallen_back() {
                return shared.admit_fallback().await;
            }
            let sequence = shared.sequence.fetch_add(1, Ordering::SeqCst);
            let id = format!("{}:{sequence}", shared.worker);
            // Counted before the call, so that a caller who gives up mid-call still gives the lease back.
            shared.in_flight.fetch_add(1, Ordering::SeqCst);
            lock(&shared.live).insert(id.clone());
            let lease = Lease { id: id.clone(), shared: Arc::downgrade(shared) };
            match shared.try_admit(&id).await {
                Ok(Reply::Admitted { wait }) => {
                    shared.rejoin();
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    return Admission::new(sequence, SystemTime::now()).holding(lease);
                }
                Ok(Reply::Full) => {
                    shared.rejoin();
                    // Not admitted: nothing to give back, so the lease is forgotten rather than released.
                    let mut lease = lease;
                    lock(&shared.live).remove(&id);
                    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                    lease.shared = Weak::new();
                    drop(lease);
                    tokio::time::sleep(Duration::from_millis(10 + fastrand::u64(..20))).await;
                }
                Err(error) => {
                    let mut lease = lease;
                    lock(&shared.live).remove(&id);
                    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                    lease.shared = Weak::new();
                    drop(lease);
                    shared.fall_back(&error);
                    return shared.admit_fallback().await;
                }
            }
        }
    }

    fn observe(&self, admission: Admission, observation: &Observation) {
        let shared = &self.shared;
        let inner = lock(&shared.fallback_admissions).remove(&admission.sequence());
        if let Some(inner) = inner {
            shared.fallback.observe(inner, observation);
            return;
        }
        let refusal = match observation.signal {
            Signal::Answered => {
                lock(&shared.pending).clean += 1;
                None
            }
            Signal::Throttled { limit, .. } => Some(limit == Some(ServiceProtectionLimit::ConcurrentRequests)),
            _ => None,
        };
        drop(admission);
        if let Some(concurrency) = refusal
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let shared = Arc::clone(shared);
            runtime.spawn(async move { shared.share_refusal(concurrency).await });
        }
    }

    fn state(&self) -> PacerState {
        let shared = &self.shared;
        if shared.degraded.load(Ordering::SeqCst) {
            return shared.fallback.state();
        }
        let (limit, rate) = *lock(&shared.seen);
        PacerState::new(shared.in_flight.load(Ordering::SeqCst), limit, LimitSource::Shared).with_rate(rate)
    }
}

impl fmt::Debug for RedisPacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPacer")
            .field("slots_key", &self.shared.slots_key)
            .field("worker", &self.shared.worker)
            .field("fallen_back", &self.is_fallen_back())
            .field("state", &self.state())
            .finish()
    }
}
