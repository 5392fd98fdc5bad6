//! `tx`: legacy pricing, estimate reverts decoded, confirmations, drops, replacements, time-outs
//! and an unreachable node.

use std::{net::TcpListener, time::Duration};

use alloy::{
    consensus::Transaction as _,
    network::TransactionBuilder,
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use shiftpay_bindings::{
    payroll::Payroll,
    revert::RevertKind,
    rpc::{NodeError, connect_http},
    tx::{
        TxError, TxEvent, TxPolicy, broadcast, capped_bump, confirm, prepare, send_and_confirm,
        sign, simulate,
    },
};

use crate::common::{Node, dev_address, policy, wallet};

fn transfer(to: Address, wei: u64) -> TransactionRequest {
    TransactionRequest::default().with_to(to).with_value(U256::from(wei))
}

fn cancel_call(payroll: Address, stream: u64) -> TransactionRequest {
    let data = Payroll::cancelCall { streamId: U256::from(stream) }.abi_encode();
    TransactionRequest::default().with_to(payroll).with_input(data)
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_transaction_priced_with_eth_gas_price() {
    let node = Node::start();
    let price = node.provider.get_gas_price().await.unwrap();
    let estimate: u64 = 21_000;
    let mut events = Vec::new();
    let receipt = send_and_confirm(
        &node.provider,
        &wallet(0),
        &policy(),
        transfer(dev_address(1), 1_000),
        |event| events.push(event),
    )
    .await
    .unwrap();
    assert!(receipt.status());

    let tx =
        node.provider.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!(tx.inner.tx_type() as u8, 0, "a legacy (type 0) transaction");
    assert_eq!(tx.inner.gas_price(), Some(price), "priced with eth_gasPrice");
    assert_eq!(tx.inner.chain_id(), Some(33), "EIP-155 replay protection");
    assert_eq!(
        tx.inner.gas_limit(),
        estimate * 120 / 100 + shiftpay_bindings::tx::STATE_CHANGE_GAS,
        "estimate plus the 20% margin plus the state-change buffer"
    );

    assert!(matches!(events.first(), Some(TxEvent::Sent { nonce: 0, .. })), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, TxEvent::Mined { .. })), "{events:?}");
    for method in ["eth_feeHistory", "eth_maxPriorityFeePerGas"] {
        assert_eq!(node.proxy.count(method), 0, "{method} must never be called on a legacy chain");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn estimate_revert_is_decoded_into_the_custom_error() {
    let node = Node::start();
    let payroll = node.deploy_payroll().await;
    let err = prepare(&node.provider, &policy(), dev_address(0), cancel_call(payroll, 999))
        .await
        .unwrap_err();
    let revert = err.revert().expect("a revert");
    assert_eq!(revert.name(), Some("Payroll_StreamNotFound"));
    assert_eq!(err.to_string(), "the transaction would revert: Payroll_StreamNotFound(999)");
    assert!(revert.is::<Payroll::Payroll_StreamNotFound>());

    // The same through eth_call.
    let err =
        simulate(&node.provider, Some(dev_address(0)), &cancel_call(payroll, 7)).await.unwrap_err();
    assert_eq!(err.to_string(), "the transaction would revert: Payroll_StreamNotFound(7)");
    // A successful call returns the output.
    let call = Payroll::nextStreamIdCall {}.abi_encode();
    let out = simulate(
        &node.provider,
        None,
        &TransactionRequest::default().with_to(payroll).with_input(call),
    )
    .await
    .unwrap();
    assert_eq!(out.len(), 32);
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_on_chain_is_replayed_and_decoded() {
    let node = Node::start();
    let payroll = node.deploy_payroll().await;
    // An explicit gas limit skips the estimate, so the reverting call is mined.
    let tx = cancel_call(payroll, 42).with_gas_limit(200_000);
    let err =
        send_and_confirm(&node.provider, &wallet(0), &policy(), tx, |_| {}).await.unwrap_err();
    let TxError::RevertedOnChain { revert, .. } = &err else { panic!("{err}") };
    assert_eq!(revert.to_string(), "Payroll_StreamNotFound(42)");
    assert!(err.to_string().contains("reverted in block"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn waits_for_the_confirmations() {
    let node = Node::start();
    let policy = TxPolicy { confirmations: 3, ..policy() };
    let mut events = Vec::new();
    let sender = wallet(0);
    let confirming =
        send_and_confirm(&node.provider, &sender, &policy, transfer(dev_address(2), 1), |event| {
            events.push(event)
        });
    let mining = async {
        // Let the waiter see the first confirmation, then mine two more blocks one by one.
        tokio::time::sleep(Duration::from_millis(400)).await;
        node.mine(1).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        node.mine(1).await;
    };
    let (receipt, ()) = tokio::join!(confirming, mining);
    let receipt = receipt.unwrap();
    let counts: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            TxEvent::Confirmations { confirmations, required: 3, .. } => Some(*confirmations),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [1, 2, 3], "{events:?}");
    let latest = node.provider.get_block_number().await.unwrap();
    assert_eq!(latest, receipt.block_number.unwrap() + 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_transaction_is_reported() {
    let node = Node::start();
    node.automine(false).await;
    let tx = prepare(&node.provider, &policy(), dev_address(0), transfer(dev_address(1), 5))
        .await
        .unwrap();
    let signed = sign(&wallet(0), tx).await.unwrap();
    broadcast(&node.provider, &signed).await.unwrap();
    // Re-broadcasting the same bytes is harmless.
    broadcast(&node.provider, &signed).await.unwrap();
    let _: serde_json::Value =
        node.direct.raw_request("anvil_dropTransaction".into(), (signed.hash,)).await.unwrap();
    let err = confirm(&node.provider, &policy(), &signed, |_| {}).await.unwrap_err();
    assert!(matches!(err, TxError::Dropped { hash } if hash == signed.hash), "{err}");
    assert!(err.to_string().contains("dropped"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replaced_transaction_is_reported() {
    let node = Node::start();
    node.automine(false).await;
    let first = prepare(&node.provider, &policy(), dev_address(0), transfer(dev_address(1), 5))
        .await
        .unwrap();
    let price = first.gas_price.unwrap();
    let stuck = sign(&wallet(0), first.clone()).await.unwrap();
    broadcast(&node.provider, &stuck).await.unwrap();

    // Same nonce, price bumped within the cap: the replacement.
    let bumped = capped_bump(price, 10, price * 80).unwrap();
    let replacement =
        TransactionRequest { gas_price: Some(bumped), ..first }.with_to(dev_address(3));
    let replacement = sign(&wallet(0), replacement).await.unwrap();
    assert_eq!(replacement.nonce, stuck.nonce);
    broadcast(&node.provider, &replacement).await.unwrap();
    node.mine(1).await;

    let err = confirm(&node.provider, &policy(), &stuck, |_| {}).await.unwrap_err();
    assert!(matches!(err, TxError::Replaced { hash, nonce: 0 } if hash == stuck.hash), "{err}");
    let receipt = confirm(&node.provider, &policy(), &replacement, |_| {}).await.unwrap();
    assert!(receipt.status());
}

#[tokio::test(flavor = "multi_thread")]
async fn times_out_when_nothing_is_mined() {
    let node = Node::start();
    node.automine(false).await;
    let policy = TxPolicy { timeout: Duration::from_millis(400), ..policy() };
    let err =
        send_and_confirm(&node.provider, &wallet(0), &policy, transfer(dev_address(1), 1), |_| {})
            .await
            .unwrap_err();
    assert!(matches!(err, TxError::Timeout { .. }), "{err}");
    assert!(err.is_transient());
}

#[tokio::test(flavor = "multi_thread")]
async fn gas_price_above_the_relay_cap_is_refused() {
    let node = Node::start();
    // The proxy's blocks carry a Rootstock `minimumGasPrice`: the cap is 80x it.
    let base = node.direct.get_gas_price().await.unwrap();
    node.proxy.set_minimum_gas_price(Some(u64::try_from(base).unwrap()));
    let policy =
        TxPolicy { gas_price: Some(base * 1_000), max_gas_price_multiple: Some(80), ..policy() };
    let err = prepare(&node.provider, &policy, dev_address(0), transfer(dev_address(1), 1))
        .await
        .unwrap_err();
    assert!(matches!(err, TxError::GasPriceTooHigh { multiple: 80, .. }), "{err}");
    // A fixed price under the cap is used as given.
    let under = TxPolicy { gas_price: Some(base * 2), ..policy.clone() };
    let tx =
        prepare(&node.provider, &under, dev_address(0), transfer(dev_address(1), 1)).await.unwrap();
    assert_eq!(tx.gas_price, Some(base * 2));
    // A node without the field (anvil itself: only a floating baseFeePerGas) has no cap.
    let tx =
        prepare(&node.direct, &policy, dev_address(0), transfer(dev_address(1), 1)).await.unwrap();
    assert_eq!(tx.gas_price, Some(base * 1_000));
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_node_is_one_sentence_naming_the_url() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let provider = connect_http(&url).unwrap();
    let err = prepare(&provider, &policy(), dev_address(0), transfer(dev_address(1), 1))
        .await
        .unwrap_err();
    assert!(matches!(err, TxError::Node(NodeError::Unreachable { .. })), "{err:?}");
    let message = err.to_string();
    // The URL as `rpc::redact_url` shows it (no trailing `/`, no path or key).
    assert!(message.starts_with(&format!("cannot reach the node at {url}: ")), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert!(err.is_transient());
}

#[tokio::test(flavor = "multi_thread")]
async fn decoded_revert_kind_is_custom() {
    let node = Node::start();
    let payroll = node.deploy_payroll().await;
    let err =
        simulate(&node.provider, Some(dev_address(0)), &cancel_call(payroll, 1)).await.unwrap_err();
    let RevertKind::Custom { args, .. } = &err.revert().unwrap().kind else { panic!("{err}") };
    assert_eq!(args[0].name, "streamId");
}
