//! `shiftpay treasury status`: an employer's pools, and what each of its streams can withdraw.

use alloy::primitives::U256;
use clap::Args;
use serde::Serialize;
use shiftpay_bindings::units::MonthMode;

use super::{PoolJson, pool_json, print_pool};
use crate::{
    commands::payroll_common::{
        AmountJson, RateJson, TokenBook, address_arg, created_streams, describe_status, end_json,
        latest_block, pool_tokens, print_table, rate_per_month, resolve_token, stream_states,
        token_arg, wallet_address,
    },
    context::Context,
    opts::{ChainOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay treasury status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Employer whose pools to show (default: the wallet's address).
    #[arg(long, value_name = "ADDRESS")]
    employer: Option<String>,

    /// Only the pool of this token.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,

    /// Accept a token address the chain preset and the deployment file do not list.
    #[arg(long)]
    allow_unknown_token: bool,

    /// Length of a month in rates: `30d` (default) or `calendar` (365.2425 / 12 days).
    #[arg(long, value_name = "30d|calendar", default_value = "30d", value_parser = crate::commands::payroll_common::parse_month)]
    month: MonthMode,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,
}

/// One stream of a pool.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamLine {
    id: u64,
    worker: String,
    status: &'static str,
    rate: RateJson,
    start: String,
    end: Option<String>,
    earned: AmountJson,
    withdrawable: AmountJson,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PoolStatus {
    #[serde(flatten)]
    pool: PoolJson,
    streams: Vec<StreamLine>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusOutput {
    employer: String,
    chain_id: u64,
    payroll: String,
    block: u64,
    as_of: String,
    pools: Vec<PoolStatus>,
}

pub(crate) async fn run(args: &StatusArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    let deployment = ctx.deployment()?;
    let payroll = deployment.payroll.address;
    let employer = match &args.employer {
        Some(employer) => address_arg(employer, "--employer")?,
        None => wallet_address(&ctx, &args.wallet, "--employer")?,
    };
    let mut book = TokenBook::default();
    let tokens = match &args.token {
        Some(token) => {
            vec![resolve_token(&ctx, &token_arg(token)?, args.allow_unknown_token).await?]
        }
        None => {
            let mut tokens = Vec::new();
            for address in pool_tokens(&ctx, deployment, employer).await? {
                tokens.push(book.get(&ctx, address, None).await);
            }
            tokens
        }
    };
    let (block, now) = latest_block(&ctx).await?;
    let streams = created_streams(&ctx, deployment, Some(employer), None).await?;
    let ids: Vec<u64> = streams
        .iter()
        .filter(|s| tokens.iter().any(|t| t.address == s.token))
        .map(|s| s.id)
        .collect();
    let states = stream_states(&ctx, payroll, &ids).await?;

    let mut pools = Vec::new();
    for token in &tokens {
        let pool = pool_json(&ctx, payroll, employer, token, args.month, now).await?;
        let mut token = token.clone();
        token.decimals = pool.token.decimals;
        let streams = states
            .iter()
            .filter(|s| s.view.token == token.address)
            .map(|s| StreamLine {
                id: s.id,
                worker: ctx.format_address(s.view.worker),
                status: describe_status(&s.view, now),
                rate: RateJson::new(U256::from(s.view.rate), &token.symbol, args.month),
                start: shiftpay_bindings::units::format_time(s.view.start.to::<u64>()),
                end: end_json(s.view.end.to::<u64>()),
                earned: AmountJson::new(&token, s.earned),
                withdrawable: AmountJson::new(&token, s.withdrawable),
            })
            .collect();
        pools.push(PoolStatus { pool, streams });
    }
    let output = StatusOutput {
        employer: ctx.format_address(employer),
        chain_id: ctx.chain.chain_id,
        payroll: ctx.format_address(payroll),
        block,
        as_of: shiftpay_bindings::units::format_time(now),
        pools,
    };
    out.emit(&output, |o| {
        println!("employer {} (as of block {}, {})", o.employer, o.block, o.as_of);
        if o.pools.is_empty() {
            println!("no pools: this employer has neither deposited nor created a stream on this deployment");
        }
        for pool in &o.pools {
            let token = &pool.pool.token;
            println!();
            println!("{} ({})", token.symbol, token.address);
            if !pool.pool.exists {
                println!("  no pool yet: nothing deposited and no stream created in {}", token.symbol);
                continue;
            }
            print_pool(&pool.pool, now, args.month, "  ");
            if pool.streams.is_empty() {
                println!("  streams     none");
                continue;
            }
            println!("  streams     {}", pool.streams.len());
            let rows: Vec<Vec<String>> = pool
                .streams
                .iter()
                .map(|s| {
                    let rate: U256 = s.rate.per_second_scaled.parse().unwrap_or_default();
                    vec![
                        s.id.to_string(),
                        s.worker.clone(),
                        s.status.to_owned(),
                        rate_per_month(rate, &token.symbol, args.month),
                        s.end.clone().unwrap_or_else(|| "open-ended".to_owned()),
                        s.earned.amount.clone(),
                        s.withdrawable.amount.clone(),
                    ]
                })
                .collect();
            print_table("    ", &["id", "worker", "status", "rate", "end", "earned", "withdrawable"], &rows);
        }
    })
}
