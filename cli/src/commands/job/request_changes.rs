//! `shiftpay job request-changes ID MILESTONE --reason FILE|URL`: the client asks for changes on
//! a submitted milestone within its review window (at most the job's cap per milestone).

use alloy::{primitives::U256, sol_types::SolEvent};
use clap::{ArgGroup, Args};
use serde::Serialize;
use shiftpay_bindings::escrow::MilestoneEscrow;

use super::common::{
    ActionReport, Hashed, SendOpts, Session, chain_now, hash_reference, hash_text, load_job,
    send_and_report, when,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job request-changes`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("why").required(true).args(["reason", "reason_text"])))]
pub(crate) struct RequestChangesArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// The milestone (numbered from 0).
    #[arg(value_name = "MILESTONE")]
    milestone: u64,

    /// What to change, as a file (keccak256 of its bytes goes on chain) or a URL.
    #[arg(long, value_name = "FILE|URL")]
    reason: Option<String>,

    /// What to change, as text (keccak256 of it goes on chain; send the text to the worker).
    #[arg(long, value_name = "TEXT")]
    reason_text: Option<String>,

    #[command(flatten)]
    send: SendOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChangesRequested {
    #[serde(flatten)]
    report: ActionReport,
    reason: Hashed,
}

pub(super) async fn run(args: &RequestChangesArgs, out: &OutputArgs) -> eyre::Result<()> {
    let reason = match (&args.reason, &args.reason_text) {
        (Some(reference), _) => hash_reference(reference, "reason")?,
        (None, Some(text)) => hash_text(text),
        (None, None) => unreachable!("clap requires one"),
    };
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    job.milestone(args.milestone)?;
    eprintln!("reason: {} = {}", reason.description, reason.hash);
    let tx = session.call(&MilestoneEscrow::requestChangesCall {
        jobId: U256::from(job.id),
        milestoneIndex: U256::from(args.milestone),
        reasonHash: reason.hash,
    });
    let what = format!("request changes on milestone {} of job {}", args.milestone, job.id);
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let event = receipt
        .logs()
        .iter()
        .filter(|log| log.address() == session.escrow)
        .find_map(|log| MilestoneEscrow::ChangesRequested::decode_log(&log.inner).ok())
        .map(|log| log.data);
    let (count, response_end) = event
        .map(|e| (e.changeRequests.to::<u64>(), u64::try_from(e.responseEnd).unwrap_or(u64::MAX)))
        .unwrap_or_default();
    let max = job.job.maxChangeRequests;
    let contest = if job.has_arbiter() {
        format!("resubmits, or contests before the arbiter until {}", when(response_end, now))
    } else {
        "resubmits (no arbiter: there is nothing to contest)".to_owned()
    };
    let summary = format!(
        "asked for changes on milestone {} of job {} (change request {count} of {max}): the worker {contest}",
        args.milestone, job.id
    );
    let mut report = ActionReport::new(
        &session,
        &job,
        &receipt,
        "request-changes",
        Some(args.milestone),
        summary,
        now,
    );
    if u64::from(max) <= count {
        report.notes.push(format!(
            "that was the last change request allowed on milestone {}: on its next submission, approve it{}, or agree a split (`shiftpay sign settle`)",
            args.milestone,
            if job.has_arbiter() { ", dispute it" } else { "" }
        ));
    }
    out.emit(&ChangesRequested { report: report.clone(), reason }, |c| {
        println!("{}", c.report.summary);
        println!("reason hash {} ({})", c.reason.hash, c.reason.description);
        c.report.tx.print();
        for note in &c.report.notes {
            println!("{note}");
        }
    })
}
