//! `shiftpay verify FILE`: checks a signature file against the chain before anyone pays gas to
//! submit it. For each signature: the typed data is the bindings' definition and matches the
//! digest; its domain is this chain and this deployment's contract; the signature recovers to the
//! claimed signer (EIP-1271 `isValidSignature` when the signer is a contract); the signer has the
//! role the action needs; its nonce is the signer's current one (else used, or not yet usable);
//! the deadline has not passed. Then the submission is simulated. Exit 1 when anything fails.

use std::path::PathBuf;

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    sol,
};
use clap::Args;
use eyre::bail;
use serde::Serialize;
use shiftpay_bindings::{escrow::MilestoneEscrow, payroll::Payroll, tx};

use super::{
    job::common::{chain_now, explain_revert, load_job, relative},
    sign::document::{Action, Document, Entry, Message, Role, domain_of, parse_ecdsa},
    submit::prepare,
};
use crate::{context::Context, opts::ChainOpts, output::OutputArgs};

sol! {
    /// EIP-1271: how a contract wallet says a signature is its own.
    #[sol(rpc)]
    interface IERC1271 {
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4 magicValue);
    }
}

/// `isValidSignature`'s answer for a valid signature.
const EIP1271_MAGIC: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// Arguments of `shiftpay verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The signature file (from `shiftpay sign`).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    #[command(flatten)]
    chain: ChainOpts,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
