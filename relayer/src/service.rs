//! The task owner: [`Relayer::start`] builds what every task shares ([`Context`]: config, chain
//! facts, provider, store, signer) and spawns the tasks; [`RelayerHandle::shutdown`] stops them
//! in order.
//!
//! # Tasks
//! A task is a [`Task`] trait object (or a closure, [`task_fn`]) registered in a [`Stage`]. Each
//! gets a [`TaskContext`]: the shared [`Context`] and a [`CancellationToken`] that is cancelled
//! when its stage is stopped. A task returns `Ok(())` once cancelled; returning (or failing, or
//! panicking) while not cancelled is a failure: it is logged, [`RelayerHandle::wait`] returns,
//! and the binary shuts the service down (a supervisor such as systemd restarts it; the store
//! makes that safe).
//!
//! # Shutdown order
//! [`RelayerHandle::shutdown`] cancels the stages one after the other, waiting for each to end
//! before the next: [`Stage::Api`] (stop accepting requests), [`Stage::Watcher`],
//! [`Stage::Scheduler`], then [`Stage::Sender`], which finishes its in-flight step (a sender
//! checks its token only between steps), then closes the store. The whole sequence is bounded by
//! `shutdown_timeout`; tasks still running then are aborted (the store's one-transaction rule
//! keeps that safe) and reported.
//!
//! # The tasks
//! [`Relayer::start`] registers, in shutdown order: the API ([`crate::api::ApiServer`]: signed
//! requests, `/health`, `/ready`, `/metrics` on `api.listen`), the watcher
//! ([`crate::watcher::Watcher`]: confirmed logs, block-hash window, reorg rollback), the scheduler
//! ([`crate::scheduler::Scheduler`]: paydays and thresholds) and the sender
//! ([`crate::sender::Sender`]: re-check, nonce + record in one store transaction, broadcast,
//! confirm, replace).
//!
//! # Several instances on one database
//! Each process has its own [`Context::instance`] id ([`instance_id`]). The watcher takes the
//! store's cursor lease under that id ([`crate::store::CURSOR_LEASE`], for `leader_lease`):
//! the holder is the leader (follows the logs, schedules paydays), the others are followers
//! (API and sender only) and take over within one lease when the leader stops renewing it; a
//! clean shutdown releases it. `/ready` and `/metrics` show the id and the role.

use std::{
    fmt,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use async_trait::async_trait;
use shiftpay_bindings::{
    chains::{ChainError, ChainInfo},
    deployment::Deployment,
    rpc::{NodeError, connect_http_with_timeout, redact_url},
    tokens::Token,
    tx::TxPolicy,
    wallet::WalletError,
};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::{
    config::{Config, ConfigErrors, fmt_duration},
    store::{self, Store, StoreError},
};

/// How long [`Relayer::start`] keeps retrying to reach the node before giving up.
pub const STARTUP_NODE_DEADLINE: Duration = Duration::from_secs(60);

/// Why the relayer could not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The configuration or a file it names is wrong.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The RPC URL is not usable.
    #[error("rpc_url {url}: {reason}")]
    RpcUrl {
        /// The URL (redacted).
        url: String,
        /// Why.
        reason: String,
    },
    /// The node is on another chain, or did not answer in time.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The signing key could not be loaded.
    #[error("cannot load the signer ({description}): {source}")]
    Signer {
        /// Where it was to come from.
        description: String,
        /// Why.
        #[source]
        source: WalletError,
    },
    /// The store could not be opened.
    #[error("cannot open the store {url}: {source}")]
    Store {
        /// The storage URL (redacted).
        url: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The API address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Tasks failed, or did not stop within the shutdown timeout.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Tasks(Vec<TaskFailure>),
}

/// What a task returns when it fails.
pub type TaskError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A task that failed, ended by itself, panicked or outlived the shutdown timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The task's name.
    pub task: &'static str,
    /// What happened.
    pub reason: String,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {} {}", self.task, self.reason)
    }
}

/// Shutdown groups, in the order [`RelayerHandle::shutdown`] stops them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// HTTP: API, health, metrics. Stopped first: no new requests.
    Api,
    /// Follows logs, records blocks and derived payouts.
    Watcher,
    /// Turns events and paydays into due payouts.
    Scheduler,
    /// Sends transactions; stopped last, after finishing its in-flight step.
    Sender,
}

impl Stage {
    /// Every stage, in shutdown order.
    pub const SHUTDOWN_ORDER: [Self; 4] = [Self::Api, Self::Watcher, Self::Scheduler, Self::Sender];
}

