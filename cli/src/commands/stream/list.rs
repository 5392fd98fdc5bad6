//! `shiftpay stream list --employer ADDR | --worker ADDR`: streams found from the contract's
//! `StreamCreated` events (paged `eth_getLogs` from the deployment block, in the chain's range
//! limit), with their current state.

use alloy::primitives::U256;
use clap::Args;
use serde::Serialize;
use shiftpay_bindings::units::MonthMode;

use super::StreamJson;
use crate::{
    commands::payroll_common::{
        TokenBook, address_arg, created_streams, latest_block, parse_month, print_table,
        rate_per_month, stream_states,
    },
    context::Context,
    opts::ChainOpts,
    output::OutputArgs,
};

/// Arguments of `shiftpay stream list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The streams this employer funds.
    #[arg(long, value_name = "ADDRESS", required_unless_present = "worker")]
    employer: Option<String>,

    /// The streams paying this worker.
    #[arg(long, value_name = "ADDRESS")]
    worker: Option<String>,

    /// Length of a month in rates: `30d` (default) or `calendar` (365.2425 / 12 days).
    #[arg(long, value_name = "30d|calendar", default_value = "30d", value_parser = parse_month)]
    month: MonthMode,

    #[command(flatten)]
    chain: ChainOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListOutput {
    employer: Option<String>,
    worker: Option<String>,
    block: u64,
    count: usize,
    streams: Vec<StreamJson>,
}

pub(crate) async fn run(args: &ListArgs, out: &OutputArgs) -> eyre::Result<()> {
    let employer = args.employer.as_deref().map(|a| address_arg(a, "--employer")).transpose()?;
    let worker = args.worker.as_deref().map(|a| address_arg(a, "--worker")).transpose()?;
    let ctx = Context::connect(&args.chain).await?;
    let deployment = ctx.deployment()?;
    let payroll = deployment.payroll.address;
    let created = created_streams(&ctx, deployment, employer, worker).await?;
    let ids: Vec<u64> = created.iter().map(|s| s.id).collect();
    let (block, now) = latest_block(&ctx).await?;
    let states = stream_states(&ctx, payroll, &ids).await?;
    let mut book = TokenBook::default();
    let mut streams = Vec::with_capacity(states.len());
    for state in &states {
        streams.push(StreamJson::new(&ctx, &mut book, state, args.month, block, now, now).await);
    }
    let output = ListOutput {
        employer: employer.map(|a| ctx.format_address(a)),
        worker: worker.map(|a| ctx.format_address(a)),
        block,
        count: streams.len(),
        streams,
    };
    out.emit(&output, |o| {
        let whose = match (&o.employer, &o.worker) {
            (Some(e), Some(w)) => format!("from employer {e} to worker {w}"),
            (Some(e), None) => format!("of employer {e}"),
            (None, Some(w)) => format!("of worker {w}"),
            (None, None) => String::new(),
        };
        println!(
            "{} stream{} {whose} (block {})",
            o.count,
            if o.count == 1 { "" } else { "s" },
            o.block
        );
        if o.streams.is_empty() {
            return;
        }
        let other = if o.employer.is_some() { "worker" } else { "employer" };
        let rows: Vec<Vec<String>> = o
            .streams
            .iter()
            .map(|s| {
                let rate: U256 = s.rate.per_second_scaled.parse().unwrap_or_default();
                vec![
                    s.id.to_string(),
                    if o.employer.is_some() { s.worker.clone() } else { s.employer.clone() },
                    s.status.to_owned(),
                    rate_per_month(rate, &s.token.symbol, args.month),
                    s.start.clone(),
                    s.end.clone().unwrap_or_else(|| "open-ended".to_owned()),
                    s.earned.amount.clone(),
                    s.withdrawable.amount.clone(),
                ]
            })
            .collect();
        print_table(
            "",
            &["id", other, "status", "rate", "start", "end", "earned", "withdrawable"],
            &rows,
        );
    })
}
