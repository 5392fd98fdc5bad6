//! The transaction policy every sender shares (the CLI, the relayer, the demo): how a transaction
//! is priced, sized, signed, sent and confirmed on Rootstock and the other EVM Bitcoin L2s.
//!
//! - **Legacy chains** (Rootstock): type-0 transactions priced with `eth_gasPrice`, `gas_price`
//!   set explicitly; `eth_feeHistory` and `eth_maxPriorityFeePerGas` are never called (rskj has
//!   neither). EIP-1559 chains get `max_fee_per_gas`/`max_priority_fee_per_gas` from alloy's
//!   fee-history estimator.
//! - **Gas limit**: `eth_estimateGas` × (100 + margin) / 100, capped at the block gas limit; a
//!   revert during estimation is [`TxError::Reverted`] with the contract's custom error decoded.
//! - **Calls and estimates** are sent as plain `{from, to, value, data}` objects at `latest`:
//!   no `input`, `type` or `chainId` keys that rskj's strict argument parser rejects.
//! - **Confirmations** are counted by polling `eth_blockNumber` and the receipt (no `safe` /
//!   `finalized` tags, no subscriptions): a receipt that disappears in a reorg is waited for
//!   again. A transaction that leaves the pool unmined is [`TxError::Dropped`]; one whose nonce
//!   another transaction used is [`TxError::Replaced`].
//!
//! Nothing here relies on provider fillers: the functions take any [`Provider`] and only read
//! from it or send raw signed bytes, so a provider built with alloy's recommended fillers (whose
//! gas filler calls `eth_feeHistory`) is safe too. [`crate::rpc::connect_http`] builds one without
//! them.

use std::time::Duration;

use alloy::{
    consensus::TxEnvelope,
    eips::eip2718::Encodable2718,
    network::{EthereumWallet, NetworkTransactionBuilder},
    primitives::{Address, B256, Bytes, TxHash, TxKind, U64, U128, U256},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    transports::{RpcError, TransportError},
};
use serde::Serialize;

use crate::{
    chains::{ChainInfo, GasPolicy},
    revert::{DecodedRevert, decode_revert, revert_data},
    rpc::NodeError,
};

/// Gas added to every estimate after the margin: one storage slot written from zero to non-zero
/// (20,000) plus a cold read (2,100), the most a state change between estimate and mining adds to
/// a ShiftPay call.
pub const STATE_CHANGE_GAS: u64 = 22_100;

/// Chain ids of Rootstock mainnet, testnet and regtest (rskj nodes: 80x price cap, 40% bump).
const ROOTSTOCK_IDS: [u64; 3] = [30, 31, 33];

/// How transactions are priced, sized and confirmed. [`TxPolicy::for_chain`] gives the defaults
/// of a chain; the CLI overrides fields from its flags (`--gas-price`, `--gas-margin`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPolicy {
    /// Legacy (`gas_price`, type 0) or EIP-1559 fees.
    pub gas_policy: GasPolicy,
    /// Percent added to `eth_estimateGas` for the gas limit (default 20).
    pub gas_margin_pct: u64,
    /// Gas added after the margin (default [`STATE_CHANGE_GAS`]): an estimate runs at the latest
    /// block's time, and a call that settles accrued state (Payroll's pools and streams) can
    /// write a slot from zero to non-zero only when mined a block later, which a percentage of a
    /// small estimate does not cover.
    pub gas_buffer: u64,
    /// A fixed gas price in wei instead of `eth_gasPrice` (legacy), or the max fee (EIP-1559).
    pub gas_price: Option<u128>,
    /// Minimum percent by which a replacement must raise the gas price: rskj's
    /// `transaction.gasPriceBump` is 40, geth's price bump 10.
    pub gas_price_bump_pct: u64,
    /// A node does not relay a transaction priced above this multiple of the latest block's
    /// minimum gas price (80 on Rootstock; `None`: no such rule).
    pub max_gas_price_multiple: Option<u64>,
    /// The block gas limit: gas limits are capped at it, and an estimate above it is an error.
    pub block_gas_limit: Option<u64>,
    /// Blocks to wait after inclusion, the including block counted (1 = mined).
    pub confirmations: u64,
    /// How long [`send_and_confirm`] waits for the confirmations, from the broadcast.
    pub timeout: Duration,
    /// How often the receipt and block number are polled.
    pub poll_interval: Duration,
}