/// What every task shares.
pub struct Context {
    /// The configuration.
    pub config: Arc<Config>,
    /// Chain facts from the node (confirmations and log range from the config).
    pub chain: ChainInfo,
    /// The contracts.
    pub deployment: Deployment,
    /// HTTP provider without fillers, every request bounded by `rpc_timeout`.
    pub provider: DynProvider,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The signing key (sign locally, e.g. inside a [`store::BuildTx`] closure).
    pub signer: PrivateKeySigner,
    /// The transaction policy (chain defaults + the config's gas settings).
    pub tx_policy: TxPolicy,
    /// Payout thresholds per token, in token units (from `payout_threshold`).
    pub thresholds: Vec<(Token, U256)>,
    /// This process's id as a lease holder (`claim_due`, `allocate_nonce_and_record_tx`).
    pub instance: String,
}

impl Context {
    /// The signer's address.
    pub fn signer_address(&self) -> Address {
        self.signer.address()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("chain_id", &self.chain.chain_id)
            .field("signer", &self.signer.address())
            .field("store", &self.store.backend())
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// What a running task gets.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The shared context.
    pub shared: Arc<Context>,
    /// Cancelled when the task's stage stops: finish the current step, then return `Ok(())`.
    pub cancel: CancellationToken,
}

/// A long-running part of the relayer.
#[async_trait]
pub trait Task: Send + 'static {
    /// Name for logs and errors (`watcher`, `sender`...).
    fn name(&self) -> &'static str;

    /// When it is stopped.
    fn stage(&self) -> Stage;

    /// Runs until `ctx.cancel` is cancelled, then returns `Ok(())`.
    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError>;
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send + 'static>>;

/// A [`Task`] made from a closure.
pub struct FnTask {
    name: &'static str,
    stage: Stage,
    run: Box<dyn FnOnce(TaskContext) -> BoxFuture + Send + 'static>,
}

/// A task from a closure: `task_fn("metrics", Stage::Api, |ctx| async move { ... })`.
pub fn task_fn<F, Fut>(name: &'static str, stage: Stage, run: F) -> FnTask
where
    F: FnOnce(TaskContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
{
    FnTask { name, stage, run: Box::new(move |ctx| Box::pin(run(ctx))) }
}

#[async_trait]
impl Task for FnTask {
    fn name(&self) -> &'static str {
        self.name
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        (self.run)(ctx).await
    }
}

/// A spawned task.
struct Running {
    name: &'static str,
    stage: Stage,
    /// The supervisor that awaits the task and records how it ended.
    supervisor: JoinHandle<()>,
    /// The task itself, to abort it after the shutdown timeout.
    abort: AbortHandle,
}

/// Spawns tasks over one [`Context`]; [`Relayer::start`] uses it, tests and benchmarks may too.
pub struct Service {
    shared: Arc<Context>,
    tasks: Vec<Box<dyn Task>>,
    api_addr: Option<SocketAddr>,
}

impl Service {
    /// A service over `shared`, with no task yet.
    pub fn new(shared: Arc<Context>) -> Self {
        Self { shared, tasks: Vec::new(), api_addr: None }
    }

    /// Registers a task.
    pub fn add(&mut self, task: impl Task) -> &mut Self {
        self.tasks.push(Box::new(task));
        self
    }

    /// Records the address the API task listens on (for [`RelayerHandle::api_addr`]).
    pub fn set_api_addr(&mut self, addr: SocketAddr) -> &mut Self {
        self.api_addr = Some(addr);
        self
    }

    /// Spawns every task (on the current tokio runtime).
    pub fn spawn(self) -> RelayerHandle {
        let failed = CancellationToken::new();
        let failures: Arc<Mutex<Vec<TaskFailure>>> = Arc::default();
        let stages: Vec<(Stage, CancellationToken)> =
            Stage::SHUTDOWN_ORDER.iter().map(|&stage| (stage, CancellationToken::new())).collect();
        let mut running = Vec::new();
        for task in self.tasks {
            let (name, stage) = (task.name(), task.stage());
            let cancel = stages.iter().find(|(s, _)| *s == stage).expect("every stage").1.clone();
            let ctx = TaskContext { shared: self.shared.clone(), cancel: cancel.clone() };
            let inner = tokio::spawn(task.run(ctx).instrument(info_span!("task", name)));
            let abort = inner.abort_handle();
            let (failed, failures) = (failed.clone(), failures.clone());
            let supervisor = tokio::spawn(async move {
                let reason = match inner.await {
                    Ok(Ok(())) if cancel.is_cancelled() => {
                        debug!(task = name, "stopped");
                        return;
                    }
                    Ok(Ok(())) => "ended by itself".to_owned(),
                    Ok(Err(err)) => format!("failed: {err}"),
                    Err(join) if join.is_panic() => "panicked".to_owned(),
                    Err(_) => "was aborted".to_owned(),
                };
                error!(task = name, %reason, "task stopped unexpectedly");
                failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(TaskFailure { task: name, reason });
                failed.cancel();
            });
            info!(task = name, ?stage, "task started");
            running.push(Running { name, stage, supervisor, abort });
        }
        RelayerHandle {
            shared: self.shared,
            stages,
            running,
            failed,
            failures,
            api_addr: self.api_addr,
        }
    }
}

/// The running relayer.
pub struct RelayerHandle {
    shared: Arc<Context>,
    stages: Vec<(Stage, CancellationToken)>,
    running: Vec<Running>,
    failed: CancellationToken,
    failures: Arc<Mutex<Vec<TaskFailure>>>,
    api_addr: Option<SocketAddr>,
}

impl fmt::Debug for RelayerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayerHandle")
            .field("tasks", &self.running.iter().map(|r| r.name).collect::<Vec<_>>())
            .field("api_addr", &self.api_addr)
            .finish_non_exhaustive()
    }
}

