//! `shiftpay job dispute ID MILESTONE`: the client (a submitted milestone within its review
//! window, or a changes-requested one whose worker let the response window pass) or the worker
//! (contesting a change request within the response window) brings a milestone to the arbiter.

use alloy::{primitives::U256, sol_types::SolEvent};
use clap::Args;
use eyre::bail;
use shiftpay_bindings::escrow::MilestoneEscrow;

use super::common::{ActionReport, SendOpts, Session, chain_now, load_job, send_and_report, when};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job dispute`.
#[derive(Debug, Args)]
pub(crate) struct DisputeArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// The milestone (numbered from 0).
    #[arg(value_name = "MILESTONE")]
    milestone: u64,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &DisputeArgs, out: &OutputArgs) -> eyre::Result<()> {
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    job.milestone(args.milestone)?;
    if !job.has_arbiter() {
        // The escrow's rule for jobs without an arbiter: no disputes (the contract refuses too).
        bail!(
            "job {} has no arbiter, so it has no disputes: ask for changes, approve, or agree a split you both sign (`shiftpay sign settle`)",
            job.id
        );
    }
    let tx = session.call(&MilestoneEscrow::disputeCall {
        jobId: U256::from(job.id),
        milestoneIndex: U256::from(args.milestone),
    });
    let what = format!("dispute milestone {} of job {}", args.milestone, job.id);
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let ruling_end = receipt
        .logs()
        .iter()
        .filter(|log| log.address() == session.escrow)
        .find_map(|log| MilestoneEscrow::MilestoneDisputed::decode_log(&log.inner).ok())
        .map_or(0, |e| u64::try_from(e.data.rulingEnd).unwrap_or(u64::MAX));
    let summary = format!(
        "disputed milestone {} of job {}: the arbiter {} rules until {}",
        args.milestone,
        job.id,
        session.ctx.format_address(job.job.arbiter),
        when(ruling_end, now)
    );
    let mut report =
        ActionReport::new(&session, &job, &receipt, "dispute", Some(args.milestone), summary, now);
    report.notes.push(format!(
        "if the arbiter stays silent, either party can split the milestone 50/50 after that (`shiftpay job release {} {}`); \
         the client can still approve it, and both can settle (`shiftpay sign settle`)",
        job.id, args.milestone
    ));
    report.emit(out)
}