impl Default for TxPolicy {
    /// Legacy pricing, 20% gas margin, 10% bump, no cap, 1 confirmation, 5 minutes, polled every
    /// second: a conservative policy for an unknown chain.
    fn default() -> Self {
        Self {
            gas_policy: GasPolicy::Legacy,
            gas_margin_pct: 20,
            gas_buffer: STATE_CHANGE_GAS,
            gas_price: None,
            gas_price_bump_pct: 10,
            max_gas_price_multiple: None,
            block_gas_limit: None,
            confirmations: 1,
            timeout: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl TxPolicy {
    /// The gas limit to send for an `eth_estimateGas` result: `estimate × (100 + margin) / 100 +
    /// gas_buffer`, capped at the block gas limit.
    pub fn gas_limit(&self, estimate: u64) -> u64 {
        let with_margin = u128::from(estimate) * u128::from(100 + self.gas_margin_pct) / 100
            + u128::from(self.gas_buffer);
        u64::try_from(with_margin).unwrap_or(u64::MAX).min(self.block_gas_limit.unwrap_or(u64::MAX))
    }

    /// The largest estimate whose [`gas_limit`](Self::gas_limit) still fits the block gas limit:
    /// the budget a batch (a roster `multicall`, a `payoutMany`) is sized to. `u64::MAX` when the
    /// block gas limit is unknown.
    pub fn batch_gas_budget(&self) -> u64 {
        let Some(limit) = self.block_gas_limit else { return u64::MAX };
        let room = u128::from(limit.saturating_sub(self.gas_buffer));
        u64::try_from(room * 100 / u128::from(100 + self.gas_margin_pct)).unwrap_or(limit)
    }

    /// The chain's policy: its gas policy, confirmations and block gas limit; on Rootstock
    /// (30/31/33) the 80x price cap and 40% replacement bump; polling every 4 s on live chains
    /// (Rootstock mines every ~30 s) and every 250 ms on a local devnet; a timeout of 5 minutes
    /// plus one minute per confirmation.
    pub fn for_chain(chain: &ChainInfo) -> Self {
        let rootstock = ROOTSTOCK_IDS.contains(&chain.chain_id);
        let live = chain.preset.is_none_or(|preset| preset.live);
        Self {
            gas_policy: chain.gas_policy,
            gas_margin_pct: 20,
            gas_buffer: STATE_CHANGE_GAS,
            gas_price: None,
            gas_price_bump_pct: if rootstock { 40 } else { 10 },
            max_gas_price_multiple: rootstock.then_some(80),
            block_gas_limit: Some(chain.block_gas_limit).filter(|&limit| limit > 0),
            confirmations: chain.confirmations.max(1),
            timeout: Duration::from_secs(300 + 60 * chain.confirmations),
            poll_interval: if live { Duration::from_secs(4) } else { Duration::from_millis(250) },
        }
    }
}

/// Why a transaction was not sent or not confirmed.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// `eth_estimateGas` or `eth_call` reverted: nothing was sent.
    #[error("the transaction would revert: {0}")]
    Reverted(DecodedRevert),
    /// The transaction was mined and reverted (it paid for its gas).
    #[error("transaction {hash} reverted in block {block}: {revert}")]
    RevertedOnChain {
        /// Transaction hash.
        hash: TxHash,
        /// Block that included it.
        block: u64,
        /// The revert, as replayed with `eth_call` on the parent block (best effort: empty when
        /// the replay succeeds).
        revert: DecodedRevert,
    },
    /// The node failed or could not be reached.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The transaction left the node's pool without being mined, and its nonce is still free.
    #[error("transaction {hash} was dropped from the node's pool before being mined")]
    Dropped {
        /// Transaction hash.
        hash: TxHash,
    },
    /// Another transaction with the same sender and nonce was mined instead.
    #[error("transaction {hash} was replaced: another transaction with nonce {nonce} was mined")]
    Replaced {
        /// Hash of the transaction that was not mined.
        hash: TxHash,
        /// The nonce both used.
        nonce: u64,
    },
    /// Not confirmed before the policy's timeout (it may still be mined later).
    #[error(
        "transaction {hash} was not confirmed within {}s (it may still be mined: check it later)",
        waited.as_secs()
    )]
    Timeout {
        /// Transaction hash.
        hash: TxHash,
        /// How long it was waited for.
        waited: Duration,
    },
    /// A gas price above what the node relays.
    #[error(
        "gas price {price} wei is above {cap} wei ({multiple}x the latest block's minimum), which nodes do not relay"
    )]
    GasPriceTooHigh {
        /// The requested price.
        price: u128,
        /// The limit.
        cap: u128,
        /// The multiple of the block minimum.
        multiple: u64,
    },
    /// The estimate alone exceeds the block gas limit: the work must be split.
    #[error(
        "the transaction needs {gas} gas, more than the block gas limit of {limit}: split it into smaller ones"
    )]
    GasAboveBlockLimit {
        /// Estimated gas.
        gas: u64,
        /// Block gas limit.
        limit: u64,
    },
    /// The wallet has no key for the sender, or signing failed.
    #[error("cannot sign the transaction: {0}")]
    Sign(String),
    /// The request lacks what is needed to send it.
    #[error("the transaction request is incomplete: {0}")]
    Incomplete(String),
}

