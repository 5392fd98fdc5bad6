//! `shiftpay job withdraw --token TOKEN`: takes out what the escrow credited to you after a
//! payout to you failed (a native recipient that reverted, a token transfer that failed).

use alloy::primitives::Address;
use clap::Args;
use eyre::{bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{
    chains::parse_address,
    escrow::MilestoneEscrow,
    tokens::{TokenRef, resolve_token},
};

use super::common::{EventLine, SendOpts, Session, TxSummary, send_and_report};
use crate::output::OutputArgs;

/// Arguments of `shiftpay job withdraw`.
#[derive(Debug, Args)]
pub(crate) struct WithdrawArgs {
    /// The token of the credited payouts: `rbtc`, a symbol, or an address (any token a job used).
    #[arg(long, value_name = "TOKEN")]
    token: String,

    /// Where to send it (default: you). A contract that cannot receive names another address.
    #[arg(long, value_name = "ADDRESS")]
    to: Option<String>,

    #[command(flatten)]
    send: SendOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Withdrawn {
    account: String,
    to: String,
    amount: String,
    amount_units: String,
    tx: TxSummary,
}

pub(super) async fn run(args: &WithdrawArgs, out: &OutputArgs) -> eyre::Result<()> {
    let token_ref: TokenRef = args.token.parse()?;
    let to = args.to.as_deref().map(parse_address).transpose().map_err(|e| eyre!("--to: {e}"))?;
    let session = Session::open(&args.send).await?;
    let ctx = &session.ctx;
    let extra = ctx.deployment()?.tokens.clone();
    // The token was already accepted by a job: no --allow-unknown-token needed to take it back.
    let token = resolve_token(&ctx.provider, &ctx.chain, &token_ref, &extra, true).await?;
    let account = session.sender.require_address()?;
    let to: Address = to.unwrap_or(account);
    let owed = MilestoneEscrow::new(session.escrow, &ctx.provider)
        .owed(token.address, account)
        .call()
        .await
        .map_err(|e| {
            eyre!("cannot read what the escrow owes {}: {e}", ctx.format_address(account))
        })?;
    if owed.is_zero() {
        bail!(
            "the escrow owes {} nothing in {}: there is no deferred payment to withdraw",
            ctx.format_address(account),
            token.symbol
        );
    }
    let tx = session.call(&MilestoneEscrow::withdrawCall { token: token.address, to });
    let what = format!(
        "withdraw {} of deferred payments to {}",
        token.format_amount(owed),
        ctx.format_address(to)
    );
    let Some(receipt) = send_and_report(&session, tx, &what, &args.send.tx, out).await? else {
        return Ok(());
    };
    let description = format!(
        "{} of deferred payments withdrawn by {} to {}",
        token.format_amount(owed),
        ctx.format_address(account),
        ctx.format_address(to)
    );
    let withdrawn = Withdrawn {
        account: ctx.format_address(account),
        to: ctx.format_address(to),
        amount: token.format_amount(owed),
        amount_units: owed.to_string(),
        tx: TxSummary::with_events(
            ctx,
            &receipt,
            vec![EventLine { event: "DeferredPaymentWithdrawn", description }],
        ),
    };
    out.emit(&withdrawn, |w| {
        println!("withdrew {} of deferred payments to {}", w.amount, w.to);
        w.tx.print();
    })
}
