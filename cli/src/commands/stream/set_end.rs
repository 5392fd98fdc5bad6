//! `shiftpay stream set-end ID TIME|none`: sets or moves a stream's end date, or makes it
//! open-ended (employer only; time already accrued is kept).

use alloy::primitives::U256;
use clap::Args;
use eyre::bail;
use shiftpay_bindings::{payroll::Payroll, units};

use super::{Control, control};
use crate::{
    commands::payroll_common::{latest_block, means_open_ended, stream_id, stream_states},
    context::Context,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay stream set-end`.
#[derive(Debug, Args)]
pub(crate) struct SetEndArgs {
    /// Stream id.
    #[arg(value_name = "ID")]
    id: String,

    /// The new end: a date (`2026-12-01`), RFC 3339 (`2026-12-01T17:00:00Z`), unix seconds,
    /// `+DURATION` from now (`+30d`), or `none` for open-ended. Must be in the future.
    #[arg(value_name = "TIME|none")]
    end: String,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

pub(crate) async fn run(args: &SetEndArgs, out: &OutputArgs) -> eyre::Result<()> {
    let id = stream_id(&args.id)?;
    let ctx = Context::connect(&args.chain).await?;
    let payroll = ctx.deployment()?.payroll.address;
    let (_, now) = latest_block(&ctx).await?;
    let end = if means_open_ended(&args.end) { 0 } else { units::parse_time(&args.end, now)? };
    let state = stream_states(&ctx, payroll, &[id]).await?.remove(0);
    let start = state.view.start.to::<u64>();
    if end != 0 && end <= now {
        bail!(
            "the end {} is not in the future (the chain's time is {})",
            units::format_time(end),
            units::format_time(now)
        );
    }
    if end != 0 && end <= start {
        bail!(
            "the end {} is not after the stream's start {}",
            units::format_time(end),
            units::format_time(start)
        );
    }
    let call = Payroll::setEndCall {
        streamId: U256::from(id),
        newEnd: alloy::primitives::Uint::<40, 1>::from(end),
    };
    let done = if end == 0 {
        "made open-ended".to_owned()
    } else {
        format!("set to end at {}", units::format_time(end))
    };
    control(&ctx, &args.wallet, &args.tx, out, Control { id, action: "set-end", done: &done, call })
        .await
}
