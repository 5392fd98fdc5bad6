//! `shiftpay safe exec FILE`: once the file holds the threshold of owners' signatures, checks
//! `execTransaction` with `eth_call` and sends it from the local wallet (any account may; it pays
//! the gas) through the project's transaction policy. Too few signatures, a stale nonce or a
//! changed transaction are refused before anything is sent. For a message proposal (EIP-1271),
//! checks the Safe's `isValidSignature` and prints the signature file for `shiftpay submit`.

use std::path::PathBuf;

use alloy::{
    primitives::{B256, Bytes},
    sol_types::SolCall,
};
use clap::Args;
use eyre::{bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{
    revert::RevertKind,
    safe::{
        EIP1271_MAGIC_VALUE, ICompatibilityFallbackHandler, ISafe, Proposed, encode_signatures,
    },
    tx::{self, TxError},
};

use super::{check_nonce, load, owner_signatures, read_state};
use crate::{
    commands::{payroll_common::TxJson, sign::document::Document},
    context::Context,
    opts::{ChainOpts, TxOpts, Via, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay safe exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The proposal file, signed by at least the Safe's threshold of owners.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecReport {
    safe: String,
    safe_tx_hash: B256,
    nonce: alloy::primitives::U256,
    signatures: usize,
    #[serde(flatten)]
    tx: TxJson,
}

/// What the Safe's `GS0xx` revert codes mean (the ones a proposal can hit).
fn safe_error(code: &str) -> Option<&'static str> {
    Some(match code {
        "GS001" => "the Safe has no threshold set",
        "GS013" => "the Safe transaction's call reverted",
        "GS020" => "the signatures are too short for the threshold",
        "GS025" => "a signature is an unapproved hash",
        "GS026" => "a signature is not an owner's, or the owners are not in ascending order",
        _ => return None,
    })
}

/// A failed check of `execTransaction` as one sentence, with the Safe's `GS0xx` code explained.
fn exec_error(ctx: &Context, error: TxError) -> eyre::Report {
    if let TxError::Reverted(revert) = &error
        && let RevertKind::Message(message) = &revert.kind
        && let Some(meaning) = safe_error(message.trim())
    {
        return eyre!("execTransaction would revert with {message} ({meaning}): nothing was sent");
    }
    eyre!("execTransaction would fail: {}: nothing was sent", ctx.tx_error(error))
}

pub(super) async fn run(args: &ExecArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    let proposal = load(&ctx, &args.file)?;
    let state = read_state(&ctx, proposal.safe).await?;
    check_nonce(&ctx, &proposal, &state, true)?;
    let (valid, outsiders) = owner_signatures(&proposal, &state.owners);
    for signer in &outsiders {
        eprintln!(
            "warning: {} signed but is not an owner of the Safe: its signature is left out",
            ctx.format_address(*signer)
        );
    }
    if (valid.len() as u64) < state.threshold {
        bail!(
            "{} of {} owner signatures: the Safe {} needs {}; have more owners run `shiftpay safe sign {}`; nothing was sent",
            valid.len(),
            state.owners.len(),
            ctx.format_address(proposal.safe),
            state.threshold,
            ctx.show_path(&args.file)
        );
    }
    let signatures = encode_signatures(&valid);
    let safe_tx = match &proposal.proposed {
        Proposed::Transaction { .. } => proposal.safe_tx().expect("a transaction proposal"),
        Proposed::Message { digest, payload, .. } => {
            return finish_message(&ctx, &proposal, *digest, payload, signatures, out).await;
        }
    };
    let mut opts = args.tx.clone();
    opts.via = Some(Via::Key);
    let sender = ctx.sender(&args.wallet, &opts)?;
    let call = safe_tx.exec_call(signatures);
    let request = ctx.call_tx(proposal.safe, &call);
    // eth_call first: a revert (GS0xx, or the inner call failing) sends nothing.
    let raw = tx::simulate(&ctx.provider, sender.address(), &request)
        .await
        .map_err(|e| exec_error(&ctx, e))?;
    let ok = ISafe::execTransactionCall::abi_decode_returns(&raw).unwrap_or(false);
    if !ok {
        bail!("execTransaction would return false (the inner call failed): nothing was sent");
    }
    let what = format!(
        "execTransaction of Safe {} (nonce {})",
        ctx.format_address(proposal.safe),
        safe_tx.nonce
    );
    let sent = ctx.send(&sender, request, &what, &opts).await?;
    let Some(receipt) = sent.receipt() else { return ctx.print_dry_run(out) };
    let success = receipt.inner.logs().iter().any(|log| {
        log.address() == proposal.safe
            && log.topics().first() == Some(&ISafe::ExecutionSuccess::SIGNATURE_HASH)
    });
    if !success {
        bail!(
            "{} was mined but the Safe reported ExecutionFailure: the inner call failed",
            receipt.transaction_hash
        );
    }
    let report = ExecReport {
        safe: ctx.format_address(proposal.safe),
        safe_tx_hash: proposal.hash,
        nonce: safe_tx.nonce,
        signatures: valid.len(),
        tx: TxJson::new(&ctx, receipt),
    };
    out.emit(&report, |r| {
        println!(
            "executed Safe transaction {} (nonce {}) with {} signatures in {} (block {})",
            r.safe_tx_hash, r.nonce, r.signatures, r.tx.tx_hash, r.tx.block
        );
    })
}

use alloy::sol_types::SolEvent as _;

/// A message proposal with enough signatures: the Safe's `isValidSignature` must accept them;
/// then the signature file (the Safe as signer, the owners' signatures as its EIP-1271
/// signature) goes to stdout.
async fn finish_message(
    ctx: &Context,
    proposal: &shiftpay_bindings::safe::SafeProposal,
    digest: B256,
    payload: &serde_json::Value,
    signatures: Bytes,
    out: &OutputArgs,
) -> eyre::Result<()> {
    let handler = ICompatibilityFallbackHandler::new(proposal.safe, &ctx.provider);
    let magic =
        handler.isValidSignature(digest, signatures.clone()).call().await.map_err(|e| {
            eyre!("the Safe does not accept the signatures (isValidSignature: {e})")
        })?;
    if magic.0 != EIP1271_MAGIC_VALUE {
        bail!("the Safe's isValidSignature returned {magic}, not the EIP-1271 magic value");
    }
    let mut document = Document::from_json(payload)
        .map_err(|e| eyre!("the proposal's message is not a signature file: {e}"))?;
    for entry in &mut document.entries {
        if entry.signer == proposal.safe {
            entry.signature = signatures.clone();
        }
    }
    let json = document.to_json(&ctx.chain);
    let text = serde_json::to_string_pretty(&json)?;
    if out.json {
        println!("{text}");
    } else {
        println!("{text}");
        eprintln!(
            "the Safe {} accepts it (EIP-1271): send it with `shiftpay submit FILE`",
            ctx.format_address(proposal.safe)
        );
    }
    Ok(())
}
