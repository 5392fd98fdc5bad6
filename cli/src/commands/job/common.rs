//! What the `job` subcommands share: the option groups of a sending command, loading a job with
//! its milestones and token, hashing a deliverable, percentages, deadlines and relative times,
//! sending with the escrow's reverts explained, and a receipt's escrow events as sentences.

use std::path::Path;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256, keccak256},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::SolEventInterface,
};
use clap::Args;
use eyre::{bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{
    escrow::MilestoneEscrow,
    escrow::{
        BPS, Job, JobState, Milestone, MilestoneEscrow::MilestoneEscrowEvents, MilestoneState,
        ResolutionKind,
    },
    revert::{DecodedRevert, RevertKind, format_value},
    tokens::{Token, TokenRef, resolve_token},
    tx::TxError,
    units::{self, format_duration, format_time},
};

use crate::{
    context::{Context, Sender, Sent},
    opts::{ChainOpts, TxOpts, WalletOpts},
};

/// The option groups of a `job` command that sends a transaction.
#[derive(Debug, Clone, Args)]
pub(crate) struct SendOpts {
    #[command(flatten)]
    pub(crate) chain: ChainOpts,
    #[command(flatten)]
    pub(crate) wallet: WalletOpts,
    #[command(flatten)]
    pub(crate) tx: TxOpts,
}

/// A connected command: the context, the escrow's address and the sender.
pub(crate) struct Session {
    pub(crate) ctx: Context,
    pub(crate) escrow: Address,
    pub(crate) sender: Sender,
}

impl Session {
    /// Connects, loads the deployment and the sender (no key with `--dry-run`).
    pub(crate) async fn open(opts: &SendOpts) -> eyre::Result<Self> {
        let ctx = Context::connect(&opts.chain).await?;
        let escrow = ctx.deployment()?.escrow.address;
        let sender = ctx.sender(&opts.wallet, &opts.tx)?;
        Ok(Self { ctx, escrow, sender })
    }

    /// A call to the escrow.
    pub(crate) fn call<C: alloy::sol_types::SolCall>(&self, call: &C) -> TransactionRequest {
        self.ctx.call_tx(self.escrow, call)
    }

    /// Sends `tx` (see [`send`]).
    pub(crate) async fn send(
        &self,
        tx: TransactionRequest,
        what: &str,
        opts: &TxOpts,
    ) -> eyre::Result<Sent> {
        send(&self.ctx, &self.sender, tx, what, opts).await
    }
}

/// [`Context::send`], with the escrow's custom errors followed by what they mean for this job.
pub(crate) async fn send(
    ctx: &Context,
    sender: &Sender,
    tx: TransactionRequest,
    what: &str,
    opts: &TxOpts,
) -> eyre::Result<Sent> {
    ctx.send(sender, tx, what, opts).await.map_err(|report| explain_report(ctx, report))
}

/// Appends [`explain_revert`] to a report whose cause is a decoded revert.
pub(crate) fn explain_report(ctx: &Context, report: eyre::Report) -> eyre::Report {
    let explanation = report
        .downcast_ref::<TxError>()
        .and_then(TxError::revert)
        .and_then(|r| explain_revert(ctx, r));
    match explanation {
        Some(text) => eyre!("{report}: {text}"),
        None => report,
    }
}

/// A job read from the escrow, with its milestones and token.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) id: u64,
    pub(crate) job: Job,
    pub(crate) state: JobState,
    pub(crate) milestones: Vec<Milestone>,
    pub(crate) token: Token,
}

impl Loaded {
    /// Milestone `index` and its state; an error naming the job's milestones when out of range.
    pub(crate) fn milestone(&self, index: u64) -> eyre::Result<(&Milestone, MilestoneState)> {
        let milestone = usize::try_from(index).ok().and_then(|i| self.milestones.get(i)).ok_or_else(|| {
            let count = self.milestones.len();
            eyre!(
                "job {} has no milestone {index}: its {count} milestone{} {} numbered from 0 to {}",
                self.id,
                if count == 1 { "" } else { "s" },
                if count == 1 { "is" } else { "are" },
                count.saturating_sub(1)
            )
        })?;
        Ok((milestone, milestone_state(milestone)))
    }

    /// Whether the job has an arbiter.
    pub(crate) fn has_arbiter(&self) -> bool {
        !self.job.arbiter.is_zero()
    }

