//! `--via safe:ADDRESS` / `--via timelock:ADDRESS`: where the calls a command collects go instead
//! of being sent. [`Context::send`] collects each call (checked with `eth_call` as the Safe or
//! Timelock); [`Context::print_dry_run`] hands them to [`Route::finish`], which writes a Safe
//! transaction proposal (for `shiftpay safe sign|exec`), a Safe{Wallet} Transaction Builder batch,
//! or a Governor proposal.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, U256, address};
use eyre::{bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{
    chains::parse_address,
    safe::{
        GovernorProposal, MetaTx, Proposed, ProposedCall, SafeProposal, TxBuilderBatch,
        batch_safe_tx,
    },
};

use crate::{
    config::Config,
    context::Context,
    opts::{TxOpts, Via},
    output::OutputArgs,
};

/// Safe's canonical `MultiSendCallOnly` (v1.4.1), deployed at the same address on every chain
/// that has the Safe singleton factory.
pub(crate) const CANONICAL_MULTISEND_CALL_ONLY: Address =
    address!("0x9641d764fc13c8B624c04430C7356C1C7C8102e2");

/// The default proposal file.
pub(crate) const DEFAULT_PROPOSAL_FILE: &str = "safe-tx.json";

/// What `--export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportFormat {
    /// Safe{Wallet} Transaction Builder batch JSON.
    TxBuilder,
    /// Governor proposal (targets, values, calldatas, description).
    Governor,
}

/// A `--via` route of a command.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// Safe or Timelock.
    pub(crate) via: Via,
    /// `--export FORMAT FILE`.
    pub(crate) export: Option<(ExportFormat, PathBuf)>,
    /// `--out` (Safe proposals).
    pub(crate) out: PathBuf,
    /// `--append`.
    pub(crate) append: bool,
    /// `--multisend`.
    pub(crate) multisend: Address,
}

