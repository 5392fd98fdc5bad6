//! `shiftpay safe propose|sign|exec|status`: a Safe multisig as employer or client. A command run
//! with `--via safe:ADDRESS` (or `safe` in shiftpay.toml) writes a proposal file ([`route`]) instead
//! of sending; owners sign its EIP-712 hash from their own accounts (`sign`), signatures collect in
//! the file, and anyone sends `execTransaction` once the threshold is met (`exec`). A proposal of
//! a message (`shiftpay sign approve --via safe:`) ends with `exec` writing the EIP-1271 signature
//! file that `shiftpay submit` and the relayer take.

mod exec;
mod propose;
pub(crate) mod route;
mod sign;
mod status;

use std::path::Path;

use alloy::primitives::{Address, U256};
use clap::{Args, Subcommand};
use eyre::{bail, eyre};
use shiftpay_bindings::safe::{ISafe, OwnerSignature, Proposed, SafeProposal};

use crate::{context::Context, output::OutputArgs};

/// Arguments of `shiftpay safe`.
#[derive(Debug, Args)]
pub(crate) struct SafeArgs {
    #[command(subcommand)]
    command: SafeCommand,
}

#[derive(Debug, Subcommand)]
enum SafeCommand {
    /// Make a proposal file from a Transaction Builder batch (`--export safe-tx-builder`), with
    /// the Safe's current nonce.
    Propose(propose::ProposeArgs),
    /// Owner: sign a proposal file's hash (EIP-712) and add the signature to the file.
    Sign(sign::SignArgs),
    /// Anyone: send `execTransaction` once the file holds enough owners' signatures (a message
    /// proposal: print the EIP-1271 signature file for `shiftpay submit`).
    Exec(exec::ExecArgs),
    /// Show a proposal: the Safe's owners and threshold, who signed, and whether it ran.
    Status(status::StatusArgs),
}

pub(crate) async fn run(args: &SafeArgs, out: &OutputArgs) -> eyre::Result<()> {
    match &args.command {
        SafeCommand::Propose(args) => propose::run(args, out).await,
        SafeCommand::Sign(args) => sign::run(args, out).await,
        SafeCommand::Exec(args) => exec::run(args, out).await,
        SafeCommand::Status(args) => status::run(args, out).await,
    }
}

/// A Safe's owners, threshold and nonce as read now.
pub(crate) struct SafeState {
    pub(crate) owners: Vec<Address>,
    pub(crate) threshold: u64,
    pub(crate) nonce: U256,
}

/// Reads `safe`'s owners, threshold and nonce (an error naming the address when it is no Safe).
pub(crate) async fn read_state(ctx: &Context, safe: Address) -> eyre::Result<SafeState> {
    let contract = ISafe::new(safe, &ctx.provider);
    let not_safe = |e: alloy::contract::Error| {
        eyre!("{} does not answer as a Safe: {e}", ctx.format_address(safe))
    };
    let owners = contract.getOwners().call().await.map_err(not_safe)?;
    let threshold = contract.getThreshold().call().await.map_err(not_safe)?;
    let nonce = contract.nonce().call().await.map_err(not_safe)?;
    Ok(SafeState { owners, threshold: threshold.saturating_to(), nonce })
}

/// Reads a proposal file, checks it is for this chain, that its hash is the hash of its content
/// (a changed transaction is refused) and that every signature is its owner's.
pub(crate) fn load(ctx: &Context, path: &Path) -> eyre::Result<SafeProposal> {
    let proposal = route::read_proposal(path)?;
    if proposal.chain_id != ctx.chain.chain_id {
        bail!(
            "{} is for chain {}, the node is on chain {}",
            path.display(),
            proposal.chain_id,
            ctx.chain.chain_id
        );
    }
    proposal.verify().map_err(|e| eyre!("{}: {e}", path.display()))?;
    Ok(proposal)
}

/// The file's signatures by current owners (ascending), and the signers that are not owners.
pub(crate) fn owner_signatures(
    proposal: &SafeProposal,
    owners: &[Address],
) -> (Vec<OwnerSignature>, Vec<Address>) {
    let (mut valid, others): (Vec<OwnerSignature>, Vec<OwnerSignature>) =
        proposal.signatures.iter().cloned().partition(|s| owners.contains(&s.signer));
    valid.sort_by_key(|s| s.signer);
    (valid, others.into_iter().map(|s| s.signer).collect())
}

/// Refuses a transaction proposal whose nonce the Safe has moved past (`exact`: also one
/// queued behind another transaction).
pub(crate) fn check_nonce(
    ctx: &Context,
    proposal: &SafeProposal,
    state: &SafeState,
    exact: bool,
) -> eyre::Result<()> {
    let Proposed::Transaction { safe_tx, .. } = &proposal.proposed else { return Ok(()) };
    if safe_tx.nonce < state.nonce {
        bail!(
            "the proposal is stale: it has nonce {}, the Safe {} is at nonce {} (it ran, or another transaction took its nonce); propose it again",
            safe_tx.nonce,
            ctx.format_address(proposal.safe),
            state.nonce
        );
    }
    if exact && safe_tx.nonce > state.nonce {
        bail!(
            "the proposal has nonce {}, the Safe {} is at nonce {}: the transactions before it must run first",
            safe_tx.nonce,
            ctx.format_address(proposal.safe),
            state.nonce
        );
    }
    Ok(())
}

/// Writes the proposal back (through a temporary file, so a reader never sees half of it).
pub(crate) fn save(path: &Path, proposal: &SafeProposal) -> eyre::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "safe-tx".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, proposal.to_json()).and_then(|()| std::fs::rename(&tmp, path)).map_err(
        |e| {
            let _ = std::fs::remove_file(&tmp);
            eyre!("cannot write {}: {e}", path.display())
        },
    )
}
