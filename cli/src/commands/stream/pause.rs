//! `shiftpay stream pause ID`: stops a stream's accrual until it is resumed (employer only; what it earned is kept).

use alloy::primitives::U256;
use shiftpay_bindings::payroll::Payroll;

use super::{Control, ControlArgs, connect_for, control};
use crate::output::OutputArgs;

/// Arguments of `shiftpay stream pause`.
pub(crate) type PauseArgs = ControlArgs;

pub(crate) async fn run(args: &PauseArgs, out: &OutputArgs) -> eyre::Result<()> {
    let (id, ctx) = connect_for(&args.id, &args.chain).await?;
    let call = Payroll::pauseCall { streamId: U256::from(id) };
    control(
        &ctx,
        &args.wallet,
        &args.tx,
        out,
        Control { id, action: "pause", done: "paused", call },
    )
    .await
}
