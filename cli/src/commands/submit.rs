//! `shiftpay submit FILE`: sends a signature file made by `shiftpay sign` (any wallet may: a
//! relayer, the other party, a friend with rBTC for gas). `withdraw` → Payroll
//! `withdrawWithSignature`; `approve` → escrow `approveMilestoneWithSignature`; `settle` → escrow
//! `settle` with the signatures the file holds (with one, the sender must be the other party: the
//! contract takes the caller's consent in place of its signature).

use std::path::PathBuf;

use alloy::{
    primitives::Address,
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::SolEvent,
};
use clap::Args;
use eyre::{bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{
    escrow::MilestoneEscrow,
    payroll::{Payroll, PayrollTypes},
};

use super::{
    job::common::{EventLine, TxSummary, chain_now, job_token, load_job, send},
    sign::document::{Action, Document, Message, Role, canonical_signature},
};
use crate::{
    context::{Context, Sent},
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay submit`.
#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    /// The signature file (from `shiftpay sign`).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Submitted {
    file: String,
    action: Action,
    description: String,
    tx: TxSummary,
}

/// The transaction a signature file makes, after checking the file is for this chain and
/// deployment.
pub(crate) struct Submission {
    /// The call.
    pub(crate) tx: TransactionRequest,
    /// What it does, for the spinner and the dry run.
    pub(crate) what: String,
    /// For a settlement with one signature: the party that must send it, and its address.
    pub(crate) required_sender: Option<(Role, Address)>,
}

/// Builds the call of `document`, refusing a file made for another chain or contract.
pub(crate) async fn prepare(
    ctx: &Context,
    document: &Document,
    shown: &str,
) -> eyre::Result<Submission> {
    if document.chain_id != ctx.chain.chain_id {
        bail!(
            "{shown} is signed for chain {}, but the node is on chain {}: submit it on its own chain",
            document.chain_id,
            ctx.chain.chain_id
        );
    }
    let deployment = ctx.deployment()?;
    let expected = match document.action {
        Action::Withdraw => deployment.payroll.address,
        Action::Approve | Action::Settle => deployment.escrow.address,
    };
    if document.contract != expected {
        bail!(
            "{shown} is signed for the {} at {}, but this deployment's is at {}",
            document.action.contract_name(),
            ctx.format_address(document.contract),
            ctx.format_address(expected)
        );
    }
    let first = &document.entries[0];
    let what = format!("submit {shown} ({})", document.description);
    Ok(match &first.message {
        Message::Withdraw(request) => Submission {
            tx: ctx.call_tx(
                expected,
                &Payroll::withdrawWithSignatureCall {
                    request: PayrollTypes::WithdrawRequest::from(request.clone()),
                    signature: canonical_signature(&first.signature),
                },
            ),
            what,
            required_sender: None,
        },
        Message::Approve(approval) => Submission {
            tx: ctx.call_tx(
                expected,
                &MilestoneEscrow::approveMilestoneWithSignatureCall {
                    jobId: approval.jobId,
                    milestoneIndex: approval.milestoneIndex,
                    deadline: approval.deadline,
                    signature: canonical_signature(&first.signature),
                },
            ),
            what,
            required_sender: None,
        },
        Message::Settle(terms) => {
            let signature_of = |role| {
                document.entry(role).map(|e| canonical_signature(&e.signature)).unwrap_or_default()
            };
            let required_sender = match document.entries.as_slice() {
                [only] => {
                    let id = u64::try_from(terms.jobId)
                        .map_err(|_| eyre!("{shown}: job id out of range"))?;
                    let job = load_job(ctx, expected, id).await?;
                    let other = only.role.other();
                    Some((
                        other,
                        if other == Role::Client { job.job.client } else { job.job.worker },
                    ))
                }
                _ => None,
            };
            Submission {
                tx: ctx.call_tx(
                    expected,
                    &MilestoneEscrow::settleCall {
                        jobId: terms.jobId,
                        milestoneIndex: terms.milestoneIndex,
                        workerBps: terms.workerBps,
                        deadline: terms.deadline,
                        clientSignature: signature_of(Role::Client),
                        workerSignature: signature_of(Role::Worker),
                    },
                ),
                what,
                required_sender,
            }
        }
    })
}

pub(crate) async fn run(args: &SubmitArgs, out: &OutputArgs) -> eyre::Result<()> {
    let document = Document::load(&args.file)?;
    let shown = args.file.display().to_string();
    let ctx = Context::connect(&args.chain).await?;
    let submission = prepare(&ctx, &document, &shown).await?;
    let sender = ctx.sender(&args.wallet, &args.tx)?;
    if let Some((role, party)) = submission.required_sender {
        let signed = role.other();
        match sender.address() {
            Some(from) if from == party => {}
            Some(from) => bail!(
                "{shown} holds only the {signed}'s signature, so the {role} ({}) must send it, not {}; or the {role} adds a signature with `shiftpay sign settle --add {shown}` and anyone sends it",
                ctx.format_address(party),
                ctx.format_address(from)
            ),
            None => bail!(
                "{shown} holds only the {signed}'s signature: simulate it as the {role} with --from {}",
                ctx.format_address(party)
            ),
        }
    }
    let receipt = match send(&ctx, &sender, submission.tx, &submission.what, &args.tx).await? {
        Sent::Mined(receipt) => *receipt,
        Sent::Simulated => return ctx.print_dry_run(out),
    };
    let tx = summarize(&ctx, &document, &receipt).await?;
    let submitted = Submitted {
        file: shown,
        action: document.action,
        description: document.description.clone(),
        tx,
    };
    out.emit(&submitted, |s| {
        println!("submitted {}: {}", s.file, s.description);
        s.tx.print();
    })
}

/// The receipt's events: the escrow's (with the job's token and roles) or the payroll's.
pub(crate) async fn summarize(
    ctx: &Context,
    document: &Document,
    receipt: &TransactionReceipt,
) -> eyre::Result<TxSummary> {
    let now = chain_now(ctx).await?;
    match &document.entries[0].message {
        Message::Approve(m) => {
            let job = load_job(ctx, document.contract, m.jobId.to::<u64>()).await?;
            Ok(TxSummary::new(ctx, receipt, document.contract, &job, now))
        }
        Message::Settle(m) => {
            let job = load_job(ctx, document.contract, m.jobId.to::<u64>()).await?;
            Ok(TxSummary::new(ctx, receipt, document.contract, &job, now))
        }
        Message::Withdraw(request) => {
            let stream = Payroll::new(document.contract, &ctx.provider)
                .getStream(request.streamId)
                .call()
                .await
                .map_err(|e| eyre!("cannot read stream {}: {e}", request.streamId))?;
            let token = job_token(ctx, stream.token).await?;
            let mut events = Vec::new();
            for log in receipt.logs().iter().filter(|l| l.address() == document.contract) {
                if let Ok(e) = Payroll::Withdrawn::decode_log(&log.inner) {
                    events.push(EventLine {
                        event: "Withdrawn",
                        description: format!(
                            "{} of stream {} paid to {}",
                            token.format_amount(e.data.amount),
                            e.data.streamId,
                            ctx.format_address(e.data.to)
                        ),
                    });
                } else if let Ok(e) = Payroll::SignedWithdrawalExecuted::decode_log(&log.inner) {
                    events.push(EventLine {
                        event: "SignedWithdrawalExecuted",
                        description: format!(
                            "signed request of {} executed (nonce {} used), submitted by {}",
                            ctx.format_address(e.data.worker),
                            e.data.nonce,
                            ctx.format_address(e.data.relayer)
                        ),
                    });
                }
            }
            Ok(TxSummary::with_events(ctx, receipt, events))
        }
    }
}
