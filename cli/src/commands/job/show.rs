//! `shiftpay job show ID`: a job's terms and its milestones (states, amounts in the token's
//! units, windows as dates and as "in 2d 3h").

use alloy::primitives::{B256, U256};
use clap::Args;
use serde::Serialize;
use shiftpay_bindings::{
    escrow::{JobState, MilestoneState},
    units::format_duration,
};

use super::common::{
    Loaded, chain_now, format_bps, job_state_name, load_job, milestone_state, relative, state_name,
    when,
};
use crate::{context::Context, opts::ChainOpts, output::OutputArgs};

/// Arguments of `shiftpay job show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    #[command(flatten)]
    chain: ChainOpts,
}

pub(super) async fn run(args: &ShowArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    let escrow = ctx.deployment()?.escrow.address;
    let job = load_job(&ctx, escrow, args.id).await?;
    let now = chain_now(&ctx).await?;
    let view = JobView::new(&ctx, &job, now);
    out.emit(&view, JobView::print)
}

/// The token of a job, as printed.
#[derive(Debug, Clone, Serialize)]
pub(super) struct TokenView {
    pub(super) symbol: String,
    pub(super) address: String,
    pub(super) decimals: u8,
    pub(super) native: bool,
}

/// A job as `show` prints it (and `create` after creating it).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JobView {
    pub(super) id: u64,
    pub(super) status: &'static str,
    pub(super) client: String,
    pub(super) worker: String,
    /// `None`: no arbiter.
    pub(super) arbiter: Option<String>,
    pub(super) arbiter_fee_bps: u16,
    pub(super) token: TokenView,
    /// Seconds.
    pub(super) review_period: u32,
    /// Seconds.
    pub(super) ruling_period: u32,
    pub(super) max_change_requests: u8,
    /// Unix seconds; `None`: no deadline.
    pub(super) deadline: Option<u64>,
    /// Last second of the worker's cancellation notice, once the client gave notice (unix
    /// seconds).
    pub(super) cancel_notice_end: Option<u64>,
    pub(super) metadata_hash: Option<B256>,
    /// Sum of the milestones, in the token.
    pub(super) total: String,
    /// Token units (a decimal string).
    pub(super) total_units: String,
    /// Still held by the escrow (funded, not paid out).
    pub(super) escrowed: String,
    pub(super) milestones: Vec<MilestoneView>,
    /// The chain's time the windows were compared with.
    pub(super) chain_time: u64,
    #[serde(skip)]
    deadline_text: Option<String>,
}

/// One milestone as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MilestoneView {
    pub(super) index: usize,
    pub(super) state: &'static str,
    pub(super) amount: String,
    pub(super) amount_units: String,
    pub(super) change_requests: u8,
    /// End of the current window (review, response or ruling), unix seconds.
    pub(super) window_end: Option<u64>,
    /// The window in words, with what may happen next.
    pub(super) window: String,
}

impl JobView {
    pub(super) fn new(ctx: &Context, loaded: &Loaded, now: u64) -> Self {
        let job = &loaded.job;
        let total: U256 = loaded.milestones.iter().map(|m| U256::from(m.amount)).sum();
        let escrowed: U256 = loaded
            .milestones
            .iter()
            .filter(|m| milestone_state(m).holds_funds())
            .map(|m| U256::from(m.amount))
            .sum();
        let milestones = loaded
            .milestones
            .iter()
            .enumerate()
            .map(|(index, m)| {
                let state = milestone_state(m);
                let window_end = matches!(
                    state,
                    MilestoneState::Submitted
                        | MilestoneState::ChangesRequested
                        | MilestoneState::Disputed
                )
                .then_some(m.windowEnd);
                MilestoneView {
                    index,
                    state: state_name(state),
                    amount: loaded.amount(m.amount),
                    amount_units: m.amount.to_string(),
                    change_requests: m.changeRequests,
                    window_end,
                    window: window_text(loaded, state, m.windowEnd, m.changeRequests, now),
                }
            })
            .collect();
        let deadline = (job.deadline != 0).then_some(job.deadline);
        Self {
            id: loaded.id,
            status: job_state_name(loaded.state),
            client: ctx.format_address(job.client),
            worker: ctx.format_address(job.worker),
            arbiter: (!job.arbiter.is_zero()).then(|| ctx.format_address(job.arbiter)),
            arbiter_fee_bps: job.arbiterFeeBps,
            token: TokenView {
                symbol: loaded.token.symbol.clone(),
                address: ctx.format_address(loaded.token.address),
                decimals: loaded.token.decimals,
                native: loaded.token.is_native(),
            },
            review_period: job.reviewPeriod,
            ruling_period: job.rulingPeriod,
            max_change_requests: job.maxChangeRequests,
            deadline,
            cancel_notice_end: (job.cancelNoticeEnd != 0).then_some(job.cancelNoticeEnd),
            metadata_hash: (job.metadataHash != B256::ZERO).then_some(job.metadataHash),
            total: loaded.amount(total),
            total_units: total.to_string(),
            escrowed: loaded.amount(escrowed),
            milestones,
            chain_time: now,
            deadline_text: deadline.map(|d| when(d, now)),
        }
    }