    /// `amount` of the job's token: `250 USDRIF`.
    pub(crate) fn amount(&self, amount: impl TryInto<U256>) -> String {
        self.token.format_amount(amount.try_into().unwrap_or(U256::MAX))
    }

    /// Who `address` is in this job: `the client 0x…`, `the worker 0x…`, or just the address.
    pub(crate) fn who(&self, ctx: &Context, address: Address) -> String {
        let shown = ctx.format_address(address);
        match role_of(&self.job, address) {
            Some(role) => format!("the {role} {shown}"),
            None => shown,
        }
    }
}

/// `client`, `worker` or `arbiter` when `address` has that role in `job`.
pub(crate) fn role_of(job: &Job, address: Address) -> Option<&'static str> {
    if address == job.client {
        Some("client")
    } else if address == job.worker {
        Some("worker")
    } else if address == job.arbiter && !address.is_zero() {
        Some("arbiter")
    } else {
        None
    }
}

/// The milestone's state (an out-of-range value, which a newer contract could return, shows as
/// `Unfunded` rather than failing).
pub(crate) fn milestone_state(milestone: &Milestone) -> MilestoneState {
    MilestoneState::try_from(milestone.status).unwrap_or(MilestoneState::Unfunded)
}

/// How a milestone state is written in sentences and tables.
pub(crate) fn state_name(state: MilestoneState) -> &'static str {
    match state {
        MilestoneState::Unfunded => "unfunded",
        MilestoneState::Funded => "funded",
        MilestoneState::Submitted => "submitted",
        MilestoneState::ChangesRequested => "changes requested",
        MilestoneState::Disputed => "disputed",
        MilestoneState::Released => "released",
        MilestoneState::Resolved => "resolved",
        MilestoneState::Refunded => "refunded",
    }
}

/// How a job state is written in sentences and tables.
pub(crate) fn job_state_name(state: JobState) -> &'static str {
    match state {
        JobState::None => "not found",
        JobState::Offered => "offered",
        JobState::Active => "active",
        JobState::Withdrawn => "withdrawn",
        JobState::Cancelled => "cancelled",
        JobState::Resigned => "resigned",
        JobState::Cancelling => "cancelling",
    }
}

/// Reads job `id` with its milestones and resolves its token (an unlisted token is read on
/// chain: the job exists already, so it is shown whatever it is).
pub(crate) async fn load_job(ctx: &Context, escrow: Address, id: u64) -> eyre::Result<Loaded> {
    let contract = MilestoneEscrow::new(escrow, &ctx.provider);
    let job = contract
        .getJob(U256::from(id))
        .call()
        .await
        .map_err(|e| eyre!("cannot read job {id}: {e}"))?;
    let state =
        JobState::try_from(job.status).map_err(|v| eyre!("job {id} has an unknown status {v}"))?;
    if state == JobState::None {
        let count = contract
            .jobCount()
            .call()
            .await
            .map_err(|e| eyre!("cannot read the job count: {e}"))?;
        if count.is_zero() {
            bail!("there is no job {id}: no job was created on this escrow yet");
        }
        bail!("there is no job {id}: this escrow has jobs 1 to {count}");
    }
    let milestones = contract
        .getMilestones(U256::from(id))
        .call()
        .await
        .map_err(|e| eyre!("cannot read job {id}'s milestones: {e}"))?;
    let token = job_token(ctx, job.token).await?;
    Ok(Loaded { id, job, state, milestones, token })
}

/// The token of a job or a deferred payment (listed or not: it is shown, not chosen).
pub(crate) async fn job_token(ctx: &Context, address: Address) -> eyre::Result<Token> {
    let extra = ctx.deployment()?.tokens.clone();
    Ok(resolve_token(&ctx.provider, &ctx.chain, &TokenRef::Address(address), &extra, true).await?)
}

/// The latest block's timestamp: the time the contract compares windows with.
pub(crate) async fn chain_now(ctx: &Context) -> eyre::Result<u64> {
    let block = ctx
        .provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| eyre!("cannot read the latest block: {e}"))?
        .ok_or_else(|| eyre!("the node has no latest block"))?;
    Ok(block.header.timestamp)
}

/// `2026-12-01T00:00:00Z (in 2d 3h)`.
pub(crate) fn when(timestamp: u64, now: u64) -> String {
    format!("{} ({})", format_time(timestamp), relative(timestamp, now))
}

