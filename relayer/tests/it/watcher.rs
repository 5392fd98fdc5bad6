//! The watcher against anvil behind the Rootstock proxy: paging, the confirmation depth, the
//! reorg rollback and release scheduling. Also the chain fixture the scheduler tests share.

use std::{sync::Arc, time::Duration};

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, TransactionReceipt, TransactionRequest},
    sol_types::SolCall,
};
use shiftpay_relayer::{
    bindings::{
        escrow::{JobParams, MilestoneEscrow},
        payroll::Payroll,
    },
    service::connect,
    store::{NewTx, Payout, PayoutKind, PayoutStatus, Store, memory::MemoryStore},
    watcher::{ChainEvent, Event, Step, Watcher, WatcherConfig, decode_log, event_filter},
};
use shiftpay_tests::{
    anvil::{AnvilOptions, AnvilProcess, dev_address, dev_signer},
    rsk_proxy::{RskProxy, RskProxyConfig},
};

/// Every test here must end within this.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Review period of the test jobs.
pub(crate) const REVIEW: u32 = 3_600;
/// Gas limit of the setup transactions [`Chain::send`] makes (anvil's blocks hold 30M).
const SETUP_GAS: u64 = 5_000_000;

/// anvil with both contracts deployed; the relayer side talks through the Rootstock proxy.
pub(crate) struct Chain {
    /// Straight to anvil: setup transactions and `anvil_*` calls.
    pub(crate) node: DynProvider,
    /// Through the proxy: what the relayer uses.
    pub(crate) rpc: DynProvider,
    pub(crate) escrow: Address,
    pub(crate) payroll: Address,
    /// The later of the two deployment blocks.
    pub(crate) start_block: u64,
    pub(crate) proxy: RskProxy,
    pub(crate) _anvil: AnvilProcess,
}

impl Chain {
    pub(crate) async fn start() -> Self {
        Self::start_with_log_limit(2_000).await
    }

    pub(crate) async fn start_with_log_limit(max_log_range: u64) -> Self {
        let anvil = AnvilProcess::spawn(AnvilOptions::default()).expect("anvil starts");
        let proxy = RskProxy::start_with(anvil.url(), RskProxyConfig { port: 0, max_log_range })
            .expect("proxy starts");
        let node = connect(&anvil.url(), Duration::from_secs(10)).unwrap();
        let rpc = connect(proxy.url(), Duration::from_secs(10)).unwrap();
        let mut chain = Self {
            node,
            rpc,
            escrow: Address::ZERO,
            payroll: Address::ZERO,
            start_block: 0,
            proxy,
            _anvil: anvil,
        };
        let payroll = chain.deploy(Payroll::BYTECODE.clone()).await;
        let escrow = chain.deploy(MilestoneEscrow::BYTECODE.clone()).await;
        chain.payroll = payroll.contract_address.unwrap();
        chain.escrow = escrow.contract_address.unwrap();
        chain.start_block = payroll.block_number.unwrap().min(escrow.block_number.unwrap());
        chain
    }

    async fn deploy(&self, code: Bytes) -> TransactionReceipt {
        let tx = TransactionRequest::default().from(dev_address(0)).input(code.into());
        let tx = TransactionRequest { to: Some(alloy::primitives::TxKind::Create), ..tx };
        self.node.send_transaction(tx).await.unwrap().get_receipt().await.unwrap()
    }

