//! Re-entrancy: a malicious ERC-20 re-entering `withdraw` / `payout` during its transfer, and a
//! native recipient re-entering from `receive`, fail safely (the guard rejects the inner call,
//! nothing is paid twice, the accounting stays exact).

use alloy::{
    primitives::{Address, Bytes, U256},
    sol_types::{SolCall, SolError},
};
use shiftpay_bindings::payroll::Payroll;

use crate::unit_fixture::{
    ExpectRevert, Fixture, NATIVE, NativeRecipientAttacker, ReentrantERC20, e, units,
};

fn guard_error() -> Bytes {
    Bytes::from(Payroll::ReentrancyGuardReentrantCall {}.abi_encode())
}

/// A funded pool of the re-entrant token and a stream whose worker is the token itself, so the
/// token may call `withdraw` as the worker when it re-enters.
fn reentrant_token_setup() -> (Fixture, Address, U256) {
    let mut f = Fixture::new();
    let token = f.evm.deploy(f.employer, ReentrantERC20::BYTECODE.clone()).expect("deploy");
    f.evm
        .send(
            f.employer,
            token,
            ReentrantERC20::mintCall { to: f.employer, amount: units(18, 1_000) },
        )
        .expect("mint");
    f.evm.approve(token, f.employer, f.payroll, U256::MAX);
    f.deposit(token, units(18, 1_000));
    let id = f.create_for(token, token, e(18), 0, 0);
    f.evm.skip(10);
    (f, token, id)
}

fn arm_token(f: &mut Fixture, token: Address, data: Vec<u8>, bubble: bool) {
    let target = f.payroll;
    f.evm
        .send(
            f.employer,
            token,
            ReentrantERC20::setAttackCall { target_: target, data: data.into(), bubble_: bubble },
        )
        .expect("arm");
}

#[test]
fn malicious_token_reentering_withdraw_during_payout_is_rejected() {
    let (mut f, token, id) = reentrant_token_setup();
    let reenter =
        Payroll::withdrawCall { streamId: id, to: token, amount: units(18, 1) }.abi_encode();
    arm_token(&mut f, token, reenter, false);

    let receipt =
        f.evm.send(f.relayer, f.payroll, Payroll::payoutCall { streamId: id }).expect("payout");
    assert_eq!(receipt.ret, units(18, 10));
    assert_eq!(f.evm.view(token, ReentrantERC20::attemptsCall {}).expect("view"), U256::from(1));
    assert!(!f.evm.view(token, ReentrantERC20::lastReentrySucceededCall {}).expect("view"));
    assert_eq!(
        f.evm.view(token, ReentrantERC20::lastReentryDataCall {}).expect("view"),
        guard_error()
    );
    // Paid exactly once; accounting exact.
    assert_eq!(f.evm.token_balance(token, token), units(18, 10));
    assert_eq!(f.withdrawable(id), U256::ZERO);
    assert_eq!(f.contract_balance(token), f.pool_balance(token));
    assert_eq!(f.pool_balance(token), units(18, 990));
}

#[test]
fn malicious_token_reentering_payout_many_fails_its_own_payout_only() {
    let (mut f, token, id) = reentrant_token_setup();
    f.deposit(NATIVE, units(18, 1));
    let honest = f.create(NATIVE, e(15), 0, 0);
    f.evm.skip(10);
    // The token re-enters the batch and bubbles the guard's revert: its transfer fails.
    let reenter = Payroll::payoutManyCall { streamIds: vec![id, honest] }.abi_encode();
    arm_token(&mut f, token, reenter, true);
    let earned = f.withdrawable(id);

    let receipt = f
        .evm
        .send(f.relayer, f.payroll, Payroll::payoutManyCall { streamIds: vec![id, honest] })
        .expect("batch");
    let failed = receipt.event::<Payroll::PayoutFailed>();
    assert_eq!((failed.streamId, failed.amount), (id, earned));
    assert_eq!(receipt.event::<Payroll::Withdrawn>().streamId, honest);
    assert_eq!(f.withdrawable(id), earned);
    assert_eq!(f.evm.token_balance(token, token), U256::ZERO);
    assert_eq!(f.contract_balance(token), f.pool_balance(token));
    assert_eq!(f.contract_balance(NATIVE), f.pool_balance(NATIVE));
}