struct Check {
    check: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SignatureReport {
    role: Role,
    signer: String,
    checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    file: String,
    valid: bool,
    action: Action,
    chain_id: u64,
    contract: String,
    description: String,
    signatures: Vec<SignatureReport>,
    /// The submission simulated with `eth_call` (absent when a signature check failed).
    call: Option<Check>,
}

impl Report {
    fn first_failure(&self) -> Option<String> {
        self.signatures
            .iter()
            .flat_map(|s| s.checks.iter().map(move |c| (s, c)))
            .find(|(_, c)| !c.ok)
            .map(|(s, c)| format!("{} ({} {}): {}", c.check, s.role, s.signer, c.detail))
            .or_else(|| {
                self.call.as_ref().filter(|c| !c.ok).map(|c| format!("{}: {}", c.check, c.detail))
            })
    }
}

pub(crate) async fn run(args: &VerifyArgs, out: &OutputArgs) -> eyre::Result<()> {
    let document = Document::load(&args.file)?;
    let shown = args.file.display().to_string();
    let ctx = Context::connect(&args.chain).await?;
    let now = chain_now(&ctx).await?;
    let deployment = ctx.deployment()?;
    let expected_contract = match document.action {
        Action::Withdraw => deployment.payroll.address,
        Action::Approve | Action::Settle => deployment.escrow.address,
    };
    let mut signatures = Vec::new();
    for entry in &document.entries {
        let checks = check_entry(&ctx, &document, entry, expected_contract, now).await?;
        signatures.push(SignatureReport {
            role: entry.role,
            signer: ctx.format_address(entry.signer),
            checks,
        });
    }
    let all_ok = signatures.iter().all(|s| s.checks.iter().all(|c| c.ok));
    let call = if all_ok { Some(simulate(&ctx, &document, &shown).await?) } else { None };
    let report = Report {
        file: shown.clone(),
        valid: all_ok && call.as_ref().is_some_and(|c| c.ok),
        action: document.action,
        chain_id: document.chain_id,
        contract: ctx.format_address(document.contract),
        description: document.description.clone(),
        signatures,
        call,
    };
    out.emit(&report, |r| {
        println!("{}: {}", r.file, r.description);
        for signature in &r.signatures {
            println!("  {} {}", signature.role, signature.signer);
            for check in &signature.checks {
                println!(
                    "    {:<4} {:<10} {}",
                    if check.ok { "ok" } else { "FAIL" },
                    check.check,
                    check.detail
                );
            }
        }
        if let Some(call) = &r.call {
            println!(
                "  {:<4} {:<10} {}",
                if call.ok { "ok" } else { "FAIL" },
                call.check,
                call.detail
            );
        }
        if r.valid {
            println!("valid: anyone can submit it with `shiftpay submit {}`", r.file);
        } else {
            println!("NOT VALID");
        }
    })?;
    if let Some(failure) = report.first_failure() {
        bail!("{shown} is not valid: {failure}");
    }
    Ok(())
}

/// The checks of one signature.
async fn check_entry(
    ctx: &Context,
    document: &Document,
    entry: &Entry,
    expected_contract: Address,
    now: u64,
) -> eyre::Result<Vec<Check>> {
    let mut checks = Vec::new();
    let mut push =
        |check: &'static str, ok: bool, detail: String| checks.push(Check { check, ok, detail });

    // The typed data: the bindings' struct in the bindings' domain, and the stated digest.
    let (chain_id, contract, name, version) = match domain_of(&entry.typed_data) {
        Ok(domain) => domain,
        Err(error) => {
            push("typed data", false, error.to_string());
            return Ok(checks);
        }
    };
    let canonical = entry.message.typed_data(chain_id, contract);
    let digest = entry.message.digest(chain_id, contract);
    let typed_ok = if canonical["types"] != entry.typed_data["types"] {
        Some(format!(
            "its types are not the bindings' {}",
            canonical["primaryType"].as_str().unwrap_or("?")
        ))
    } else if name != canonical["domain"]["name"] || version != canonical["domain"]["version"] {
        Some(format!(
            "its domain is {name:?} version {version:?}, not {} version {}",
            canonical["domain"]["name"], canonical["domain"]["version"]
        ))
    } else if chain_id != document.chain_id || contract != document.contract {
        Some("its domain names another chain or contract than the file".to_owned())
    } else if entry.digest != digest {
        Some(format!("the file's digest {} is not the typed data's {digest}", entry.digest))
    } else {
        None
    };
    match typed_ok {
        None => push(
            "typed data",
            true,
            format!(
                "{} in the {} domain, digest {digest}",
                canonical["primaryType"].as_str().unwrap_or("?"),
                name
            ),
        ),
        Some(problem) => push("typed data", false, problem),
    }

    push(
        "chain",
        chain_id == ctx.chain.chain_id,
        if chain_id == ctx.chain.chain_id {
            format!("chain {chain_id}, the node's")
        } else {
            format!("signed for chain {chain_id}, the node is on chain {}", ctx.chain.chain_id)
        },
    );
    let name_of = document.action.contract_name();
    push(
        "contract",
        contract == expected_contract,
        if contract == expected_contract {
            format!("the deployment's {name_of} {}", ctx.format_address(contract))
        } else {
            format!(
                "signed for {}, the deployment's {name_of} is {}",
                ctx.format_address(contract),
                ctx.format_address(expected_contract)
            )
        },
    );

    // The signature: ECDSA for an account without code, EIP-1271 for a contract.
    let code = ctx.provider.get_code_at(entry.signer).await?;
    let (sig_ok, sig_detail) = if code.is_empty() {
        ecdsa_check(ctx, entry, digest)
    } else {
        eip1271_check(ctx, entry.signer, digest, &entry.signature).await
    };
    push("signature", sig_ok, sig_detail);

    // The role, the nonce, the deadline: read from the contract the action is for.
    let (role_ok, role_detail, current_nonce) = match &entry.message {
        Message::Withdraw(request) => {
            let payroll = Payroll::new(expected_contract, &ctx.provider);
            let nonce = payroll.nonces(entry.signer).call().await?;
            match payroll.getStream(request.streamId).call().await {
                Ok(stream) if stream.worker == entry.signer => {
                    (true, format!("the worker of stream {}", request.streamId), nonce)
                }
                Ok(stream) => (
                    false,
                    format!(
                        "stream {}'s worker is {}",
                        request.streamId,
                        ctx.format_address(stream.worker)
                    ),
                    nonce,
                ),
                Err(_) => (false, format!("there is no stream {}", request.streamId), nonce),
            }
        }
        Message::Approve(_) | Message::Settle(_) => {
            escrow_role(ctx, expected_contract, entry).await?
        }
    };
    push("role", role_ok, role_detail);
    let nonce = entry.message.nonce();
    let nonce_detail = match nonce.cmp(&current_nonce) {
        std::cmp::Ordering::Equal => format!("{nonce}, the signer's current nonce"),
        std::cmp::Ordering::Less => {
            format!(
                "{nonce} was used or invalidated already (the signer's current nonce is {current_nonce})"
            )
        }
        std::cmp::Ordering::Greater => format!(
            "{nonce} is ahead of the signer's current nonce {current_nonce}: signatures with the nonces before it must be used first"
        ),
    };
    push("nonce", nonce == current_nonce, nonce_detail);
    let deadline = u64::try_from(entry.message.deadline()).unwrap_or(u64::MAX);
    let deadline_text = shiftpay_bindings::units::format_time(deadline);
    push(
        "deadline",
        now <= deadline,
        if now <= deadline {
            format!("valid until {deadline_text} ({})", relative(deadline, now))
        } else {
            format!("expired at {deadline_text} ({})", relative(deadline, now))
        },
    );
    Ok(checks)
}

/// The signer must be the job's client (approve) or the party it claims to be (settle); also
/// returns the signer's current escrow nonce.
async fn escrow_role(
    ctx: &Context,
    escrow: Address,
    entry: &Entry,
) -> eyre::Result<(bool, String, U256)> {
    let contract = MilestoneEscrow::new(escrow, &ctx.provider);
    let nonce = contract.nonces(entry.signer).call().await?;
    let (job_id, role) = match &entry.message {
        Message::Approve(m) => (m.jobId, Role::Client),
        Message::Settle(m) => (m.jobId, entry.role),
        Message::Withdraw(_) => unreachable!("a payroll message"),
    };
    let Ok(id) = u64::try_from(job_id) else {
        return Ok((false, format!("there is no job {job_id}"), nonce));
    };
    let job = match load_job(ctx, escrow, id).await {
        Ok(job) => job,
        Err(error) => return Ok((false, error.to_string(), nonce)),
    };
    let party = match role {
        Role::Client => job.job.client,
        Role::Worker => job.job.worker,
    };
    Ok(if party == entry.signer {
        (true, format!("the {role} of job {id}"), nonce)
    } else {
        (false, format!("the {role} of job {id} is {}", ctx.format_address(party)), nonce)
    })
}

/// Recovers an ECDSA signature (65 bytes, or 64 in EIP-2098 form).
fn ecdsa_check(ctx: &Context, entry: &Entry, digest: B256) -> (bool, String) {
    let Some(signature) = parse_ecdsa(&entry.signature) else {
        return (
            false,
            format!(
                "{} bytes is not an ECDSA signature (65 bytes), and the signer has no code for EIP-1271",
                entry.signature.len()
            ),
        );
    };
    if signature.normalize_s().is_some() {
        return (false, "a malleable signature (high s): the contracts reject it".to_owned());
    }
    match signature.recover_address_from_prehash(&digest) {
        Ok(recovered) if recovered == entry.signer => {
            let compact = if entry.signature.len() == 64 {
                ", EIP-2098 compact (submitted as 65 bytes)"
            } else {
                ""
            };
            (true, format!("ECDSA, recovers to the signer{compact}"))
        }
        Ok(recovered) => {
            (false, format!("recovers to {}, not the signer", ctx.format_address(recovered)))
        }
        Err(error) => (false, format!("cannot recover a signer: {error}")),
    }
}

/// Asks a contract signer whether the signature is its own (EIP-1271), as the contracts will.
async fn eip1271_check(
    ctx: &Context,
    signer: Address,
    digest: B256,
    signature: &Bytes,
) -> (bool, String) {
    match IERC1271::new(signer, &ctx.provider)
        .isValidSignature(digest, signature.clone())
        .call()
        .await
    {
        Ok(magic) if magic.0 == EIP1271_MAGIC => {
            (true, "EIP-1271: the contract signer accepts it".to_owned())
        }
        Ok(magic) => {
            (false, format!("EIP-1271: the contract signer rejects it (answered {magic})"))
        }
        Err(error) => {
            (false, format!("EIP-1271: the contract signer's isValidSignature failed ({error})"))
        }
    }
}

/// Simulates the submission with `eth_call` (as the party that must send a one-signature
/// settlement; as the first signer otherwise).
async fn simulate(ctx: &Context, document: &Document, shown: &str) -> eyre::Result<Check> {
    let submission = prepare(ctx, document, shown).await?;
    let from = submission.required_sender.map_or(document.entries[0].signer, |(_, party)| party);
    Ok(match tx::simulate(&ctx.provider, Some(from), &submission.tx).await {
        Ok(_) => Check {
            check: "call",
            ok: true,
            detail: format!(
                "the submission succeeds now (simulated as {})",
                ctx.format_address(from)
            ),
        },
        Err(error) => {
            let explained = error
                .revert()
                .and_then(|r| explain_revert(ctx, r))
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            Check { check: "call", ok: false, detail: format!("{error}{explained}") }
        }
    })
}
