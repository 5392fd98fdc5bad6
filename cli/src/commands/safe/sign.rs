//! `shiftpay safe sign FILE`: an owner signs the proposal's EIP-712 hash (`SafeTx`, or the
//! `SafeMessage` of an EIP-1271 message) with the local wallet and adds it to the file.

use std::path::PathBuf;

use clap::Args;
use eyre::bail;
use serde::Serialize;
use shiftpay_bindings::{safe::OwnerSignature, wallet};

use super::{check_nonce, load, owner_signatures, read_state, save};
use crate::{
    context::Context,
    opts::{ChainOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay safe sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The proposal file (`--via safe:` wrote it); the signature is added to it.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SignReport {
    file: String,
    signer: String,
    hash: alloy::primitives::B256,
    signatures: usize,
    threshold: u64,
}

pub(super) async fn run(args: &SignArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    let mut proposal = load(&ctx, &args.file)?;
    let state = read_state(&ctx, proposal.safe).await?;
    check_nonce(&ctx, &proposal, &state, false)?;
    let Some(source) = args.wallet.source(&ctx.config)? else {
        bail!(
            "signing needs an owner's key: pass --account NAME, --keystore FILE, --private-key KEY or --mnemonic PHRASE"
        );
    };
    let key = wallet::load_signer(&source)?;
    if !state.owners.contains(&key.address()) {
        let owners: Vec<String> = state.owners.iter().map(|o| ctx.format_address(*o)).collect();
        bail!(
            "{} is not an owner of the Safe {} (owners: {}): its signature would not count",
            ctx.format_address(key.address()),
            ctx.format_address(proposal.safe),
            owners.join(", ")
        );
    }
    proposal.add_signature(OwnerSignature::sign(&key, proposal.hash)?);
    save(&args.file, &proposal)?;
    let (valid, _) = owner_signatures(&proposal, &state.owners);
    let shown = ctx.show_path(&args.file);
    let report = SignReport {
        file: shown.clone(),
        signer: ctx.format_address(key.address()),
        hash: proposal.hash,
        signatures: valid.len(),
        threshold: state.threshold,
    };
    out.emit(&report, |r| {
        println!(
            "{} signed {} ({}): {} of {} signatures",
            r.signer, r.file, r.hash, r.signatures, r.threshold
        );
    })?;
    if valid.len() as u64 >= state.threshold {
        eprintln!("the threshold is met: run `shiftpay safe exec {shown}`");
    }
    Ok(())
}
