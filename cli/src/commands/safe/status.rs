//! `shiftpay safe status FILE`: the Safe's owners and threshold, who signed the proposal (and
//! whether each signer is an owner), and whether it ran: pending, ready, executed or stale.

use std::path::PathBuf;

use alloy::{
    primitives::{Address, B256, U256},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use clap::Args;
use serde::Serialize;
use shiftpay_bindings::{
    logs::get_logs_paged,
    safe::{EIP1271_MAGIC_VALUE, ICompatibilityFallbackHandler, ISafe, Proposed},
};

use super::{load, owner_signatures, read_state};
use crate::{
    commands::payroll_common::latest_block, context::Context, opts::ChainOpts, output::OutputArgs,
};

/// Blocks searched back for the Safe's `ExecutionSuccess` of a proposal whose nonce has passed.
const EXECUTION_SEARCH_BLOCKS: u64 = 100_000;

/// Arguments of `shiftpay safe status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The proposal file.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    #[command(flatten)]
    chain: ChainOpts,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SignerStatus {
    address: String,
    owner: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusReport {
    safe: String,
    kind: &'static str,
    hash: B256,
    owners: Vec<String>,
    threshold: u64,
    safe_nonce: U256,
    #[serde(skip_serializing_if = "Option::is_none")]
    proposal_nonce: Option<U256>,
    signers: Vec<SignerStatus>,
    /// Owners' signatures in the file.
    signatures: usize,
    /// `pending` (needs signatures), `ready` (can run), `queued` (a lower nonce runs first),
    /// `executed`, `stale` (its nonce was used by another transaction), or for a message
    /// `accepted` (the Safe's isValidSignature takes the signatures).
    state: &'static str,
    description: Vec<String>,
}

pub(super) async fn run(args: &StatusArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    let proposal = load(&ctx, &args.file)?;
    let state = read_state(&ctx, proposal.safe).await?;
    let (valid, _) = owner_signatures(&proposal, &state.owners);
    let enough = valid.len() as u64 >= state.threshold;
    let signers = proposal
        .signatures
        .iter()
        .map(|s| SignerStatus {
            address: ctx.format_address(s.signer),
            owner: state.owners.contains(&s.signer),
        })
        .collect();
    let (kind, proposal_nonce, status, description) = match &proposal.proposed {
        Proposed::Transaction { safe_tx, calls } => {
            let status = if safe_tx.nonce < state.nonce {
                if executed(&ctx, proposal.safe, proposal.hash).await? {
                    "executed"
                } else {
                    "stale"
                }
            } else if safe_tx.nonce > state.nonce {
                "queued"
            } else if enough {
                "ready"
            } else {
                "pending"
            };
            let lines = calls.iter().map(|c| c.description.clone()).collect();
            ("transaction", Some(safe_tx.nonce), status, lines)
        }
        Proposed::Message { digest, description, .. } => {
            let status = if enough {
                let signatures = shiftpay_bindings::safe::encode_signatures(&valid);
                let handler = ICompatibilityFallbackHandler::new(proposal.safe, &ctx.provider);
                match handler.isValidSignature(*digest, signatures).call().await {
                    Ok(magic) if magic.0 == EIP1271_MAGIC_VALUE => "accepted",
                    _ => "pending",
                }
            } else {
                "pending"
            };
            ("message", None, status, vec![description.clone()])
        }
    };
    let report = StatusReport {
        safe: ctx.format_address(proposal.safe),
        kind,
        hash: proposal.hash,
        owners: state.owners.iter().map(|o| ctx.format_address(*o)).collect(),
        threshold: state.threshold,
        safe_nonce: state.nonce,
        proposal_nonce,
        signers,
        signatures: valid.len(),
        state: status,
        description,
    };
    out.emit(&report, |r| {
        println!("Safe       {} ({} of {} owners)", r.safe, r.threshold, r.owners.len());
        for owner in &r.owners {
            println!("  owner    {owner}");
        }
        match r.proposal_nonce {
            Some(nonce) => {
                println!("{}  {} (nonce {nonce}, Safe at {})", r.kind, r.hash, r.safe_nonce)
            }
            None => println!("{}      {}", r.kind, r.hash),
        }
        for line in &r.description {
            println!("  {line}");
        }
        for signer in &r.signers {
            let note = if signer.owner { "" } else { " (not an owner: does not count)" };
            println!("signed by  {}{note}", signer.address);
        }
        println!("state      {} ({} of {} signatures)", r.state, r.signatures, r.threshold);
    })
}

/// Whether the Safe emitted `ExecutionSuccess(hash)` in the last [`EXECUTION_SEARCH_BLOCKS`].
async fn executed(ctx: &Context, safe: Address, hash: B256) -> eyre::Result<bool> {
    let (latest, _) = latest_block(ctx).await?;
    let from = latest.saturating_sub(EXECUTION_SEARCH_BLOCKS);
    let filter = Filter::new()
        .address(safe)
        .event_signature(ISafe::ExecutionSuccess::SIGNATURE_HASH)
        .topic1(hash);
    let logs =
        get_logs_paged(&ctx.provider, &filter, from, latest, ctx.chain.log_range.max(1), |_, _| {})
            .await
            .map_err(|e| eyre::eyre!("cannot read the Safe's executions: {e}"))?;
    Ok(!logs.is_empty())
}