impl TxError {
    /// The decoded revert, for a revert in simulation or on chain.
    pub fn revert(&self) -> Option<&DecodedRevert> {
        match self {
            Self::Reverted(revert) | Self::RevertedOnChain { revert, .. } => Some(revert),
            _ => None,
        }
    }

    /// Whether retrying the same step later may succeed (node unreachable or overloaded, or a
    /// confirmation time-out). Reverts, drops and replacements need a decision, not a retry.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Node(node) => node.is_transient(),
            Self::Timeout { .. } => true,
            _ => false,
        }
    }
}

/// What [`confirm`] and [`send_and_confirm`] report while they wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// The signed transaction was accepted by the node.
    Sent {
        /// Transaction hash.
        hash: TxHash,
        /// Its nonce.
        nonce: u64,
    },
    /// A receipt appeared (again, after a reorg).
    Mined {
        /// Transaction hash.
        hash: TxHash,
        /// Including block.
        block: u64,
        /// Gas used.
        gas_used: u64,
    },
    /// The count of confirmations changed.
    Confirmations {
        /// Transaction hash.
        hash: TxHash,
        /// Blocks on top of and including the including block.
        confirmations: u64,
        /// How many are required.
        required: u64,
    },
    /// A receipt seen before disappeared (reorg): waiting for the transaction again.
    Reorged {
        /// Transaction hash.
        hash: TxHash,
    },
}

/// A signed transaction ready to broadcast (and to re-broadcast: the bytes are final).
#[derive(Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// Transaction hash.
    pub hash: TxHash,
    /// Sender.
    pub from: Address,
    /// Nonce.
    pub nonce: u64,
    /// EIP-2718 encoding (RLP for legacy), what `eth_sendRawTransaction` takes.
    pub raw: Bytes,
    /// The request it was built from (to replay a revert).
    pub request: TransactionRequest,
}

impl std::fmt::Debug for SignedTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedTx")
            .field("hash", &self.hash)
            .field("from", &self.from)
            .field("nonce", &self.nonce)
            .field("raw_len", &self.raw.len())
            .finish_non_exhaustive()
    }
}

