//! Small reads from the node shared by the sender and the API, in the shapes every Rootstock
//! node accepts: calls go through `shiftpay_bindings::tx::simulate` (`data`, never `input`),
//! blocks are read as raw JSON (no `baseFeePerGas` needed).

use alloy::{
    primitives::{Address, B256, Bytes, U64, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use serde::Serialize;
use shiftpay_bindings::{
    revert::{DecodedRevert, decode_revert, revert_data},
    rpc::NodeError,
    tx::{self, TxError},
};

/// The chain's latest block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Block number.
    pub number: u64,
    /// Its timestamp (unix seconds): the chain's "now".
    pub timestamp: u64,
    /// Its hash.
    pub hash: B256,
}

/// Maps a transport error of `method` to a [`TxError::Node`].
pub(crate) fn node(method: &'static str) -> impl Fn(alloy::transports::TransportError) -> TxError {
    move |err| TxError::Node(NodeError::from_transport(method, &err))
}

/// The latest block's number, timestamp and hash.
pub async fn head(provider: &DynProvider) -> Result<Head, TxError> {
    let block: Option<serde_json::Value> = provider
        .raw_request("eth_getBlockByNumber".into(), ("latest", false))
        .await
        .map_err(node("eth_getBlockByNumber"))?;
    let incomplete = || {
        TxError::Node(NodeError::Other {
            method: "eth_getBlockByNumber".into(),
            message: "the latest block lacks number, timestamp or hash".into(),
        })
    };
    let block = block.ok_or_else(incomplete)?;
    let quantity = |name: &str| {
        block.get(name).and_then(|v| serde_json::from_value::<U64>(v.clone()).ok()).map(|v| v.to())
    };
    let hash = block.get("hash").and_then(|v| serde_json::from_value::<B256>(v.clone()).ok());
    match (quantity("number"), quantity("timestamp"), hash) {
        (Some(number), Some(timestamp), Some(hash)) => Ok(Head { number, timestamp, hash }),
        _ => Err(incomplete()),
    }
}

/// Calls a view (or simulates any call) of `to` at the latest block and decodes its return.
pub async fn view<C: SolCall>(
    provider: &DynProvider,
    to: Address,
    call: &C,
) -> Result<C::Return, TxError> {
    let request = TransactionRequest::default().to(to).input(Bytes::from(call.abi_encode()).into());
    let output = tx::simulate(provider, None, &request).await?;
    C::abi_decode_returns(&output).map_err(|err| {
        TxError::Node(NodeError::Other {
            method: "eth_call".into(),
            message: format!("cannot decode the answer of {}: {err}", C::SIGNATURE),
        })
    })
}

/// The code at `address` (empty for an externally owned account).
pub async fn code_at(provider: &DynProvider, address: Address) -> Result<Bytes, TxError> {
    provider.get_code_at(address).await.map_err(node("eth_getCode"))
}

/// `eth_call` arguments for a replay at a past block (`data`, never `input`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplayArgs {
    from: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<Address>,
    gas: U64,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<U256>,
    data: Bytes,
}

/// Replays a mined call that reverted on the parent of `block` to recover its reason (best
/// effort: an earlier transaction of the same block may have changed the state).
pub async fn replay_revert(
    provider: &DynProvider,
    from: Address,
    request: &TransactionRequest,
    block: u64,
) -> DecodedRevert {
    let args = ReplayArgs {
        from,
        to: request.to.and_then(|kind| kind.to().copied()),
        gas: U64::from(request.gas.unwrap_or(10_000_000)),
        value: request.value.filter(|v| !v.is_zero()),
        data: request.input.input().cloned().unwrap_or_default(),
    };
    let parent = format!("{:#x}", block.saturating_sub(1));
    match provider.raw_request::<_, Bytes>("eth_call".into(), (args, parent)).await {
        Err(err) => decode_revert(&revert_data(&err).unwrap_or_default()),
        Ok(_) => decode_revert(&[]),
    }
}

/// The machine clock in unix seconds.
pub(crate) fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
