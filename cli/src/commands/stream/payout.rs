//! `shiftpay stream payout ID...`: pays streams' withdrawable amounts to their own workers; anyone
//! may call it. One id is a `payout`; several are `payoutMany` transactions, each the largest
//! batch whose gas estimate fits the block gas limit less the margin.

use alloy::{
    network::TransactionBuilder,
    primitives::{B256, U256},
    rpc::types::TransactionReceipt,
};
use clap::Args;
use eyre::bail;
use serde::Serialize;
use shiftpay_bindings::payroll::Payroll;

use crate::{
    commands::payroll_common::{
        AmountJson, FitError, TokenBook, TxJson, gas_budget, largest_fitting_batch, print_table,
        send_call, sender_with_address, stream_id, stream_states,
    },
    context::Context,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay stream payout`.
#[derive(Debug, Args)]
pub(crate) struct PayoutArgs {
    /// Stream ids (any employers and tokens).
    #[arg(value_name = "ID", required = true, num_args = 1..)]
    ids: Vec<String>,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

/// What one stream got.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Paid {
    stream_id: u64,
    worker: String,
    /// Delivered (0 when the delivery failed: the amount stays withdrawable).
    paid: AmountJson,
    /// The recipient refused the payment (`PayoutFailed`).
    failed: bool,
    tx_hash: B256,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PayoutOutput {
    transactions: Vec<TxJson>,
    streams: Vec<Paid>,
    /// Ids skipped because nothing was withdrawable.
    skipped: Vec<u64>,
}

pub(crate) async fn run(args: &PayoutArgs, out: &OutputArgs) -> eyre::Result<()> {
    let mut ids: Vec<u64> = Vec::new();
    for text in &args.ids {
        let id = stream_id(text)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let ctx = Context::connect(&args.chain).await?;
    let payroll = ctx.deployment()?.payroll.address;
    let states = stream_states(&ctx, payroll, &ids).await?;
    let mut book = TokenBook::default();
    let mut skipped = Vec::new();
    let mut payable = Vec::new();
    for state in &states {
        if state.withdrawable.is_zero() {
            eprintln!("stream {}: nothing withdrawable now, skipped", state.id);
            skipped.push(state.id);
        } else {
            payable.push(state.clone());
        }
    }
    if payable.is_empty() {
        bail!(
            "nothing to pay out: {} ha{} nothing withdrawable now",
            plural_ids(&skipped),
            if skipped.len() == 1 { "s" } else { "ve" }
        );
    }
    let (sender, from) = sender_with_address(&ctx, &args.wallet, &args.tx)?;
    let (budget, _, policy) = gas_budget(&ctx, &args.tx);
    let payable_ids: Vec<U256> = payable.iter().map(|s| U256::from(s.id)).collect();
    let mut receipts: Vec<TransactionReceipt> = Vec::new();
    let mut done = 0;
    let mut hint = payable_ids.len();
    while done < payable_ids.len() {
        let rest = &payable_ids[done..];
        let (tx, count, what) = if payable_ids.len() == 1 {
            let call = Payroll::payoutCall { streamId: rest[0] };
            (ctx.call_tx(payroll, &call), 1, format!("pay out stream {}", rest[0]))
        } else {
            let build = |k: usize| {
                ctx.call_tx(payroll, &Payroll::payoutManyCall { streamIds: rest[..k].to_vec() })
            };
            let fit = match largest_fitting_batch(&ctx, from, rest.len(), budget, hint, build)
                .await?
            {
                Ok(fit) => fit,
                Err(FitError::Reverted { error, .. }) => return Err(error.into()),
                Err(FitError::OneTooBig { .. }) => {
                    bail!("paying out stream {} alone needs more gas than a block allows", rest[0])
                }
            };
            hint = fit.count;
            let tx = build(fit.count).with_gas_limit(policy.gas_limit(fit.gas));
            let ids: Vec<String> = rest[..fit.count].iter().map(ToString::to_string).collect();
            (tx, fit.count, format!("pay out streams {}", ids.join(", ")))
        };
        let sent = send_call(&ctx, &sender, tx, &what, &args.tx).await?;
        if let Some(receipt) = sent.receipt() {
            receipts.push(receipt.clone());
        }
        done += count;
    }
    if ctx.collecting(&args.tx) {
        return ctx.print_dry_run(out);
    }

    let mut paid = Vec::new();
    for receipt in &receipts {
        for log in receipt.inner.logs().iter().filter(|l| l.address() == payroll) {
            if let Ok(event) = log.log_decode::<Payroll::Withdrawn>() {
                let event = event.inner.data;
                let state = payable.iter().find(|s| U256::from(s.id) == event.streamId);
                let token = match state {
                    Some(state) => book.get(&ctx, state.view.token, Some(state.decimals)).await,
                    None => continue,
                };
                paid.push(Paid {
                    stream_id: event.streamId.saturating_to(),
                    worker: ctx.format_address(event.worker),
                    paid: AmountJson::new(&token, event.amount),
                    failed: false,
                    tx_hash: receipt.transaction_hash,
                });
            } else if let Ok(event) = log.log_decode::<Payroll::PayoutFailed>() {
                let event = event.inner.data;
                let Some(state) = payable.iter().find(|s| U256::from(s.id) == event.streamId)
                else {
                    continue;
                };
                let token = book.get(&ctx, state.view.token, Some(state.decimals)).await;
                paid.push(Paid {
                    stream_id: event.streamId.saturating_to(),
                    worker: ctx.format_address(event.worker),
                    paid: AmountJson::new(&token, U256::ZERO),
                    failed: true,
                    tx_hash: receipt.transaction_hash,
                });
            }
        }
    }
    let output = PayoutOutput {
        transactions: receipts.iter().map(|r| TxJson::new(&ctx, r)).collect(),
        streams: paid,
        skipped,
    };
    out.emit(&output, |o| {
        println!(
            "paid out {} stream{} in {} transaction{}",
            o.streams.iter().filter(|p| !p.failed).count(),
            if o.streams.len() == 1 { "" } else { "s" },
            o.transactions.len(),
            if o.transactions.len() == 1 { "" } else { "s" }
        );
        let rows: Vec<Vec<String>> = o
            .streams
            .iter()
            .map(|p| {
                vec![
                    p.stream_id.to_string(),
                    p.worker.clone(),
                    if p.failed {
                        "failed: the recipient refused it, it stays withdrawable".to_owned()
                    } else {
                        format!("{} {}", p.paid.amount, p.paid.symbol)
                    },
                ]
            })
            .collect();
        print_table("", &["stream", "worker", "paid"], &rows);
        if !o.skipped.is_empty() {
            println!("skipped (nothing withdrawable): {}", plural_ids(&o.skipped));
        }
    })
}

fn plural_ids(ids: &[u64]) -> String {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    format!("stream{} {}", if ids.len() == 1 { "" } else { "s" }, list.join(", "))
}