/// `eth_call`/`eth_estimateGas` arguments as every node accepts them: `data`, never `input`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct CallArgs {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gas: Option<U64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<U256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Bytes>,
}

impl CallArgs {
    fn new(from: Option<Address>, tx: &TransactionRequest, with_gas: bool) -> Self {
        Self {
            from: from.or(tx.from),
            to: match tx.to {
                Some(TxKind::Call(to)) => Some(to),
                _ => None,
            },
            gas: tx.gas.filter(|_| with_gas).map(U64::from),
            value: tx.value.filter(|v| !v.is_zero()),
            data: tx.input.input().cloned(),
        }
    }
}

/// Maps a call's error: a revert becomes [`TxError::Reverted`], anything else a [`NodeError`].
fn call_error(method: &str, err: TransportError) -> TxError {
    match revert_data(&err) {
        Some(data) => TxError::Reverted(decode_revert(&data)),
        None => TxError::Node(NodeError::from_transport(method, &err)),
    }
}

fn node(method: &'static str) -> impl Fn(TransportError) -> TxError {
    move |err| TxError::Node(NodeError::from_transport(method, &err))
}

/// Simulates `tx` with `eth_call` at the latest block (as `from` when given, else `tx.from`),
/// returning the call's output; a revert is [`TxError::Reverted`] with the error decoded.
pub async fn simulate<P: Provider>(
    provider: &P,
    from: Option<Address>,
    tx: &TransactionRequest,
) -> Result<Bytes, TxError> {
    provider
        .raw_request("eth_call".into(), (CallArgs::new(from, tx, true), "latest"))
        .await
        .map_err(|err| call_error("eth_call", err))
}

/// `eth_estimateGas` for `tx` sent by `from` at the latest block (a revert decoded).
pub async fn estimate_gas<P: Provider>(
    provider: &P,
    from: Address,
    tx: &TransactionRequest,
) -> Result<u64, TxError> {
    let gas: U64 = provider
        .raw_request("eth_estimateGas".into(), (CallArgs::new(Some(from), tx, false), "latest"))
        .await
        .map_err(|err| call_error("eth_estimateGas", err))?;
    Ok(gas.to::<u64>())
}

/// The latest block's minimum gas price: Rootstock's `minimumGasPrice` (the floor its miners
/// accept, which its nodes' relay cap is a multiple of); `None` on a node whose blocks have no
/// such field. An EIP-1559 `baseFeePerGas` is not one: it floats (an idle anvil's falls to a few
/// wei while `eth_gasPrice` stays near 1 gwei), and no node caps prices at a multiple of it, so
/// taking it for a floor would forbid every replacement there.
pub async fn block_min_gas_price<P: Provider>(provider: &P) -> Result<Option<u128>, TxError> {
    let block: Option<serde_json::Value> = provider
        .raw_request("eth_getBlockByNumber".into(), ("latest", false))
        .await
        .map_err(node("eth_getBlockByNumber"))?;
    let field = |name: &str| {
        block
            .as_ref()
            .and_then(|b| b.get(name))
            .and_then(|v| serde_json::from_value::<U128>(v.clone()).ok())
            .map(|v| v.to::<u128>())
    };
    Ok(field("minimumGasPrice"))
}

/// The highest gas price nodes relay under `policy` (its multiple × the block minimum), or
/// `None` when the policy has no cap or the block has no minimum.
pub async fn gas_price_cap<P: Provider>(
    provider: &P,
    policy: &TxPolicy,
) -> Result<Option<u128>, TxError> {
    let Some(multiple) = policy.max_gas_price_multiple else { return Ok(None) };
    Ok(block_min_gas_price(provider).await?.map(|min| min.saturating_mul(u128::from(multiple))))
}

