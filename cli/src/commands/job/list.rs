//! `shiftpay job list --client ADDR | --worker ADDR`: the jobs of a client or a worker, found
//! from the escrow's `JobCreated` events (paged `eth_getLogs` from the deployment block, in the
//! chain's range limit), with their current state read from the contract.

use std::collections::{BTreeMap, HashMap};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use clap::{ArgGroup, Args};
use eyre::eyre;
use serde::Serialize;
use shiftpay_bindings::{
    chains::parse_address, escrow::MilestoneEscrow, logs::get_logs_paged, tokens::Token,
};

use super::common::{job_state_name, job_token, milestone_state, state_name};
use crate::{context::Context, opts::ChainOpts, output::OutputArgs};
use shiftpay_bindings::escrow::JobState;

/// Arguments of `shiftpay job list`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("who").required(true).multiple(true).args(["client", "worker"])))]
pub(crate) struct ListArgs {
    /// Jobs this address created.
    #[arg(long, value_name = "ADDRESS")]
    client: Option<String>,

    /// Jobs offered to this address (with `--client`: jobs between the two).
    #[arg(long, value_name = "ADDRESS")]
    worker: Option<String>,

    #[command(flatten)]
    chain: ChainOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobRow {
    id: u64,
    status: &'static str,
    client: String,
    worker: String,
    arbiter: Option<String>,
    token: String,
    total: String,
    total_units: String,
    milestones: usize,
    /// Milestones per state, e.g. `{"released": 1, "submitted": 1}`.
    states: BTreeMap<&'static str, usize>,
    created_block: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    client: Option<String>,
    worker: Option<String>,
    from_block: u64,
    to_block: u64,
    jobs: Vec<JobRow>,
}

pub(super) async fn run(args: &ListArgs, out: &OutputArgs) -> eyre::Result<()> {
    let client = args
        .client
        .as_deref()
        .map(parse_address)
        .transpose()
        .map_err(|e| eyre!("--client: {e}"))?;
    let worker = args
        .worker
        .as_deref()
        .map(parse_address)
        .transpose()
        .map_err(|e| eyre!("--worker: {e}"))?;
    let ctx = Context::connect(&args.chain).await?;
    let deployment = ctx.deployment()?;
    let escrow = deployment.escrow.address;
    let from = deployment.escrow.block_number;
    let to = ctx
        .provider
        .get_block_number()
        .await
        .map_err(|e| eyre!("cannot read the latest block number: {e}"))?;
    let mut filter =
        Filter::new().address(escrow).event_signature(MilestoneEscrow::JobCreated::SIGNATURE_HASH);
    if let Some(client) = client {
        filter = filter.topic2(client.into_word());
    }
    if let Some(worker) = worker {
        filter = filter.topic3(worker.into_word());
    }
    let logs = get_logs_paged(
        &ctx.provider,
        &filter,
        from,
        to.max(from),
        ctx.chain.log_range,
        |done, last| {
            if last > from && ctx.chain.log_range < last - from {
                eprint!(
                    "\rscanning blocks {from} to {last}: {}%",
                    (done - from) * 100 / (last - from).max(1)
                );
            }
        },
    )
    .await?;
    if to > from && ctx.chain.log_range < to - from {
        eprintln!();
    }

    let contract = MilestoneEscrow::new(escrow, &ctx.provider);
    let mut tokens: HashMap<Address, Token> = HashMap::new();
    let mut jobs = Vec::new();
    for log in logs {
        let Ok(event) = MilestoneEscrow::JobCreated::decode_log(&log.inner) else { continue };
        let id: u64 = event
            .data
            .jobId
            .try_into()
            .map_err(|_| eyre!("job id {} is too large", event.data.jobId))?;
        let job = contract
            .getJob(U256::from(id))
            .call()
            .await
            .map_err(|e| eyre!("cannot read job {id}: {e}"))?;
        let milestones = contract
            .getMilestones(U256::from(id))
            .call()
            .await
            .map_err(|e| eyre!("cannot read job {id}'s milestones: {e}"))?;
        let token = match tokens.get(&job.token) {
            Some(token) => token.clone(),
            None => {
                let token = job_token(&ctx, job.token).await?;
                tokens.insert(job.token, token.clone());
                token
            }
        };
        let total: U256 = milestones.iter().map(|m| U256::from(m.amount)).sum();
        let mut states = BTreeMap::new();
        for m in &milestones {
            *states.entry(state_name(milestone_state(m))).or_default() += 1;
        }
        jobs.push(JobRow {
            id,
            status: job_state_name(JobState::try_from(job.status).unwrap_or(JobState::None)),
            client: ctx.format_address(job.client),
            worker: ctx.format_address(job.worker),
            arbiter: (!job.arbiter.is_zero()).then(|| ctx.format_address(job.arbiter)),
            token: token.symbol.clone(),
            total: token.format_amount(total),
            total_units: total.to_string(),
            milestones: milestones.len(),
            states,
            created_block: log.block_number.unwrap_or_default(),
        });
    }
    let listing = Listing {
        client: client.map(|a| ctx.format_address(a)),
        worker: worker.map(|a| ctx.format_address(a)),
        from_block: from,
        to_block: to,
        jobs,
    };
    out.emit(&listing, |l| {
        let who = match (&l.client, &l.worker) {
            (Some(c), Some(w)) => format!("client {c} with worker {w}"),
            (Some(c), None) => format!("client {c}"),
            (None, Some(w)) => format!("worker {w}"),
            (None, None) => unreachable!("clap requires one"),
        };
        if l.jobs.is_empty() {
            println!("no jobs for {who} (blocks {} to {})", l.from_block, l.to_block);
            return;
        }
        println!("{} job{} for {who}", l.jobs.len(), if l.jobs.len() == 1 { "" } else { "s" });
        let counterpart =
            if l.client.is_some() && l.worker.is_none() { "worker" } else { "client" };
        let total_width = l.jobs.iter().map(|j| j.total.len()).max().unwrap_or(5).max(5);
        println!(
            "  {:<4} {:<10} {:<42} {:<total_width$}  milestones",
            "id", "status", counterpart, "total"
        );
        for job in &l.jobs {
            let other = if counterpart == "worker" { &job.worker } else { &job.client };
            let states =
                job.states.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
            println!(
                "  {:<4} {:<10} {:<42} {:<total_width$}  {}: {states}",
                job.id, job.status, other, job.total, job.milestones
            );
        }
    })
}
