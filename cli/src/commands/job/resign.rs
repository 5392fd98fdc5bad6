//! `shiftpay job resign ID`: the worker leaves an active job. Funded and changes-requested
//! milestones go back to the client; submitted and disputed ones run to their end.

use alloy::primitives::U256;
use clap::Args;
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState};

use super::common::{
    ActionReport, SendOpts, Session, chain_now, load_job, milestone_state, send_and_report,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job resign`.
#[derive(Debug, Args)]
pub(crate) struct ResignArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &ResignArgs, out: &OutputArgs) -> eyre::Result<()> {
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    let tx = session.call(&MilestoneEscrow::resignCall { jobId: U256::from(job.id) });
    let what = format!("resign from job {}", job.id);
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let refunded: U256 = job
        .milestones
        .iter()
        .filter(|m| {
            matches!(milestone_state(m), MilestoneState::Funded | MilestoneState::ChangesRequested)
        })
        .map(|m| U256::from(m.amount))
        .sum();
    let open: Vec<String> = job
        .milestones
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            matches!(milestone_state(m), MilestoneState::Submitted | MilestoneState::Disputed)
        })
        .map(|(i, _)| i.to_string())
        .collect();
    let summary =
        format!("resigned from job {}: {} back to the client", job.id, job.amount(refunded));
    let mut report = ActionReport::new(&session, &job, &receipt, "resign", None, summary, now);
    if !open.is_empty() {
        report.notes.push(format!(
            "submitted or disputed milestone{} {} still run{} to the end: approval, release after review, ruling or settlement",
            if open.len() == 1 { "" } else { "s" },
            open.join(", "),
            if open.len() == 1 { "s" } else { "" }
        ));
    }
    report.emit(out)
}
