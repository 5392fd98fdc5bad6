//! `shiftpay treasury deposit AMOUNT TOKEN`: credits a pool of the Payroll contract.

use alloy::network::TransactionBuilder;
use clap::Args;
use eyre::bail;
use serde::Serialize;
use shiftpay_bindings::{payroll::Payroll, units::MonthMode};

use super::{PoolJson, pool_json, print_pool};
use crate::{
    commands::payroll_common::{
        AmountJson, TxJson, address_arg, latest_block, resolve_token, send_call,
        sender_with_address, token_arg,
    },
    context::Context,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay treasury deposit`.
#[derive(Debug, Args)]
pub(crate) struct DepositArgs {
    /// Amount for people, in the token's unit: `1500`, `0.25` (never more decimals than the
    /// token has).
    #[arg(value_name = "AMOUNT", allow_negative_numbers = true)]
    amount: String,

    /// Token: the native coin (`rbtc`, `native`), a symbol of the chain preset or deployment file
    /// (`USDRIF`, `DOC`...), or an address.
    #[arg(value_name = "TOKEN")]
    token: String,

    /// Credit this employer's pool instead of yours (anyone may top up an employer's pool).
    #[arg(long = "for", value_name = "EMPLOYER")]
    employer: Option<String>,

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
struct DepositOutput {
    employer: String,
    from: String,
    deposited: AmountJson,
    tx: TxJson,
    pool: PoolJson,
}

pub(crate) async fn run(args: &DepositArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    let payroll = ctx.deployment()?.payroll.address;
    let employer = args.employer.as_deref().map(|a| address_arg(a, "--for")).transpose()?;
    let token = resolve_token(&ctx, &token_arg(&args.token)?, args.allow_unknown_token).await?;
    let amount = token.parse_amount(&args.amount)?;
    if amount.is_zero() {
        bail!("the amount must be more than 0 {}", token.symbol);
    }
    let (sender, from) = sender_with_address(&ctx, &args.wallet, &args.tx)?;
    let employer = employer.unwrap_or(from);
    if employer.is_zero() {
        bail!("--for cannot be the zero address");
    }
    ctx.check_balance(from, &token, amount).await?;
    ctx.ensure_allowance(&sender, &token, payroll, amount, &args.tx).await?;

    let mut tx = if employer == from {
        ctx.call_tx(payroll, &Payroll::depositCall { token: token.address, amount })
    } else {
        ctx.call_tx(payroll, &Payroll::depositForCall { employer, token: token.address, amount })
    };
    if token.is_native() {
        tx = tx.with_value(amount);
    }
    let whose = if employer == from {
        "your pool".to_owned()
    } else {
        format!("the pool of {}", ctx.format_address(employer))
    };
    let what = format!("deposit {} into {whose}", token.format_amount(amount));
    let sent = send_call(&ctx, &sender, tx, &what, &args.tx).await?;
    let Some(receipt) = sent.receipt() else { return ctx.print_dry_run(out) };

    let (_, now) = latest_block(&ctx).await?;
    let pool = pool_json(&ctx, payroll, employer, &token, MonthMode::Days30, now).await?;
    let output = DepositOutput {
        employer: ctx.format_address(employer),
        from: ctx.format_address(from),
        deposited: AmountJson::new(&token, amount),
        tx: TxJson::new(&ctx, receipt),
        pool,
    };
    out.emit(&output, |o| {
        println!(
            "deposited {} {} into the pool of {}",
            o.deposited.amount, o.deposited.symbol, o.employer
        );
        println!("tx          {} (block {})", o.tx.tx_hash, o.tx.block);
        print_pool(&o.pool, now, MonthMode::Days30, "");
    })
}
