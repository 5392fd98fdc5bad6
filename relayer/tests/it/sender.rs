//! The sender against anvil behind the Rootstock proxy, driven step by step: re-checks that skip
//! what someone else did, the review-window gate, a stuck transaction replaced with a bumped
//! price, a transaction recorded before a "crash" and rebroadcast after the restart, a nonce
//! gap filled.

use std::{sync::Arc, time::Duration};

use alloy::{
    consensus::{Transaction, TxEnvelope},
    eips::eip2718::Decodable2718,
    primitives::{Address, U256},
    providers::Provider,
    sol_types::{SolCall, SolEvent},
};
use serde_json::Value;
use shiftpay_relayer::{
    Relayer,
    bindings::{
        escrow::{MilestoneEscrow, MilestoneState},
        payroll::Payroll,
    },
    metrics::Metrics,
    sender::{Decision, Sender, SenderOptions, chain},
    service::Context,
    store::{NewPayout, NewRequest, PayoutStatus, RequestId, RequestKind, RequestStatus, TxStatus},
};
use shiftpay_tests::anvil::dev_address;

use crate::devnet::{CHAIN_ID, Devnet, RELAYER, coin, eventually, sign, withdraw_body};

fn sender(ctx: &Arc<Context>, metrics: &Arc<Metrics>) -> Sender {
    let options = SenderOptions {
        poll_interval: Duration::from_millis(200),
        ..SenderOptions::from_config(&ctx.config)
    };
    Sender::new(ctx.clone(), metrics.clone(), options)
}

/// Stores a signed withdrawal of `amount` from `stream` as the API would (request + payout).
async fn queue_withdrawal(
    net: &Devnet,
    ctx: &Context,
    stream: U256,
    worker: usize,
    amount: U256,
) -> (RequestId, Value) {
    let payroll = net.payroll();
    let request = net.withdraw_request(stream, dev_address(worker), dev_address(5), amount).await;
    let signature = sign(worker, request.signing_hash(CHAIN_ID, payroll));
    let body = withdraw_body(payroll, &request, &signature);
    let (stored, inserted) = ctx
        .store
        .insert_request(NewRequest {
            id: RequestId::new(),
            kind: RequestKind::Withdraw,
            payload: body.clone(),
            signer: dev_address(worker),
            digest: request.signing_hash(CHAIN_ID, payroll),
            due_at: 0,
        })
        .await
        .unwrap();
    assert!(inserted);
    (stored.id, body)
}

