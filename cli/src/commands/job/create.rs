//! `shiftpay job create`: the client offers a job (milestones in human amounts of a token, a
//! review period, an optional arbiter) and funds its first milestones, approving the ERC-20 first
//! when the allowance is short.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256},
    sol_types::SolEvent,
};
use clap::Args;
use eyre::{bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{
    chains::parse_address,
    escrow::{DEFAULT_MAX_CHANGE_REQUESTS, JobParams, MilestoneEscrow},
    tokens::{TOKEN_REQUIREMENTS, TokenRef, resolve_token},
    units::{format_duration, parse_duration},
};

use super::{
    common::{
        Hashed, SendOpts, Session, TxSummary, chain_now, format_bps, hash_reference, load_job,
        parse_deadline, parse_share, send_and_report,
    },
    show::JobView,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The worker: who does the work and is paid.
    #[arg(long, value_name = "ADDRESS")]
    worker: String,

    /// The token paying the job: the native coin (`rbtc`), a symbol of the chain preset or the
    /// deployment file (`USDRIF`, `DOC`), or an address.
    #[arg(long, value_name = "TOKEN")]
    token: String,

    /// A milestone's amount in the token, once per milestone in order: `--milestone 250
    /// --milestone 400`.
    #[arg(long = "milestone", value_name = "AMOUNT", required = true)]
    milestones: Vec<String>,

    /// How long the client has to answer a submission (and the worker a change request): `3d`,
    /// `72h`. When it passes in silence, the milestone can be released to the worker.
    #[arg(long, value_name = "DURATION", default_value = "3d")]
    review: String,

    /// Who rules disputes (neither party). Without one there are no disputes.
    #[arg(long, value_name = "ADDRESS")]
    arbiter: Option<String>,

    /// The arbiter's fee on a milestone it rules on: `2%` or `200bps` (at most 10%).
    #[arg(long, value_name = "PERCENT", requires = "arbiter")]
    arbiter_fee: Option<String>,

    /// How long the arbiter has to rule once a milestone is disputed: `7d`.
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    ruling_period: String,

    /// Change requests the client may make per milestone (at most 10).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CHANGE_REQUESTS)]
    max_changes: u8,

    /// Last time the worker may submit a new milestone; afterwards the client may reclaim the
    /// unsubmitted ones: a duration from now (`30d`) or a time (`2026-12-01`,
    /// `2026-12-01T12:00:00Z`). Default: none.
    #[arg(long, value_name = "TIME")]
    deadline: Option<String>,

    /// The terms, as a file (keccak256 of its bytes is stored) or a URL (keccak256 of the URL).
    #[arg(long, value_name = "FILE|URL")]
    terms: Option<String>,

    /// How many milestones to fund now, from the first: a number, `all` or `none`.
    #[arg(long, value_name = "N|all|none", default_value = "all")]
    fund: String,

    /// Accept a token address that neither the chain preset nor the deployment file lists
    /// (prints what the contracts require of a token).
    #[arg(long)]
    allow_unknown_token: bool,

    #[command(flatten)]
    send: SendOpts,
}

/// What `job create --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    job_id: u64,
    job: JobView,
    funded_milestones: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    terms: Option<Hashed>,
    /// What the job's setup means for both parties (no arbiter).
    notes: Vec<String>,
    tx: TxSummary,
}

