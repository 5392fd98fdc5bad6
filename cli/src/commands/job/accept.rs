//! `shiftpay job accept ID`: the worker accepts an offered job, which becomes active.

use alloy::primitives::U256;
use clap::Args;
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState};

use super::common::{
    ActionReport, SendOpts, Session, chain_now, load_job, milestone_state, send_and_report,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job accept`.
#[derive(Debug, Args)]
pub(crate) struct AcceptArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &AcceptArgs, out: &OutputArgs) -> eyre::Result<()> {
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    let tx = session.call(&MilestoneEscrow::acceptJobCall { jobId: U256::from(job.id) });
    let what = format!("accept job {}", job.id);
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let funded =
        job.milestones.iter().filter(|m| milestone_state(m) == MilestoneState::Funded).count();
    let total = job.milestones.len();
    let mut report = ActionReport::new(
        &session,
        &job,
        &receipt,
        "accept",
        None,
        format!("accepted job {}: {funded} of {total} milestones funded, ready to submit", job.id),
        now,
    );
    if funded < total {
        report.notes.push(format!(
            "only funded milestones can be submitted: the client funds the others with `shiftpay job fund {}`",
            job.id
        ));
    }
    report.emit(out)
}