impl Route {
    /// The route the options (or `safe` in shiftpay.toml) ask for; `None` sends from the key.
    /// Route options without a route are an error.
    pub(crate) fn from_opts(opts: &TxOpts, config: &Config) -> eyre::Result<Option<Self>> {
        let via = match opts.via {
            Some(via) => via,
            None => match &config.safe {
                Some(text) => Via::Safe(
                    parse_address(text).map_err(|e| eyre!("`safe` in shiftpay.toml: {e}"))?,
                ),
                None => Via::Key,
            },
        };
        let export = match opts.export.as_deref() {
            None => None,
            Some([format, file]) => {
                let format = match format.to_ascii_lowercase().as_str() {
                    "safe-tx-builder" | "tx-builder" => ExportFormat::TxBuilder,
                    "governor" => ExportFormat::Governor,
                    other => bail!(
                        "--export {other:?}: expected `safe-tx-builder FILE` or `governor FILE`"
                    ),
                };
                Some((format, PathBuf::from(file)))
            }
            Some(_) => bail!("--export takes a format and a file: --export governor proposal.json"),
        };
        if via == Via::Key {
            let stray: Vec<&str> = [
                (export.is_some(), "--export"),
                (opts.safe_out.is_some(), "--out"),
                (opts.append, "--append"),
                (opts.multisend.is_some(), "--multisend"),
            ]
            .into_iter()
            .filter_map(|(set, flag)| set.then_some(flag))
            .collect();
            if !stray.is_empty() {
                bail!(
                    "{} only apply with --via safe:ADDRESS or --via timelock:ADDRESS",
                    stray.join(", ")
                );
            }
            return Ok(None);
        }
        if matches!(via, Via::Timelock(_)) && export.is_none() {
            bail!(
                "--via timelock: needs --export governor FILE (a Timelock runs what a Governor proposal passed)"
            );
        }
        if export.is_some() && (opts.safe_out.is_some() || opts.append) {
            bail!("--out and --append write a Safe proposal; --export writes its own FILE");
        }
        Ok(Some(Self {
            via,
            export,
            out: opts.safe_out.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PROPOSAL_FILE)),
            append: opts.append,
            multisend: opts.multisend.unwrap_or(CANONICAL_MULTISEND_CALL_ONLY),
        }))
    }

    /// The Safe or Timelock.
    pub(crate) fn account(&self) -> Address {
        self.via.account().expect("a route has an account")
    }

    /// Whether the account is a Safe.
    pub(crate) fn is_safe(&self) -> bool {
        matches!(self.via, Via::Safe(_))
    }

    /// The line said on stderr when the route starts.
    pub(crate) fn announce(&self, shown: &str) -> String {
        let kind = if self.is_safe() { "Safe" } else { "Timelock" };
        format!(
            "acting as the {kind} {shown}: calls are checked with eth_call as it and collected, nothing is sent"
        )
    }

    /// Writes what the route asks for from the collected `calls` (`nonce`: the Safe's) and
    /// prints a summary.
    pub(crate) fn finish(
        &self,
        ctx: &Context,
        calls: Vec<ProposedCall>,
        nonce: Option<U256>,
        out: &OutputArgs,
    ) -> eyre::Result<()> {
        if calls.is_empty() {
            bail!("nothing to propose: the command collected no call");
        }
        let chain_id = ctx.chain.chain_id;
        let account = self.account();
        let metas: Vec<MetaTx> = calls.iter().map(|c| c.call.clone()).collect();
        let summary: Vec<String> = calls.iter().map(|c| c.description.clone()).collect();
        let description = format!("ShiftPay: {}", summary.join("; "));
        let (kind, path, hash, nonce, total) = match &self.export {
            Some((ExportFormat::TxBuilder, path)) => {
                let created_ms = u64::try_from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis(),
                )
                .unwrap_or(u64::MAX);
                let name = format!("ShiftPay: {}", summary[0]);
                let batch =
                    TxBuilderBatch::new(chain_id, account, name, description, created_ms, &metas);
                write_json(path, &batch)?;
                ("safe-tx-builder", path.clone(), None, None, calls.len())
            }
            Some((ExportFormat::Governor, path)) => {
                let proposal =
                    GovernorProposal::new(chain_id, account, &metas, summary.clone(), description);
                write_json(path, &proposal)?;
                if !out.json {
                    eprintln!("propose it with:\n  {}", proposal.cast_command);
                }
                ("governor", path.clone(), None, None, calls.len())
            }
            None => {
                let nonce = nonce.ok_or_else(|| eyre!("the Safe's nonce was not read"))?;
                let mut all = calls.clone();
                if self.append && self.out.exists() {
                    let previous = read_proposal(&self.out)?;
                    match (&previous.proposed, previous.signatures.is_empty()) {
                        (Proposed::Transaction { calls: before, .. }, true)
                            if previous.safe == account && previous.chain_id == chain_id =>
                        {
                            all = before.iter().cloned().chain(calls.iter().cloned()).collect();
                        }
                        (_, false) => bail!(
                            "{} is already signed: --append adds only to an unsigned proposal",
                            self.out.display()
                        ),
                        _ => bail!(
                            "{} is not a transaction proposal of this Safe on this chain: --append cannot add to it",
                            self.out.display()
                        ),
                    }
                }
                let metas: Vec<MetaTx> = all.iter().map(|c| c.call.clone()).collect();
                let safe_tx = batch_safe_tx(&metas, self.multisend, nonce)?;
                let total = all.len();
                let proposal = SafeProposal::transaction(chain_id, account, &safe_tx, all);
                std::fs::write(&self.out, proposal.to_json())
                    .map_err(|e| eyre!("cannot write {}: {e}", self.out.display()))?;
                ("safe-proposal", self.out.clone(), Some(proposal.hash), Some(nonce), total)
            }
        };
        let shown = ctx.show_path(&path);
        let report = RouteReport {
            kind,
            path: shown.clone(),
            chain_id,
            account: ctx.format_address(account),
            safe_tx_hash: hash,
            nonce,
            calls: calls
                .iter()
                .map(|c| CallReport {
                    description: c.description.clone(),
                    to: ctx.format_address(c.call.to),
                    value: c.call.value,
                    data: c.call.data.to_string(),
                })
                .collect(),
            total_calls: total,
        };
        out.emit(&report, |r| {
            for (i, call) in r.calls.iter().enumerate() {
                println!("{}. {} (to {})", i + 1, call.description, call.to);
            }
            match (r.safe_tx_hash, r.nonce) {
                (Some(hash), Some(nonce)) => println!(
                    "wrote {} for the Safe {} ({} call{}, nonce {nonce}, safeTxHash {hash})",
                    r.path,
                    r.account,
                    r.total_calls,
                    if r.total_calls == 1 { "" } else { "s" }
                ),
                _ => println!("wrote {} ({} for {})", r.path, r.kind, r.account),
            }
        })?;
        match kind {
            "safe-proposal" => eprintln!(
                "nothing was sent: owners sign with `shiftpay safe sign {shown}`, then anyone runs `shiftpay safe exec {shown}`"
            ),
            "safe-tx-builder" => eprintln!(
                "nothing was sent: import {shown} in the Safe{{Wallet}} Transaction Builder app, review and sign it there"
            ),
            _ => eprintln!(
                "nothing was sent: propose {shown} to the Governor (targets, values, calldatas, description)"
            ),
        }
        Ok(())
    }
}

/// One collected call, for output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CallReport {
    description: String,
    to: String,
    value: U256,
    data: String,
}

/// What a `--via` command prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteReport {
    /// `safe-proposal`, `safe-tx-builder` or `governor`.
    kind: &'static str,
    path: String,
    chain_id: u64,
    /// The Safe or Timelock.
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    safe_tx_hash: Option<alloy::primitives::B256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<U256>,
    /// The calls this command collected.
    calls: Vec<CallReport>,
    /// Calls in the file (more than `calls` with `--append`).
    total_calls: usize,
}

/// Writes `value` as pretty JSON with a final newline.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> eyre::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).map_err(|e| eyre!("cannot write {}: {e}", path.display()))
}

/// Reads a Safe proposal file.
pub(crate) fn read_proposal(path: &Path) -> eyre::Result<SafeProposal> {
    let text =
        std::fs::read_to_string(path).map_err(|e| eyre!("cannot read {}: {e}", path.display()))?;
    SafeProposal::from_json(&text).map_err(|e| eyre!("{}: {e}", path.display()))
}