    /// `eth_sendTransaction` from an unlocked dev account, mined at once; panics on a revert.
    ///
    /// The gas limit is fixed rather than estimated: an estimate made at one block's timestamp
    /// can fall short when a loaded machine mines the transaction a second later (a settlement
    /// that writes one more storage slot), which made setup transactions revert now and then.
    pub(crate) async fn send(
        &self,
        from: usize,
        to: Address,
        data: Vec<u8>,
        value: U256,
    ) -> TransactionReceipt {
        let tx = TransactionRequest::default()
            .from(dev_address(from))
            .to(to)
            .input(Bytes::from(data).into())
            .value(value)
            .gas_limit(SETUP_GAS);
        let receipt = self.node.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "transaction reverted: {receipt:?}");
        receipt
    }

    pub(crate) async fn mine(&self, blocks: u64) {
        let _: serde_json::Value =
            self.node.raw_request("anvil_mine".into(), (format!("{blocks:#x}"),)).await.unwrap();
    }

    /// Moves the chain clock forward and mines a block.
    pub(crate) async fn warp(&self, seconds: u64) {
        let _: serde_json::Value = self
            .node
            .raw_request("evm_increaseTime".into(), (format!("{seconds:#x}"),))
            .await
            .unwrap();
        self.mine(1).await;
    }

    pub(crate) async fn block_number(&self) -> u64 {
        self.node.get_block_number().await.unwrap()
    }

    /// Replaces the last `depth` blocks; `txs` are (raw signed tx, index of the new block).
    pub(crate) async fn reorg(&self, depth: u64, txs: &[(Bytes, u64)]) {
        let pairs: Vec<serde_json::Value> =
            txs.iter().map(|(raw, at)| serde_json::json!([raw, at])).collect();
        let _: serde_json::Value =
            self.node.raw_request("anvil_reorg".into(), (depth, pairs)).await.unwrap();
    }

    pub(crate) fn watcher_config(&self) -> WatcherConfig {
        WatcherConfig {
            escrow: self.escrow,
            payroll: self.payroll,
            start_block: self.start_block,
            confirmations: 0,
            log_range: 2_000,
            reorg_window: 16,
            poll_interval: Duration::from_millis(100),
            release_enabled: true,
            finalize_cancel_enabled: true,
        }
    }

    /// Creates a native-coin job from dev 0 to dev 1 with `milestones` funded milestones, and
    /// has dev 1 accept it. Returns the job id.
    pub(crate) async fn job(&self, milestones: usize) -> U256 {
        let amount = U256::from(1_000_000_000_000_000u64);
        let params = JobParams {
            worker: dev_address(1),
            token: Address::ZERO,
            arbiter: Address::ZERO,
            arbiterFeeBps: 0,
            maxChangeRequests: 2,
            reviewPeriod: REVIEW,
            rulingPeriod: REVIEW,
            deadline: 0,
            metadataHash: B256::repeat_byte(1),
            amounts: vec![amount; milestones],
        };
        let call = MilestoneEscrow::createJobCall { params, fundCount: U256::from(milestones) };
        let value = amount * U256::from(milestones);
        self.send(0, self.escrow, call.abi_encode(), value).await;
        let job = self.job_count().await;
        let accept = MilestoneEscrow::acceptJobCall { jobId: job };
        self.send(1, self.escrow, accept.abi_encode(), U256::ZERO).await;
        job
    }

    pub(crate) async fn job_count(&self) -> U256 {
        let call = MilestoneEscrow::jobCountCall {};
        self.call(self.escrow, call.abi_encode(), MilestoneEscrow::jobCountCall::abi_decode_returns)
            .await
    }

    async fn call<T>(
        &self,
        to: Address,
        data: Vec<u8>,
        decode: impl Fn(&[u8]) -> alloy::sol_types::Result<T>,
    ) -> T {
        let tx = TransactionRequest::default().to(to).input(Bytes::from(data).into());
        decode(&self.node.call(tx).await.unwrap()).unwrap()
    }

    /// The worker (dev 1) submits milestone `index`.
    pub(crate) async fn submit(&self, job: U256, index: u64) -> TransactionReceipt {
        self.send(1, self.escrow, submit_call(job, index), U256::ZERO).await
    }

    /// The milestone's `windowEnd` as the contract stores it.
    pub(crate) async fn window_end(&self, job: U256, index: u64) -> u64 {
        let call =
            MilestoneEscrow::getMilestoneCall { jobId: job, milestoneIndex: U256::from(index) };
        let milestone = self
            .call(
                self.escrow,
                call.abi_encode(),
                MilestoneEscrow::getMilestoneCall::abi_decode_returns,
            )
            .await;
        milestone.windowEnd
    }

    /// A signed legacy transaction of dev `from` (not sent).
    pub(crate) async fn sign(&self, from: usize, to: Address, data: Vec<u8>) -> Bytes {
        let signer = dev_signer(from);
        let nonce = self.node.get_transaction_count(signer.address()).await.unwrap();
        let gas_price = self.node.get_gas_price().await.unwrap();
        let mut request = TransactionRequest::default()
            .to(to)
            .input(Bytes::from(data).into())
            .gas_limit(500_000)
            .gas_price(gas_price)
            .transaction_type(0);
        request.chain_id = Some(33);
        NewTx::sign_request(&signer, &request, nonce).unwrap().raw
    }

    pub(crate) async fn send_raw(&self, raw: &Bytes) -> TransactionReceipt {
        let pending = self.node.send_raw_transaction(raw).await.unwrap();
        pending.get_receipt().await.unwrap()
    }
}

