//! `shiftpay stream`: per-second wage streams of the Payroll contract. The employer creates them
//! (one, or a whole roster from a CSV file in gas-bounded `multicall` batches) and controls them
//! (`pause`, `resume`, `adjust`, `set-end`, `cancel`); the worker withdraws; anyone pays out;
//! everyone can `show` one (live with `--watch`) or `list` them from the contract's events.

mod adjust;
mod cancel;
mod create;
mod csv;
mod list;
mod pause;
mod payout;
mod resume;
pub(crate) mod roster;
mod set_end;
mod show;
mod withdraw;

use alloy::{
    primitives::{Address, U256},
    sol_types::SolCall,
};
use clap::{Args, Subcommand};
use serde::Serialize;
use shiftpay_bindings::units::{self, MonthMode};

use super::payroll_common::{
    AmountJson, RateJson, StreamState, TokenBook, TxJson, describe_status, end_json, format_end,
    latest_block, rate_human, rate_per_month, send_call, sender_with_address, status_name,
    stream_id, stream_states,
};
use crate::{
    commands::treasury::TokenJson,
    context::Context,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay stream`.
#[derive(Debug, Args)]
pub(crate) struct StreamArgs {
    #[command(subcommand)]
    command: StreamCommand,
}

#[derive(Debug, Subcommand)]
enum StreamCommand {
    /// Create a stream paying a worker a rate (`--rate "1500 USDRIF/month"`) from your pool, or
    /// every stream of a roster CSV (`--from-csv roster.csv`).
    Create(create::CreateArgs),
    /// Stop a stream's accrual until it is resumed (employer).
    Pause(pause::PauseArgs),
    /// Resume a paused stream from now (employer).
    Resume(resume::ResumeArgs),
    /// Change a stream's rate from now on (employer).
    Adjust(adjust::AdjustArgs),
    /// Set or move a stream's end date, or make it open-ended (employer).
    SetEnd(set_end::SetEndArgs),
    /// Terminate a stream now; what it earned stays withdrawable (employer).
    Cancel(cancel::CancelArgs),
    /// Withdraw what a stream earned (worker): an amount or all of it, to you or --to.
    Withdraw(withdraw::WithdrawArgs),
    /// Pay streams' withdrawable amounts to their workers (anyone); many ids are batched in
    /// `payoutMany` transactions that fit the block gas limit.
    Payout(payout::PayoutArgs),
    /// One stream: parties, rate, dates, status, earned and withdrawable (`--watch`: live).
    Show(show::ShowArgs),
    /// The streams of an employer or a worker, from the contract's events.
    List(list::ListArgs),
}

pub(crate) async fn run(args: &StreamArgs, out: &OutputArgs) -> eyre::Result<()> {
    match &args.command {
        StreamCommand::Create(args) => create::run(args, out).await,
        StreamCommand::Pause(args) => pause::run(args, out).await,
        StreamCommand::Resume(args) => resume::run(args, out).await,
        StreamCommand::Adjust(args) => adjust::run(args, out).await,
        StreamCommand::SetEnd(args) => set_end::run(args, out).await,
        StreamCommand::Cancel(args) => cancel::run(args, out).await,
        StreamCommand::Withdraw(args) => withdraw::run(args, out).await,
        StreamCommand::Payout(args) => payout::run(args, out).await,
        StreamCommand::Show(args) => show::run(args, out).await,
        StreamCommand::List(args) => list::run(args, out).await,
    }
}

/// The arguments of an employer control on one stream (`pause`, `resume`, `cancel`).
#[derive(Debug, Args)]
pub(crate) struct ControlArgs {
    /// Stream id.
    #[arg(value_name = "ID")]
    id: String,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

/// Everything about one stream, for JSON and people.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamJson {
    pub(crate) id: u64,
    pub(crate) employer: String,
    pub(crate) worker: String,
    pub(crate) token: TokenJson,
    /// `active`, `paused`, `canceled`, or for an active stream `scheduled` (before its start) and
    /// `ended` (after its end).
    pub(crate) status: &'static str,
    /// The contract's status: `active`, `paused` or `canceled`.
    pub(crate) contract_status: &'static str,
    pub(crate) rate: RateJson,
    pub(crate) start: String,
    pub(crate) start_unix: u64,
    /// `null` for an open-ended stream.
    pub(crate) end: Option<String>,
    pub(crate) end_unix: u64,
    pub(crate) earned: AmountJson,
    pub(crate) withdrawable: AmountJson,
    pub(crate) pool_balance: AmountJson,
    pub(crate) block: u64,
    pub(crate) as_of: String,
}

impl StreamJson {
    /// Builds the document of `state`, read at `block` (time `now`), projected to `at`.
    pub(crate) async fn new(
        ctx: &Context,
        book: &mut TokenBook,
        state: &StreamState,
        month: MonthMode,
        block: u64,
        now: u64,
        at: u64,
    ) -> Self {
        let view = &state.view;
        let token = book.get(ctx, view.token, Some(state.decimals)).await;
        let (earned, withdrawable) = if at == now {
            (state.earned, state.withdrawable)
        } else {
            (state.earned_at(at), state.withdrawable_at(at))
        };
        Self {
            id: state.id,
            employer: ctx.format_address(view.employer),
            worker: ctx.format_address(view.worker),
            token: TokenJson::new(ctx, &token),
            status: describe_status(view, at),
            contract_status: status_name(view.status),
            rate: RateJson::new(U256::from(view.rate), &token.symbol, month),
            start: units::format_time(view.start.to::<u64>()),
            start_unix: view.start.to::<u64>(),
            end: end_json(view.end.to::<u64>()),
            end_unix: view.end.to::<u64>(),
            earned: AmountJson::new(&token, earned),
            withdrawable: AmountJson::new(&token, withdrawable),
            pool_balance: AmountJson::new(&token, state.pool_balance),
            block,
            as_of: units::format_time(at),
        }
    }

    /// The stream as `key  value` lines.
    pub(crate) fn print(&self, month: MonthMode) {
        let symbol = &self.token.symbol;
        let rate: U256 = self.rate.per_second_scaled.parse().unwrap_or_default();
        println!("stream        {}", self.id);
        println!("status        {}", self.status);
        println!("employer      {}", self.employer);
        println!("worker        {}", self.worker);
        println!("token         {} ({})", symbol, self.token.address);
        println!(
            "rate          {} ({})",
            rate_per_month(rate, symbol, month),
            rate_human(rate, symbol, units::Period::Hour, month)
        );
        println!("start         {}", self.start);
        println!("end           {}", format_end(self.end_unix));
        println!("earned        {} {symbol}", self.earned.amount);
        println!("withdrawable  {} {symbol}", self.withdrawable.amount);
        println!("pool balance  {} {symbol}", self.pool_balance.amount);
        println!("as of         {} (block {})", self.as_of, self.block);
    }
}

/// One stream read now, as [`StreamJson`].
pub(crate) async fn stream_json(
    ctx: &Context,
    payroll: Address,
    id: u64,
    month: MonthMode,
) -> eyre::Result<StreamJson> {
    let (block, now) = latest_block(ctx).await?;
    let state = stream_states(ctx, payroll, &[id]).await?.remove(0);
    Ok(StreamJson::new(ctx, &mut TokenBook::default(), &state, month, block, now, now).await)
}

/// What an employer control prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ControlOutput {
    action: &'static str,
    stream_id: u64,
    tx: TxJson,
    stream: StreamJson,
}

/// An employer control of one stream: the call, and words for people.
pub(crate) struct Control<'a, C> {
    /// Stream id.
    pub(crate) id: u64,
    /// The command (`pause`).
    pub(crate) action: &'static str,
    /// Its past tense (`paused`).
    pub(crate) done: &'a str,
    /// The Payroll call.
    pub(crate) call: C,
}

/// Sends a control's call on its stream (which must exist) and prints the stream afterwards.
pub(crate) async fn control<C: SolCall>(
    ctx: &Context,
    wallet: &WalletOpts,
    opts: &TxOpts,
    out: &OutputArgs,
    control: Control<'_, C>,
) -> eyre::Result<()> {
    let Control { id, action, done, call } = control;
    let payroll = ctx.deployment()?.payroll.address;
    // The stream must exist (a clear error instead of a revert) before anything is signed.
    stream_states(ctx, payroll, &[id]).await?;
    let (sender, _) = sender_with_address(ctx, wallet, opts)?;
    let sent = send_call(
        ctx,
        &sender,
        ctx.call_tx(payroll, &call),
        &format!("{action} stream {id}"),
        opts,
    )
    .await?;
    let Some(receipt) = sent.receipt() else { return ctx.print_dry_run(out) };
    let stream = stream_json(ctx, payroll, id, MonthMode::Days30).await?;
    let output = ControlOutput { action, stream_id: id, tx: TxJson::new(ctx, receipt), stream };
    out.emit(&output, |o| {
        println!("stream {id} {done} in block {} (tx {})", o.tx.block, o.tx.tx_hash);
        println!();
        o.stream.print(MonthMode::Days30);
    })
}

/// Parses the id of a control command, then connects.
pub(crate) async fn connect_for(args_id: &str, chain: &ChainOpts) -> eyre::Result<(u64, Context)> {
    let id = stream_id(args_id)?;
    Ok((id, Context::connect(chain).await?))
}
