//! An anvil behind the Rootstock proxy with both contracts deployed (dev account 9), a
//! deployment file in a temp dir, and what the sender and API tests need around it: a relayer
//! config (signer: dev account 0), a context for driving a `Sender` by hand, streams and jobs,
//! signatures made with the bindings' typed data.

#![allow(dead_code)] // each test module uses part of it

use std::{sync::Arc, time::Duration};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, TransactionReceipt, TransactionRequest},
    signers::SignerSync,
    sol_types::{SolCall, SolEvent},
};
use serde_json::{Value, json};
use shiftpay_relayer::{
    Config,
    bindings::{
        chains::{ChainInfo, GasPolicy},
        deployment::{ContractDeployment, Deployment},
        escrow::{Approval, JobParams, MilestoneEscrow, Settlement},
        payroll::{Payroll, WithdrawRequest},
        rpc::connect_http,
        tx::{TxPolicy, send_and_confirm},
    },
    service::{Context, connect},
    store,
};
use shiftpay_tests::{
    anvil::{AnvilOptions, AnvilProcess, dev_address, dev_signer},
    rsk_proxy::RskProxy,
};
use tempfile::TempDir;

/// The relayer's signer (config `SHIFTPAY_PRIVATE_KEY` in `common::config`).
pub(crate) const RELAYER: usize = 0;
/// Deploys the contracts.
pub(crate) const DEPLOYER: usize = 9;
/// Chain id of the devnet preset.
pub(crate) const CHAIN_ID: u64 = 33;

