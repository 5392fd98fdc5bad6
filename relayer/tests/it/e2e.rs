//! The whole service through its binary (`shiftpay-relayer run`), against anvil behind the
//! Rootstock-shaped proxy: a milestone released right after its review window (not before), a
//! payday batch paid at its slot (not before), a release someone else did first skipped without
//! a transaction.

use std::time::Duration;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use serde_json::Value;
use shiftpay_relayer::{
    bindings::{escrow::MilestoneEscrow, payroll::Payroll},
    store::{NewPayout, PayoutStatus},
};
use shiftpay_tests::anvil::dev_address;

use crate::{
    binary::{
        RelayerProcess, open_store, released_count, releases, send_many, until, write_config,
    },
    devnet::{Devnet, RELAYER},
};

/// Every test here must end within this.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

const CLIENT: usize = 2;
const WORKER: usize = 3;

/// A small milestone / deposit amount (0.001 coin).
fn milli() -> U256 {
    U256::from(1_000_000_000_000_000u64)
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_TIMEOUT, test).await.expect("the test took too long");
}

/// The timestamp of block `number`.
async fn block_time(devnet: &Devnet, number: u64) -> u64 {
    devnet
        .direct
        .get_block_by_number(BlockNumberOrTag::Number(number))
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_a_submitted_milestone_right_after_its_review_window() {
    bounded(async {
        let devnet = Devnet::start().await;
        let job = devnet.job(CLIENT, WORKER, &[milli(), milli()], 6).await;
        let config = write_config(&devnet, "confirmations = 1", "");
        let mut relayer = RelayerProcess::spawn(&config);
        relayer.wait_healthy().await;

        // From here the chain makes a block every second, as a live chain would: the relayer
        // sees the window pass only through the blocks' timestamps.
        devnet.automine(false).await;
        let _: Value =
            devnet.direct.raw_request("evm_setIntervalMining".into(), (1u64,)).await.unwrap();
        let window_end = devnet.submit(WORKER, job, 0).await;

        until(&relayer, Duration::from_secs(40), "the release", || async {
            !releases(&devnet).await.is_empty()
        })
        .await;
        let events = releases(&devnet).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(released_count(&events, job, 0), 1);
        assert_eq!(events[0].caller, dev_address(RELAYER), "released by the relayer");

        // When: in the first blocks after the window, and not one block earlier.
        let filter = Filter::new()
            .address(devnet.escrow())
            .event_signature(MilestoneEscrow::MilestoneReleasedAfterReview::SIGNATURE_HASH)
            .from_block(0);
        let log = devnet.direct.get_logs(&filter).await.unwrap().remove(0);
        let block = log.block_number.unwrap();
        let released_at = block_time(&devnet, block).await;
        assert!(released_at > window_end, "released at {released_at}, window ends {window_end}");
        assert!(
            released_at <= window_end + 8,
            "released at {released_at}: more than 8 s after the window ({window_end})"
        );
        let mut before = block - 1;
        while block_time(&devnet, before).await > window_end {
            before -= 1;
        }
        let nonce_then = devnet
            .direct
            .get_transaction_count(dev_address(RELAYER))
            .block_id(before.into())
            .await
            .unwrap();
        assert_eq!(nonce_then, 0, "the relayer sent something before the window ended");

        // One transaction in all, recorded and confirmed; the other milestone untouched.
        let store = open_store(&devnet).await;
        let key = NewPayout::release(devnet.escrow(), job, U256::ZERO, window_end, 0).key;
        until(&relayer, Duration::from_secs(20), "the payout confirmed", || async {
            store.payout(&key).await.unwrap().is_some_and(|p| p.status == PayoutStatus::Confirmed)
        })
        .await;
        assert_eq!(devnet.relayer_nonce().await, 1);
        assert_eq!(devnet.milestone(job, 1).await.windowEnd, 0, "milestone 1 was never submitted");

        let status = relayer.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "graceful stop: {status}; log:\n{}", relayer.log_tail(30));
        assert!(relayer.run_log().contains("relayer stopped"), "{}", relayer.log_tail(30));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_a_payday_batch_at_its_slot() {
    bounded(async {
        let devnet = Devnet::start().await;
        let workers: Vec<Address> = (3..6).map(dev_address).collect();
        let mut streams = Vec::new();
        for worker in &workers {
            streams.push(
                devnet.stream(CLIENT, *worker, milli() * U256::from(100), 1_000_000_000_000).await,
            );
        }
        // A minute of accrual, and a block on top of the last creation (confirmations = 1).
        devnet.advance(60).await;
        devnet.mine().await;
        // The scheduler's clock is the chain's (the time of the block it processed last). The
        // payday is daily, at the next whole minute at least two minutes ahead of the chain.
        let now = devnet.now().await;
        let slot = (now / 60 + 3) * 60;
        let time = jiff::Timestamp::from_second(i64::try_from(slot).unwrap()).unwrap();
        let payday = time.strftime("daily %H:%M").to_string();
        let config =
            write_config(&devnet, &format!("confirmations = 1\npaydays = [\"{payday}\"]"), "");
        let mut relayer = RelayerProcess::spawn(&config);
        let api = relayer.wait_healthy().await;
        let store = open_store(&devnet).await;

        // At start the latest slot in the past (yesterday's) is a catch-up payday: one batch.
        let yesterday = NewPayout::payday(devnet.payroll(), slot - 86_400, 0, Vec::new()).key;
        until(&relayer, Duration::from_secs(30), "the catch-up payday", || async {
            store
                .payout(&yesterday)
                .await
                .unwrap()
                .is_some_and(|p| p.status == PayoutStatus::Confirmed)
        })
        .await;
        let paid = withdrawals(&devnet).await;
        assert_batch(&paid, &streams, &workers);
        assert_eq!(devnet.relayer_nonce().await, 1);

        // Half a minute before the slot: the watcher gets there, and nothing is scheduled.
        let key = NewPayout::payday(devnet.payroll(), slot, 0, Vec::new()).key;
        crate::binary::mine_at(&devnet, slot - 30).await;
        devnet.mine().await;
        let head = devnet.direct.get_block_number().await.unwrap();
        until(&relayer, Duration::from_secs(20), "the watcher at the head", || async {
            cursor(api).await.is_some_and(|cursor| cursor + 1 >= head)
        })
        .await;
        // A few scheduler ticks (200 ms each) with the cursor before the slot.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(store.payout(&key).await.unwrap().is_none(), "payday scheduled before its slot");
        assert_eq!(withdrawals(&devnet).await.len(), paid.len(), "paid before the slot");

        // The slot passes on-chain (one block on top for the confirmation): one batch.
        crate::binary::mine_at(&devnet, slot + 1).await;
        devnet.mine().await;
        until(&relayer, Duration::from_secs(30), "the payday", || async {
            store.payout(&key).await.unwrap().is_some_and(|p| p.status == PayoutStatus::Confirmed)
        })
        .await;
        let all = withdrawals(&devnet).await;
        let second: Vec<_> = all[paid.len()..].to_vec();
        assert_batch(&second, &streams, &workers);
        let tx = second[0].1;
        let receipt = devnet.direct.get_transaction_receipt(tx).await.unwrap().unwrap();
        let mined_at = block_time(&devnet, receipt.block_number.unwrap()).await;
        assert!(mined_at > slot, "paid at {mined_at}, before the slot {slot}");
        assert_eq!(devnet.relayer_nonce().await, 2, "one transaction per payday");
        assert_eq!(relayer.problems(), Vec::<String>::new(), "warnings or errors logged");

        let status = relayer.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "graceful stop: {status}");
    })
    .await;
}

/// The `Withdrawn` events of the payroll in chain order, with their transaction hash.
async fn withdrawals(devnet: &Devnet) -> Vec<(Payroll::Withdrawn, alloy::primitives::B256)> {
    devnet.events(devnet.payroll()).await
}

/// `events` are one payout of every stream, to its worker, by the relayer, in one transaction.
fn assert_batch(
    events: &[(Payroll::Withdrawn, alloy::primitives::B256)],
    streams: &[U256],
    workers: &[Address],
) {
    assert_eq!(events.len(), streams.len(), "{events:?}");
    for (stream, worker) in streams.iter().zip(workers) {
        let (event, _) = events
            .iter()
            .find(|(e, _)| e.streamId == *stream)
            .unwrap_or_else(|| panic!("stream {stream} not paid: {events:?}"));
        assert_eq!(event.to, *worker);
        assert_eq!(event.caller, dev_address(RELAYER));
        assert!(!event.amount.is_zero());
    }
    assert!(events.iter().all(|(_, tx)| *tx == events[0].1), "not one batch: {events:?}");
}

/// The watcher's cursor from `/ready`.
async fn cursor(api: std::net::SocketAddr) -> Option<u64> {
    let body: Value = reqwest::get(format!("http://{api}/ready")).await.ok()?.json().await.ok()?;
    body.get("cursor")?.as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skips_a_release_someone_else_did_first() {
    bounded(async {
        let devnet = Devnet::start().await;
        let job = devnet.job(CLIENT, WORKER, &[milli()], 3_600).await;
        let window_end = devnet.submit(WORKER, job, 0).await;
        let config = write_config(&devnet, "confirmations = 1", "");
        let mut relayer = RelayerProcess::spawn(&config);
        relayer.wait_healthy().await;
        devnet.mine().await;
        let store = open_store(&devnet).await;
        let key = NewPayout::release(devnet.escrow(), job, U256::ZERO, window_end, 0).key;
        until(&relayer, Duration::from_secs(20), "the release scheduled", || async {
            store.payout(&key).await.unwrap().is_some()
        })
        .await;

        // The block that ends the window also holds the worker's own release: when the relayer
        // first sees the window over, the milestone is already paid.
        devnet.automine(false).await;
        send_many(
            &devnet,
            WORKER,
            devnet.escrow(),
            &[MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: U256::ZERO }],
            300_000,
        )
        .await;
        crate::binary::mine_at(&devnet, window_end + 1).await;
        devnet.automine(true).await;
        devnet.mine().await;
        let events = releases(&devnet).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].caller, dev_address(WORKER));

        until(&relayer, Duration::from_secs(20), "the release skipped", || async {
            store.payout(&key).await.unwrap().is_some_and(|p| p.status == PayoutStatus::Skipped)
        })
        .await;
        let payout = store.payout(&key).await.unwrap().unwrap();
        assert!(payout.last_error.as_deref().is_some_and(|e| e.contains("Released")), "{payout:?}");
        assert_eq!(devnet.relayer_nonce().await, 0, "the relayer sent a transaction");
        assert_eq!(devnet.proxy.count("eth_sendRawTransaction"), 0);
        assert_eq!(releases(&devnet).await.len(), 1);

        let status = relayer.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "graceful stop: {status}");
    })
    .await;
}
