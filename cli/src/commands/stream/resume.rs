//! `shiftpay stream resume ID`: resumes a paused stream from now (employer only; the paused time is not paid).

use alloy::primitives::U256;
use shiftpay_bindings::payroll::Payroll;

use super::{Control, ControlArgs, connect_for, control};
use crate::output::OutputArgs;

/// Arguments of `shiftpay stream resume`.
pub(crate) type ResumeArgs = ControlArgs;

pub(crate) async fn run(args: &ResumeArgs, out: &OutputArgs) -> eyre::Result<()> {
    let (id, ctx) = connect_for(&args.id, &args.chain).await?;
    let call = Payroll::resumeCall { streamId: U256::from(id) };
    control(
        &ctx,
        &args.wallet,
        &args.tx,
        out,
        Control { id, action: "resume", done: "resumed", call },
    )
    .await
}
