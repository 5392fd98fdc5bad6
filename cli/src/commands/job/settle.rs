//! `shiftpay job settle ID MILESTONE --with FILE`: a party settles a milestone with the split the
//! other party signed (`shiftpay sign settle`): calling is this party's consent, the file's
//! signature the other's. No arbiter, no fee.

use std::path::PathBuf;

use alloy::primitives::U256;
use clap::Args;
use eyre::bail;
use shiftpay_bindings::units::format_amount;

use super::common::{
    ActionReport, SendOpts, Session, chain_now, load_job, role_of, send_and_report,
};
use crate::{
    commands::{
        sign::document::{Action, Document, Message},
        submit::prepare,
    },
    output::OutputArgs,
};

/// Arguments of `shiftpay job settle`.
#[derive(Debug, Args)]
pub(crate) struct SettleArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// The milestone (numbered from 0).
    #[arg(value_name = "MILESTONE")]
    milestone: u64,

    /// The other party's signed settlement (from `shiftpay sign settle`).
    #[arg(long = "with", value_name = "FILE")]
    with: PathBuf,

    #[command(flatten)]
    send: SendOpts,
}

pub(super) async fn run(args: &SettleArgs, out: &OutputArgs) -> eyre::Result<()> {
    let document = Document::load(&args.with)?;
    let shown = args.with.display().to_string();
    let Message::Settle(terms) = &document.entries[0].message else {
        bail!("{shown} is a signed {}, not a settlement", document.action);
    };
    if document.action != Action::Settle {
        bail!("{shown} is not a settlement");
    }
    if terms.jobId != U256::from(args.id) || terms.milestoneIndex != U256::from(args.milestone) {
        bail!(
            "{shown} settles milestone {} of job {}, not milestone {} of job {}",
            terms.milestoneIndex,
            terms.jobId,
            args.milestone,
            args.id
        );
    }
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    let submission = prepare(&session.ctx, &document, &shown).await?;
    if let Some(from) = session.sender.address() {
        let Some(role) = role_of(&job.job, from) else {
            bail!(
                "{} is neither the client nor the worker of job {}: send the file with `shiftpay submit` once both parties signed it",
                session.ctx.format_address(from),
                job.id
            );
        };
        if let Some((needed, _)) = submission.required_sender
            && needed.to_string() != role
        {
            bail!(
                "{shown} is the {role}'s own signature: the {needed} settles with it (or countersigns it)"
            );
        }
    }
    let Some(receipt) =
        send_and_report(&session, submission.tx, &submission.what, &args.send.tx, out).await?
    else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let summary = format!(
        "settled milestone {} of job {}: {}% to the worker",
        args.milestone,
        job.id,
        format_amount(terms.workerBps, 2)
    );
    ActionReport::new(&session, &job, &receipt, "settle", Some(args.milestone), summary, now)
        .emit(out)
}