/// The price for a replacement of a transaction priced `old`: at least `bump_pct` percent more
/// (rounded up, and at least 1 wei more), or `None` when that exceeds `cap` (then the stuck
/// transaction cannot be replaced now: wait for the block minimum to move, or for it to mine).
pub fn capped_bump(old: u128, bump_pct: u64, cap: u128) -> Option<u128> {
    let raised =
        old.checked_mul(100 + u128::from(bump_pct))?.div_ceil(100).max(old.checked_add(1)?);
    (raised <= cap).then_some(raised)
}

/// Fills `tx` for sending by `from`: chain id, nonce (`pending`), gas limit from
/// `eth_estimateGas` plus the policy's margin (capped at the block gas limit), and the fees:
/// a legacy `gas_price` from `eth_gasPrice` (or the policy's fixed price, checked against the
/// node's relay cap) with every EIP-1559 field cleared, or EIP-1559 fees. Fields already set
/// (nonce, gas, price) are kept.
pub async fn prepare<P: Provider>(
    provider: &P,
    policy: &TxPolicy,
    from: Address,
    mut tx: TransactionRequest,
) -> Result<TransactionRequest, TxError> {
    tx.from = Some(from);
    if tx.to.is_none() {
        return Err(TxError::Incomplete("no recipient (use TxKind::Create to deploy)".into()));
    }
    if tx.chain_id.is_none() {
        tx.chain_id = Some(provider.get_chain_id().await.map_err(node("eth_chainId"))?);
    }
    if tx.nonce.is_none() {
        tx.nonce = Some(
            provider
                .get_transaction_count(from)
                .pending()
                .await
                .map_err(node("eth_getTransactionCount"))?,
        );
    }
    if tx.gas.is_none() {
        let estimate = estimate_gas(provider, from, &tx).await?;
        let limit = policy.block_gas_limit.unwrap_or(u64::MAX);
        if estimate > limit {
            return Err(TxError::GasAboveBlockLimit { gas: estimate, limit });
        }
        tx.gas = Some(policy.gas_limit(estimate));
    }
    match policy.gas_policy {
        GasPolicy::Legacy => {
            if tx.gas_price.is_none() {
                tx.gas_price = Some(match policy.gas_price {
                    Some(price) => {
                        if let Some(cap) = gas_price_cap(provider, policy).await?
                            && price > cap
                        {
                            return Err(TxError::GasPriceTooHigh {
                                price,
                                cap,
                                multiple: policy.max_gas_price_multiple.unwrap_or_default(),
                            });
                        }
                        price
                    }
                    None => provider.get_gas_price().await.map_err(node("eth_gasPrice"))?,
                });
            }
            tx.max_fee_per_gas = None;
            tx.max_priority_fee_per_gas = None;
            tx.max_fee_per_blob_gas = None;
            tx.access_list = None;
            tx.transaction_type = Some(0);
        }
        GasPolicy::Eip1559 => {
            if tx.max_fee_per_gas.is_none() || tx.max_priority_fee_per_gas.is_none() {
                let fees =
                    provider.estimate_eip1559_fees().await.map_err(node("eth_feeHistory"))?;
                let max_fee = policy.gas_price.unwrap_or(fees.max_fee_per_gas);
                tx.max_fee_per_gas = Some(max_fee);
                tx.max_priority_fee_per_gas = Some(fees.max_priority_fee_per_gas.min(max_fee));
            }
            tx.gas_price = None;
            tx.transaction_type = Some(2);
        }
    }
    Ok(tx)
}

/// Signs a filled request (see [`prepare`]) with the wallet's key for `tx.from`.
pub async fn sign(wallet: &EthereumWallet, tx: TransactionRequest) -> Result<SignedTx, TxError> {
    let from = tx.from.ok_or_else(|| TxError::Incomplete("no sender".into()))?;
    let nonce = tx.nonce.ok_or_else(|| TxError::Incomplete("no nonce".into()))?;
    if let Err((ty, missing)) = tx.missing_keys() {
        return Err(TxError::Incomplete(format!(
            "{ty:?} transaction without {}",
            missing.join(", ")
        )));
    }
    let envelope: TxEnvelope =
        tx.clone().build(wallet).await.map_err(|err| TxError::Sign(err.to_string()))?;
    Ok(SignedTx {
        hash: *envelope.tx_hash(),
        from,
        nonce,
        raw: envelope.encoded_2718().into(),
        request: tx,
    })
}

