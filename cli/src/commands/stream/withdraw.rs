//! `shiftpay stream withdraw ID [AMOUNT|all]`: the worker withdraws what a stream earned (up to
//! what its pool covers), to themselves or `--to`.

use alloy::primitives::U256;
use clap::Args;
use eyre::bail;
use serde::Serialize;
use shiftpay_bindings::{payroll::Payroll, units::MonthMode};

use super::{StreamJson, stream_json};
use crate::{
    commands::payroll_common::{
        AmountJson, TokenBook, TxJson, address_arg, send_call, sender_with_address, stream_id,
        stream_states,
    },
    context::Context,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay stream withdraw`.
#[derive(Debug, Args)]
pub(crate) struct WithdrawArgs {
    /// Stream id.
    #[arg(value_name = "ID")]
    id: String,

    /// Amount for people (`120.5`), or `all` (default): everything withdrawable now.
    #[arg(value_name = "AMOUNT|all", default_value = "all", allow_negative_numbers = true)]
    amount: String,

    /// Recipient (default: you, the worker).
    #[arg(long, value_name = "ADDRESS")]
    to: Option<String>,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WithdrawOutput {
    stream_id: u64,
    to: String,
    withdrawn: AmountJson,
    tx: TxJson,
    stream: StreamJson,
}

pub(crate) async fn run(args: &WithdrawArgs, out: &OutputArgs) -> eyre::Result<()> {
    let id = stream_id(&args.id)?;
    let to = args.to.as_deref().map(|a| address_arg(a, "--to")).transpose()?;
    let ctx = Context::connect(&args.chain).await?;
    let payroll = ctx.deployment()?.payroll.address;
    let state = stream_states(&ctx, payroll, &[id]).await?.remove(0);
    let token = TokenBook::default().get(&ctx, state.view.token, Some(state.decimals)).await;
    let amount = if args.amount.trim().eq_ignore_ascii_case("all") {
        if state.withdrawable.is_zero() {
            bail!(
                "stream {id} has nothing withdrawable now (earned {}, its pool holds {})",
                token.format_amount(state.earned),
                token.format_amount(state.pool_balance)
            );
        }
        state.withdrawable
    } else {
        let amount = token.parse_amount(&args.amount)?;
        if amount.is_zero() {
            bail!("the amount must be more than 0 {}", token.symbol);
        }
        if amount > state.withdrawable {
            bail!(
                "stream {id} can pay {} now, less than the {} asked (earned {}, its pool holds {})",
                token.format_amount(state.withdrawable),
                token.format_amount(amount),
                token.format_amount(state.earned),
                token.format_amount(state.pool_balance)
            );
        }
        amount
    };
    let (sender, from) = sender_with_address(&ctx, &args.wallet, &args.tx)?;
    let to = to.unwrap_or(from);
    if to.is_zero() {
        bail!("--to cannot be the zero address");
    }
    let call = Payroll::withdrawCall { streamId: U256::from(id), to, amount };
    let what = format!(
        "withdraw {} from stream {id} to {}",
        token.format_amount(amount),
        ctx.format_address(to)
    );
    let sent = send_call(&ctx, &sender, ctx.call_tx(payroll, &call), &what, &args.tx).await?;
    let Some(receipt) = sent.receipt() else { return ctx.print_dry_run(out) };
    let output = WithdrawOutput {
        stream_id: id,
        to: ctx.format_address(to),
        withdrawn: AmountJson::new(&token, amount),
        tx: TxJson::new(&ctx, receipt),
        stream: stream_json(&ctx, payroll, id, MonthMode::Days30).await?,
    };
    out.emit(&output, |o| {
        println!(
            "withdrew {} {} from stream {id} to {}",
            o.withdrawn.amount, o.withdrawn.symbol, o.to
        );
        println!("tx            {} (block {})", o.tx.tx_hash, o.tx.block);
        println!(
            "left          earned {} {2}, withdrawable {} {2}",
            o.stream.earned.amount, o.stream.withdrawable.amount, o.withdrawn.symbol
        );
    })
}
