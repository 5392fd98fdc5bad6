//! `shiftpay job approve ID MILESTONE`: the client approves a milestone; its amount is paid to
//! the worker at once. (For an approval signed now and submitted by anyone later, see `shiftpay
//! sign approve`.)

use alloy::primitives::U256;
use clap::Args;
use shiftpay_bindings::escrow::MilestoneEscrow;

use super::common::{ActionReport, SendOpts, Session, chain_now, load_job, send_and_report};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// The milestone (numbered from 0).
    #[arg(value_name = "MILESTONE")]
    milestone: u64,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &ApproveArgs, out: &OutputArgs) -> eyre::Result<()> {
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    let (milestone, _) = job.milestone(args.milestone)?;
    let amount = job.amount(milestone.amount);
    let tx = session.call(&MilestoneEscrow::approveMilestoneCall {
        jobId: U256::from(job.id),
        milestoneIndex: U256::from(args.milestone),
    });
    let what = format!("approve milestone {} of job {} ({amount})", args.milestone, job.id);
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let summary =
        format!("approved milestone {} of job {}: {amount} to the worker", args.milestone, job.id);
    ActionReport::new(&session, &job, &receipt, "approve", Some(args.milestone), summary, now)
        .emit(out)
}