/// `in 2d 3h`, `5m ago` or `now`: the two largest units of the distance from `now`.
pub(crate) fn relative(timestamp: u64, now: u64) -> String {
    let short =
        |seconds: u64| format_duration(seconds).split(' ').take(2).collect::<Vec<_>>().join(" ");
    match timestamp.cmp(&now) {
        std::cmp::Ordering::Greater => format!("in {}", short(timestamp - now)),
        std::cmp::Ordering::Less => format!("{} ago", short(now - timestamp)),
        std::cmp::Ordering::Equal => "now".to_owned(),
    }
}

/// What was hashed for the contract (a deliverable, a change request's reason, the terms).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Hashed {
    /// The bytes32 the contract stores.
    pub(crate) hash: B256,
    /// `file`, `url`, `text` or `hash` (given as is).
    pub(crate) kind: &'static str,
    /// The file path, URL or text as given.
    pub(crate) source: String,
    /// What was hashed, in words.
    pub(crate) description: String,
}

/// Hashes a deliverable given as a file (keccak256 of its bytes) or a URL (keccak256 of the URL
/// string, as given). `what` names it in errors (`deliverable`).
pub(crate) fn hash_reference(input: &str, what: &str) -> eyre::Result<Hashed> {
    let path = Path::new(input);
    if path.is_file() {
        let bytes =
            std::fs::read(path).map_err(|e| eyre!("cannot read the {what} file {input}: {e}"))?;
        return Ok(Hashed {
            hash: keccak256(&bytes),
            kind: "file",
            source: input.to_owned(),
            description: format!("keccak256 of the file {input} ({} bytes)", bytes.len()),
        });
    }
    if path.is_dir() {
        bail!("the {what} {input} is a directory: give a file (an archive of it) or a URL");
    }
    if is_url(input) {
        return Ok(Hashed {
            hash: keccak256(input.as_bytes()),
            kind: "url",
            source: input.to_owned(),
            description: format!("keccak256 of the URL string {input}"),
        });
    }
    bail!("the {what} {input:?} is neither an existing file nor a URL (scheme://…)");
}

/// Hashes free text (keccak256 of its UTF-8 bytes).
pub(crate) fn hash_text(text: &str) -> Hashed {
    Hashed {
        hash: keccak256(text.as_bytes()),
        kind: "text",
        source: text.to_owned(),
        description: format!("keccak256 of the text ({} bytes)", text.len()),
    }
}

/// A hash given as 32 bytes of hex.
pub(crate) fn given_hash(hash: B256) -> Hashed {
    Hashed { hash, kind: "hash", source: hash.to_string(), description: "given as is".to_owned() }
}

/// `scheme://rest` with a plausible scheme (`https`, `ipfs`, `ar`, `git+ssh`...).
fn is_url(input: &str) -> bool {
    input.split_once("://").is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// A share or fee as basis points: `70%`, `12.5%`, `7000bps`. At most 100%.
pub(crate) fn parse_share(s: &str) -> Result<u16, String> {
    let text = s.trim();
    let bps = if let Some(pct) = text.strip_suffix('%') {
        let value = units::parse_amount(pct.trim(), 2).map_err(|_| {
            format!("{s:?} is not a percentage (e.g. 70%, 12.5%, with at most two decimals)")
        })?;
        u64::try_from(value).ok()
    } else if let Some(bps) = text.strip_suffix("bps") {
        Some(
            bps.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} is not a number of basis points (e.g. 7000bps)"))?,
        )
    } else {
        return Err(format!("{s:?} needs a unit: a percentage (70%) or basis points (7000bps)"));
    };
    match bps {
        Some(bps) if bps <= u64::from(BPS) => Ok(u16::try_from(bps).expect("at most 10,000")),
        _ => Err(format!("{s:?} is more than 100%")),
    }
}

/// `bps` as a percentage: `70%`, `12.5%`.
pub(crate) fn format_bps(bps: u16) -> String {
    format!("{}%", units::format_amount(U256::from(bps), 2))
}

