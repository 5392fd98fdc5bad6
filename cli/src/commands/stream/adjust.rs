//! `shiftpay stream adjust ID --rate RATE`: changes a stream's rate from now on (employer only;
//! what it earned so far is settled at the old rate).

use alloy::primitives::U256;
use clap::Args;
use eyre::bail;
use shiftpay_bindings::payroll::Payroll;

use super::{Control, control};
use crate::{
    commands::payroll_common::{
        RateInput, TokenBook, TokenOpts, resolve_token, stream_id, stream_states,
    },
    context::Context,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay stream adjust`.
#[derive(Debug, Args)]
pub(crate) struct AdjustArgs {
    /// Stream id.
    #[arg(value_name = "ID")]
    id: String,

    /// The new rate, per period in the stream's token: `"1600 USDRIF/month"`, `"0.0005 rbtc/hour"`,
    /// or without the token (`"1600/month"`).
    #[arg(long, value_name = "RATE")]
    rate: String,

    #[command(flatten)]
    token: TokenOpts,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

pub(crate) async fn run(args: &AdjustArgs, out: &OutputArgs) -> eyre::Result<()> {
    let id = stream_id(&args.id)?;
    let input = RateInput::parse(&args.rate)?;
    let ctx = Context::connect(&args.chain).await?;
    let payroll = ctx.deployment()?.payroll.address;
    let state = stream_states(&ctx, payroll, &[id]).await?.remove(0);
    let token = TokenBook::default().get(&ctx, state.view.token, Some(state.decimals)).await;
    if let Some(named) = &input.token {
        let named = resolve_token(&ctx, named, args.token.allow_unknown_token).await?;
        if named.address != token.address {
            bail!(
                "stream {id} pays {}, but the rate is in {}: give the new rate in {}",
                token.symbol,
                named.symbol,
                token.symbol
            );
        }
    }
    let rate = input.to_rate(&token, args.token.month)?;
    eprintln!("rate: {}", rate.describe(&token.symbol));
    if U256::from(state.view.rate) == rate.per_second_scaled {
        bail!(
            "stream {id} already pays {} per second (scaled): nothing to change",
            rate.per_second_scaled
        );
    }
    let call = Payroll::adjustRateCall { streamId: U256::from(id), newRate: rate.to_contract() };
    control(
        &ctx,
        &args.wallet,
        &args.tx,
        out,
        Control { id, action: "adjust", done: "adjusted", call },
    )
    .await
}
