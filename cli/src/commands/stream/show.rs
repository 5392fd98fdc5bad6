//! `shiftpay stream show ID [--watch]`: one stream; with `--watch`, its earned and withdrawable
//! amounts every second until Ctrl-C.
//!
//! The contract's views answer as of the latest block, which moves every ~30 s on Rootstock; so
//! `--watch` re-reads the stream every second and projects what it earned to the current time
//! with the contract's own formula (rate × seconds since the last settlement, capped at the end
//! date, nothing while paused or canceled), capped by the pool's balance for the withdrawable
//! amount.

use std::{
    io::{IsTerminal, Write},
    time::Duration,
};

use clap::Args;
use shiftpay_bindings::units::{self, MonthMode};

use super::StreamJson;
use crate::{
    commands::payroll_common::{
        StreamState, TokenBook, describe_status, latest_block, parse_month, stream_id,
        stream_states,
    },
    context::Context,
    opts::ChainOpts,
    output::OutputArgs,
};

/// Arguments of `shiftpay stream show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Stream id.
    #[arg(value_name = "ID")]
    id: String,

    /// Update the earned and withdrawable amounts every second until Ctrl-C (one line per second
    /// when stdout is not a terminal). With --json, one document is printed, as without --watch.
    #[arg(long)]
    watch: bool,

    /// Length of a month in rates: `30d` (default) or `calendar` (365.2425 / 12 days).
    #[arg(long, value_name = "30d|calendar", default_value = "30d", value_parser = parse_month)]
    month: MonthMode,

    #[command(flatten)]
    chain: ChainOpts,
}

pub(crate) async fn run(args: &ShowArgs, out: &OutputArgs) -> eyre::Result<()> {
    let id = stream_id(&args.id)?;
    let ctx = Context::connect(&args.chain).await?;
    let payroll = ctx.deployment()?.payroll.address;
    let (block, now) = latest_block(&ctx).await?;
    let state = stream_states(&ctx, payroll, &[id]).await?.remove(0);
    let mut book = TokenBook::default();
    let document = StreamJson::new(&ctx, &mut book, &state, args.month, block, now, now).await;
    if !args.watch || out.json {
        if args.watch {
            eprintln!("--watch with --json prints one document");
        }
        return out.emit(&document, |d| d.print(args.month));
    }
    document.print(args.month);
    println!();
    watch(&ctx, payroll, id, state, block, now, &mut book).await
}

/// Prints the projected amounts every second until Ctrl-C.
async fn watch(
    ctx: &Context,
    payroll: alloy::primitives::Address,
    id: u64,
    mut state: StreamState,
    mut block: u64,
    mut chain_now: u64,
    book: &mut TokenBook,
) -> eyre::Result<()> {
    let token = book.get(ctx, state.view.token, Some(state.decimals)).await;
    let terminal = std::io::stdout().is_terminal();
    if terminal {
        eprintln!("watching stream {id}: Ctrl-C to stop");
    }
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut warned = false;
    loop {
        let refresh = async {
            ticker.tick().await;
            let (b, n) = latest_block(ctx).await?;
            let s = stream_states(ctx, payroll, &[id]).await?.remove(0);
            Ok::<_, eyre::Report>((b, n, s))
        };
        tokio::select! {
            _ = &mut ctrl_c => break,
            result = refresh => match result {
                Ok((b, n, s)) => {
                    (block, chain_now, state) = (b, n, s);
                    warned = false;
                }
                Err(error) if !warned => {
                    eprintln!("warning: {error}; projecting from block {block} until the node answers again");
                    warned = true;
                }
                Err(_) => {}
            },
        }
        let at = units::now().max(chain_now);
        let line = format!(
            "{}  earned {}  withdrawable {}  ({}, block {block})",
            units::format_time(at),
            token.format_amount(state.earned_at(at)),
            token.format_amount(state.withdrawable_at(at)),
            describe_status(&state.view, at),
        );
        let mut stdout = std::io::stdout().lock();
        if terminal {
            write!(stdout, "\r\x1b[2K{line}")?;
        } else {
            writeln!(stdout, "{line}")?;
        }
        stdout.flush()?;
    }
    if terminal {
        println!();
    }
    Ok(())
}
