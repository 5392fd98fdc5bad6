//! The scheduler against anvil behind the Rootstock proxy: payday payouts chunked to the block
//! gas limit, slots scheduled once, threshold payouts.

use std::collections::BTreeSet;

use alloy::{
    primitives::{Address, U256, aliases::U40},
    providers::Provider,
    sol_types::SolCall,
};
use shiftpay_relayer::{
    bindings::payroll::Payroll,
    scheduler::{
        DEFAULT_THRESHOLD_INTERVAL, Scheduler, SchedulerConfig, estimate_payout_many, gas_budget,
        latest_slot, read_withdrawable,
    },
    store::{NewPayout, PayoutKind},
    watcher::Watcher,
};
use shiftpay_tests::anvil::dev_address;

use crate::watcher::{Chain, TEST_TIMEOUT, all_payouts, memory_store};

/// Rate (18-decimal scaled units per second; native has 18 decimals): 1e9 wei per second.
const FAST: u128 = 1_000_000_000;
/// 1e6 wei per second.
const SLOW: u128 = 1_000_000;

impl Chain {
    /// Funds dev 0's native pool with 10 coins.
    async fn fund_pool(&self) {
        let ten = U256::from(10u64).pow(U256::from(18)) * U256::from(10);
        let deposit = Payroll::depositCall { token: Address::ZERO, amount: ten };
        self.send(0, self.payroll, deposit.abi_encode(), ten).await;
    }

    /// A native stream from dev 0 to dev `worker`, starting `start` (0: now).
    async fn stream(&self, worker: usize, rate: u128, start: u64) -> U256 {
        let create = Payroll::createStreamCall {
            worker: dev_address(worker),
            token: Address::ZERO,
            rate,
            start: U40::from(start),
            end: U40::ZERO,
        };
        let receipt = self.send(0, self.payroll, create.abi_encode(), U256::ZERO).await;
        let log = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<Payroll::StreamCreated>().ok());
        log.expect("StreamCreated").inner.data.streamId
    }

    fn scheduler_config(&self, block_gas_limit: u64) -> SchedulerConfig {
        SchedulerConfig {
            payroll: self.payroll,
            paydays: vec!["daily 00:00".parse().unwrap()],
            thresholds: Vec::new(),
            threshold_interval: DEFAULT_THRESHOLD_INTERVAL,
            employers: None,
            block_gas_limit,
            from: dev_address(9),
            tick: std::time::Duration::from_millis(100),
            reorg_window: 16,
        }
    }
}