/// A deadline: a duration from `now` (`2d`, `36h`) or a point in time (`2026-12-01`,
/// `2026-12-01T12:00:00Z`, `+3d`, unix seconds). Must be after `now`.
pub(crate) fn parse_deadline(s: &str, now: u64) -> eyre::Result<u64> {
    let deadline = match units::parse_duration(s) {
        Ok(seconds) => now.saturating_add(seconds),
        Err(duration_error) => units::parse_time(s, now).map_err(|time_error| {
            eyre!(
                "invalid deadline {s:?}: give a duration from now (2d, 36h) or a time (2026-12-01, 2026-12-01T12:00:00Z) ({})",
                if s.trim().chars().next().is_some_and(|c| c.is_ascii_digit()) && !s.contains('-') {
                    duration_error.to_string()
                } else {
                    time_error.to_string()
                }
            )
        })?,
    };
    if deadline <= now {
        bail!(
            "the deadline {} is not in the future (now is {})",
            format_time(deadline),
            format_time(now)
        );
    }
    Ok(deadline)
}

/// One escrow event of a receipt, as a sentence.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventLine {
    /// The event's name.
    pub(crate) event: &'static str,
    /// What happened.
    pub(crate) description: String,
}

/// What every sending `job` command prints about its transaction.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TxSummary {
    pub(crate) tx_hash: B256,
    pub(crate) block: u64,
    pub(crate) gas_used: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) explorer: Option<String>,
    pub(crate) events: Vec<EventLine>,
}

impl TxSummary {
    /// The receipt and its escrow events described with `job`'s token and roles.
    pub(crate) fn new(
        ctx: &Context,
        receipt: &TransactionReceipt,
        escrow: Address,
        job: &Loaded,
        now: u64,
    ) -> Self {
        Self {
            tx_hash: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            explorer: ctx.chain.tx_url(receipt.transaction_hash),
            events: describe_events(ctx, receipt, escrow, job, now),
        }
    }

    /// The receipt with events described by the caller.
    pub(crate) fn with_events(
        ctx: &Context,
        receipt: &TransactionReceipt,
        events: Vec<EventLine>,
    ) -> Self {
        Self {
            tx_hash: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            explorer: ctx.chain.tx_url(receipt.transaction_hash),
            events,
        }
    }

    /// Prints the events, one per line, then the transaction.
    pub(crate) fn print(&self) {
        for event in &self.events {
            println!("  {}", event.description);
        }
        match &self.explorer {
            Some(url) => println!("tx {} (block {}): {url}", self.tx_hash, self.block),
            None => println!("tx {} (block {})", self.tx_hash, self.block),
        }
    }
}

