//! `shiftpay job release ID MILESTONE`: the timeouts that keep a job moving. A submitted
//! milestone whose review window passed in silence is paid to the worker (anyone may call); a
//! disputed milestone whose ruling period passed without a ruling is split 50/50 (a party calls).

use alloy::primitives::U256;
use clap::Args;
use eyre::bail;
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState};

use super::common::{
    ActionReport, SendOpts, Session, chain_now, load_job, send_and_report, state_name,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job release`.
#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// The milestone (numbered from 0).
    #[arg(value_name = "MILESTONE")]
    milestone: u64,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &ReleaseArgs, out: &OutputArgs) -> eyre::Result<()> {
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    let (milestone, state) = job.milestone(args.milestone)?;
    let amount = job.amount(milestone.amount);
    let (job_id, index) = (U256::from(job.id), U256::from(args.milestone));
    let (tx, what, summary) = match state {
        MilestoneState::Submitted => (
            session.call(&MilestoneEscrow::releaseAfterReviewCall {
                jobId: job_id,
                milestoneIndex: index,
            }),
            format!(
                "release milestone {} of job {} after its review window ({amount})",
                args.milestone, job.id
            ),
            format!(
                "released milestone {} of job {} after its review window: {amount} to the worker",
                args.milestone, job.id
            ),
        ),
        MilestoneState::Disputed => (
            session.call(&MilestoneEscrow::settleAfterRulingTimeoutCall {
                jobId: job_id,
                milestoneIndex: index,
            }),
            format!(
                "split milestone {} of job {} 50/50 after the ruling period",
                args.milestone, job.id
            ),
            format!(
                "split milestone {} of job {} 50/50: the arbiter did not rule in time",
                args.milestone, job.id
            ),
        ),
        other => bail!(
            "milestone {} of job {} is {}: only a submitted milestone (after its review window) or a disputed one (after the ruling period) can be released",
            args.milestone,
            job.id,
            state_name(other)
        ),
    };
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    ActionReport::new(&session, &job, &receipt, "release", Some(args.milestone), summary, now)
        .emit(out)
}
