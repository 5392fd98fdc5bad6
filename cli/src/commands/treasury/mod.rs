//! `shiftpay treasury`: an employer's pooled balances in the Payroll contract, one pool per
//! token: `deposit` (with the ERC-20 approval first when the allowance is short),
//! `withdraw-surplus` (the free part) and `status` (balance, total rate, surplus or debt, the date
//! the pool runs out, and what each stream can withdraw now).

mod deposit;
mod status;
mod withdraw_surplus;

use alloy::primitives::{Address, U256};
use clap::{Args, Subcommand};
use serde::Serialize;
use shiftpay_bindings::{payroll::Payroll, tokens::Token, units};

use super::payroll_common::{AmountJson, RateJson, rate_human, rate_per_month, read};
use crate::{context::Context, output::OutputArgs};

/// Arguments of `shiftpay treasury`.
#[derive(Debug, Args)]
pub(crate) struct TreasuryArgs {
    #[command(subcommand)]
    command: TreasuryCommand,
}

#[derive(Debug, Subcommand)]
enum TreasuryCommand {
    /// Deposit into your pool for a token (or another employer's with --for); approves the
    /// Payroll contract first when an ERC-20 allowance is short.
    Deposit(deposit::DepositArgs),
    /// Withdraw part of a pool's surplus (what no stream has earned), or all of it.
    WithdrawSurplus(withdraw_surplus::WithdrawSurplusArgs),
    /// Per token: pool balance, total rate, surplus or debt, when the pool runs out, and each
    /// stream's withdrawable amount.
    Status(status::StatusArgs),
}

pub(crate) async fn run(args: &TreasuryArgs, out: &OutputArgs) -> eyre::Result<()> {
    match &args.command {
        TreasuryCommand::Deposit(args) => deposit::run(args, out).await,
        TreasuryCommand::WithdrawSurplus(args) => withdraw_surplus::run(args, out).await,
        TreasuryCommand::Status(args) => status::run(args, out).await,
    }
}

/// A token of a pool, for JSON.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TokenJson {
    pub(crate) symbol: String,
    pub(crate) address: String,
    pub(crate) decimals: u8,
    pub(crate) known: bool,
}

impl TokenJson {
    pub(crate) fn new(ctx: &Context, token: &Token) -> Self {
        Self {
            symbol: token.symbol.clone(),
            address: ctx.format_address(token.address),
            decimals: token.decimals,
            known: token.known,
        }
    }
}

/// One pool's state, brought up to the latest block.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PoolJson {
    pub(crate) token: TokenJson,
    /// Whether the pool was ever used.
    pub(crate) exists: bool,
    pub(crate) balance: AmountJson,
    pub(crate) total_rate: RateJson,
    pub(crate) surplus: AmountJson,
    pub(crate) debt: AmountJson,
    /// When the pool stops covering its streams (RFC 3339); `null` when it never runs out.
    pub(crate) runs_out: Option<String>,
    /// The same as unix seconds.
    pub(crate) runs_out_unix: Option<u64>,
    /// The latest block's time, which the figures are computed at.
    pub(crate) as_of: String,
}

/// Reads `employer`'s pool of `token` (`getPool` and `depletionTime`).
pub(crate) async fn pool_json(
    ctx: &Context,
    payroll: Address,
    employer: Address,
    token: &Token,
    month: units::MonthMode,
    now: u64,
) -> eyre::Result<PoolJson> {
    let pool = read(ctx, payroll, &Payroll::getPoolCall { employer, token: token.address }).await?;
    let depletion =
        read(ctx, payroll, &Payroll::depletionTimeCall { employer, token: token.address }).await?;
    let mut token = token.clone();
    if pool.exists {
        token.decimals = pool.decimals;
    }
    let runs_out_unix = (depletion != U256::MAX).then(|| depletion.saturating_to::<u64>());
    Ok(PoolJson {
        token: TokenJson::new(ctx, &token),
        exists: pool.exists,
        balance: AmountJson::new(&token, pool.balance),
        total_rate: RateJson::new(pool.totalRate, &token.symbol, month),
        surplus: AmountJson::new(&token, pool.surplus),
        debt: AmountJson::new(&token, pool.debt),
        runs_out: runs_out_unix.map(units::format_time),
        runs_out_unix,
        as_of: units::format_time(now),
    })
}

/// The pool's lines for people (indented by `indent`).
pub(crate) fn print_pool(pool: &PoolJson, now: u64, month: units::MonthMode, indent: &str) {
    let symbol = &pool.token.symbol;
    let amount = |a: &AmountJson| format!("{} {symbol}", a.amount);
    println!("{indent}balance     {}", amount(&pool.balance));
    let rate: U256 = pool.total_rate.per_second_scaled.parse().unwrap_or_default();
    if rate.is_zero() {
        println!("{indent}total rate  0 (no stream accrues now)");
    } else {
        println!(
            "{indent}total rate  {} ({})",
            rate_per_month(rate, symbol, month),
            rate_human(rate, symbol, units::Period::Hour, month)
        );
    }
    if pool.debt.units != "0" {
        println!(
            "{indent}debt        {} (earned by streams, not covered: deposit at least this)",
            amount(&pool.debt)
        );
    } else {
        println!(
            "{indent}surplus     {} (free: withdraw-surplus may take it)",
            amount(&pool.surplus)
        );
    }
    let runs_out = match pool.runs_out_unix {
        None => "never (its streams stop accruing before its funds run out)".to_owned(),
        Some(t) if t <= now => {
            "already: the pool does not cover what its streams earned".to_owned()
        }
        Some(t) => format!("{} (in {})", units::format_time(t), units::format_duration(t - now)),
    };
    println!("{indent}runs out    {runs_out}");
}
