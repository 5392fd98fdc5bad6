//! `shiftpay job resolve ID MILESTONE --worker-share 70%`: the arbiter rules a disputed
//! milestone within the ruling period. The arbiter's fee comes off the top; the worker gets its
//! share of the rest, the client the remainder.

use alloy::primitives::U256;
use clap::Args;
use eyre::eyre;
use shiftpay_bindings::escrow::{BPS, MilestoneEscrow};

use super::common::{
    ActionReport, SendOpts, Session, chain_now, format_bps, load_job, parse_share, send_and_report,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job resolve`.
#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// The milestone (numbered from 0).
    #[arg(value_name = "MILESTONE")]
    milestone: u64,

    /// The worker's share of the milestone after the arbiter's fee: `70%`, `7000bps`.
    #[arg(long, value_name = "PERCENT")]
    worker_share: String,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &ResolveArgs, out: &OutputArgs) -> eyre::Result<()> {
    let bps = parse_share(&args.worker_share).map_err(|e| eyre!("--worker-share: {e}"))?;
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    let (milestone, _) = job.milestone(args.milestone)?;
    let amount = U256::from(milestone.amount);
    let fee = amount * U256::from(job.job.arbiterFeeBps) / U256::from(BPS);
    let worker = (amount - fee) * U256::from(bps) / U256::from(BPS);
    let client = amount - fee - worker;
    let split = format!(
        "{} to the worker, {} to the client, {} fee to the arbiter",
        job.amount(worker),
        job.amount(client),
        job.amount(fee)
    );
    let tx = session.call(&MilestoneEscrow::resolveCall {
        jobId: U256::from(job.id),
        milestoneIndex: U256::from(args.milestone),
        workerBps: U256::from(bps),
    });
    let what = format!(
        "resolve milestone {} of job {} ({} to the worker: {split})",
        args.milestone,
        job.id,
        format_bps(bps)
    );
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let summary = format!("resolved milestone {} of job {}: {split}", args.milestone, job.id);
    ActionReport::new(&session, &job, &receipt, "resolve", Some(args.milestone), summary, now)
        .emit(out)
}