impl RelayerHandle {
    /// The shared context (store, provider, signer...).
    pub fn context(&self) -> &Arc<Context> {
        &self.shared
    }

    /// The address the HTTP server listens on (the real port when `api.listen` had port 0).
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_addr
    }

    /// The names of the tasks that were started.
    pub fn task_names(&self) -> Vec<&'static str> {
        self.running.iter().map(|r| r.name).collect()
    }

    /// Waits until a task fails or ends while not asked to (never returns while all run well),
    /// and returns what happened. Then call [`RelayerHandle::shutdown`].
    pub async fn wait(&self) -> Vec<TaskFailure> {
        self.failed.cancelled().await;
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Aborts every task at once, with no cleanup: no lease released, nothing flushed, the
    /// store left open until the last reference goes (what a `kill -9` does to the process;
    /// fault tests, and a guard's `Drop`). The store's one-transaction rule keeps it safe.
    pub fn abort(self) {
        for task in &self.running {
            task.abort.abort();
            task.supervisor.abort();
        }
        warn!(instance = %self.shared.instance, "relayer aborted");
    }

    /// Stops the stages in [`Stage::SHUTDOWN_ORDER`], each after the previous one ended, then
    /// closes the store; at most `shutdown_timeout` in all (tasks still running then are
    /// aborted). Errors list the tasks that failed at any time or had to be aborted.
    pub async fn shutdown(self) -> Result<(), ServiceError> {
        let timeout = self.shared.config.shutdown_timeout;
        let deadline = Instant::now() + timeout;
        let mut running = self.running;
        let mut late = Vec::new();
        for (stage, token) in &self.stages {
            token.cancel();
            let (now_stopping, rest): (Vec<_>, Vec<_>) =
                running.into_iter().partition(|r| r.stage == *stage);
            running = rest;
            for task in now_stopping {
                let left = deadline.saturating_duration_since(Instant::now());
                let mut supervisor = task.supervisor;
                if tokio::time::timeout(left, &mut supervisor).await.is_err() {
                    warn!(task = task.name, "did not stop in time: aborted");
                    task.abort.abort();
                    let _ = supervisor.await;
                    late.push(TaskFailure {
                        task: task.name,
                        reason: format!("did not stop within {}", fmt_duration(timeout)),
                    });
                }
            }
            debug!(?stage, "stage stopped");
        }
        self.shared.store.close().await;
        info!("relayer stopped");
        let mut failures =
            self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        failures.extend(late);
        if failures.is_empty() { Ok(()) } else { Err(ServiceError::Tasks(failures)) }
    }
}

/// Entry point of the library: `Relayer::start(config).await?` then `handle.shutdown().await`.
#[derive(Debug)]
pub struct Relayer;

