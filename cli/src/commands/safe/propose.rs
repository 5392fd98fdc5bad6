//! `shiftpay safe propose BATCH --safe ADDRESS`: a Safe{Wallet} Transaction Builder batch (what
//! `--export safe-tx-builder` writes, or one made in the app) as a proposal file for
//! `shiftpay safe sign|exec`, with the Safe's current nonce.

use std::path::PathBuf;

use alloy::primitives::Address;
use clap::Args;
use eyre::{bail, eyre};
use shiftpay_bindings::safe::{ProposedCall, SafeProposal, TxBuilderBatch, batch_safe_tx};

use super::{read_state, route::CANONICAL_MULTISEND_CALL_ONLY};
use crate::{
    context::Context,
    opts::{ChainOpts, parse_address_arg},
    output::OutputArgs,
};

/// Arguments of `shiftpay safe propose`.
#[derive(Debug, Args)]
pub(crate) struct ProposeArgs {
    /// A Transaction Builder batch JSON.
    #[arg(value_name = "BATCH")]
    batch: PathBuf,

    /// The Safe (default: the batch's `createdFromSafeAddress`).
    #[arg(long, value_name = "ADDRESS", value_parser = parse_address_arg)]
    safe: Option<Address>,

    /// The proposal file to write.
    #[arg(long, value_name = "FILE", default_value = "safe-tx.json")]
    out: PathBuf,

    /// The `MultiSendCallOnly` contract for several calls (default: Safe's canonical 1.4.1).
    #[arg(long, value_name = "ADDRESS", value_parser = parse_address_arg)]
    multisend: Option<Address>,

    #[command(flatten)]
    chain: ChainOpts,
}

pub(super) async fn run(args: &ProposeArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    let text = std::fs::read_to_string(&args.batch)
        .map_err(|e| eyre!("cannot read {}: {e}", args.batch.display()))?;
    let batch: TxBuilderBatch = serde_json::from_str(&text)
        .map_err(|e| eyre!("{} is not a Transaction Builder batch: {e}", args.batch.display()))?;
    if batch.chain_id != ctx.chain.chain_id.to_string() {
        bail!(
            "{} is for chain {}, the node is on chain {}",
            args.batch.display(),
            batch.chain_id,
            ctx.chain.chain_id
        );
    }
    let safe = args.safe.unwrap_or(batch.meta.created_from_safe_address);
    let calls = batch.meta_txs();
    if calls.len() != batch.transactions.len() {
        bail!("{}: every transaction needs `data` (and a decimal `value`)", args.batch.display());
    }
    let state = read_state(&ctx, safe).await?;
    let multisend = args.multisend.unwrap_or(CANONICAL_MULTISEND_CALL_ONLY);
    let safe_tx = batch_safe_tx(&calls, multisend, state.nonce)?;
    let proposed = batch
        .transactions
        .iter()
        .zip(&calls)
        .map(|(tx, call)| ProposedCall {
            description: tx.contract_method.as_ref().map_or_else(
                || format!("call {}", ctx.format_address(call.to)),
                |m| m.name.clone(),
            ),
            call: call.clone(),
        })
        .collect();
    let proposal = SafeProposal::transaction(ctx.chain.chain_id, safe, &safe_tx, proposed);
    super::save(&args.out, &proposal)?;
    let shown = ctx.show_path(&args.out);
    out.emit(
        &serde_json::json!({"path": shown, "safeTxHash": proposal.hash, "nonce": state.nonce}),
        |_| {
            println!(
                "wrote {shown} for the Safe {} ({} calls, nonce {}, safeTxHash {})",
                ctx.format_address(safe),
                calls.len(),
                state.nonce,
                proposal.hash
            );
        },
    )
}