/// The escrow's events in `receipt`, as sentences (amounts in `job`'s token, parties named).
pub(crate) fn describe_events(
    ctx: &Context,
    receipt: &TransactionReceipt,
    escrow: Address,
    job: &Loaded,
    now: u64,
) -> Vec<EventLine> {
    let mut lines = Vec::new();
    for log in receipt.logs() {
        if log.address() != escrow {
            continue;
        }
        let Ok(decoded) = MilestoneEscrowEvents::decode_log(&log.inner) else { continue };
        let line = |event: &'static str, description: String| EventLine { event, description };
        let amt = |amount: U256| job.amount(amount);
        lines.push(match decoded.data {
            MilestoneEscrowEvents::JobCreated(e) => line(
                "JobCreated",
                format!("job {} created: offered to {}", e.jobId, job.who(ctx, e.worker)),
            ),
            MilestoneEscrowEvents::MilestoneFunded(e) => {
                line("MilestoneFunded", format!("milestone {} funded: {} escrowed", e.milestoneIndex, amt(e.amount)))
            }
            MilestoneEscrowEvents::JobAccepted(e) => {
                line("JobAccepted", format!("job {} accepted by {}: it is active", e.jobId, job.who(ctx, e.worker)))
            }
            MilestoneEscrowEvents::OfferWithdrawn(e) => line(
                "OfferWithdrawn",
                format!("offer of job {} withdrawn: {} refunded to the client", e.jobId, amt(e.refunded)),
            ),
            MilestoneEscrowEvents::MilestoneSubmitted(e) => line(
                "MilestoneSubmitted",
                format!(
                    "milestone {} submitted (deliverable {}): the client reviews until {}",
                    e.milestoneIndex,
                    e.deliverableHash,
                    when(u64::try_from(e.reviewEnd).unwrap_or(u64::MAX), now)
                ),
            ),
            MilestoneEscrowEvents::ChangesRequested(e) => {
                let answer = if job.has_arbiter() {
                    format!(
                        "the worker may resubmit, or contest until {}",
                        when(u64::try_from(e.responseEnd).unwrap_or(u64::MAX), now)
                    )
                } else {
                    "the worker may resubmit".to_owned()
                };
                line(
                    "ChangesRequested",
                    format!(
                        "changes requested on milestone {} ({} of {} allowed, reason {}): {answer}",
                        e.milestoneIndex, e.changeRequests, job.job.maxChangeRequests, e.reasonHash,
                    ),
                )
            }
            MilestoneEscrowEvents::MilestoneApproved(e) => line(
                "MilestoneApproved",
                format!(
                    "milestone {} approved{}: {} paid to {}",
                    e.milestoneIndex,
                    if e.bySignature { " by signature" } else { "" },
                    amt(e.amount),
                    job.who(ctx, e.worker)
                ),
            ),
            MilestoneEscrowEvents::MilestoneReleasedAfterReview(e) => line(
                "MilestoneReleasedAfterReview",
                format!(
                    "milestone {} released after its review window: {} paid to {}",
                    e.milestoneIndex,
                    amt(e.amount),
                    job.who(ctx, e.worker)
                ),
            ),
            MilestoneEscrowEvents::MilestoneDisputed(e) => line(
                "MilestoneDisputed",
                format!(
                    "milestone {} disputed by {}: the arbiter may rule until {}",
                    e.milestoneIndex,
                    job.who(ctx, e.disputant),
                    when(u64::try_from(e.rulingEnd).unwrap_or(u64::MAX), now)
                ),
            ),
            MilestoneEscrowEvents::MilestoneResolved(e) => {
                let how = match ResolutionKind::try_from(e.resolution) {
                    Ok(ResolutionKind::ArbiterRuling) => "by the arbiter's ruling",
                    Ok(ResolutionKind::RulingTimeout) => "50/50 after the ruling period",
                    Ok(ResolutionKind::Settlement) => "by settlement",
                    Err(_) => "",
                };
                let fee = if e.arbiterFee.is_zero() {
                    String::new()
                } else {
                    format!(", {} fee to the arbiter", amt(e.arbiterFee))
                };
                line(
                    "MilestoneResolved",
                    format!(
                        "milestone {} resolved {how}: {} to the worker, {} to the client{fee}",
                        e.milestoneIndex,
                        amt(e.workerAmount),
                        amt(e.clientAmount)
                    ),
                )
            }
            MilestoneEscrowEvents::MilestoneRefunded(e) => line(
                "MilestoneRefunded",
                format!("milestone {} refunded: {} back to the client", e.milestoneIndex, amt(e.amount)),
            ),
            MilestoneEscrowEvents::CancellationNoticed(e) => line(
                "CancellationNoticed",
                format!(
                    "notice of cancellation given: the worker may still submit funded milestones until {}",
                    when(u64::try_from(e.noticeEnd).unwrap_or(u64::MAX), now)
                ),
            ),
            MilestoneEscrowEvents::SignatureNonceUsed(e) => line(
                "SignatureNonceUsed",
                format!(
                    "signature of {} checked (nonce {} used, milestone {})",
                    job.who(ctx, e.signer),
                    e.nonce,
                    e.milestoneIndex
                ),
            ),
            MilestoneEscrowEvents::JobCancelled(e) => line(
                "JobCancelled",
                format!("job {} cancelled: {} refunded to the client", e.jobId, amt(e.refunded)),
            ),
            MilestoneEscrowEvents::WorkerResigned(e) => line(
                "WorkerResigned",
                format!("the worker resigned from job {}: {} refunded to the client", e.jobId, amt(e.refunded)),
            ),
            MilestoneEscrowEvents::ExpiredMilestonesReclaimed(e) => line(
                "ExpiredMilestonesReclaimed",
                format!("expired milestones of job {} reclaimed: {} refunded", e.jobId, amt(e.refunded)),
            ),
            MilestoneEscrowEvents::PaymentDeferred(e) => line(
                "PaymentDeferred",
                format!(
                    "the transfer of {} to {} failed: it is credited instead (`shiftpay job withdraw --token {}`)",
                    amt(e.amount),
                    job.who(ctx, e.account),
                    ctx.format_address(e.token)
                ),
            ),
            MilestoneEscrowEvents::DeferredPaymentWithdrawn(e) => line(
                "DeferredPaymentWithdrawn",
                format!(
                    "{} of deferred payments withdrawn by {} to {}",
                    amt(e.amount),
                    ctx.format_address(e.account),
                    ctx.format_address(e.to)
                ),
            ),
            MilestoneEscrowEvents::NonceInvalidated(e) => line(
                "NonceInvalidated",
                format!("nonce {} of {} invalidated", e.nonce, ctx.format_address(e.signer)),
            ),
            #[allow(unreachable_patterns)] // events a newer contract may add
            _ => continue,
        });
    }
    lines
}

