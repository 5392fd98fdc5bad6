//! `shiftpay stream create`: one stream (`--worker`, `--rate`, `--start`, `--end`), or every row
//! of a roster CSV (`--from-csv`, see [`super::roster`]).

use std::path::PathBuf;

use alloy::primitives::aliases::U40;
use clap::Args;
use eyre::{bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{payroll::Payroll, units};

use super::roster;
use crate::{
    commands::{
        payroll_common::{
            CreatedStream, RateInput, RateJson, TokenOpts, TxJson, address_arg, end_json,
            format_end, latest_block, means_now, means_open_ended, rate_human, rate_per_month,
            resolve_token, send_call, sender_with_address,
        },
        treasury::TokenJson,
    },
    context::Context,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay stream create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The worker's address.
    #[arg(long, value_name = "ADDRESS", required_unless_present = "from_csv")]
    worker: Option<String>,

    /// What the worker earns per period, with the token: `"1500 USDRIF/month"`,
    /// `"0.0004 rbtc/hour"`, `"25 DOC/hour"` (periods: second, minute, hour, day, week, month,
    /// year). The per-second rate the contract stores is rounded down; the conversion is shown.
    #[arg(long, value_name = "RATE", required_unless_present = "from_csv")]
    rate: Option<String>,

    /// When accrual starts: `now` (default), a date (`2026-12-01`, midnight UTC), RFC 3339
    /// (`2026-12-01T09:00:00+01:00`), unix seconds, or `+DURATION` from now (`+3d`).
    #[arg(long, value_name = "TIME")]
    start: Option<String>,

    /// When accrual ends (same forms as --start); default: open-ended.
    #[arg(long, value_name = "TIME")]
    end: Option<String>,

    /// Create every stream of a roster CSV with a header row and the columns worker, token,
    /// rate, start, end, label (token, start, end and label may be empty or absent). Every row is
    /// checked before anything is sent (rows are numbered like the file's lines, the header being
    /// row 1); streams are created through `multicall` in as few transactions as the block gas
    /// limit allows; running it again after a failure creates only the streams still missing
    /// (matched on-chain by worker, token, rate, start and end). FILE.shiftpay.json, next to the
    /// CSV, keeps the time relative times were resolved at and each row's label and stream id.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["worker", "rate", "start", "end"])]
    from_csv: Option<PathBuf>,

    #[command(flatten)]
    token: TokenOpts,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateOutput {
    stream_id: u64,
    employer: String,
    worker: String,
    token: TokenJson,
    rate: RateJson,
    /// The conversion of the rate as given and what rounding costs.
    rate_conversion: String,
    start: String,
    start_unix: u64,
    end: Option<String>,
    end_unix: u64,
    tx: TxJson,
}

pub(crate) async fn run(args: &CreateArgs, out: &OutputArgs) -> eyre::Result<()> {
    if let Some(csv) = &args.from_csv {
        let ctx = Context::connect(&args.chain).await?;
        return roster::create_from_csv(&ctx, csv, &args.token, &args.wallet, &args.tx, out).await;
    }
    let worker = address_arg(args.worker.as_deref().unwrap_or_default(), "--worker")?;
    let input = RateInput::parse(args.rate.as_deref().unwrap_or_default())?;
    let Some(token_ref) = &input.token else {
        bail!("--rate needs its token, e.g. \"{} USDRIF/{}\"", input.amount, input.period);
    };
    let ctx = Context::connect(&args.chain).await?;
    let payroll = ctx.deployment()?.payroll.address;
    if worker.is_zero() || worker == payroll {
        bail!(
            "--worker cannot be {}",
            if worker.is_zero() { "the zero address" } else { "the Payroll contract" }
        );
    }
    let token = resolve_token(&ctx, token_ref, args.token.allow_unknown_token).await?;
    let rate = input.to_rate(&token, args.token.month)?;
    eprintln!("rate: {}", rate.describe(&token.symbol));
    let (_, now) = latest_block(&ctx).await?;
    let start = match args.start.as_deref() {
        Some(text) if !means_now(text) => {
            let start = units::parse_time(text, now)?;
            if start < now {
                bail!(
                    "--start {} is in the past (the chain's time is {})",
                    units::format_time(start),
                    units::format_time(now)
                );
            }
            start
        }
        _ => 0,
    };
    let end = match args.end.as_deref() {
        Some(text) if !means_open_ended(text) => {
            let end = units::parse_time(text, now)?;
            if end <= start.max(now) {
                bail!(
                    "--end {} is not after the start ({})",
                    units::format_time(end),
                    if start == 0 { "now".to_owned() } else { units::format_time(start) }
                );
            }
            end
        }
        _ => 0,
    };
    let (sender, employer) = sender_with_address(&ctx, &args.wallet, &args.tx)?;
    let call = Payroll::createStreamCall {
        worker,
        token: token.address,
        rate: rate.to_contract(),
        start: U40::from(start),
        end: U40::from(end),
    };
    let what = format!(
        "create a stream of {} to {}",
        rate_per_month(rate.per_second_scaled, &token.symbol, args.token.month),
        ctx.format_address(worker)
    );
    let sent = send_call(&ctx, &sender, ctx.call_tx(payroll, &call), &what, &args.tx).await?;
    let Some(receipt) = sent.receipt() else { return ctx.print_dry_run(out) };
    let created =
        CreatedStream::from_receipt(receipt, payroll).into_iter().next().ok_or_else(|| {
            eyre!("the receipt of {} has no StreamCreated event", receipt.transaction_hash)
        })?;
    let (period, month) = (rate.period, args.token.month);
    let output = CreateOutput {
        stream_id: created.id,
        employer: ctx.format_address(employer),
        worker: ctx.format_address(worker),
        token: TokenJson::new(&ctx, &token),
        rate: RateJson::new(rate.per_second_scaled, &token.symbol, args.token.month),
        rate_conversion: rate.describe(&token.symbol),
        start: units::format_time(created.start),
        start_unix: created.start,
        end: end_json(created.end),
        end_unix: created.end,
        tx: TxJson::new(&ctx, receipt),
    };
    out.emit(&output, |o| {
        println!("created stream {}", o.stream_id);
        println!("worker        {}", o.worker);
        let rate = o.rate.per_second_scaled.parse().unwrap_or_default();
        println!("rate          {}", rate_human(rate, &o.token.symbol, period, month));
        println!("start         {}", o.start);
        println!("end           {}", format_end(o.end_unix));
        println!("tx            {} (block {})", o.tx.tx_hash, o.tx.block);
    })
}
