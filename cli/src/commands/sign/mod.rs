//! `shiftpay sign withdraw|approve|settle`: EIP-712 signatures made now and submitted later by
//! anyone (a relayer, the other party, `shiftpay submit`, `cast send`). The output is a JSON file
//! (see [`document`]): the typed data in the `eth_signTypedData_v4` shape, the signature and the
//! signer.
//!
//! Online (the default) the signer's nonce, the chain id and the contract come from the node and
//! the deployment file, and the terms are checked (the signer is the client, the worker...).
//! Offline (`--nonce`, `--chain-id` and `--contract` all given, or `--offline`) nothing is asked
//! of any node: a cold machine can sign.

mod approve;
pub(crate) mod document;
mod settle;
mod withdraw;

use std::path::{Path, PathBuf};

use alloy::{
    primitives::{Address, Bytes, U256},
    providers::Provider,
    signers::{Signer, local::PrivateKeySigner},
};
use clap::{Args, Subcommand};
use eyre::{bail, eyre};
use shiftpay_bindings::{
    chains::{ChainInfo, GasPolicy, parse_address},
    units::{self, format_time},
    wallet,
};

use self::document::{Document, Entry, Message, Role};
use super::job::common::{chain_now, parse_deadline, relative};
use crate::{
    config::Config,
    context::Context,
    opts::{ChainOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    #[command(subcommand)]
    command: SignCommand,
}

#[derive(Debug, Subcommand)]
enum SignCommand {
    /// Worker: sign a withdraw request from a payroll stream (anyone submits it; the worker
    /// needs no gas).
    Withdraw(withdraw::WithdrawArgs),
    /// Client: sign the approval of a milestone (anyone submits it; the worker is paid).
    Approve(approve::ApproveArgs),
    /// Client or worker: sign a split of a milestone; `--add FILE` adds the other party's
    /// signature to a file the first party signed.
    Settle(settle::SettleArgs),
}

pub(crate) async fn run(args: &SignArgs, out: &OutputArgs) -> eyre::Result<()> {
    match &args.command {
        SignCommand::Withdraw(args) => withdraw::run(args, out).await,
        SignCommand::Approve(args) => approve::run(args, out).await,
        SignCommand::Settle(args) => settle::run(args, out).await,
    }
}

/// How long a signature is valid unless `--deadline` says otherwise.
const DEFAULT_DEADLINE: &str = "7d";

/// The options every `sign` subcommand takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct SignOpts {
    /// Last second the signature is valid: a duration from now (`2d`, `12h`) or a time
    /// (`2026-12-01`, `2026-12-01T12:00:00Z`, unix seconds). Default: 7 days.
    #[arg(long, value_name = "DURATION|TIME")]
    deadline: Option<String>,

    /// The signer's nonce (default: read from the contract). A signature is valid only with the
    /// signer's current nonce.
    #[arg(long, value_name = "N")]
    nonce: Option<String>,

    /// Chain id of the signature's domain (offline; online it must match the node's).
    #[arg(long, value_name = "ID")]
    chain_id: Option<u64>,

    /// The contract of the signature's domain (default: the deployment file's).
    #[arg(long, value_name = "ADDRESS")]
    contract: Option<String>,

    /// Sign without any node: needs `--nonce`, `--chain-id` and `--contract` (given all three,
    /// signing is offline anyway).
    #[arg(long)]
    offline: bool,

    /// Sign for a contract wallet (EIP-1271: a Safe, a smart account) that accepts this key's
    /// signature: the wallet is the signer, its nonce is used.
    #[arg(long, value_name = "ADDRESS")]
    on_behalf_of: Option<String>,

    /// Sign as an owner of a Safe multisig (`safe:ADDRESS`, `sign approve` only): the key signs
    /// the Safe's `SafeMessage` hash of the digest, written to a proposal file (`--out`, default
    /// `safe-message.json`) that other owners sign with `shiftpay safe sign`; `shiftpay safe exec`
    /// then prints the signature file the Safe accepts (EIP-1271).
    #[arg(long, value_name = "safe:ADDRESS", value_parser = crate::opts::parse_via, conflicts_with = "on_behalf_of")]
    via: Option<crate::opts::Via>,

    /// Write the signature file here instead of printing it.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,
}

/// Where a signature is made for: the chain, the contract, and (online) the node.
pub(crate) struct Target {
    /// The chain's facts (address formatting; a preset when the id has one).
    pub(crate) chain: ChainInfo,
    /// The domain's verifying contract.
    pub(crate) contract: Address,
    /// `None` offline.
    pub(crate) ctx: Option<Context>,
    /// The time deadlines count from: the chain's (online) or this machine's (offline).
    pub(crate) now: u64,
}

