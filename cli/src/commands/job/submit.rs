//! `shiftpay job submit ID MILESTONE --deliverable FILE|URL`: the worker submits a milestone.
//! The deliverable is hashed for the contract (keccak256 of the file's bytes, or of the URL
//! string); the command waits for the submission's confirmations before it says to share the
//! deliverable, so the client never sees work whose submission could still vanish in a reorg.

use alloy::{
    primitives::{B256, U256},
    sol_types::SolEvent,
};
use clap::{ArgGroup, Args};
use eyre::eyre;
use serde::Serialize;
use shiftpay_bindings::escrow::MilestoneEscrow;

use super::common::{
    Hashed, SendOpts, Session, TxSummary, chain_now, given_hash, hash_reference, load_job,
    send_and_report, when,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job submit`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["deliverable", "deliverable_hash"])))]
pub(crate) struct SubmitArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// The milestone (numbered from 0).
    #[arg(value_name = "MILESTONE")]
    milestone: u64,

    /// The deliverable: a file (keccak256 of its bytes goes on chain) or a URL (keccak256 of the
    /// URL string).
    #[arg(long, value_name = "FILE|URL")]
    deliverable: Option<String>,

    /// The deliverable's hash as 32 bytes of hex, computed elsewhere (a commit, an IPFS digest).
    #[arg(long, value_name = "HASH")]
    deliverable_hash: Option<String>,

    #[command(flatten)]
    send: SendOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Submitted {
    job_id: u64,
    milestone: u64,
    deliverable: Hashed,
    /// Last second of the client's review window (unix seconds).
    review_end: u64,
    message: String,
    tx: TxSummary,
}

pub(super) async fn run(args: &SubmitArgs, out: &OutputArgs) -> eyre::Result<()> {
    let deliverable = match (&args.deliverable, &args.deliverable_hash) {
        (Some(reference), _) => hash_reference(reference, "deliverable")?,
        (None, Some(hex)) => given_hash(hex.trim().parse::<B256>().map_err(|_| {
            eyre!(
                "--deliverable-hash {hex:?} is not 32 bytes of hex (0x followed by 64 hex digits)"
            )
        })?),
        (None, None) => unreachable!("clap requires one"),
    };
    let session = Session::open(&args.send).await?;
    let job = load_job(&session.ctx, session.escrow, args.id).await?;
    job.milestone(args.milestone)?;
    eprintln!("deliverable: {} = {}", deliverable.description, deliverable.hash);
    let tx = session.call(&MilestoneEscrow::submitCall {
        jobId: U256::from(job.id),
        milestoneIndex: U256::from(args.milestone),
        deliverableHash: deliverable.hash,
    });
    let what = format!("submit milestone {} of job {}", args.milestone, job.id);
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(&session.ctx).await?;
    let review_end = receipt
        .logs()
        .iter()
        .filter(|log| log.address() == session.escrow)
        .find_map(|log| MilestoneEscrow::MilestoneSubmitted::decode_log(&log.inner).ok())
        .map(|event| u64::try_from(event.data.reviewEnd).unwrap_or(u64::MAX))
        .ok_or_else(|| {
            eyre!("the transaction {} has no MilestoneSubmitted event", receipt.transaction_hash)
        })?;
    let message = format!(
        "submitted and confirmed: share the deliverable now. The client reviews until {}; if they stay silent, \
         anyone can release the milestone to you after that (`shiftpay job release {} {}`).",
        when(review_end, now),
        job.id,
        args.milestone
    );
    let submitted = Submitted {
        job_id: job.id,
        milestone: args.milestone,
        deliverable,
        review_end,
        message,
        tx: TxSummary::new(&session.ctx, &receipt, session.escrow, &job, now),
    };
    out.emit(&submitted, |s| {
        println!("milestone {} of job {}: {}", s.milestone, s.job_id, s.message);
        println!("deliverable hash {} ({})", s.deliverable.hash, s.deliverable.description);
        s.tx.print();
    })
}