/// 1 native coin (18 decimals).
pub(crate) fn coin(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// Anvil, the proxy, two providers, the deployment.
pub(crate) struct Devnet {
    /// The proxy (give its URL to the relayer); `proxy.count(..)` tells what the relayer called.
    pub(crate) proxy: RskProxy,
    /// The anvil behind it.
    pub(crate) anvil: AnvilProcess,
    /// Through the proxy.
    pub(crate) provider: DynProvider,
    /// Straight to anvil: setup, mining controls and "someone else" acting (not counted by
    /// the proxy).
    pub(crate) direct: DynProvider,
    /// Holds the deployment file, the SQLite database, the config's directory.
    pub(crate) dir: TempDir,
    /// The deployed contracts.
    pub(crate) deployment: Deployment,
}

/// Devnet policy for setup transactions: legacy, mined = done, fast polling.
fn setup_policy() -> TxPolicy {
    TxPolicy {
        gas_policy: GasPolicy::Legacy,
        confirmations: 1,
        timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(20),
        ..TxPolicy::default()
    }
}

impl Devnet {
    /// Starts anvil (chain 33, automine) and the proxy, deploys both contracts and writes
    /// `deployments/33.json` in a temp dir.
    pub(crate) async fn start() -> Self {
        let anvil = AnvilProcess::spawn(AnvilOptions::default()).expect("anvil starts");
        let proxy = RskProxy::start(anvil.url()).expect("proxy starts");
        let provider = connect_http(proxy.url()).unwrap();
        let direct = connect_http(&anvil.url()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut contracts = Vec::new();
        for code in [Payroll::BYTECODE.clone(), MilestoneEscrow::BYTECODE.clone()] {
            let tx = TransactionRequest::default().with_deploy_code(code);
            let receipt = send_and_confirm(
                &direct,
                &EthereumWallet::new(dev_signer(DEPLOYER)),
                &setup_policy(),
                tx,
                |_| {},
            )
            .await
            .unwrap();
            contracts.push(ContractDeployment {
                address: receipt.contract_address.unwrap(),
                tx_hash: receipt.transaction_hash,
                block_number: receipt.block_number.unwrap(),
                artifact_hash: B256::ZERO,
            });
        }
        let deployment = Deployment {
            version: 1,
            chain_id: CHAIN_ID,
            payroll: contracts[0].clone(),
            escrow: contracts[1].clone(),
            compiler: json!({}),
            deployer: dev_address(DEPLOYER),
            tokens: Vec::new(),
            created_at: "2026-11-30T00:00:00Z".to_owned(),
        };
        deployment.save(&Deployment::default_path(dir.path(), CHAIN_ID)).unwrap();
        Self { proxy, anvil, provider, direct, dir, deployment }
    }

    /// The Payroll contract.
    pub(crate) fn payroll(&self) -> Address {
        self.deployment.payroll.address
    }

    /// The MilestoneEscrow contract.
    pub(crate) fn escrow(&self) -> Address {
        self.deployment.escrow.address
    }

    /// A relayer config: devnet through the proxy, SQLite in the temp dir, fast polling, the
    /// API on a free port; `top` holds top-level keys (a `storage` there replaces the SQLite
    /// default), `tables` is appended after the `[api]` table (keys of `[api]`, then tables).
    pub(crate) fn config(&self, top: &str, tables: &str) -> Config {
        let storage =
            if top.contains("storage =") { "" } else { "storage = \"sqlite://relayer.db\"\n" };
        let toml = format!(
            "chain = \"devnet\"\nrpc_url = \"{}\"\n{storage}\
             poll_interval = \"200ms\"\nrpc_timeout = \"5s\"\nshutdown_timeout = \"10s\"\n{top}\n\
             [api]\nlisten = \"127.0.0.1:0\"\n{tables}\n",
            self.proxy.url()
        );
        crate::common::config(self.dir.path(), &toml)
    }

    /// What `Relayer::start` builds, without spawning anything: drive a `Sender` by hand.
    pub(crate) async fn context(&self, config: Config, instance: &str) -> Arc<Context> {
        let provider = connect(&config.rpc_url, config.rpc_timeout).unwrap();
        let mut chain = ChainInfo::detect(&provider, config.chain.preset()).await.unwrap();
        chain.confirmations = config.confirmations;
        chain.log_range = config.log_range;
        let environment = config.check_environment().unwrap();
        let store = store::open(&config.storage).await.unwrap();
        Arc::new(Context {
            tx_policy: config.tx_policy(&chain),
            chain,
            deployment: environment.deployment,
            provider,
            store,
            signer: config.signer.load().unwrap(),
            thresholds: environment.thresholds,
            instance: instance.to_owned(),
            config: Arc::new(config),
        })
    }

    /// Sends a call from dev account `from` straight to anvil and waits for it to be mined.
    pub(crate) async fn send<C: SolCall>(
        &self,
        from: usize,
        to: Address,
        call: &C,
        value: U256,
    ) -> TransactionReceipt {
        let tx = TransactionRequest::default()
            .to(to)
            .value(value)
            .input(Bytes::from(call.abi_encode()).into());
        let receipt = send_and_confirm(
            &self.direct,
            &EthereumWallet::new(dev_signer(from)),
            &setup_policy(),
            tx,
            |_| {},
        )
        .await
        .unwrap_or_else(|err| panic!("{}: {err}", C::SIGNATURE));
        assert!(receipt.status(), "{} reverted", C::SIGNATURE);
        receipt
    }

    /// Every `E` event `address` emitted (all blocks, straight from anvil), in chain order,
    /// with the hash of the transaction that emitted it.
    pub(crate) async fn events<E: SolEvent>(&self, address: Address) -> Vec<(E, B256)> {
        let filter =
            Filter::new().address(address).event_signature(E::SIGNATURE_HASH).from_block(0);
        self.direct
            .get_logs(&filter)
            .await
            .unwrap()
            .iter()
            .map(|log| (E::decode_log(&log.inner).unwrap().data, log.transaction_hash.unwrap()))
            .collect()
    }

    /// Calls a view straight on anvil.
    pub(crate) async fn view<C: SolCall>(&self, to: Address, call: &C) -> C::Return {
        let tx = TransactionRequest::default().to(to).input(Bytes::from(call.abi_encode()).into());
        let out =
            self.direct.call(tx).await.unwrap_or_else(|err| panic!("{}: {err}", C::SIGNATURE));
        C::abi_decode_returns(&out).unwrap()
    }

    /// The latest block's timestamp.
    pub(crate) async fn now(&self) -> u64 {
        self.direct
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    /// Moves the chain's clock forward and mines a block.
    pub(crate) async fn advance(&self, seconds: u64) {
        let _: Value =
            self.direct.raw_request("evm_increaseTime".into(), (seconds,)).await.unwrap();
        self.mine().await;
    }

    /// Mines one block.
    pub(crate) async fn mine(&self) {
        let _: Value = self.direct.raw_request("evm_mine".into(), ()).await.unwrap();
    }

    /// Turns automine on or off.
    pub(crate) async fn automine(&self, on: bool) {
        let _: Value = self.direct.raw_request("evm_setAutomine".into(), (on,)).await.unwrap();
    }

    /// A native-coin stream from dev `employer` to `worker` at `per_second` wei per second (for
    /// an 18-decimal coin the scaled rate is the wei rate), with `deposit` wei in the employer's
    /// pool. Returns its id.
    pub(crate) async fn stream(
        &self,
        employer: usize,
        worker: Address,
        deposit: U256,
        per_second: u128,
    ) -> U256 {
        let payroll = self.payroll();
        if !deposit.is_zero() {
            self.send(
                employer,
                payroll,
                &Payroll::depositCall { token: Address::ZERO, amount: deposit },
                deposit,
            )
            .await;
        }
        let id = self.view(payroll, &Payroll::nextStreamIdCall {}).await;
        let rate = per_second;
        self.send(
            employer,
            payroll,
            &Payroll::createStreamCall {
                worker,
                token: Address::ZERO,
                rate,
                start: Default::default(),
                end: Default::default(),
            },
            U256::ZERO,
        )
        .await;
        id
    }

    /// A native-coin job from dev `client` to dev `worker` with the given milestone amounts,
    /// all funded, accepted by the worker. Returns its id.
    pub(crate) async fn job(
        &self,
        client: usize,
        worker: usize,
        amounts: &[U256],
        review_period: u32,
    ) -> U256 {
        let escrow = self.escrow();
        let params = JobParams {
            worker: dev_address(worker),
            token: Address::ZERO,
            arbiter: Address::ZERO,
            arbiterFeeBps: 0,
            maxChangeRequests: 2,
            reviewPeriod: review_period,
            rulingPeriod: 3_600,
            deadline: 0,
            metadataHash: B256::repeat_byte(0x11),
            amounts: amounts.to_vec(),
        };
        let total = amounts.iter().copied().fold(U256::ZERO, |a, b| a + b);
        self.send(
            client,
            escrow,
            &MilestoneEscrow::createJobCall { params, fundCount: U256::from(amounts.len()) },
            total,
        )
        .await;
        let id = self.view(escrow, &MilestoneEscrow::jobCountCall {}).await;
        self.send(worker, escrow, &MilestoneEscrow::acceptJobCall { jobId: id }, U256::ZERO).await;
        id
    }

    /// The worker submits milestone `index`; returns the end of its review window.
    pub(crate) async fn submit(&self, worker: usize, job: U256, index: u64) -> u64 {
        let escrow = self.escrow();
        let call = MilestoneEscrow::submitCall {
            jobId: job,
            milestoneIndex: U256::from(index),
            deliverableHash: B256::repeat_byte(0x22),
        };
        self.send(worker, escrow, &call, U256::ZERO).await;
        self.milestone(job, index).await.windowEnd
    }

    /// A milestone as the contract has it.
    pub(crate) async fn milestone(&self, job: U256, index: u64) -> MilestoneEscrow::Milestone {
        self.view(
            self.escrow(),
            &MilestoneEscrow::getMilestoneCall { jobId: job, milestoneIndex: U256::from(index) },
        )
        .await
    }

    /// `Payroll.nonces(worker)`.
    pub(crate) async fn payroll_nonce(&self, worker: Address) -> U256 {
        self.view(self.payroll(), &Payroll::noncesCall { worker }).await
    }

    /// `MilestoneEscrow.nonces(signer)`.
    pub(crate) async fn escrow_nonce(&self, signer: Address) -> U256 {
        self.view(self.escrow(), &MilestoneEscrow::noncesCall { signer }).await
    }

    /// How many logs with `topic0` the contract at `address` emitted (all blocks).
    pub(crate) async fn count_events(&self, address: Address, topic0: B256) -> usize {
        let filter =
            alloy::rpc::types::Filter::new().address(address).event_signature(topic0).from_block(0);
        self.direct.get_logs(&filter).await.unwrap().len()
    }

    /// The relayer's transaction count (`latest`).
    pub(crate) async fn relayer_nonce(&self) -> u64 {
        self.direct.get_transaction_count(dev_address(RELAYER)).await.unwrap()
    }

    /// A withdraw request of `amount` from `stream` to `to`, with the worker's current nonce and
    /// a deadline an hour from the chain's now.
    pub(crate) async fn withdraw_request(
        &self,
        stream: U256,
        worker: Address,
        to: Address,
        amount: U256,
    ) -> WithdrawRequest {
        WithdrawRequest {
            streamId: stream,
            to,
            amount,
            nonce: self.payroll_nonce(worker).await,
            deadline: U256::from(self.now().await + 3_600),
        }
    }
}

/// Signs an EIP-712 digest with dev key `index`: 65 bytes `r || s || v`.
pub(crate) fn sign(index: usize, digest: B256) -> Bytes {
    Bytes::from(dev_signer(index).sign_hash_sync(&digest).unwrap().as_bytes().to_vec())
}

/// The `POST /v1/requests` body of a signed withdrawal.
pub(crate) fn withdraw_body(
    payroll: Address,
    request: &WithdrawRequest,
    signature: &Bytes,
) -> Value {
    json!({
        "kind": "withdraw", "chainId": CHAIN_ID, "contract": payroll.to_string(),
        "streamId": request.streamId.to_string(), "to": request.to.to_string(),
        "amount": request.amount.to_string(), "nonce": request.nonce.to_string(),
        "deadline": request.deadline.to_string(), "signature": signature.to_string(),
    })
}

/// The `POST /v1/requests` body of a signed approval.
pub(crate) fn approve_body(escrow: Address, approval: &Approval, signature: &Bytes) -> Value {
    json!({
        "kind": "approve", "chainId": CHAIN_ID, "contract": escrow.to_string(),
        "jobId": approval.jobId.to_string(), "milestoneIndex": approval.milestoneIndex.to_string(),
        "nonce": approval.nonce.to_string(), "deadline": approval.deadline.to_string(),
        "signature": signature.to_string(),
    })
}

/// The `POST /v1/requests` body of a settlement signed by both parties.
pub(crate) fn settle_body(
    escrow: Address,
    client: (&Settlement, &Bytes),
    worker: (&Settlement, &Bytes),
) -> Value {
    json!({
        "kind": "settle", "chainId": CHAIN_ID, "contract": escrow.to_string(),
        "jobId": client.0.jobId.to_string(), "milestoneIndex": client.0.milestoneIndex.to_string(),
        "workerBps": client.0.workerBps.to_string(), "deadline": client.0.deadline.to_string(),
        "clientNonce": client.0.nonce.to_string(), "clientSignature": client.1.to_string(),
        "workerNonce": worker.0.nonce.to_string(), "workerSignature": worker.1.to_string(),
    })
}

/// Polls `cond` every 100 ms for up to `timeout`.
pub(crate) async fn eventually<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !cond().await {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