/// Sends a signed transaction with `eth_sendRawTransaction`. Re-broadcasting one the node
/// already has (`already known`, anvil's `already imported`...) is not an error: when the node
/// refuses the bytes, the transaction is looked up by hash before the refusal is reported.
pub async fn broadcast<P: Provider>(provider: &P, signed: &SignedTx) -> Result<(), TxError> {
    let sent =
        provider.raw_request::<_, TxHash>("eth_sendRawTransaction".into(), (&signed.raw,)).await;
    let Err(err) = sent else { return Ok(()) };
    if let RpcError::ErrorResp(payload) = &err {
        let message = payload.message.to_ascii_lowercase();
        let duplicate =
            ["already known", "known transaction", "already imported", "already exists"]
                .iter()
                .any(|needle| message.contains(needle));
        if duplicate
            || provider.get_transaction_by_hash(signed.hash).await.is_ok_and(|tx| tx.is_some())
        {
            return Ok(());
        }
    }
    Err(node("eth_sendRawTransaction")(err))
}

/// Polls of a missing transaction before it counts as dropped or replaced (the node, or one of
/// several behind a load balancer, may briefly not know it).
const MISSING_POLLS: u32 = 3;

/// Waits until `signed` has `policy.confirmations` confirmations (the including block counted),
/// reporting [`TxEvent`]s. Survives reorgs (a vanished receipt is waited for again). Errors:
/// [`TxError::RevertedOnChain`], [`TxError::Dropped`], [`TxError::Replaced`],
/// [`TxError::Timeout`] after `policy.timeout`.
pub async fn confirm<P: Provider>(
    provider: &P,
    policy: &TxPolicy,
    signed: &SignedTx,
    mut on_event: impl FnMut(TxEvent),
) -> Result<TransactionReceipt, TxError> {
    let hash = signed.hash;
    let required = policy.confirmations.max(1);
    let started = tokio::time::Instant::now();
    let mut mined_in: Option<(u64, B256)> = None;
    let mut last_count = 0;
    let mut missing = 0;
    loop {
        let receipt = provider
            .get_transaction_receipt(hash)
            .await
            .map_err(node("eth_getTransactionReceipt"))?;
        match receipt {
            Some(receipt) => {
                missing = 0;
                let block = receipt.block_number.unwrap_or_default();
                let block_hash = receipt.block_hash.unwrap_or_default();
                if mined_in != Some((block, block_hash)) {
                    mined_in = Some((block, block_hash));
                    last_count = 0;
                    on_event(TxEvent::Mined { hash, block, gas_used: receipt.gas_used });
                }
                if !receipt.status() {
                    let revert = replay_revert(provider, signed, block).await;
                    return Err(TxError::RevertedOnChain { hash, block, revert });
                }
                let latest = provider.get_block_number().await.map_err(node("eth_blockNumber"))?;
                let count = latest.saturating_sub(block) + 1;
                if count != last_count {
                    last_count = count;
                    on_event(TxEvent::Confirmations {
                        hash,
                        confirmations: count.min(required),
                        required,
                    });
                }
                if count >= required {
                    return Ok(receipt);
                }
            }
            None => {
                if mined_in.take().is_some() {
                    on_event(TxEvent::Reorged { hash });
                }
                let known = provider
                    .get_transaction_by_hash(hash)
                    .await
                    .map_err(node("eth_getTransactionByHash"))?
                    .is_some();
                let used = provider
                    .get_transaction_count(signed.from)
                    .latest()
                    .await
                    .map_err(node("eth_getTransactionCount"))?
                    > signed.nonce;
                missing = if used || !known { missing + 1 } else { 0 };
                if missing >= MISSING_POLLS {
                    return Err(if used {
                        TxError::Replaced { hash, nonce: signed.nonce }
                    } else {
                        TxError::Dropped { hash }
                    });
                }
            }
        }
        let waited = started.elapsed();
        if waited >= policy.timeout {
            return Err(TxError::Timeout { hash, waited });
        }
        tokio::time::sleep(policy.poll_interval.min(policy.timeout - waited)).await;
    }
}

