//! `shiftpay job cancel ID`: the client ends a job.
//!
//! - An offer not accepted yet is withdrawn: every funded milestone is refunded at once.
//! - An active job is cancelled with notice to the worker: funded milestones stay submittable for
//!   one review period (never beyond the deadline); submitted, changes-requested and disputed
//!   milestones run to their end (cancelling never dodges a payment). With nothing left to give
//!   notice for (no funded milestone, or the deadline passed) the job is cancelled at once.
//! - Once the notice is over, `job cancel ID` again (anyone may send it: the refund only goes to
//!   the client) refunds the funded milestones the worker did not submit.

use alloy::{primitives::U256, rpc::types::TransactionReceipt, sol_types::SolEventInterface};
use clap::Args;
use eyre::bail;
use shiftpay_bindings::escrow::{
    JobState, MilestoneEscrow, MilestoneEscrow::MilestoneEscrowEvents, MilestoneState,
};

use super::common::{
    ActionReport, Loaded, SendOpts, Session, chain_now, job_state_name, load_job, milestone_state,
    send_and_report, when,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job cancel`.
#[derive(Debug, Args)]
pub(crate) struct CancelArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &CancelArgs, out: &OutputArgs) -> eyre::Result<()> {
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    let id = U256::from(job.id);
    let (tx, what, action) = match job.state {
        JobState::Offered => (
            session.call(&MilestoneEscrow::withdrawOfferCall { jobId: id }),
            format!("withdraw the offer of job {}", job.id),
            "withdraw-offer",
        ),
        JobState::Active => (
            session.call(&MilestoneEscrow::cancelCall { jobId: id }),
            format!("cancel job {}", job.id),
            "cancel",
        ),
        JobState::Cancelling => {
            let now = chain_now(&session.ctx).await?;
            let notice_end = job.job.cancelNoticeEnd;
            if now <= notice_end {
                bail!(
                    "job {} is under cancellation notice until {}: the worker may still submit its funded milestones; after that, `shiftpay job cancel {}` refunds the ones not submitted",
                    job.id,
                    when(notice_end, now),
                    job.id
                );
            }
            (
                session.call(&MilestoneEscrow::finalizeCancelCall { jobId: id }),
                format!("finish cancelling job {} (the notice is over)", job.id),
                "finalize-cancel",
            )
        }
        other => bail!(
            "job {} is {}: only an offered or active job can be cancelled",
            job.id,
            job_state_name(other)
        ),
    };
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let after = load_job(&session.ctx, session.escrow, args.id).await?;
    let (summary, notes) = cancel_outcome(&after, &receipt, session.escrow, now);
    let mut report = ActionReport::new(&session, &job, &receipt, action, None, summary, now);
    report.notes = notes;
    report.emit(out)
}

/// The sentence and notes for what the transaction did to `job` (as it is after it): the one
/// place that words a cancellation.
fn cancel_outcome(
    job: &Loaded,
    receipt: &TransactionReceipt,
    escrow: alloy::primitives::Address,
    now: u64,
) -> (String, Vec<String>) {
    let mut refunded: Vec<U256> = Vec::new();
    let mut refund_total = U256::ZERO;
    let mut notice_end = None;
    for log in receipt.logs().iter().filter(|l| l.address() == escrow) {
        match MilestoneEscrowEvents::decode_log(&log.inner).map(|l| l.data) {
            Ok(MilestoneEscrowEvents::MilestoneRefunded(e)) => {
                refunded.push(e.milestoneIndex);
                refund_total += e.amount;
            }
            Ok(MilestoneEscrowEvents::CancellationNoticed(e)) => {
                notice_end = Some(u64::try_from(e.noticeEnd).unwrap_or(u64::MAX));
            }
            _ => {}
        }
    }
    let list =
        |indices: &[usize]| indices.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
    let indices_in = |states: &[MilestoneState]| -> Vec<usize> {
        job.milestones
            .iter()
            .enumerate()
            .filter(|(_, m)| states.contains(&milestone_state(m)))
            .map(|(i, _)| i)
            .collect()
    };
    let mut notes = Vec::new();
    let running = indices_in(&[
        MilestoneState::Submitted,
        MilestoneState::ChangesRequested,
        MilestoneState::Disputed,
    ]);
    if !running.is_empty() {
        notes.push(format!(
            "milestone{} {} still run{} to {} end: approval, release after the review window, a ruling or a settlement; a change request can still be answered",
            plural(running.len()),
            list(&running),
            if running.len() == 1 { "s" } else { "" },
            if running.len() == 1 { "its" } else { "their" }
        ));
    }
    if let Some(notice_end) = notice_end {
        let open = indices_in(&[MilestoneState::Funded]);
        let summary = format!(
            "gave notice of cancellation of job {}: the worker may still submit funded milestone{} {} until {}",
            job.id,
            plural(open.len()),
            list(&open),
            when(notice_end, now)
        );
        notes.insert(
            0,
            format!(
                "after the notice, `shiftpay job cancel {}` (anyone may send it) refunds to the client the funded milestones not submitted",
                job.id
            ),
        );
        return (summary, notes);
    }
    let refund = if refunded.is_empty() {
        "nothing to refund".to_owned()
    } else {
        let names = refunded.iter().map(U256::to_string).collect::<Vec<_>>().join(", ");
        format!(
            "{} refunded to the client (milestone{} {names})",
            job.amount(refund_total),
            plural(refunded.len())
        )
    };
    let summary = match job.state {
        JobState::Withdrawn => format!("withdrew the offer of job {}: {refund}", job.id),
        _ => format!("cancelled job {}: {refund}", job.id),
    };
    (summary, notes)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
