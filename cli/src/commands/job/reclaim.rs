//! `shiftpay job reclaim ID [MILESTONE]`: the client takes back escrowed funds the worker left
//! behind. With MILESTONE: a milestone whose change request the worker left unanswered for the
//! whole response window (jobs without an arbiter; with one, the client disputes instead).
//! Without: every funded milestone never submitted once the job's deadline has passed.

use alloy::primitives::U256;
use clap::Args;
use shiftpay_bindings::escrow::MilestoneEscrow;

use super::common::{ActionReport, SendOpts, Session, chain_now, load_job, send_and_report};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job reclaim`.
#[derive(Debug, Args)]
pub(crate) struct ReclaimArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// An abandoned milestone (changes requested, response window over, no arbiter). Without
    /// it: the funded milestones never submitted, after the job's deadline.
    #[arg(value_name = "MILESTONE")]
    milestone: Option<u64>,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &ReclaimArgs, out: &OutputArgs) -> eyre::Result<()> {
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    let id = U256::from(job.id);
    let (tx, what) = match args.milestone {
        Some(index) => {
            job.milestone(index)?;
            (
                session.call(&MilestoneEscrow::reclaimAbandonedCall {
                    jobId: id,
                    milestoneIndex: U256::from(index),
                }),
                format!("reclaim abandoned milestone {index} of job {}", job.id),
            )
        }
        None => (
            session.call(&MilestoneEscrow::reclaimExpiredCall { jobId: id }),
            format!("reclaim the unsubmitted milestones of job {} after its deadline", job.id),
        ),
    };
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let mut report =
        ActionReport::new(&session, &job, &receipt, "reclaim", args.milestone, String::new(), now);
    let refunded = report.tx.events.iter().filter(|e| e.event == "MilestoneRefunded").count();
    report.summary = match args.milestone {
        Some(index) => format!(
            "reclaimed milestone {index} of job {}: the worker left the change request unanswered",
            job.id
        ),
        None => format!(
            "reclaimed {refunded} unsubmitted milestone{} of job {} after its deadline",
            if refunded == 1 { "" } else { "s" },
            job.id
        ),
    };
    report.emit(out)
}
