//! The revm harness itself, proven on a real compiled contract (the MockERC20 test token, an
//! OpenZeppelin ERC-20): deploy, send, view, revert decoding, events, time, balances, snapshots.

use alloy::{
    primitives::{Address, U256},
    sol_types::SolCall,
};
use shiftpay_tests::{
    Evm, TxError,
    evm::{ACCOUNT_BALANCE, CHAIN_ID, GENESIS_TIMESTAMP},
    mocks::MockERC20,
};

#[test]
fn accounts_are_deterministic_and_funded() {
    let mut evm = Evm::new();
    let alice = evm.account("alice");
    assert_eq!(ACCOUNT_BALANCE, U256::from(10u128.pow(24)));
    assert_eq!(evm.balance(alice), ACCOUNT_BALANCE);
    assert_eq!(alice, Evm::new().account("alice"), "same label, same address");
    assert_ne!(alice, evm.account("bob"));
    assert_eq!(evm.signer("alice").address(), alice);
    assert_eq!(evm.label(alice), "alice");
    assert_eq!(evm.chain_id(), CHAIN_ID);
}

#[test]
fn deploys_sends_and_reads_an_erc20() {
    let mut evm = Evm::new();
    let alice = evm.account("alice");
    let bob = evm.account("bob");
    let token = evm.deploy_token(alice, "USD", 6);
    assert!(!evm.code(token).is_empty(), "runtime code is stored");
    assert_eq!(evm.view(token, MockERC20::decimalsCall {}).unwrap(), 6);

    evm.mint(token, alice, U256::from(1_000_000));
    let receipt = evm
        .send(alice, token, MockERC20::transferCall { to: bob, value: U256::from(250_000) })
        .unwrap();
    assert!(receipt.ret, "transfer returns true");
    assert!(receipt.gas_used > 21_000 && receipt.gas_used < 100_000, "gas {}", receipt.gas_used);
    let transfer = receipt.event::<MockERC20::Transfer>();
    assert_eq!((transfer.from, transfer.to, transfer.value), (alice, bob, U256::from(250_000)));
    assert_eq!(evm.token_balance(token, alice), U256::from(750_000));
    assert_eq!(evm.token_balance(token, bob), U256::from(250_000));
    assert_eq!(evm.balance_of(token, bob), U256::from(250_000));
}

#[test]
fn decodes_custom_error_reverts_and_leaves_state_untouched() {
    let mut evm = Evm::new();
    let alice = evm.account("alice");
    let bob = evm.account("bob");
    let token = evm.deploy_token(alice, "USD", 18);
    evm.mint(token, alice, U256::from(10));

    let err = evm
        .send(alice, token, MockERC20::transferCall { to: bob, value: U256::from(11) })
        .unwrap_err();
    err.expect_error(MockERC20::ERC20InsufficientBalance {
        sender: alice,
        balance: U256::from(10),
        needed: U256::from(11),
    });
    err.expect_selector::<MockERC20::ERC20InsufficientBalance>();
    assert!(matches!(
        err.decode_any::<MockERC20::MockERC20Errors>(),
        Some(MockERC20::MockERC20Errors::ERC20InsufficientBalance(_))
    ));
    assert!(err.decode::<MockERC20::ERC20InvalidReceiver>().is_none());
    assert_eq!(evm.token_balance(token, alice), U256::from(10), "reverted call changed nothing");
}

#[test]
fn moves_value_and_time() {
    let mut evm = Evm::new();
    let alice = evm.account("alice");
    let carol = Address::repeat_byte(0xca);
    assert_eq!(evm.timestamp(), GENESIS_TIMESTAMP);
    let block = evm.block_number();
    evm.skip(3_600);
    assert_eq!(evm.timestamp(), GENESIS_TIMESTAMP + 3_600);
    assert_eq!(evm.block_number(), block + 1);
    evm.warp(GENESIS_TIMESTAMP + 86_400);
    assert_eq!(evm.timestamp(), GENESIS_TIMESTAMP + 86_400);

    let receipt = evm.send_raw(alice, carol, U256::from(5), Default::default()).unwrap();
    assert_eq!(receipt.gas_used, 21_000, "plain transfer costs the intrinsic gas only");
    assert_eq!(evm.balance(carol), U256::from(5));
    assert_eq!(evm.balance(alice), ACCOUNT_BALANCE - U256::from(5), "gas is priced at zero");

    evm.set_balance(carol, U256::from(7));
    assert_eq!(evm.balance(carol), U256::from(7));
}

#[test]
fn views_and_simulations_do_not_commit_and_clones_branch() {
    let mut evm = Evm::new();
    let alice = evm.account("alice");
    let bob = evm.account("bob");
    let token = evm.deploy_token(alice, "USD", 18);
    evm.mint(token, alice, U256::from(100));

    let simulated = evm
        .simulate(alice, token, MockERC20::transferCall { to: bob, value: U256::from(40) })
        .unwrap();
    assert!(simulated.ret && simulated.gas_used > 21_000);
    assert_eq!(evm.token_balance(token, bob), U256::ZERO, "simulation committed nothing");

    let mut branch = evm.clone();
    branch.send(alice, token, MockERC20::transferCall { to: bob, value: U256::from(40) }).unwrap();
    assert_eq!(branch.token_balance(token, bob), U256::from(40));
    assert_eq!(evm.token_balance(token, bob), U256::ZERO, "the original is a separate state");
}

#[test]
fn calling_code_that_does_not_exist_is_reported() {
    let mut evm = Evm::new();
    let nowhere = Address::repeat_byte(0x11);
    let err = evm.view(nowhere, MockERC20::decimalsCall {}).unwrap_err();
    assert!(matches!(err, TxError::Decode(_)), "empty return data does not decode: {err}");
    let data = MockERC20::decimalsCall {}.abi_encode();
    assert_eq!(data.len(), 4);
}