impl Relayer {
    /// Checks the environment (deployment file, thresholds), connects to the node (retrying
    /// for up to [`STARTUP_NODE_DEADLINE`]; a node on another chain is an error at once), loads
    /// the signer, opens and migrates the store, and spawns the tasks.
    pub async fn start(config: Config) -> Result<RelayerHandle, ServiceError> {
        let environment = config.check_environment()?;
        let provider = connect(&config.rpc_url, config.rpc_timeout)?;
        let mut chain = detect_chain(&provider, &config).await?;
        chain.confirmations = config.confirmations;
        chain.log_range = config.log_range;
        let tx_policy = config.tx_policy(&chain);

        let signer_config = config.signer.clone();
        let signer = tokio::task::spawn_blocking(move || signer_config.load())
            .await
            .expect("loading the signer does not panic")
            .map_err(|source| ServiceError::Signer {
                description: config.signer.description.clone(),
                source,
            })?;

        let store = store::open(&config.storage)
            .await
            .map_err(|source| ServiceError::Store { url: config.storage.redacted(), source })?;
        let cursor = store.cursor().await.ok().flatten();

        let listener = if config.api.enabled {
            let addr = config.api.listen;
            Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServiceError::Bind { addr, source })?,
            )
        } else {
            None
        };

        let shared = Arc::new(Context {
            config: Arc::new(config),
            chain,
            deployment: environment.deployment,
            provider,
            store,
            signer,
            tx_policy,
            thresholds: environment.thresholds,
            instance: instance_id(),
        });
        info!(
            chain_id = shared.chain.chain_id,
            rpc_url = %redact_url(&shared.config.rpc_url),
            signer = %shared.chain.format_address(shared.signer.address()),
            store = shared.store.backend(),
            cursor = ?cursor.map(|c| c.block),
            instance = %shared.instance,
            "relayer starting"
        );

        let metrics = Arc::new(crate::metrics::Metrics::new());
        let sender_options = crate::sender::SenderOptions::from_config(&shared.config);
        let sender = crate::sender::Sender::new(shared.clone(), metrics.clone(), sender_options);
        let watcher = crate::watcher::Watcher::from_context(&shared);
        // The sender wakes as soon as the watcher inserts payouts, not at its next poll.
        let sender = sender.follow_watcher(watcher.status());
        let (book, status) = (watcher.book(), watcher.status());
        let scheduler = crate::scheduler::Scheduler::from_context(&shared, book, status.clone());
        let mut service = Service::new(shared);
        if let Some(listener) = listener {
            let addr = listener.local_addr().map_err(|source| ServiceError::Bind {
                addr: service.shared.config.api.listen,
                source,
            })?;
            service.set_api_addr(addr);
            // The full API (requests, /health, /ready, /metrics) on the listener.
            let options = crate::api::ApiOptions::from_config(&service.shared.config);
            service.add(
                crate::api::ApiServer::new(listener, metrics.clone(), options).with_watcher(status),
            );
        }
        service.add(watcher);
        service.add(scheduler);
        service.add(sender);
        Ok(service.spawn())
    }
}

/// The relayer's provider: `shiftpay_bindings::rpc::connect_http_with_timeout` (no fillers,
/// every request bounded by `timeout`), its error as a [`ServiceError::RpcUrl`].
pub fn connect(url: &str, timeout: Duration) -> Result<DynProvider, ServiceError> {
    connect_http_with_timeout(url, timeout).map_err(|err| ServiceError::RpcUrl {
        url: redact_url(url),
        reason: match err {
            NodeError::Unreachable { reason, .. } => reason,
            other => other.to_string(),
        },
    })
}

/// Reads the chain facts from the node, retrying transport failures with backoff for up to
/// [`STARTUP_NODE_DEADLINE`].
async fn detect_chain(provider: &DynProvider, config: &Config) -> Result<ChainInfo, ServiceError> {
    let deadline = Instant::now() + STARTUP_NODE_DEADLINE;
    let mut delay = Duration::from_millis(500);
    loop {
        let result = tokio::time::timeout(
            config.rpc_timeout * 2,
            ChainInfo::detect(provider, config.chain.preset()),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ChainError::Rpc {
                method: "eth_chainId",
                reason: format!("no answer within {}", fmt_duration(config.rpc_timeout * 2)),
            })
        });
        match result {
            Ok(info) if info.chain_id == config.chain.chain_id() => return Ok(info),
            Ok(info) => {
                return Err(ChainError::WrongChain {
                    expected: config.chain.chain_id(),
                    expected_name: config.chain.preset().map_or("the configured chain", |p| p.name),
                    found: info.chain_id,
                }
                .into());
            }
            Err(err @ ChainError::Rpc { .. }) if Instant::now() + delay < deadline => {
                warn!(%err, retry_in = %fmt_duration(delay), "node not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// A lease-holder id unique to this process: `pid<PID>-<random>` (each call draws a new one, so
/// two [`Relayer::start`]s in one process are two instances).
pub fn instance_id() -> String {
    // The tail of a UUID v7 is random (its head is the time).
    let random = uuid::Uuid::now_v7().simple().to_string();
    format!("pid{}-{}", std::process::id(), &random[random.len() - 8..])
}