/// Submits a queued withdrawal body straight to the contract from dev account `from`.
async fn submit_directly(net: &Devnet, from: usize, body: &Value) {
    let request = shiftpay_relayer::api::request::SignedRequest::from_json(body).unwrap();
    let call = Payroll::withdrawWithSignatureCall::abi_decode(&request.calldata()).unwrap();
    net.send(from, net.payroll(), &call, U256::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_someone_else_did_first_are_skipped_without_a_transaction() {
    let net = Devnet::start().await;
    let ctx = net.context(net.config("", ""), "test").await;
    let metrics = Arc::new(Metrics::new());
    let sender = sender(&ctx, &metrics);
    let (escrow, payroll) = (net.escrow(), net.payroll());

    // A release the client made moot by approving the milestone itself.
    let job = net.job(3, 4, &[coin(1)], 60).await;
    let window_end = net.submit(4, job, 0).await;
    net.send(
        3,
        escrow,
        &MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: U256::ZERO },
        U256::ZERO,
    )
    .await;
    let release = NewPayout::release(escrow, job, U256::ZERO, window_end, 1);
    ctx.store.insert_payout_if_absent(release.clone()).await.unwrap();

    // A signed withdrawal someone else submitted after the relayer queued it.
    let funded = net.stream(1, dev_address(2), coin(10), 1_000_000_000_000_000).await;
    net.advance(120).await;
    let (request, body) = queue_withdrawal(&net, &ctx, funded, 2, U256::from(1_000)).await;
    submit_directly(&net, 6, &body).await;

    // Paydays: one with only an unfunded stream (employer 7 never deposited), one with both.
    let unfunded = net.stream(7, dev_address(8), U256::ZERO, 1_000_000_000_000_000).await;
    net.advance(10).await;
    let only_unfunded = NewPayout::payday(payroll, 1, 0, vec![unfunded]);
    let both = NewPayout::payday(payroll, 2, 0, vec![unfunded, funded]);
    for payout in [&only_unfunded, &both] {
        ctx.store.insert_payout_if_absent(payout.clone()).await.unwrap();
    }

    let report = sender.step().await.unwrap();
    assert_eq!(
        (report.claimed, report.skipped, report.sent, report.failed),
        (4, 3, 1, 0),
        "{report:?}"
    );
    let report = sender.step().await.unwrap();
    assert_eq!(report.confirmed, 1, "{report:?}");

    let release = ctx.store.payout(&release.key).await.unwrap().unwrap();
    assert_eq!(release.status, PayoutStatus::Skipped);
    assert!(release.last_error.as_deref().unwrap().contains("Released"), "{release:?}");
    assert_eq!(release.tx_id, None);
    let request = ctx.store.request(request).await.unwrap().unwrap();
    assert_eq!(request.status, RequestStatus::Rejected);
    assert!(request.error.as_deref().unwrap().contains("nonce 0 is already used"), "{request:?}");
    let skipped = ctx.store.payout(&only_unfunded.key).await.unwrap().unwrap();
    assert_eq!(skipped.status, PayoutStatus::Skipped);
    assert!(skipped.last_error.as_deref().unwrap().contains("nothing is withdrawable"));
    let paid = ctx.store.payout(&both.key).await.unwrap().unwrap();
    assert_eq!(paid.status, PayoutStatus::Confirmed);

    // One transaction in all, paying only the stream that had something to pay.
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 1);
    let tx = ctx.store.tx(paid.tx_id.unwrap()).await.unwrap().unwrap();
    let envelope = TxEnvelope::decode_2718(&mut tx.raw.as_ref()).unwrap();
    assert!(envelope.is_legacy());
    let call = Payroll::payoutManyCall::abi_decode(envelope.input()).unwrap();
    assert_eq!(call.streamIds, vec![funded]);
    assert_eq!(metrics.counters().failed, 0);
    assert_eq!(metrics.counters().confirmed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_waits_for_the_chain_to_pass_the_review_window() {
    let net = Devnet::start().await;
    let ctx = net.context(net.config("", ""), "test").await;
    let metrics = Arc::new(Metrics::new());
    let sender = sender(&ctx, &metrics);
    let escrow = net.escrow();
    let job = net.job(3, 4, &[coin(1)], 600).await;
    let window_end = net.submit(4, job, 0).await;
    let release = NewPayout::release(escrow, job, U256::ZERO, window_end, 1);
    ctx.store.insert_payout_if_absent(release.clone()).await.unwrap();

    let report = sender.step().await.unwrap();
    assert_eq!(report.claimed, 0, "due at {}: {report:?}", window_end + 1);
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 0);

    // The chain's clock passes the window (the machine's does not): released once.
    net.advance(601).await;
    let report = sender.step().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    sender.step().await.unwrap();
    let payout = ctx.store.payout(&release.key).await.unwrap().unwrap();
    assert_eq!(payout.status, PayoutStatus::Confirmed, "{payout:?}");
    let milestone = net.milestone(job, 0).await;
    assert_eq!(MilestoneState::try_from(milestone.status), Ok(MilestoneState::Released));
    let released = MilestoneEscrow::MilestoneReleasedAfterReview::SIGNATURE_HASH;
    assert_eq!(net.count_events(escrow, released).await, 1);
    let report = sender.step().await.unwrap();
    assert_eq!((report.claimed, report.sent), (0, 0));
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_transaction_is_replaced_with_a_bumped_price_and_mined_once() {
    let net = Devnet::start().await;
    let ctx = net.context(net.config("", "[gas]\nreplace_after = \"1s\"\n"), "test").await;
    let metrics = Arc::new(Metrics::new());
    let sender = sender(&ctx, &metrics);
    let stream = net.stream(1, dev_address(2), coin(10), 1_000_000_000_000_000).await;
    net.advance(100).await;
    let (id, _) = queue_withdrawal(&net, &ctx, stream, 2, U256::from(1_000)).await;

    net.automine(false).await;
    let report = sender.step().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let pending = ctx.store.txs_with_status(&[TxStatus::Pending]).await.unwrap();
    assert_eq!(pending.len(), 1);
    let first = pending[0].clone();

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let report = sender.step().await.unwrap();
    assert_eq!(report.replaced, 1, "{report:?}");
    let replaced = ctx.store.tx(first.id).await.unwrap().unwrap();
    assert_eq!(replaced.hashes.len(), 2);
    assert_eq!(replaced.nonce, first.nonce);
    assert!(
        replaced.gas_price * 100 >= first.gas_price * 140,
        "{} is not 40% above {}",
        replaced.gas_price,
        first.gas_price
    );
    assert_eq!(metrics.counters().replaced, 1);

    net.mine().await;
    net.automine(true).await;
    eventually(Duration::from_secs(10), "the replacement to be confirmed", || async {
        sender.step().await.unwrap();
        ctx.store.request(id).await.unwrap().unwrap().status == RequestStatus::Confirmed
    })
    .await;
    let receipt = net.direct.get_transaction_receipt(replaced.hashes[1]).await.unwrap();
    assert!(receipt.is_some_and(|r| r.status()));
    assert!(net.direct.get_transaction_receipt(first.hash()).await.unwrap().is_none());
    assert_eq!(net.payroll_nonce(dev_address(2)).await, U256::from(1));
    let executed = Payroll::SignedWithdrawalExecuted::SIGNATURE_HASH;
    assert_eq!(net.count_events(net.payroll(), executed).await, 1);
    assert_eq!(metrics.counters().confirmed, 1);
    assert_eq!(metrics.counters().failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_recorded_before_a_crash_is_rebroadcast_after_the_restart_once() {
    let net = Devnet::start().await;
    let config = net.config("", "");
    let stream = net.stream(1, dev_address(2), coin(10), 1_000_000_000_000_000).await;
    net.advance(100).await;
    let (id, record) = {
        let ctx = net.context(config.clone(), "crashed").await;
        let sender = sender(&ctx, &Arc::new(Metrics::new()));
        let (id, _) = queue_withdrawal(&net, &ctx, stream, 2, U256::from(1_000)).await;
        let head = chain::head(&ctx.provider).await.unwrap();
        let now = head.timestamp.max(shiftpay_relayer::bindings::units::now());
        let claimed =
            ctx.store.claim_due(now, 10, sender.holder(), Duration::from_secs(60)).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let price = net.direct.get_gas_price().await.unwrap();
        let Decision::Send { request, .. } = sender.decide(&claimed[0], &head, Some(price)).await
        else {
            panic!("the withdrawal is due");
        };
        let nonce = net.relayer_nonce().await;
        let record = sender.record(&claimed[0], *request, nonce).await.unwrap();
        assert_eq!(record.nonce, nonce);
        // The process dies here: recorded, never broadcast.
        ctx.store.close().await;
        (id, record)
    };
    let unknown: Option<Value> =
        net.direct.raw_request("eth_getTransactionByHash".into(), (record.hash(),)).await.unwrap();
    assert!(unknown.is_none());
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 0);

    let handle = Relayer::start(config).await.unwrap();
    let store = handle.context().store.clone();
    eventually(Duration::from_secs(30), "the recorded withdrawal to be confirmed", || async {
        store.request(id).await.unwrap().unwrap().status == RequestStatus::Confirmed
    })
    .await;
    let request = store.request(id).await.unwrap().unwrap();
    assert_eq!(request.tx_hash, Some(record.hash()));
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 1);
    let receipt = net.direct.get_transaction_receipt(record.hash()).await.unwrap().unwrap();
    assert!(receipt.status());
    assert_eq!(net.payroll_nonce(dev_address(2)).await, U256::from(1));
    let executed = Payroll::SignedWithdrawalExecuted::SIGNATURE_HASH;
    assert_eq!(net.count_events(net.payroll(), executed).await, 1);
    drop(store);
    handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_fills_a_nonce_gap_and_rebroadcasts_what_follows_it() {
    let net = Devnet::start().await;
    let ctx = net.context(net.config("storage = \"memory://\"", ""), "test").await;
    let metrics = Arc::new(Metrics::new());
    let sender = sender(&ctx, &metrics);
    let stream = net.stream(1, dev_address(2), coin(10), 1_000_000_000_000_000).await;
    net.advance(100).await;
    let (id, _) = queue_withdrawal(&net, &ctx, stream, 2, U256::from(1_000)).await;
    let head = chain::head(&ctx.provider).await.unwrap();
    let now = head.timestamp.max(shiftpay_relayer::bindings::units::now());
    let claimed =
        ctx.store.claim_due(now, 10, sender.holder(), Duration::from_secs(60)).await.unwrap();
    let Decision::Send { request, .. } = sender.decide(&claimed[0], &head, None).await else {
        panic!("the withdrawal is due");
    };
    // The store jumps a nonce (as if the chain had reported one more): a hole nothing covers.
    let chain_nonce = net.relayer_nonce().await;
    let record = sender.record(&claimed[0], *request, chain_nonce + 1).await.unwrap();
    assert_eq!(record.nonce, chain_nonce + 1);

    let report = sender.reconcile().await.unwrap();
    assert_eq!(report.gaps_filled, 1, "{report:?}");
    // The filler is recorded (no payout) at the missing nonce, before it was broadcast.
    let at_gap: Vec<_> = ctx
        .store
        .txs_with_status(TxStatus::ALL)
        .await
        .unwrap()
        .into_iter()
        .filter(|tx| tx.nonce == chain_nonce)
        .collect();
    assert_eq!(at_gap.len(), 1, "{at_gap:?}");
    let fill = at_gap[0].clone();
    assert_eq!((fill.payout_key.as_deref(), fill.signer), (None, dev_address(RELAYER)));
    assert_eq!(metrics.counters().sent, 1);
    // A restart's reconcile finds the nonce covered: nothing filled twice.
    let report = sender.reconcile().await.unwrap();
    assert_eq!(report.gaps_filled, 0, "{report:?}");
    eventually(Duration::from_secs(10), "the withdrawal to be confirmed", || async {
        sender.step().await.unwrap();
        ctx.store.request(id).await.unwrap().unwrap().status == RequestStatus::Confirmed
    })
    .await;
    // Followed up like any transaction: confirmed and counted.
    eventually(Duration::from_secs(10), "the filler to be confirmed", || async {
        sender.step().await.unwrap();
        ctx.store.tx(fill.id).await.unwrap().unwrap().status == TxStatus::Confirmed
    })
    .await;
    assert_eq!(metrics.counters().confirmed, 2);
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 2);
    assert_eq!(net.relayer_nonce().await, chain_nonce + 2);
    let executed = Payroll::SignedWithdrawalExecuted::SIGNATURE_HASH;
    assert_eq!(net.count_events(net.payroll(), executed).await, 1);
    // The filler was a 0-value transfer to the relayer itself, at the missing nonce.
    let relayer: Address = dev_address(RELAYER);
    let mut filler = None;
    let latest = net.direct.get_block_number().await.unwrap();
    for number in latest.saturating_sub(3)..=latest {
        let block = net.direct.get_block_by_number(number.into()).full().await.unwrap().unwrap();
        for tx in block.transactions.into_transactions() {
            if tx.inner.signer() == relayer && tx.nonce() == chain_nonce {
                filler = Some(tx);
            }
        }
    }
    let filler = filler.expect("the gap filler was mined");
    assert_eq!(filler.to(), Some(relayer));
    assert!(filler.value().is_zero());
    assert_eq!(*filler.inner.tx_hash(), fill.hash());
}
