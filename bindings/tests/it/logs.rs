//! `logs`: paging `eth_getLogs` across windows (and past a node's range limit) gives exactly what
//! one unrestricted query gives.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::{Filter, TransactionRequest},
    sol_types::{SolCall, SolEvent},
};
use shiftpay_bindings::{
    logs::{LogsError, get_logs_paged},
    payroll::{NATIVE_TOKEN, Payroll},
    tx::send_and_confirm,
};

use crate::common::{Node, policy, wallet};

/// Deposits `amount` wei of native coin into dev account 0's pool.
async fn deposit(node: &Node, payroll: Address, amount: u64) {
    let data =
        Payroll::depositCall { token: NATIVE_TOKEN, amount: U256::from(amount) }.abi_encode();
    let tx = TransactionRequest::default()
        .with_to(payroll)
        .with_input(data)
        .with_value(U256::from(amount));
    send_and_confirm(&node.provider, &wallet(0), &policy(), tx, |_| {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn paged_logs_equal_one_big_query() {
    let node = Node::start();
    let payroll = node.deploy_payroll().await;
    let first = node.provider.get_block_number().await.unwrap();
    // Eight deposits spread over ~3,500 blocks, some in the same window, some windows empty
    // (anvil mines ~3 ms per block: keep the range modest).
    for (i, gap) in [0u64, 1, 300, 1_100, 2, 1_200, 250, 650].into_iter().enumerate() {
        node.mine(gap).await;
        deposit(&node, payroll, 1_000 + i as u64).await;
    }
    let last = node.provider.get_block_number().await.unwrap();
    assert!(last - first > 3_000);

    let filter = Filter::new().address(payroll).event_signature(Payroll::Deposited::SIGNATURE_HASH);
    // Straight to anvil, in one query: the reference.
    let all = node.direct.get_logs(&filter.clone().from_block(first).to_block(last)).await.unwrap();
    assert_eq!(all.len(), 8);

    // Through the Rootstock proxy (2,000-block limit), in 1,000-block windows.
    let mut windows = Vec::new();
    let paged = get_logs_paged(&node.provider, &filter, first, last, 1_000, |done, to| {
        windows.push((done, to));
    })
    .await
    .unwrap();
    assert_eq!(paged, all);
    assert_eq!(windows.len() as u64, (last - first) / 1_000 + 1);
    assert_eq!(windows.last(), Some(&(last, last)));
    let amounts: Vec<U256> = paged
        .iter()
        .map(|log| log.log_decode::<Payroll::Deposited>().unwrap().inner.data.amount)
        .collect();
    assert_eq!(amounts, (1_000..1_008).map(U256::from).collect::<Vec<_>>());

    // A window above the node's limit is halved until the node accepts it (5,000 → 1,250).
    // The first try covers the whole range (~3,500 blocks), the second 2,500: both refused.
    let calls_before = node.proxy.count("eth_getLogs");
    let halved =
        get_logs_paged(&node.provider, &filter, first, last, 5_000, |_, _| {}).await.unwrap();
    assert_eq!(halved, all);
    let calls = node.proxy.count("eth_getLogs") - calls_before;
    assert_eq!(calls, 2 + (last - first) / 1_250 + 1, "two refusals, then 1,250-block pages");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_range_and_node_errors() {
    let node = Node::start();
    let err =
        get_logs_paged(&node.provider, &Filter::new(), 10, 9, 100, |_, _| {}).await.unwrap_err();
    assert!(matches!(err, LogsError::InvalidRange { from: 10, to: 9 }), "{err}");

    node.proxy.set_down(true);
    let err =
        get_logs_paged(&node.provider, &Filter::new(), 0, 5, 100, |_, _| {}).await.unwrap_err();
    assert!(err.to_string().starts_with("cannot read logs of blocks 0..=5: "), "{err}");
}
