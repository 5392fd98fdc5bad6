//! `shiftpay sign settle JOB MILESTONE --worker-share 60%`: a party signs a split of a milestone
//! (no arbiter, no fee). The other party either calls `shiftpay job settle` with the file, or
//! countersigns it with `shiftpay sign settle --add FILE` so that anyone can submit both.

use std::path::PathBuf;

use alloy::primitives::U256;
use clap::Args;
use eyre::{bail, eyre};
use shiftpay_bindings::escrow::{BPS, MilestoneEscrow, MilestoneState, Settlement};

use super::{
    SignOpts, Signing, Target,
    document::{Action, Document, Message, Role},
    emit,
};
use crate::{
    commands::job::common::{Loaded, format_bps, load_job, parse_share, role_of, state_name},
    context::Context,
    output::OutputArgs,
};

/// Arguments of `shiftpay sign settle`.
#[derive(Debug, Args)]
pub(crate) struct SettleArgs {
    /// The job's id (not with `--add`: the file says).
    #[arg(value_name = "JOB", required_unless_present = "add", conflicts_with = "add")]
    job: Option<u64>,

    /// The milestone, numbered from 0 (not with `--add`).
    #[arg(value_name = "MILESTONE", required_unless_present = "add", conflicts_with = "add")]
    milestone: Option<u64>,

    /// The worker's share of the milestone: `60%`, `6000bps`; the client gets the rest.
    #[arg(long, value_name = "PERCENT", required_unless_present = "add", conflicts_with = "add")]
    worker_share: Option<String>,

    /// Which party you are, when signing offline (online it is read from the job).
    #[arg(long, value_name = "client|worker", value_parser = parse_role)]
    role: Option<Role>,

    /// Countersign: add your signature to FILE, a settlement the other party signed (same
    /// terms and deadline, your own nonce). Prints (or `--out`) the file with both.
    #[arg(long, value_name = "FILE")]
    add: Option<PathBuf>,

    #[command(flatten)]
    opts: SignOpts,
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "client" => Ok(Role::Client),
        "worker" => Ok(Role::Worker),
        _ => Err(format!("{s:?} is not a role: client or worker")),
    }
}

pub(super) async fn run(args: &SettleArgs, out: &OutputArgs) -> eyre::Result<()> {
    match &args.add {
        Some(path) => countersign(args, path, out).await,
        None => first(args, out).await,
    }
}

/// The first signature of a settlement.
async fn first(args: &SettleArgs, out: &OutputArgs) -> eyre::Result<()> {
    let (job_id, index) = (args.job.expect("clap"), args.milestone.expect("clap"));
    let bps = parse_share(args.worker_share.as_deref().expect("clap"))
        .map_err(|e| eyre!("--worker-share: {e}"))?;
    let target = Target::open(&args.opts, |d| d.escrow.address).await?;
    Signing::refuse_via(&args.opts, "settle")?;
    let signing = Signing::open(&args.opts, &target, None).await?;
    let (role, nonce, description) = match &target.ctx {
        Some(ctx) => {
            let job = load_job(ctx, target.contract, job_id).await?;
            let role = party(ctx, &job, signing.signer, args.role)?;
            check_settleable(&job, index)?;
            let nonce = match Signing::given_nonce(&args.opts)? {
                Some(nonce) => nonce,
                None => read_nonce(ctx, &target, &signing).await?,
            };
            (role, nonce, describe(&job, index, bps)?)
        }
        None => {
            let Some(role) = args.role else {
                bail!("signing a settlement offline needs --role client or --role worker");
            };
            let nonce = Signing::given_nonce(&args.opts)?.expect("offline signing has --nonce");
            (
                role,
                nonce,
                format!(
                    "settle milestone {index} of job {job_id}: {} to the worker",
                    format_bps(bps)
                ),
            )
        }
    };
    let message = Message::Settle(Settlement {
        jobId: U256::from(job_id),
        milestoneIndex: U256::from(index),
        workerBps: U256::from(bps),
        nonce,
        deadline: U256::from(signing.deadline),
    });
    let entry = signing.sign(role, message, &target).await?;
    let document = Document::single(target.chain_id(), target.contract, description, entry);
    emit(&document, &target, args.opts.out.as_deref(), out)?;
    eprintln!(
        "the {} either calls `shiftpay job settle {job_id} {index} --with FILE`, or adds a signature with `shiftpay sign settle --add FILE`",
        role.other()
    );
    Ok(())
}