    /// The job as a block of `label  value` lines, then the milestones table.
    pub(super) fn print(&self) {
        println!("job {}  {}", self.id, self.status);
        let row = |label: &str, value: &str| println!("  {label:<15} {value}");
        row("client", &self.client);
        row("worker", &self.worker);
        match &self.arbiter {
            Some(arbiter) => row(
                "arbiter",
                &format!(
                    "{arbiter} (fee {}, rules within {})",
                    format_bps(self.arbiter_fee_bps),
                    format_duration(u64::from(self.ruling_period))
                ),
            ),
            None => row(
                "arbiter",
                "none: no disputes; change requests, a settlement both sign, or silence",
            ),
        }
        let token = if self.token.native {
            format!("{} (native)", self.token.symbol)
        } else {
            format!("{} {}", self.token.symbol, self.token.address)
        };
        row("token", &token);
        row(
            "review period",
            &format!(
                "{} (up to {} change request{} per milestone)",
                format_duration(u64::from(self.review_period)),
                self.max_change_requests,
                if self.max_change_requests == 1 { "" } else { "s" }
            ),
        );
        row("deadline", self.deadline_text.as_deref().unwrap_or("none"));
        if let Some(end) = self.cancel_notice_end {
            let text = if self.status == "cancelling" && self.chain_time > end {
                format!(
                    "over {}: `shiftpay job cancel {}` refunds the funded milestones not submitted",
                    relative(end, self.chain_time),
                    self.id
                )
            } else {
                format!("until {}", when(end, self.chain_time))
            };
            row("cancel notice", &text);
        }
        if let Some(hash) = self.metadata_hash {
            row("terms", &hash.to_string());
        }
        row("total", &format!("{} ({} in escrow)", self.total, self.escrowed));
        println!();
        let amount_width = self.milestones.iter().map(|m| m.amount.len()).max().unwrap_or(6).max(6);
        println!("  {:<3} {:<18} {:<amount_width$}  window", "#", "state", "amount");
        for m in &self.milestones {
            let line = format!(
                "  {:<3} {:<18} {:<amount_width$}  {}",
                m.index, m.state, m.amount, m.window
            );
            println!("{}", line.trim_end());
        }
    }
}

/// The current window of a milestone and what may happen next.
fn window_text(
    job: &Loaded,
    state: MilestoneState,
    window_end: u64,
    change_requests: u8,
    now: u64,
) -> String {
    let open = now <= window_end;
    match state {
        MilestoneState::Unfunded => "the client funds it with `job fund`".to_owned(),
        MilestoneState::Funded if job.state == JobState::Cancelling => {
            let notice = job.job.cancelNoticeEnd;
            if now <= notice {
                format!(
                    "cancellation notice: the worker may still submit it until {}",
                    when(notice, now)
                )
            } else {
                format!(
                    "cancellation notice over {}: `job cancel` refunds it",
                    relative(notice, now)
                )
            }
        }
        MilestoneState::Funded => "awaiting the worker's submission".to_owned(),
        MilestoneState::Submitted if open => {
            format!("client reviews until {}", when(window_end, now))
        }
        MilestoneState::Submitted => {
            format!(
                "review over {}: anyone can release it to the worker",
                relative(window_end, now)
            )
        }
        MilestoneState::ChangesRequested if !job.has_arbiter() && open => format!(
            "changes requested ({change_requests} of {}): the worker resubmits until {}",
            job.job.maxChangeRequests,
            when(window_end, now)
        ),
        MilestoneState::ChangesRequested if !job.has_arbiter() => format!(
            "changes requested ({change_requests} of {}), unanswered {}: the worker may still resubmit; the client may take it back with `job reclaim`",
            job.job.maxChangeRequests,
            relative(window_end, now)
        ),
        MilestoneState::ChangesRequested if open => format!(
            "changes requested ({change_requests} of {}): the worker resubmits, or contests until {}",
            job.job.maxChangeRequests,
            when(window_end, now)
        ),
        MilestoneState::ChangesRequested => format!(
            "changes requested ({change_requests} of {}); response window over {}: the worker may resubmit",
            job.job.maxChangeRequests,
            relative(window_end, now)
        ),
        MilestoneState::Disputed if open => {
            format!("the arbiter rules until {}", when(window_end, now))
        }
        MilestoneState::Disputed => format!(
            "ruling period over {}: either party can split it 50/50 with `job release`",
            relative(window_end, now)
        ),
        MilestoneState::Released | MilestoneState::Resolved | MilestoneState::Refunded => {
            String::new()
        }
    }
}