/// Replays a mined transaction that reverted with `eth_call` on its parent block to recover the
/// reason (best effort: another transaction earlier in the block may have changed the state).
async fn replay_revert<P: Provider>(provider: &P, signed: &SignedTx, block: u64) -> DecodedRevert {
    let parent = format!("{:#x}", block.saturating_sub(1));
    let args = CallArgs::new(Some(signed.from), &signed.request, true);
    match provider.raw_request::<_, Bytes>("eth_call".into(), (args, parent)).await {
        Err(err) => decode_revert(&revert_data(&err).unwrap_or_default()),
        Ok(_) => decode_revert(&[]),
    }
}

/// The whole path: [`prepare`] for the wallet's default signer, [`sign`], [`broadcast`]
/// (reporting [`TxEvent::Sent`]) and [`confirm`].
pub async fn send_and_confirm<P: Provider>(
    provider: &P,
    wallet: &EthereumWallet,
    policy: &TxPolicy,
    tx: TransactionRequest,
    mut on_event: impl FnMut(TxEvent),
) -> Result<TransactionReceipt, TxError> {
    let from = tx.from.unwrap_or_else(|| {
        <EthereumWallet as alloy::network::NetworkWallet<alloy::network::Ethereum>>::default_signer_address(wallet)
    });
    let tx = prepare(provider, policy, from, tx).await?;
    let signed = sign(wallet, tx).await?;
    broadcast(provider, &signed).await?;
    on_event(TxEvent::Sent { hash: signed.hash, nonce: signed.nonce });
    confirm(provider, policy, &signed, on_event).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_limits_take_the_margin_and_buffer_and_stay_under_the_block_limit() {
        let policy = TxPolicy { block_gas_limit: Some(6_800_000), ..TxPolicy::default() };
        assert_eq!(policy.gas_limit(1_000_000), 1_200_000 + STATE_CHANGE_GAS);
        assert_eq!(policy.gas_limit(6_000_000), 6_800_000);
        let budget = policy.batch_gas_budget();
        assert!(policy.gas_limit(budget) <= 6_800_000);
        assert!(policy.gas_limit(budget + 1) >= 6_800_000 - 1);
        let unbounded = TxPolicy::default();
        assert_eq!(unbounded.batch_gas_budget(), u64::MAX);
    }

    #[test]
    fn bump_rounds_up_and_respects_the_cap() {
        assert_eq!(capped_bump(100, 10, 1_000), Some(110));
        assert_eq!(capped_bump(101, 10, 1_000), Some(112)); // 111.1 rounded up
        assert_eq!(capped_bump(1, 10, 1_000), Some(2)); // at least 1 wei more
        assert_eq!(capped_bump(100, 40, 140), Some(140));
        assert_eq!(capped_bump(100, 40, 139), None);
        assert_eq!(capped_bump(u128::MAX, 10, u128::MAX), None);
    }

    #[test]
    fn call_args_use_data_not_input() {
        let tx = TransactionRequest::default()
            .to(Address::repeat_byte(1))
            .input(Bytes::from_static(&[1, 2]).into())
            .gas_price(5)
            .transaction_type(0);
        let json = serde_json::to_value(CallArgs::new(Some(Address::ZERO), &tx, false)).unwrap();
        assert_eq!(json["data"], "0x0102");
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["data", "from", "to"]);
    }
}