pub(crate) fn submit_call(job: U256, index: u64) -> Vec<u8> {
    MilestoneEscrow::submitCall {
        jobId: job,
        milestoneIndex: U256::from(index),
        deliverableHash: B256::repeat_byte(0xd0),
    }
    .abi_encode()
}

pub(crate) fn memory_store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

/// Every payout in the store.
pub(crate) async fn all_payouts(store: &Arc<dyn Store>) -> Vec<Payout> {
    store.payouts_with_status(PayoutStatus::ALL, 10_000).await.unwrap()
}

/// The release payouts of (job, milestone).
async fn releases(store: &Arc<dyn Store>, job: U256, index: u64) -> Vec<Payout> {
    all_payouts(store)
        .await
        .into_iter()
        .filter(|p| {
            matches!(p.kind, PayoutKind::Release { job: j, milestone: m, .. }
                if j == job && m == U256::from(index))
        })
        .collect()
}

fn events_of(steps: &[Step]) -> Vec<ChainEvent> {
    steps
        .iter()
        .flat_map(|step| match step {
            Step::Advanced { events, .. } => events.clone(),
            _ => Vec::new(),
        })
        .collect()
}

async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, test).await.expect("the test finishes in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_see_what_one_query_sees() {
    bounded(async {
        // The proxy allows 3 blocks per query; the watcher asks for 8 and must halve to 2.
        let chain = Chain::start_with_log_limit(3).await;
        let job = chain.job(3).await;
        let mut windows = Vec::new();
        for index in 0..3 {
            chain.mine(4).await;
            let receipt = chain.submit(job, index).await;
            windows.push((index, receipt.block_number.unwrap()));
        }
        let deposit = Payroll::depositCall {
            token: Address::ZERO,
            amount: U256::from(10u64).pow(U256::from(18)),
        };
        chain
            .send(0, chain.payroll, deposit.abi_encode(), U256::from(10u64).pow(U256::from(18)))
            .await;
        for worker in 2..5 {
            chain.mine(3).await;
            let create = Payroll::createStreamCall {
                worker: dev_address(worker),
                token: Address::ZERO,
                rate: 1_000_000_000_000_000_000_000_000_000,
                start: Default::default(),
                end: Default::default(),
            };
            chain.send(0, chain.payroll, create.abi_encode(), U256::ZERO).await;
        }
        chain.mine(2).await;
        let head = chain.block_number().await;

        let store = memory_store();
        let mut cfg = chain.watcher_config();
        cfg.log_range = 8;
        let mut watcher = Watcher::new(cfg, chain.rpc.clone(), store.clone());
        let steps = watcher.catch_up().await.unwrap();
        assert_eq!(watcher.log_range(), 2, "the page was halved to what the node accepts");
        assert!(steps.len() > 5, "several pages: {}", steps.len());
        let paged = events_of(&steps);

        // One query over the whole range, straight to anvil.
        let filter =
            event_filter(chain.escrow, chain.payroll).from_block(chain.start_block).to_block(head);
        let single: Vec<ChainEvent> = chain
            .node
            .get_logs(&filter)
            .await
            .unwrap()
            .iter()
            .filter_map(|log| decode_log(log, chain.escrow, chain.payroll).unwrap())
            .collect();
        assert_eq!(paged, single);
        assert_eq!(
            paged.iter().filter(|e| matches!(e.event, Event::MilestoneSubmitted { .. })).count(),
            3
        );
        assert_eq!(
            paged.iter().filter(|e| matches!(e.event, Event::StreamCreated { .. })).count(),
            3
        );

        // One release per submission, due one second after the window the contract stores.
        for (index, block) in windows {
            let payouts = releases(&store, job, index).await;
            assert_eq!(payouts.len(), 1);
            let window_end = chain.window_end(job, index).await;
            assert_eq!(payouts[0].due_at, window_end + 1);
            assert_eq!(payouts[0].source_block, Some(block));
            assert_eq!(payouts[0].status, PayoutStatus::Pending);
        }
        assert_eq!(watcher.book().len(), 3);
        let status = watcher.status().get();
        assert_eq!(status.cursor_block, Some(head));
        assert_eq!(status.lag, Some(0));
        assert!(status.caught_up && status.node_ok);
        assert_eq!(store.cursor().await.unwrap().unwrap().block, head);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stays_confirmations_behind_the_head() {
    bounded(async {
        let chain = Chain::start().await;
        let job = chain.job(1).await;
        let submitted = chain.submit(job, 0).await.block_number.unwrap();
        let store = memory_store();
        let mut cfg = chain.watcher_config();
        cfg.confirmations = 3;
        let mut watcher = Watcher::new(cfg, chain.rpc.clone(), store.clone());

        watcher.catch_up().await.unwrap();
        let head = chain.block_number().await;
        assert_eq!(head, submitted);
        assert_eq!(store.cursor().await.unwrap().unwrap().block, head - 3);
        assert_eq!(watcher.status().get().lag, Some(3));
        assert!(releases(&store, job, 0).await.is_empty(), "the event is not deep enough yet");

        chain.mine(2).await;
        watcher.catch_up().await.unwrap();
        assert_eq!(store.cursor().await.unwrap().unwrap().block, head - 1);
        assert!(releases(&store, job, 0).await.is_empty());

        chain.mine(1).await;
        watcher.catch_up().await.unwrap();
        assert_eq!(store.cursor().await.unwrap().unwrap().block, head);
        assert_eq!(releases(&store, job, 0).await.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_removing_the_submission_deletes_its_release() {
    bounded(async {
        let chain = Chain::start().await;
        let job = chain.job(1).await;
        chain.mine(3).await;
        let raw = chain.sign(1, chain.escrow, submit_call(job, 0)).await;
        let block = chain.send_raw(&raw).await.block_number.unwrap();
        chain.mine(2).await;

        let store = memory_store();
        let mut watcher = Watcher::new(chain.watcher_config(), chain.rpc.clone(), store.clone());
        watcher.catch_up().await.unwrap();
        let before = releases(&store, job, 0).await;
        assert_eq!(before.len(), 1);
        let key = before[0].key.clone();

        // Replace the submission's block and the two after it, without the submission.
        chain.reorg(3, &[]).await;
        let step = watcher.step().await.unwrap();
        let Step::Reorg { fork, payouts_removed, from_cursor } = step else {
            panic!("expected a reorg, got {step:?}")
        };
        assert_eq!(fork, Some(block - 1));
        assert_eq!(from_cursor, block + 2);
        assert_eq!(payouts_removed, vec![key.clone()]);
        assert!(store.payout(&key).await.unwrap().is_none());
        watcher.catch_up().await.unwrap();
        assert!(releases(&store, job, 0).await.is_empty(), "no release without a submission");
        assert_eq!(watcher.status().get().reorgs, 1);

        // Another reorg re-includes the same signed submission in the new last block.
        chain.reorg(1, &[(raw, 0)]).await;
        let steps = watcher.catch_up().await.unwrap();
        assert!(matches!(steps[0], Step::Reorg { .. }), "{steps:?}");
        let after = releases(&store, job, 0).await;
        assert_eq!(after.len(), 1, "the re-included submission is scheduled once: {after:?}");
        assert_eq!(after[0].due_at, chain.window_end(job, 0).await + 1);
        assert_eq!(after[0].source_block, Some(chain.block_number().await));
        // Stepping again changes nothing.
        watcher.catch_up().await.unwrap();
        assert_eq!(releases(&store, job, 0).await, after);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_removing_the_cancellation_notice_deletes_its_finalize() {
    bounded(async {
        let chain = Chain::start().await;
        // Two funded milestones, none submitted: cancelling gives the worker notice.
        let job = chain.job(2).await;
        chain.mine(3).await;
        let cancel = MilestoneEscrow::cancelCall { jobId: job }.abi_encode();
        let raw = chain.sign(0, chain.escrow, cancel).await;
        let block = chain.send_raw(&raw).await.block_number.unwrap();
        chain.mine(2).await;

        let store = memory_store();
        let mut watcher = Watcher::new(chain.watcher_config(), chain.rpc.clone(), store.clone());
        watcher.catch_up().await.unwrap();
        let finalizes = |store: Arc<dyn Store>| async move {
            all_payouts(&store)
                .await
                .into_iter()
                .filter(|p| matches!(p.kind, PayoutKind::FinalizeCancel { job: j, .. } if j == job))
                .collect::<Vec<_>>()
        };
        let before = finalizes(store.clone()).await;
        assert_eq!(before.len(), 1, "{before:?}");
        assert_eq!(before[0].source_block, Some(block));
        let PayoutKind::FinalizeCancel { notice_end, .. } = before[0].kind else { unreachable!() };
        assert_eq!(before[0].due_at, notice_end + 1);
        let key = before[0].key.clone();

        // Replace the notice's block and the two after it, without the notice.
        chain.reorg(3, &[]).await;
        let step = watcher.step().await.unwrap();
        let Step::Reorg { payouts_removed, .. } = step else {
            panic!("expected a reorg, got {step:?}")
        };
        assert_eq!(payouts_removed, vec![key.clone()]);
        watcher.catch_up().await.unwrap();
        assert!(finalizes(store.clone()).await.is_empty(), "no finalize without a notice");

        // Another reorg re-includes the same signed cancel: scheduled once, from its new block.
        chain.reorg(1, &[(raw, 0)]).await;
        watcher.catch_up().await.unwrap();
        let after = finalizes(store.clone()).await;
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!(after[0].key, key);
        assert_eq!(after[0].source_block, Some(chain.block_number().await));
        watcher.catch_up().await.unwrap();
        assert_eq!(finalizes(store.clone()).await, after);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_request_makes_the_release_obsolete() {
    bounded(async {
        let chain = Chain::start().await;
        let job = chain.job(1).await;
        chain.submit(job, 0).await;
        let store = memory_store();
        let mut cfg = chain.watcher_config();
        cfg.reorg_window = 2;
        let mut watcher = Watcher::new(cfg.clone(), chain.rpc.clone(), store.clone());
        watcher.catch_up().await.unwrap();
        let key = releases(&store, job, 0).await[0].key.clone();

        let changes = MilestoneEscrow::requestChangesCall {
            jobId: job,
            milestoneIndex: U256::ZERO,
            reasonHash: B256::repeat_byte(5),
        };
        chain.send(0, chain.escrow, changes.abi_encode(), U256::ZERO).await;
        watcher.catch_up().await.unwrap();
        // Still within the reorg window: not skipped yet (a reorg could undo the change request).
        assert_eq!(store.payout(&key).await.unwrap().unwrap().status, PayoutStatus::Pending);
        chain.mine(2).await;
        watcher.catch_up().await.unwrap();
        let payout = store.payout(&key).await.unwrap().unwrap();
        assert_eq!(payout.status, PayoutStatus::Skipped);
        assert!(payout.last_error.unwrap().contains("ChangesRequested"));

        // The resubmission (a later second: anvil mines many blocks per second) gets its own
        // release.
        chain.warp(10).await;
        chain.submit(job, 0).await;
        watcher.catch_up().await.unwrap();
        let all = releases(&store, job, 0).await;
        assert_eq!(all.len(), 2);
        assert!(all.iter().any(|p| p.status == PayoutStatus::Pending && p.due_at > payout.due_at));

        // Catching up from scratch past both events never inserts the obsolete release.
        let fresh = memory_store();
        let mut watcher = Watcher::new(cfg, chain.rpc.clone(), fresh.clone());
        chain.mine(3).await;
        watcher.catch_up().await.unwrap();
        let all = releases(&fresh, job, 0).await;
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].status, PayoutStatus::Pending);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_from_an_outage_and_rebuilds_streams_after_a_restart() {
    bounded(async {
        let chain = Chain::start().await;
        let create = Payroll::createStreamCall {
            worker: dev_address(3),
            token: Address::ZERO,
            rate: 1_000_000_000_000_000_000,
            start: Default::default(),
            end: Default::default(),
        };
        chain.send(0, chain.payroll, create.abi_encode(), U256::ZERO).await;
        let store = memory_store();
        let mut watcher = Watcher::new(chain.watcher_config(), chain.rpc.clone(), store.clone());
        watcher.catch_up().await.unwrap();
        assert_eq!(watcher.book().len(), 1);

        // A restarted watcher (same store) knows the stream before its first new block.
        let mut restarted = Watcher::new(chain.watcher_config(), chain.rpc.clone(), store.clone());
        assert!(!restarted.book().is_ready());
        restarted.backfill().await.unwrap();
        assert!(restarted.book().is_ready());
        assert_eq!(restarted.book().len(), 1);

        // Node down: the task keeps retrying, reports it, and catches up once it is back.
        let status = restarted.status();
        let cancel = tokio_util::sync::CancellationToken::new();
        chain.proxy.set_down(true);
        let task = tokio::spawn(restarted.run(cancel.clone()));
        let job = chain.job(1).await;
        chain.submit(job, 0).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(!status.get().node_ok);
        assert!(status.get().last_error.is_some());
        chain.proxy.set_down(false);
        let head = chain.block_number().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while status.get().cursor_block != Some(head) {
            assert!(tokio::time::Instant::now() < deadline, "did not recover: {:?}", status.get());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(status.get().node_ok);
        assert_eq!(releases(&store, job, 0).await.len(), 1);
        cancel.cancel();
        task.await.unwrap().unwrap();
    })
    .await;
}

#[test]
fn the_filter_is_accepted_by_the_proxy_shape() {
    // Both contracts in one query: addresses and topic0 alternatives, no block tags.
    let filter: Filter = event_filter(Address::repeat_byte(1), Address::repeat_byte(2));
    let json = serde_json::to_value(&filter).unwrap();
    assert!(json.get("fromBlock").is_none());
    assert_eq!(json["address"].as_array().unwrap().len(), 2);
}

/// `/ready` judges the watcher's lag by `api.ready_max_lag` from the config file, passed through
/// `Relayer::start`: a lag the default (50) accepts is refused at 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_judges_the_watchers_lag_by_the_configured_maximum() {
    bounded(async {
        let net = crate::devnet::Devnet::start().await;
        let mut config = net.config("storage = \"memory://\"", "ready_max_lag = 5\n");
        assert_eq!(config.api.ready_max_lag, 5);
        // Once caught up, the watcher polls once an hour: blocks mined after that stay unread.
        config.poll_interval = Duration::from_secs(3_600);
        let handle = shiftpay_relayer::Relayer::start(config).await.unwrap();
        let url = format!("http://{}/ready", handle.api_addr().unwrap());
        let http = reqwest::Client::new();
        let ready = || async {
            let response = http.get(&url).send().await.unwrap();
            let status = response.status().as_u16();
            let json: serde_json::Value =
                serde_json::from_str(&response.text().await.unwrap()).expect("/ready answers JSON");
            (status, json)
        };
        crate::devnet::eventually(Duration::from_secs(30), "the watcher to catch up", || async {
            ready().await.0 == 200
        })
        .await;
        // 20 blocks at a time until the watcher, asleep, falls more than 5 behind.
        crate::devnet::eventually(Duration::from_secs(30), "/ready to refuse the lag", || async {
            let _: serde_json::Value =
                net.direct.raw_request("anvil_mine".into(), ("0x14",)).await.unwrap();
            ready().await.0 == 503
        })
        .await;
        // The watcher sleeps: the lag only grows.
        let (status, json) = ready().await;
        assert_eq!(status, 503, "{json}");
        assert_eq!(json["status"], "not_ready", "{json}");
        assert!(json["lagBlocks"].as_u64().unwrap() > 5, "{json}");
        let reason = json["reason"].as_str().unwrap();
        assert!(reason.contains("blocks behind the confirmed head (at most 5)"), "{reason}");
        handle.shutdown().await.unwrap();
    })
    .await;
}