/// The second signature, added to a file the other party signed.
async fn countersign(
    args: &SettleArgs,
    path: &std::path::Path,
    out: &OutputArgs,
) -> eyre::Result<()> {
    let mut document = Document::load(path)?;
    let shown = path.display();
    if document.action != Action::Settle {
        bail!("{shown} is a signed {}, not a settlement", document.action);
    }
    let [existing] = document.entries.as_slice() else {
        bail!("{shown} holds both signatures already: submit it with `shiftpay submit {shown}`");
    };
    let existing = existing.clone();
    Signing::refuse_via(&args.opts, "settle")?;
    let mut opts = args.opts.clone();
    if opts.chain_id.is_some_and(|id| id != document.chain_id) {
        bail!("--chain-id differs from {shown}'s chain {}", document.chain_id);
    }
    opts.chain_id = Some(document.chain_id);
    opts.contract = Some(document.contract.to_string());
    if opts.deadline.is_some() {
        bail!("--deadline cannot be given with --add: both signatures share {shown}'s deadline");
    }
    let deadline = u64::try_from(existing.message.deadline())
        .map_err(|_| eyre!("{shown}'s deadline is out of range"))?;
    let target = Target::open(&opts, |d| d.escrow.address).await?;
    let signing = Signing::open(&opts, &target, Some(deadline)).await?;
    if signing.signer == existing.signer {
        bail!(
            "{shown} is already signed by {}: the other party adds its signature",
            target.chain.format_address(existing.signer)
        );
    }
    let role = existing.role.other();
    let Message::Settle(terms) = &existing.message else { bail!("{shown} is not a settlement") };
    let nonce = match &target.ctx {
        Some(ctx) => {
            let job = load_job(ctx, target.contract, terms.jobId.to::<u64>()).await?;
            let mine = party(ctx, &job, signing.signer, Some(role))?;
            if mine != role {
                bail!(
                    "{shown} is signed by the {}; the {} adds the second signature",
                    existing.role,
                    role
                );
            }
            match Signing::given_nonce(&opts)? {
                Some(nonce) => nonce,
                None => read_nonce(ctx, &target, &signing).await?,
            }
        }
        None => Signing::given_nonce(&opts)?.expect("offline signing has --nonce"),
    };
    let entry = signing.sign(role, existing.message.with_nonce(nonce), &target).await?;
    document.entries.push(entry);
    document.entries.sort_by_key(|e| e.role);
    emit(&document, &target, args.opts.out.as_deref(), out)
}

/// The signer's role in the job (`--role`, when given, must agree).
fn party(
    ctx: &Context,
    job: &Loaded,
    signer: alloy::primitives::Address,
    claimed: Option<Role>,
) -> eyre::Result<Role> {
    let role = match role_of(&job.job, signer) {
        Some("client") => Role::Client,
        Some("worker") => Role::Worker,
        _ => bail!(
            "{} is neither the client nor the worker of job {}: only they can settle a milestone",
            ctx.format_address(signer),
            job.id
        ),
    };
    if let Some(claimed) = claimed
        && claimed != role
    {
        bail!("--role {claimed}: {} is the {role} of job {}", ctx.format_address(signer), job.id);
    }
    Ok(role)
}

/// A settlement needs a funded milestone that has not paid out.
fn check_settleable(job: &Loaded, index: u64) -> eyre::Result<()> {
    let (_, state) = job.milestone(index)?;
    if state == MilestoneState::Unfunded || state.is_terminal() {
        bail!(
            "milestone {index} of job {} is {}: only a funded milestone that has not paid out can be settled",
            job.id,
            state_name(state)
        );
    }
    Ok(())
}

async fn read_nonce(ctx: &Context, target: &Target, signing: &Signing) -> eyre::Result<U256> {
    MilestoneEscrow::new(target.contract, &ctx.provider)
        .nonces(signing.signer)
        .call()
        .await
        .map_err(|e| eyre!("cannot read the signer's nonce: {e}"))
}

/// `settle milestone 0 of job 1: 60% to the worker (150 USDRIF), 100 USDRIF to the client`.
fn describe(job: &Loaded, index: u64, bps: u16) -> eyre::Result<String> {
    let (milestone, _) = job.milestone(index)?;
    let amount = U256::from(milestone.amount);
    let worker = amount * U256::from(bps) / U256::from(BPS);
    Ok(format!(
        "settle milestone {index} of job {}: {} to the worker ({}), {} to the client",
        job.id,
        format_bps(bps),
        job.amount(worker),
        job.amount(amount - worker)
    ))
}
