//! The node-facing parts of `chains` and `tokens`: chain detection (preset, unknown chain with and
//! without EIP-1559, wrong chain, unreachable node) and token resolution (listed, unknown, wrong
//! decimals, no code, not a token).

use alloy::{
    primitives::{Address, Bytes, address, bytes},
    providers::Provider,
};
use shiftpay_bindings::{
    chains::{ChainError, ChainInfo, GasPolicy, UNKNOWN_CHAIN_CONFIRMATIONS, preset_by_name},
    deployment::DeployedToken,
    rpc::connect_http,
    tokens::{TokenError, TokenRef, resolve_token},
};
use shiftpay_tests::rsk_proxy::RskProxy;

use crate::common::{AnvilOptions, AnvilProcess, Node};

/// Runtime code that returns the 32-byte word 6 to any call: `decimals()` answers 6 and
/// `symbol()` answers something that is not an ABI string.
const RETURNS_SIX: Bytes = bytes!("600660005260206000f3");

async fn set_code(node: &Node, address: Address, code: Bytes) {
    let _: serde_json::Value =
        node.direct.raw_request("anvil_setCode".into(), (address, code)).await.unwrap();
}

#[tokio::test]
async fn detects_a_preset_chain_without_fee_history() {
    let node = Node::start();
    let info = ChainInfo::detect(&node.provider, None).await.unwrap();
    assert_eq!(info.preset.map(|p| p.name), Some("devnet"));
    assert_eq!((info.gas_policy, info.confirmations), (GasPolicy::Legacy, 1));
    assert_eq!(info.block_gas_limit, 6_800_000, "the preset's limit, below anvil's");
    assert_eq!(ChainInfo::detect(&node.provider, preset_by_name("devnet")).await.unwrap(), info);
    assert_eq!(node.proxy.count("eth_feeHistory"), 0);

    let wrong = ChainInfo::detect(&node.provider, preset_by_name("rootstock")).await.unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "the node is on chain 33, not rootstock (chain 30): check --rpc-url and --chain"
    );
}

#[tokio::test]
async fn detects_an_unknown_chain_and_its_gas_policy() {
    let anvil = AnvilProcess::spawn(AnvilOptions::default().chain_id(31337)).unwrap();
    let direct = connect_http(&anvil.url()).unwrap();
    let info = ChainInfo::detect(&direct, None).await.unwrap();
    let latest = direct.get_block_by_number(Default::default()).await.unwrap().unwrap();
    assert_eq!(info.preset, None);
    assert_eq!(info.gas_policy, GasPolicy::Eip1559, "anvil has a base fee and eth_feeHistory");
    assert_eq!(info.confirmations, UNKNOWN_CHAIN_CONFIRMATIONS);
    assert_eq!(info.block_gas_limit, latest.header.gas_limit);
    assert_eq!((info.native_symbol(), info.explorer.as_deref()), ("native", None));

    // The same node answering like rskj (no base fee, no eth_feeHistory): legacy.
    let proxy = RskProxy::start(anvil.url()).unwrap();
    let legacy = ChainInfo::detect(&connect_http(proxy.url()).unwrap(), None).await.unwrap();
    assert_eq!(legacy.gas_policy, GasPolicy::Legacy);
}

#[tokio::test]
async fn an_unreachable_node_is_one_sentence() {
    let provider = connect_http("http://127.0.0.1:9").unwrap();
    let error = ChainInfo::detect(&provider, None).await.unwrap_err();
    assert!(matches!(error, ChainError::Rpc { method: "eth_chainId", .. }), "{error}");
    assert!(error.to_string().starts_with("the node did not answer eth_chainId: "), "{error}");
}

#[tokio::test]
async fn resolves_tokens_against_the_chain() {
    let node = Node::start();
    let provider = &node.provider;
    let chain = ChainInfo::detect(provider, None).await.unwrap();
    let token = address!("0x00000000000000000000000000000000000000aa");
    set_code(&node, token, RETURNS_SIX).await;
    let by_address = TokenRef::Address(token);

    let native =
        resolve_token(provider, &chain, &"rbtc".parse().unwrap(), &[], false).await.unwrap();
    assert!(native.is_native() && native.symbol == "RBTC");

    let refused = resolve_token(provider, &chain, &by_address, &[], false).await.unwrap_err();
    assert!(matches!(refused, TokenError::UnknownAddress { .. }), "{refused}");
    assert!(refused.to_string().contains("--allow-unknown-token"), "{refused}");

    let unknown = resolve_token(provider, &chain, &by_address, &[], true).await.unwrap();
    assert_eq!((unknown.decimals, unknown.known), (6, false));
    assert_eq!(unknown.symbol, chain.format_address(token), "no readable symbol(): its address");

    let listed = [DeployedToken { symbol: "tUSD".into(), address: token, decimals: 6 }];
    let known =
        resolve_token(provider, &chain, &"TUSD".parse().unwrap(), &listed, false).await.unwrap();
    assert_eq!((known.symbol.as_str(), known.decimals, known.known), ("tUSD", 6, true));

    let misdeclared = [DeployedToken { symbol: "tUSD".into(), address: token, decimals: 18 }];
    let mismatch =
        resolve_token(provider, &chain, &by_address, &misdeclared, false).await.unwrap_err();
    assert_eq!(
        mismatch.to_string(),
        format!(
            "token tUSD ({}) reports 6 decimals on-chain but is listed with 18: the token list does not match this chain",
            chain.format_address(token)
        )
    );

    let empty = TokenRef::Address(address!("0x00000000000000000000000000000000000000bb"));
    let no_code = resolve_token(provider, &chain, &empty, &[], true).await.unwrap_err();
    assert!(matches!(no_code, TokenError::NoCode { .. }), "{no_code}");

    let stop = address!("0x00000000000000000000000000000000000000cc");
    set_code(&node, stop, bytes!("00")).await;
    let not_a_token =
        resolve_token(provider, &chain, &TokenRef::Address(stop), &[], true).await.unwrap_err();
    assert!(matches!(not_a_token, TokenError::NotAToken { .. }), "{not_a_token}");
}