#[test]
fn malicious_token_reentering_employer_withdrawal_reverts_it() {
    let (mut f, token, _) = reentrant_token_setup();
    let reenter = Payroll::payoutCall { streamId: U256::from(1) }.abi_encode();
    arm_token(&mut f, token, reenter, true);
    let to = f.employer;
    let err =
        f.as_employer(Payroll::withdrawSurplusCall { token, amount: units(18, 1), to }).reverted();
    err.expect_error(Payroll::ReentrancyGuardReentrantCall {});
    assert_eq!(f.pool_balance(token), units(18, 1_000));
}

/// A contract worker whose `receive` re-enters the payroll.
fn native_attacker_setup() -> (Fixture, Address, U256) {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1));
    let attacker =
        f.evm.deploy(f.worker, NativeRecipientAttacker::BYTECODE.clone()).expect("deploy");
    let id = f.create_for(attacker, NATIVE, e(15), 0, 0);
    f.evm.skip(100);
    (f, attacker, id)
}

fn arm_attacker(f: &mut Fixture, attacker: Address, data: Vec<u8>, bubble: bool) {
    let target = f.payroll;
    f.evm
        .send(
            f.worker,
            attacker,
            NativeRecipientAttacker::setAttackCall {
                target_: target,
                data: data.into(),
                bubble_: bubble,
            },
        )
        .expect("arm");
}

fn attacker_withdraws(
    f: &mut Fixture,
    attacker: Address,
    id: U256,
    amount: U256,
) -> Result<(), shiftpay_tests::TxError> {
    let call = Payroll::withdrawCall { streamId: id, to: attacker, amount }.abi_encode();
    f.evm
        .send(
            f.worker,
            attacker,
            NativeRecipientAttacker::executeCall { to: f.payroll, data: call.into() },
        )
        .map(|_| ())
}

#[test]
fn native_recipient_reentering_withdraw_gets_paid_once() {
    let (mut f, attacker, id) = native_attacker_setup();
    let half = U256::from(50 * e(15));
    let reenter = Payroll::withdrawCall { streamId: id, to: attacker, amount: half }.abi_encode();
    arm_attacker(&mut f, attacker, reenter, false);

    attacker_withdraws(&mut f, attacker, id, half).expect("outer withdrawal");
    assert_eq!(f.evm.balance(attacker), half);
    assert!(
        !f.evm.view(attacker, NativeRecipientAttacker::lastReentrySucceededCall {}).expect("view")
    );
    assert_eq!(
        f.evm.view(attacker, NativeRecipientAttacker::lastReentryDataCall {}).expect("view"),
        guard_error()
    );
    assert_eq!(f.withdrawable(id), half);
    assert_eq!(f.contract_balance(NATIVE), f.pool_balance(NATIVE));
}

#[test]
fn native_recipient_bubbling_the_guard_error_reverts_its_own_withdrawal() {
    let (mut f, attacker, id) = native_attacker_setup();
    let reenter = Payroll::payoutCall { streamId: id }.abi_encode();
    arm_attacker(&mut f, attacker, reenter, true);
    let amount = U256::from(10 * e(15));
    let err = attacker_withdraws(&mut f, attacker, id, amount).reverted();
    err.expect_error(Payroll::Transfers_NativeTransferFailed { to: attacker, amount });
    assert_eq!(f.withdrawable(id), U256::from(100 * e(15)));
}

#[test]
fn native_recipient_reentering_a_batch_cannot_double_pay() {
    for bubble in [false, true] {
        let (mut f, attacker, id) = native_attacker_setup();
        let honest = f.create(NATIVE, e(15), 0, 0);
        f.evm.skip(10);
        let reenter = Payroll::payoutManyCall { streamIds: vec![id, honest] }.abi_encode();
        arm_attacker(&mut f, attacker, reenter, bubble);
        let owed = f.earned(id);
        let honest_owed = f.earned(honest);
        let before = f.evm.balance(f.worker);

        let receipt = f
            .evm
            .send(f.relayer, f.payroll, Payroll::payoutManyCall { streamIds: vec![id, honest] })
            .expect("batch");
        // Whether the capped-gas receive completed or not, the attacker got the amount at most once.
        let paid = f.evm.balance(attacker);
        assert!(paid == owed || paid.is_zero(), "paid {paid}");
        assert_eq!(f.earned(id), owed - paid);
        if bubble {
            assert_eq!(receipt.event::<Payroll::PayoutFailed>().streamId, id);
        }
        assert_eq!(f.evm.balance(f.worker) - before, honest_owed);
        assert_eq!(f.contract_balance(NATIVE), f.pool_balance(NATIVE));
    }
}