impl Target {
    /// Online or offline as the options say; `contract_of` picks the deployment's contract.
    pub(crate) async fn open(
        opts: &SignOpts,
        contract_of: impl FnOnce(&shiftpay_bindings::deployment::Deployment) -> Address,
    ) -> eyre::Result<Self> {
        let contract = opts
            .contract
            .as_deref()
            .map(parse_address)
            .transpose()
            .map_err(|e| eyre!("--contract: {e}"))?;
        let offline =
            opts.offline || (opts.nonce.is_some() && opts.chain_id.is_some() && contract.is_some());
        if offline {
            let missing: Vec<&str> = [
                (opts.nonce.is_none(), "--nonce"),
                (opts.chain_id.is_none(), "--chain-id"),
                (contract.is_none(), "--contract"),
            ]
            .into_iter()
            .filter_map(|(missing, flag)| missing.then_some(flag))
            .collect();
            if !missing.is_empty() {
                bail!(
                    "signing offline needs {}: nothing can be read from a node",
                    missing.join(", ")
                );
            }
            let chain_id = opts.chain_id.expect("checked");
            return Ok(Self {
                chain: ChainInfo::for_chain_id(chain_id, GasPolicy::Legacy),
                contract: contract.expect("checked"),
                ctx: None,
                now: units::now(),
            });
        }
        let ctx = Context::connect(&opts.chain).await?;
        if let Some(id) = opts.chain_id
            && id != ctx.chain.chain_id
        {
            bail!(
                "--chain-id {id} does not match the node, which is on chain {}",
                ctx.chain.chain_id
            );
        }
        let contract = match contract {
            Some(contract) => contract,
            None => contract_of(ctx.deployment()?),
        };
        let now = chain_now(&ctx).await?;
        Ok(Self { chain: ctx.chain.clone(), contract, ctx: Some(ctx), now })
    }

    /// The chain id.
    pub(crate) fn chain_id(&self) -> u64 {
        self.chain.chain_id
    }
}

/// The key that signs and the address that is the signer (the key's, or `--on-behalf-of`).
pub(crate) struct Signing {
    pub(crate) key: PrivateKeySigner,
    pub(crate) signer: Address,
    pub(crate) deadline: u64,
    /// `--via safe:ADDRESS`: the Safe the key signs for as an owner.
    pub(crate) safe: Option<Address>,
}

impl Signing {
    /// Loads the key (a password prompt for a keystore), parses `--on-behalf-of` and the
    /// deadline (`fixed`: the deadline of a file being countersigned); online, checks that a
    /// contract signer has code.
    pub(crate) async fn open(
        opts: &SignOpts,
        target: &Target,
        fixed: Option<u64>,
    ) -> eyre::Result<Self> {
        let safe = match opts.via {
            None | Some(crate::opts::Via::Key) => None,
            Some(crate::opts::Via::Safe(safe)) => Some(safe),
            Some(crate::opts::Via::Timelock(_)) => {
                bail!("a Timelock cannot sign messages: --via takes safe:ADDRESS here")
            }
        };
        let on_behalf_of = match safe {
            Some(safe) => Some(safe),
            None => opts
                .on_behalf_of
                .as_deref()
                .map(parse_address)
                .transpose()
                .map_err(|e| eyre!("--on-behalf-of: {e}"))?,
        };
        let deadline = match fixed {
            Some(deadline) => deadline,
            None => {
                parse_deadline(opts.deadline.as_deref().unwrap_or(DEFAULT_DEADLINE), target.now)
                    .map_err(|e| eyre!("--deadline: {e}"))?
            }
        };
        let config = match &target.ctx {
            Some(ctx) => ctx.config.clone(),
            None => Config::discover(&std::env::current_dir()?)?,
        };
        let Some(source) = opts.wallet.source(&config)? else {
            bail!(
                "signing needs a key: pass --account NAME, --keystore FILE, --private-key KEY or --mnemonic PHRASE"
            );
        };
        let key = wallet::load_signer(&source)?;
        let signer = on_behalf_of.unwrap_or(key.address());
        if let (Some(wallet), Some(ctx)) = (on_behalf_of, &target.ctx) {
            let code = ctx
                .provider
                .get_code_at(wallet)
                .await
                .map_err(|e| eyre!("cannot read the code at {wallet}: {e}"))?;
            if code.is_empty() {
                bail!(
                    "--on-behalf-of {} has no code: it is not a contract wallet (an EOA signs for itself)",
                    ctx.format_address(wallet)
                );
            }
        }
        if let (Some(safe), Some(ctx)) = (safe, &target.ctx) {
            let owner = shiftpay_bindings::safe::ISafe::new(safe, &ctx.provider)
                .isOwner(key.address())
                .call()
                .await
                .map_err(|e| {
                    eyre!("{} does not answer as a Safe: {e}", ctx.format_address(safe))
                })?;
            if !owner {
                bail!(
                    "{} is not an owner of the Safe {}: its signature would not count",
                    ctx.format_address(key.address()),
                    ctx.format_address(safe)
                );
            }
        }
        Ok(Self { key, signer, deadline, safe })
    }

