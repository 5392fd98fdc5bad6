//! `shiftpay stream cancel ID`: terminates a stream now (employer only; final: what it earned stays withdrawable).

use alloy::primitives::U256;
use shiftpay_bindings::payroll::Payroll;

use super::{Control, ControlArgs, connect_for, control};
use crate::output::OutputArgs;

/// Arguments of `shiftpay stream cancel`.
pub(crate) type CancelArgs = ControlArgs;

pub(crate) async fn run(args: &CancelArgs, out: &OutputArgs) -> eyre::Result<()> {
    let (id, ctx) = connect_for(&args.id, &args.chain).await?;
    let call = Payroll::cancelCall { streamId: U256::from(id) };
    control(
        &ctx,
        &args.wallet,
        &args.tx,
        out,
        Control { id, action: "cancel", done: "canceled", call },
    )
    .await
}
