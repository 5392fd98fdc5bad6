//! `shiftpay sign approve JOB MILESTONE`: the client signs the approval of a milestone; anyone
//! submits it (`shiftpay submit`, a relayer) and the worker is paid.

use alloy::primitives::U256;
use clap::Args;
use eyre::{bail, eyre};
use shiftpay_bindings::escrow::{Approval, MilestoneEscrow, MilestoneState};

use super::{
    SignOpts, Signing, Target,
    document::{Document, Message, Role},
    emit, propose_message,
};
use crate::{
    commands::job::common::{load_job, state_name},
    output::OutputArgs,
};

/// Arguments of `shiftpay sign approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The job's id.
    #[arg(value_name = "JOB")]
    job: u64,

    /// The milestone (numbered from 0).
    #[arg(value_name = "MILESTONE")]
    milestone: u64,

    #[command(flatten)]
    opts: SignOpts,
}

pub(super) async fn run(args: &ApproveArgs, out: &OutputArgs) -> eyre::Result<()> {
    let target = Target::open(&args.opts, |d| d.escrow.address).await?;
    let signing = Signing::open(&args.opts, &target, None).await?;
    let mut description = format!("approve milestone {} of job {}", args.milestone, args.job);
    let nonce = match (Signing::given_nonce(&args.opts)?, &target.ctx) {
        (Some(nonce), _) => nonce,
        (None, Some(ctx)) => MilestoneEscrow::new(target.contract, &ctx.provider)
            .nonces(signing.signer)
            .call()
            .await
            .map_err(|e| eyre!("cannot read the signer's nonce: {e}"))?,
        (None, None) => unreachable!("offline signing has --nonce"),
    };
    if let Some(ctx) = &target.ctx {
        let job = load_job(ctx, target.contract, args.job).await?;
        if signing.signer != job.job.client {
            bail!(
                "{} is not the client of job {} (the client is {}): the escrow takes approvals signed by the client only",
                ctx.format_address(signing.signer),
                job.id,
                ctx.format_address(job.job.client)
            );
        }
        let (milestone, state) = job.milestone(args.milestone)?;
        if state.is_terminal() {
            bail!(
                "milestone {} of job {} is {}: there is nothing left to approve",
                args.milestone,
                job.id,
                state_name(state)
            );
        }
        if state == MilestoneState::Unfunded {
            eprintln!(
                "note: milestone {} is not funded yet: the approval can be submitted once it is",
                args.milestone
            );
        }
        description = format!(
            "approve milestone {} of job {}: {} to the worker {}",
            args.milestone,
            job.id,
            job.amount(milestone.amount),
            ctx.format_address(job.job.worker)
        );
    }
    let message = Message::Approve(Approval {
        jobId: U256::from(args.job),
        milestoneIndex: U256::from(args.milestone),
        nonce,
        deadline: U256::from(signing.deadline),
    });
    let entry = signing.sign(Role::Client, message, &target).await?;
    let document = Document::single(target.chain_id(), target.contract, description, entry);
    if signing.safe.is_some() {
        return propose_message(&document, &target, &signing, args.opts.out.as_deref(), out);
    }
    emit(&document, &target, args.opts.out.as_deref(), out)
}