fn stream_ids(kind: &PayoutKind) -> Vec<U256> {
    match kind {
        PayoutKind::Payday { stream_ids, .. } | PayoutKind::Threshold { stream_ids, .. } => {
            stream_ids.clone()
        }
        other => panic!("not a stream payout: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payday_payouts_are_chunked_to_fit_the_block_gas_limit() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let chain = Chain::start().await;
        chain.fund_pool().await;
        let mut paying = Vec::new();
        for i in 0..12 {
            paying.push(chain.stream(1 + i % 8, FAST, 0).await);
        }
        let now = chain
            .node
            .get_block_by_number(Default::default())
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp;
        let future = chain.stream(2, FAST, now + 30 * 86_400).await;
        chain.warp(3_600).await;

        let store = memory_store();
        let mut watcher = Watcher::new(chain.watcher_config(), chain.rpc.clone(), store.clone());
        watcher.catch_up().await.unwrap();
        assert_eq!(watcher.book().len(), 13);

        // A block gas limit that holds about four stream payouts per transaction.
        let one = estimate_payout_many(&chain.rpc, chain.payroll, dev_address(9), &paying[..1])
            .await
            .unwrap();
        let all =
            estimate_payout_many(&chain.rpc, chain.payroll, dev_address(9), &paying).await.unwrap();
        let per_id = (all - one) / 11;
        let block_gas_limit = (one + 3 * per_id + per_id / 2) * 100 / 80;
        let mut scheduler = Scheduler::new(
            chain.scheduler_config(block_gas_limit),
            chain.rpc.clone(),
            store.clone(),
            watcher.book(),
            watcher.status(),
        );
        let status = watcher.status().get();
        let now = status.cursor_time.unwrap();
        let slot = latest_slot(&["daily 00:00".parse().unwrap()], now).unwrap();
        let done = scheduler.tick().await.unwrap();
        assert!(done.inserted.len() > 1, "several chunks: {done:?}");
        let mut covered = Vec::new();
        for (i, key) in done.inserted.iter().enumerate() {
            assert_eq!(*key, NewPayout::payday(chain.payroll, slot, i as u32, Vec::new()).key);
            let payout = store.payout(key).await.unwrap().unwrap();
            assert_eq!(payout.due_at, slot);
            let ids = stream_ids(&payout.kind);
            let gas = estimate_payout_many(&chain.rpc, chain.payroll, dev_address(9), &ids)
                .await
                .unwrap();
            assert!(gas <= gas_budget(block_gas_limit), "chunk {i} needs {gas} gas");
            covered.extend(ids);
        }
        assert_eq!(covered, paying, "every paying stream once, in id order; not the future one");
        assert!(!covered.contains(&future));

        // The slot is done: neither another tick nor a restarted scheduler schedules it again.
        assert!(scheduler.tick().await.unwrap().inserted.is_empty());
        let mut restarted = Scheduler::new(
            chain.scheduler_config(block_gas_limit),
            chain.rpc.clone(),
            store.clone(),
            watcher.book(),
            watcher.status(),
        );
        assert!(restarted.tick().await.unwrap().inserted.is_empty());
        assert_eq!(all_payouts(&store).await.len(), done.inserted.len());

        // With Rootstock's limit everything fits in one payoutMany.
        let fresh = memory_store();
        let mut big = Scheduler::new(
            chain.scheduler_config(6_800_000),
            chain.rpc.clone(),
            fresh.clone(),
            watcher.book(),
            watcher.status(),
        );
        let done = big.payday(slot, now, status.cursor_block.unwrap()).await.unwrap();
        assert_eq!(done.inserted.len(), 1);
        let payout = fresh.payout(&done.inserted[0]).await.unwrap().unwrap();
        assert_eq!(stream_ids(&payout.kind), paying);
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threshold_payouts_take_the_streams_past_their_threshold_once() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let chain = Chain::start().await;
        chain.fund_pool().await;
        let fast = [chain.stream(1, FAST, 0).await, chain.stream(2, FAST, 0).await];
        let slow = chain.stream(3, SLOW, 0).await;
        chain.warp(3_600).await;

        let store = memory_store();
        let mut watcher = Watcher::new(chain.watcher_config(), chain.rpc.clone(), store.clone());
        watcher.catch_up().await.unwrap();
        let amounts =
            read_withdrawable(&chain.rpc, chain.payroll, &[fast[0], slow, U256::from(99)])
                .await
                .unwrap();
        assert!(amounts[0].1.unwrap() > U256::from(1_000_000_000_000u64));
        assert!(amounts[1].1.unwrap() < U256::from(1_000_000_000_000u64));
        assert_eq!(amounts[2], (U256::from(99), None), "an unknown id reads as None");

        let mut cfg = chain.scheduler_config(6_800_000);
        cfg.paydays.clear();
        cfg.thresholds = vec![(Address::ZERO, U256::from(1_000_000_000_000u64))];
        cfg.employers = Some(BTreeSet::from([dev_address(0)]));
        let mut scheduler =
            Scheduler::new(cfg, chain.rpc.clone(), store.clone(), watcher.book(), watcher.status());
        let done = scheduler.threshold(1_000).await.unwrap();
        assert_eq!(done.inserted.len(), 1);
        let payout = store.payout(&done.inserted[0]).await.unwrap().unwrap();
        assert_eq!(payout.key, NewPayout::threshold(chain.payroll, 1_000, 0, Vec::new()).key);
        assert_eq!(stream_ids(&payout.kind), fast.to_vec());

        // Still pending: the next interval leaves those streams out.
        chain.warp(3_600).await;
        watcher.catch_up().await.unwrap();
        assert!(scheduler.threshold(1_300).await.unwrap().inserted.is_empty());

        // Another employer's streams are not ours to pay.
        let mut cfg = chain.scheduler_config(6_800_000);
        cfg.paydays.clear();
        cfg.thresholds = vec![(Address::ZERO, U256::from(1u64))];
        cfg.employers = Some(BTreeSet::from([dev_address(7)]));
        let mut other =
            Scheduler::new(cfg, chain.rpc.clone(), store.clone(), watcher.book(), watcher.status());
        assert!(other.threshold(1_600).await.unwrap().inserted.is_empty());
    })
    .await
    .expect("the test finishes in time");
}
