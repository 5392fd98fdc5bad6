//! `shiftpay job fund ID`: the client funds milestones not funded yet (the ERC-20 approval first
//! when the allowance is short; the value in rBTC for a native job).

use alloy::{network::TransactionBuilder, primitives::U256};
use clap::Args;
use eyre::bail;
use serde::Serialize;
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState};

use super::common::{
    SendOpts, Session, TxSummary, chain_now, load_job, milestone_state, send_and_report, state_name,
};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job fund`.
#[derive(Debug, Args)]
pub(crate) struct FundArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    id: u64,

    /// First milestone to fund (default: the first unfunded one).
    #[arg(long, value_name = "INDEX")]
    first: Option<u64>,

    /// How many consecutive milestones to fund (default: every unfunded one from `--first` on,
    /// up to the next funded one).
    #[arg(long, value_name = "N")]
    count: Option<u64>,

    #[command(flatten)]
    send: SendOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Funded {
    job_id: u64,
    from: u64,
    count: u64,
    amount: String,
    amount_units: String,
    tx: TxSummary,
}

pub(super) async fn run(args: &FundArgs, out: &OutputArgs) -> eyre::Result<()> {
    let session = Session::open(&args.send).await?;
    let ctx = &session.ctx;
    let job = load_job(ctx, session.escrow, args.id).await?;
    let states: Vec<MilestoneState> = job.milestones.iter().map(milestone_state).collect();
    let from = match args.first {
        Some(from) => {
            job.milestone(from)?;
            from
        }
        None => match states.iter().position(|s| *s == MilestoneState::Unfunded) {
            Some(first) => first as u64,
            None => bail!("every milestone of job {} is funded already", job.id),
        },
    };
    let count = match args.count {
        Some(0) => bail!("--count must be at least 1"),
        Some(count) => count,
        None => states[from as usize..]
            .iter()
            .take_while(|s| **s == MilestoneState::Unfunded)
            .count()
            .max(1) as u64,
    };
    let end = from.saturating_add(count);
    if end > job.milestones.len() as u64 {
        bail!(
            "job {} has {} milestones: milestones {from} to {} do not all exist",
            job.id,
            job.milestones.len(),
            end - 1
        );
    }
    // The contract requires every one of them unfunded; say which is not before sending.
    if let Some((index, state)) = states
        .iter()
        .enumerate()
        .skip(from as usize)
        .take(count as usize)
        .find(|(_, s)| **s != MilestoneState::Unfunded)
    {
        bail!(
            "milestone {index} of job {} is {} already: fund a range of unfunded milestones",
            job.id,
            state_name(*state)
        );
    }
    let total: U256 =
        job.milestones[from as usize..end as usize].iter().map(|m| U256::from(m.amount)).sum();
    let client = session.sender.require_address()?;
    ctx.check_balance(client, &job.token, total).await?;
    ctx.ensure_allowance(&session.sender, &job.token, session.escrow, total, &args.send.tx).await?;
    let mut tx = session.call(&MilestoneEscrow::fundCall {
        jobId: U256::from(job.id),
        from: U256::from(from),
        count: U256::from(count),
    });
    if job.token.is_native() {
        tx = tx.with_value(total);
    }
    let range = if count == 1 {
        format!("milestone {from}")
    } else {
        format!("milestones {from} to {}", end - 1)
    };
    let what = format!("fund {range} of job {} ({})", job.id, job.amount(total));
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let now = chain_now(ctx).await?;
    let funded = Funded {
        job_id: job.id,
        from,
        count,
        amount: job.amount(total),
        amount_units: total.to_string(),
        tx: TxSummary::new(ctx, &receipt, session.escrow, &job, now),
    };
    out.emit(&funded, |f| {
        println!("funded {range} of job {}: {} in escrow", f.job_id, f.amount);
        f.tx.print();
    })
}