/// What an escrow custom error means, in words, for the errors a user can cause. Matches by
/// name and argument name, so errors of a newer contract are still shown (by name) without it.
pub(crate) fn explain_revert(ctx: &Context, revert: &DecodedRevert) -> Option<String> {
    let RevertKind::Custom { name, args } = &revert.kind else { return None };
    let arg = |wanted: &str| args.iter().find(|a| a.name == wanted).map(|a| &a.value);
    let uint = |wanted: &str| arg(wanted).and_then(|v| v.as_uint()).map(|(v, _)| v);
    let address =
        |wanted: &str| arg(wanted).and_then(|v| v.as_address()).map(|a| ctx.format_address(a));
    let time =
        |wanted: &str| uint(wanted).map(|v| format_time(u64::try_from(v).unwrap_or(u64::MAX)));
    let state = |wanted: &str| {
        uint(wanted)
            .and_then(|v| u8::try_from(v).ok())
            .and_then(|v| MilestoneState::try_from(v).ok())
            .map(state_name)
    };
    let job_state = |wanted: &str| {
        uint(wanted)
            .and_then(|v| u8::try_from(v).ok())
            .and_then(|v| JobState::try_from(v).ok())
            .map(job_state_name)
    };
    let short = name.strip_prefix("MilestoneEscrow_")?;
    Some(match short {
        "NotClient" => format!("{} is not the job's client", address("caller")?),
        "NotWorker" => format!("{} is not the job's worker", address("caller")?),
        "NotArbiter" => format!("{} is not the job's arbiter", address("caller")?),
        "NotParty" => format!("{} is neither the job's client nor its worker", address("caller")?),
        "WrongJobStatus" => format!("job {} is {}", uint("jobId")?, job_state("status")?),
        "WrongMilestoneStatus" => {
            format!(
                "milestone {} of job {} is {}",
                uint("milestoneIndex")?,
                uint("jobId")?,
                state("status")?
            )
        }
        "WindowOpen" => format!("its window is open until {}", time("windowEnd")?),
        "WindowClosed" => format!("its window closed at {}", time("windowEnd")?),
        "ChangeRequestLimitReached" => {
            format!(
                "the job allows {} change requests per milestone: approve or dispute it",
                uint("max")?
            )
        }
        "DeadlinePassed" => format!("the job's deadline passed at {}", time("deadline")?),
        "DeadlineNotPassed" => "the job's deadline has not passed".to_owned(),
        "SignatureExpired" => format!("the signature expired at {}", time("deadline")?),
        "InvalidSignature" => format!(
            "the signature is not {}'s for these terms and its current nonce (used, invalidated or signed for other terms)",
            address("signer")?
        ),
        "JobNotFound" => format!("there is no job {}", uint("jobId")?),
        "MilestoneNotFound" => {
            format!("job {} has no milestone {}", uint("jobId")?, uint("milestoneIndex")?)
        }
        "NothingToWithdraw" => format!("nothing is owed to {} in this token", address("account")?),
        "InvalidBps" => format!("{} basis points is more than 100%", format_value(arg("bps")?)),
        "NoArbiter" => format!("job {} has no arbiter, so it has no disputes", uint("jobId")?),
        "HasArbiter" => format!(
            "job {} has an arbiter ({}): an unanswered change request is disputed, not reclaimed",
            uint("jobId")?,
            address("arbiter")?
        ),
        "NoticeRunning" => {
            format!("the worker's cancellation notice runs until {}", time("noticeEnd")?)
        }
        "NoticeOver" => format!(
            "the cancellation notice ended at {}: funded milestones can no longer be submitted",
            time("noticeEnd")?
        ),
        _ => return None,
    })
}