    /// Refuses `--via` in the `sign` subcommands that do not support it yet.
    pub(crate) fn refuse_via(opts: &SignOpts, command: &str) -> eyre::Result<()> {
        if opts.via.is_some() {
            bail!("`shiftpay sign {command}` does not take --via yet: only `sign approve` does");
        }
        Ok(())
    }

    /// `--nonce`, if given (else the caller reads the contract's current nonce of the signer).
    pub(crate) fn given_nonce(opts: &SignOpts) -> eyre::Result<Option<U256>> {
        opts.nonce
            .as_deref()
            .map(|text| {
                text.trim().parse::<U256>().map_err(|_| eyre!("--nonce {text:?} is not a number"))
            })
            .transpose()
    }

    /// Signs `message` for `target` and wraps it in an entry.
    pub(crate) async fn sign(
        &self,
        role: Role,
        message: Message,
        target: &Target,
    ) -> eyre::Result<Entry> {
        let mut digest = message.digest(target.chain_id(), target.contract);
        if let Some(safe) = self.safe {
            digest = shiftpay_bindings::safe::safe_message_hash(target.chain_id(), safe, digest);
        }
        let signature = self.key.sign_hash(&digest).await.map_err(|e| eyre!("cannot sign: {e}"))?;
        debug_assert_eq!(
            signature.recover_address_from_prehash(&digest).ok(),
            Some(self.key.address())
        );
        Ok(Entry::new(
            role,
            self.signer,
            Bytes::from(signature.as_bytes().to_vec()),
            message,
            target.chain_id(),
            target.contract,
        ))
    }
}

/// Prints the signature file (or writes it to `--out` and prints where), and a summary of what
/// was signed on stderr.
pub(crate) fn emit(
    document: &Document,
    target: &Target,
    out_path: Option<&Path>,
    out: &OutputArgs,
) -> eyre::Result<()> {
    let json = document.to_json(&target.chain);
    let text = serde_json::to_string_pretty(&json)? + "\n";
    let Some(entry) = document.entries.last() else { bail!("nothing was signed") };
    let deadline = u64::try_from(entry.message.deadline()).unwrap_or(u64::MAX);
    eprintln!(
        "signed by {} (nonce {}), valid until {} ({}): {}",
        target.chain.format_address(entry.signer),
        entry.message.nonce(),
        format_time(deadline),
        relative(deadline, target.now),
        document.description
    );
    match out_path {
        None => {
            print!("{text}");
            eprintln!("send it with `shiftpay submit FILE`; check it with `shiftpay verify FILE`");
        }
        Some(path) => {
            write_atomically(path, &text)?;
            let shown = path.display().to_string();
            out.emit(&serde_json::json!({ "path": shown, "document": json.to_value() }), |_| {
                println!("wrote {shown}: send it with `shiftpay submit {shown}`");
            })?;
        }
    }
    Ok(())
}

/// `--via safe:`: writes the signed document as a Safe message proposal (with this owner's
/// signature) for the other owners' `shiftpay safe sign` and a final `shiftpay safe exec`.
pub(crate) fn propose_message(
    document: &Document,
    target: &Target,
    signing: &Signing,
    out_path: Option<&Path>,
    out: &OutputArgs,
) -> eyre::Result<()> {
    let safe = signing.safe.expect("a Safe signing");
    let Some(entry) = document.entries.last() else { bail!("nothing was signed") };
    let payload = document.to_json(&target.chain).to_value();
    let mut proposal = shiftpay_bindings::safe::SafeProposal::message(
        target.chain_id(),
        safe,
        entry.digest,
        document.description.clone(),
        payload,
    );
    proposal.add_signature(shiftpay_bindings::safe::OwnerSignature {
        signer: signing.key.address(),
        signature: entry.signature.clone(),
    });
    proposal.verify()?;
    let path = out_path.unwrap_or(Path::new("safe-message.json"));
    write_atomically(path, &proposal.to_json())?;
    let shown = path.display().to_string();
    out.emit(&serde_json::json!({ "path": shown, "safeMessageHash": proposal.hash }), |_| {
        println!(
            "wrote {shown}: {} signed for the Safe {}; other owners run `shiftpay safe sign {shown}`, then `shiftpay safe exec {shown} > approval.json`",
            target.chain.format_address(signing.key.address()),
            target.chain.format_address(safe)
        );
    })
}

/// Writes `text` to a temporary file next to `path`, then renames it over `path` (so `--add
/// FILE --out FILE` never reads half a file).
fn write_atomically(path: &Path, text: &str) -> eyre::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "signature".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        eyre!("cannot write {}: {e}", path.display())
    })
}
