//! `shiftpay treasury withdraw-surplus AMOUNT|all TOKEN`: takes back part of a pool's free
//! balance (never what streams earned).

use clap::Args;
use eyre::bail;
use serde::Serialize;
use shiftpay_bindings::{payroll::Payroll, units::MonthMode};

use super::{PoolJson, pool_json, print_pool};
use crate::{
    commands::payroll_common::{
        AmountJson, TxJson, address_arg, latest_block, read, resolve_token, send_call,
        sender_with_address, token_arg,
    },
    context::Context,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay treasury withdraw-surplus`.
#[derive(Debug, Args)]
pub(crate) struct WithdrawSurplusArgs {
    /// Amount for people (`250`, `0.5`), or `all` for the whole surplus.
    #[arg(value_name = "AMOUNT|all", allow_negative_numbers = true)]
    amount: String,

    /// Token of the pool: `rbtc`/`native`, a symbol, or an address.
    #[arg(value_name = "TOKEN")]
    token: String,

    /// Recipient (default: you).
    #[arg(long, value_name = "ADDRESS")]
    to: Option<String>,

    /// Accept a token address the chain preset and the deployment file do not list.
    #[arg(long)]
    allow_unknown_token: bool,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WithdrawSurplusOutput {
    employer: String,
    to: String,
    withdrawn: AmountJson,
    tx: TxJson,
    pool: PoolJson,
}

pub(crate) async fn run(args: &WithdrawSurplusArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    let payroll = ctx.deployment()?.payroll.address;
    let to = args.to.as_deref().map(|a| address_arg(a, "--to")).transpose()?;
    let token = resolve_token(&ctx, &token_arg(&args.token)?, args.allow_unknown_token).await?;
    let (sender, employer) = sender_with_address(&ctx, &args.wallet, &args.tx)?;
    let to = to.unwrap_or(employer);
    if to.is_zero() {
        bail!("--to cannot be the zero address");
    }
    let surplus =
        read(&ctx, payroll, &Payroll::surplusCall { employer, token: token.address }).await?;
    let amount = if args.amount.trim().eq_ignore_ascii_case("all") {
        if surplus.is_zero() {
            bail!(
                "the {} pool of {} has no surplus to withdraw (everything it holds is owed to its streams, or it is empty)",
                token.symbol,
                ctx.format_address(employer)
            );
        }
        surplus
    } else {
        let amount = token.parse_amount(&args.amount)?;
        if amount.is_zero() {
            bail!("the amount must be more than 0 {}", token.symbol);
        }
        if amount > surplus {
            bail!(
                "the {} pool of {} has a surplus of {}, less than the {} asked: nothing was sent",
                token.symbol,
                ctx.format_address(employer),
                token.format_amount(surplus),
                token.format_amount(amount)
            );
        }
        amount
    };
    let call = Payroll::withdrawSurplusCall { token: token.address, amount, to };
    let what = format!(
        "withdraw {} of surplus to {}",
        token.format_amount(amount),
        ctx.format_address(to)
    );
    let sent = send_call(&ctx, &sender, ctx.call_tx(payroll, &call), &what, &args.tx).await?;
    let Some(receipt) = sent.receipt() else { return ctx.print_dry_run(out) };

    let (_, now) = latest_block(&ctx).await?;
    let pool = pool_json(&ctx, payroll, employer, &token, MonthMode::Days30, now).await?;
    let output = WithdrawSurplusOutput {
        employer: ctx.format_address(employer),
        to: ctx.format_address(to),
        withdrawn: AmountJson::new(&token, amount),
        tx: TxJson::new(&ctx, receipt),
        pool,
    };
    out.emit(&output, |o| {
        println!("withdrew {} {} of surplus to {}", o.withdrawn.amount, o.withdrawn.symbol, o.to);
        println!("tx          {} (block {})", o.tx.tx_hash, o.tx.block);
        print_pool(&o.pool, now, MonthMode::Days30, "");
    })
}