/// Sends an escrow call for job `job` and returns its receipt, or `None` after printing the dry
/// run.
pub(crate) async fn send_and_report(
    session: &Session,
    tx: TransactionRequest,
    what: &str,
    opts: &TxOpts,
    out: &crate::output::OutputArgs,
) -> eyre::Result<Option<TransactionReceipt>> {
    match session.send(tx, what, opts).await? {
        Sent::Mined(receipt) => Ok(Some(*receipt)),
        Sent::Simulated => {
            session.ctx.print_dry_run(out)?;
            Ok(None)
        }
    }
}

/// What a one-call `job` command prints: a headline, notes, and the transaction's events.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActionReport {
    pub(crate) job_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) milestone: Option<u64>,
    /// The command (`approve`, `cancel`...).
    pub(crate) action: &'static str,
    /// One sentence: what happened.
    pub(crate) summary: String,
    /// What the parties should know next.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) notes: Vec<String>,
    pub(crate) tx: TxSummary,
}

impl ActionReport {
    /// The report of `receipt` for `job`.
    pub(crate) fn new(
        session: &Session,
        job: &Loaded,
        receipt: &TransactionReceipt,
        action: &'static str,
        milestone: Option<u64>,
        summary: String,
        now: u64,
    ) -> Self {
        Self {
            job_id: job.id,
            milestone,
            action,
            summary,
            notes: Vec::new(),
            tx: TxSummary::new(&session.ctx, receipt, session.escrow, job, now),
        }
    }

    /// Prints it (`--json`: one document).
    pub(crate) fn emit(&self, out: &crate::output::OutputArgs) -> eyre::Result<()> {
        out.emit(self, |report| {
            println!("{}", report.summary);
            report.tx.print();
            for note in &report.notes {
                println!("{note}");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_in_percent_or_bps() {
        assert_eq!(parse_share("70%"), Ok(7000));
        assert_eq!(parse_share("12.5%"), Ok(1250));
        assert_eq!(parse_share("0%"), Ok(0));
        assert_eq!(parse_share("100%"), Ok(10_000));
        assert_eq!(parse_share("7000bps"), Ok(7000));
        assert!(parse_share("70").unwrap_err().contains("needs a unit"));
        assert!(parse_share("100.01%").unwrap_err().contains("more than 100%"));
        assert!(parse_share("12.345%").unwrap_err().contains("not a percentage"));
        assert!(parse_share("10001bps").is_err());
        assert_eq!(format_bps(7000u16), "70%");
        assert_eq!(format_bps(1250u16), "12.5%");
    }

    #[test]
    fn deadlines_from_durations_or_times() {
        let now = 1_764_547_200; // 2025-12-01T00:00:00Z
        assert_eq!(parse_deadline("2d", now).unwrap(), now + 172_800);
        assert_eq!(parse_deadline("+36h", now).unwrap(), now + 129_600);
        assert_eq!(parse_deadline("2025-12-02", now).unwrap(), now + 86_400);
        assert!(
            parse_deadline("2025-11-30", now)
                .unwrap_err()
                .to_string()
                .contains("not in the future")
        );
        assert!(
            parse_deadline("soon", now)
                .unwrap_err()
                .to_string()
                .starts_with("invalid deadline \"soon\"")
        );
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(1_000 + 2 * 86_400 + 3 * 3_600 + 59, 1_000), "in 2d 3h");
        assert_eq!(relative(1_000, 1_300), "5m ago");
        assert_eq!(relative(5, 5), "now");
    }

    #[test]
    fn deliverables_are_files_or_urls() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.pdf");
        std::fs::write(&file, b"hello").unwrap();
        let hashed = hash_reference(file.to_str().unwrap(), "deliverable").unwrap();
        assert_eq!(hashed.hash, keccak256(b"hello"));
        assert_eq!(hashed.kind, "file");
        assert!(hashed.description.ends_with("(5 bytes)"));
        let url = hash_reference("https://example.com/a.zip", "deliverable").unwrap();
        assert_eq!(url.hash, keccak256(b"https://example.com/a.zip"));
        assert_eq!(url.kind, "url");
        assert!(hash_reference("ipfs://bafy", "deliverable").is_ok());
        let missing = hash_reference("missing.pdf", "deliverable").unwrap_err().to_string();
        assert_eq!(
            missing,
            "the deliverable \"missing.pdf\" is neither an existing file nor a URL (scheme://…)"
        );
        assert!(hash_reference(dir.path().to_str().unwrap(), "deliverable").is_err());
    }
}