pub(super) async fn run(args: &CreateArgs, out: &OutputArgs) -> eyre::Result<()> {
    // Everything the user typed is checked before the node is asked anything.
    let worker = parse_address(&args.worker).map_err(|e| eyre!("--worker: {e}"))?;
    let arbiter = args
        .arbiter
        .as_deref()
        .map(parse_address)
        .transpose()
        .map_err(|e| eyre!("--arbiter: {e}"))?;
    let arbiter_fee_bps = match &args.arbiter_fee {
        Some(fee) => {
            let bps = parse_share(fee).map_err(|e| eyre!("--arbiter-fee: {e}"))?;
            if bps > 1_000 {
                bail!("--arbiter-fee: {} is above the contract's cap of 10%", format_bps(bps));
            }
            bps
        }
        None => 0,
    };
    let review = period(&args.review, "--review")?;
    let ruling = period(&args.ruling_period, "--ruling-period")?;
    let token_ref: TokenRef = args.token.parse()?;
    let terms = args.terms.as_deref().map(|t| hash_reference(t, "terms")).transpose()?;

    let session = Session::open(&args.send).await?;
    let ctx = &session.ctx;
    let extra = ctx.deployment()?.tokens.clone();
    let token =
        resolve_token(&ctx.provider, &ctx.chain, &token_ref, &extra, args.allow_unknown_token)
            .await?;
    if !token.known {
        eprintln!("warning: {} is not a listed token. {TOKEN_REQUIREMENTS}", token.symbol);
    }
    let amounts = args
        .milestones
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let amount = token.parse_amount(text).map_err(|e| eyre!("milestone {i}: {e}"))?;
            if amount.is_zero() {
                bail!("milestone {i}: the amount must be more than 0");
            }
            Ok(amount)
        })
        .collect::<eyre::Result<Vec<U256>>>()?;
    let fund_count = match args.fund.trim().to_ascii_lowercase().as_str() {
        "all" => amounts.len(),
        "none" => 0,
        n => match n.parse::<usize>() {
            Ok(n) if n <= amounts.len() => n,
            Ok(n) => bail!("--fund {n}: the job has only {} milestones", amounts.len()),
            Err(_) => bail!("--fund {:?}: give a number of milestones, all or none", args.fund),
        },
    };
    let now = chain_now(ctx).await?;
    let deadline = args.deadline.as_deref().map(|d| parse_deadline(d, now)).transpose()?;

    let total_funded: U256 = amounts.iter().take(fund_count).sum();
    let params = JobParams {
        worker,
        token: token.address,
        arbiter: arbiter.unwrap_or(Address::ZERO),
        arbiterFeeBps: arbiter_fee_bps,
        maxChangeRequests: args.max_changes,
        reviewPeriod: review,
        rulingPeriod: ruling,
        deadline: deadline.unwrap_or(0),
        metadataHash: terms.as_ref().map_or(B256::ZERO, |t| t.hash),
        amounts: amounts.clone(),
    };
    if let Some(terms) = &terms {
        eprintln!("terms: {} = {}", terms.description, terms.hash);
    }
    if !total_funded.is_zero() {
        let client = session.sender.require_address()?;
        ctx.check_balance(client, &token, total_funded).await?;
        ctx.ensure_allowance(&session.sender, &token, session.escrow, total_funded, &args.send.tx)
            .await?;
    }
    let mut tx =
        session.call(&MilestoneEscrow::createJobCall { params, fundCount: U256::from(fund_count) });
    if token.is_native() {
        tx = tx.with_value(total_funded);
    }
    let what = format!(
        "create a job of {} milestone{} ({} funded)",
        amounts.len(),
        if amounts.len() == 1 { "" } else { "s" },
        token.format_amount(total_funded)
    );
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let job_id = receipt
        .logs()
        .iter()
        .filter(|log| log.address() == session.escrow)
        .find_map(|log| MilestoneEscrow::JobCreated::decode_log(&log.inner).ok())
        .map(|event| event.data.jobId)
        .ok_or_else(|| {
            eyre!("the transaction {} has no JobCreated event", receipt.transaction_hash)
        })?;
    let job_id =
        u64::try_from(job_id).map_err(|_| eyre!("job id {job_id} does not fit in 64 bits"))?;
    let loaded = load_job(ctx, session.escrow, job_id).await?;
    let now = chain_now(ctx).await?;
    let notes =
        if arbiter.is_none() { no_arbiter_notes(review, args.max_changes) } else { Vec::new() };
    let created = Created {
        job_id,
        job: JobView::new(ctx, &loaded, now),
        funded_milestones: fund_count,
        terms,
        notes,
        tx: TxSummary::new(ctx, &receipt, session.escrow, &loaded, now),
    };
    out.emit(&created, |c| {
        println!(
            "created job {}: {} milestone{} ({} funded); the worker accepts it with `shiftpay job accept {}`",
            c.job_id,
            c.job.milestones.len(),
            if c.job.milestones.len() == 1 { "" } else { "s" },
            c.funded_milestones,
            c.job_id
        );
        if let Some(terms) = &c.terms {
            println!("terms hash: {} ({})", terms.hash, terms.description);
        }
        println!();
        c.job.print();
        if !c.notes.is_empty() {
            println!();
            for note in &c.notes {
                println!("{note}");
            }
        }
        println!();
        c.tx.print();
    })
}

/// A period for the contract (`uint32` seconds, more than zero).
fn period(text: &str, flag: &str) -> eyre::Result<u32> {
    let seconds = parse_duration(text).map_err(|e| eyre!("{flag}: {e}"))?;
    if seconds == 0 {
        bail!("{flag}: the period must be longer than 0s");
    }
    u32::try_from(seconds).map_err(|_| {
        eyre!(
            "{flag}: {} is too long (the contract caps periods at 365 days)",
            format_duration(seconds)
        )
    })
}

/// What a job without an arbiter means for each party (shown by `job create`): the escrow
/// refuses disputes on such a job.
pub(super) fn no_arbiter_notes(review: u32, max_changes: u8) -> Vec<String> {
    let review = format_duration(u64::from(review));
    vec![
        "No arbiter: this job has no disputes. What that means:".to_owned(),
        format!(
            "  client: your remedies are change requests (at most {max_changes} per milestone) and a settlement you both sign \
             (`shiftpay sign settle`); a submission you leave unanswered for {review} can be released to the worker; a change \
             request the worker leaves unanswered for {review} lets you take that milestone back (`shiftpay job reclaim`)."
        ),
        format!(
            "  worker: nobody rules on your work; answer a change request by resubmitting. If the client stays silent for \
             {review} after a submission, anyone can release the milestone to you (`shiftpay job release`)."
        ),
    ]
}
