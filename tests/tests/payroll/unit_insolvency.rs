//! Insolvency without loss: a dry pool keeps streams earning, what is not covered is debt, the
//! next deposit pays the debt first, coverage is first come first served, and `depletionTime`
//! predicts when the pool runs out (scheduled starts and ends included).

use alloy::primitives::U256;
use shiftpay_bindings::payroll::Payroll;

use crate::unit_fixture::{ExpectRevert, Fixture, NATIVE, e, units};

fn depletion(f: &mut Fixture, token: alloy::primitives::Address) -> U256 {
    let employer = f.employer;
    f.evm.view(f.payroll, Payroll::depletionTimeCall { employer, token }).expect("depletionTime")
}

#[test]
fn dry_pool_accrues_debt_and_the_next_deposit_pays_it_first() {
    let mut f = Fixture::new();
    let token = f.token(6);
    f.deposit(token, units(6, 100));
    let id = f.create(token, e(18), 0, 0); // 1 token per second
    let start = f.now();
    assert_eq!(depletion(&mut f, token), U256::from(start + 100));

    f.evm.skip(150);
    assert_eq!(f.earned(id), units(6, 150));
    assert_eq!(f.withdrawable(id), units(6, 100));
    assert_eq!(f.debt(token), units(6, 50));
    assert_eq!(f.surplus(token), U256::ZERO);
    assert_eq!(depletion(&mut f, token), U256::from(f.now()));
    let to = f.employer;
    f.as_employer(Payroll::withdrawSurplusCall { token, amount: U256::from(1), to })
        .reverted()
        .expect_error(Payroll::Payroll_AmountExceedsSurplus {
            token,
            requested: U256::from(1),
            surplus: U256::ZERO,
        });

    // The worker takes what is covered; the rest stays earned.
    let worker = f.worker;
    f.withdraw(id, worker, units(6, 100)).expect("withdraw covered part");
    assert_eq!(f.earned(id), units(6, 50));
    assert_eq!(f.withdrawable(id), U256::ZERO);
    assert_eq!(f.debt(token), units(6, 50));

    // A deposit smaller than the debt is all debt payment.
    f.deposit(token, units(6, 30));
    assert_eq!(f.debt(token), units(6, 20));
    assert_eq!(f.surplus(token), U256::ZERO);
    assert_eq!(f.withdrawable(id), units(6, 30));
    // A larger one clears the debt; only the excess is free.
    f.deposit(token, units(6, 1_000));
    assert_eq!(f.debt(token), U256::ZERO);
    assert_eq!(f.surplus(token), units(6, 980));
    assert_eq!(f.withdrawable(id), units(6, 50));
    f.withdraw(id, worker, units(6, 50)).expect("withdraw the former debt");
    assert_eq!(f.contract_balance(token), f.pool_balance(token));
    assert_eq!(f.pool_balance(token), units(6, 980));
}

#[test]
fn short_pool_covers_first_come_first_served() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, U256::from(100 * e(15)));
    let alice = f.evm.account("alice");
    let bob = f.evm.account("bob");
    let alice_id = f.create_for(alice, NATIVE, e(15), 0, 0);
    let bob_id = f.create_for(bob, NATIVE, e(15), 0, 0);
    f.evm.skip(100); // each earned 100e15, pool holds 100e15
    assert_eq!(f.withdrawable(alice_id), U256::from(100 * e(15)));
    assert_eq!(f.withdrawable(bob_id), U256::from(100 * e(15)));
    assert_eq!(f.debt(NATIVE), U256::from(100 * e(15)));

    f.evm
        .send(f.relayer, f.payroll, Payroll::payoutCall { streamId: alice_id })
        .expect("payout alice");
    assert_eq!(f.withdrawable(bob_id), U256::ZERO);
    assert_eq!(f.earned(bob_id), U256::from(100 * e(15)));
    // Paying out an uncovered stream pays nothing and does not revert.
    let receipt = f
        .evm
        .send(f.relayer, f.payroll, Payroll::payoutCall { streamId: bob_id })
        .expect("payout bob");
    assert_eq!(receipt.ret, U256::ZERO);
    assert_eq!(f.contract_balance(NATIVE), U256::ZERO);

    f.deposit(NATIVE, U256::from(100 * e(15)));
    assert_eq!(f.withdrawable(bob_id), U256::from(100 * e(15)));
    assert_eq!(f.debt(NATIVE), U256::ZERO);
}

#[test]
fn employer_controls_while_insolvent_keep_the_debt() {
    let mut f = Fixture::new();
    let id = f.create(NATIVE, e(15), 0, 0); // never funded
    f.evm.skip(100);
    assert_eq!(f.debt(NATIVE), U256::from(100 * e(15)));
    f.as_employer(Payroll::adjustRateCall { streamId: id, newRate: e(16) }).expect("adjust");
    f.as_employer(Payroll::cancelCall { streamId: id }).expect("cancel");
    f.evm.skip(100);
    assert_eq!(f.earned(id), U256::from(100 * e(15)));
    assert_eq!(f.withdrawable(id), U256::ZERO);
    assert_eq!(f.debt(NATIVE), U256::from(100 * e(15)));
    f.deposit(NATIVE, U256::from(100 * e(15)));
    assert_eq!(f.withdrawable(id), U256::from(100 * e(15)));
    assert_eq!(f.debt(NATIVE), U256::ZERO);
    assert_eq!(f.surplus(NATIVE), U256::ZERO);
}

#[test]
fn debt_rounds_up_and_surplus_down_in_token_units() {
    let mut f = Fixture::new();
    let token = f.token(0); // whole-unit token: scale 10^18
    let id = f.create(token, e(17), 0, 0); // 0.1 unit per second
    f.evm.skip(15); // 1.5 units earned
    assert_eq!(f.earned(id), U256::from(1));
    assert_eq!(f.debt(token), U256::from(2));
    f.deposit(token, U256::from(2));
    assert_eq!(f.debt(token), U256::ZERO);
    assert_eq!(f.surplus(token), U256::ZERO); // 0.5 unit free rounds down
    assert_eq!(f.withdrawable(id), U256::from(1));
}

#[test]
fn depletion_time_follows_rate_changes_and_schedule() {
    let mut f = Fixture::new();
    assert_eq!(depletion(&mut f, NATIVE), U256::MAX); // no pool
    f.deposit(NATIVE, U256::from(1_000 * e(15)));
    assert_eq!(depletion(&mut f, NATIVE), U256::MAX); // no streams
    let now = f.now();
    // 1e15/s from now until now+200 (200e15), then 2e15/s from now+300: 800e15 left lasts 400 s.
    f.create(NATIVE, e(15), 0, now + 200);
    f.create(NATIVE, 2 * e(15), now + 300, 0);
    assert_eq!(depletion(&mut f, NATIVE), U256::from(now + 700));
    f.evm.skip(250);
    assert_eq!(depletion(&mut f, NATIVE), U256::from(now + 700));
    // Exactly at depletion the pool is still fully covering; one second later it owes.
    f.evm.warp(now + 700);
    assert_eq!(f.debt(NATIVE), U256::ZERO);
    assert_eq!(f.surplus(NATIVE), U256::ZERO);
    assert_eq!(depletion(&mut f, NATIVE), U256::from(now + 700));
    f.evm.warp(now + 701);
    assert_eq!(f.debt(NATIVE), U256::from(2 * e(15)));
    assert_eq!(depletion(&mut f, NATIVE), U256::from(now + 701));
}

#[test]
fn finite_streams_that_end_before_depletion_never_deplete() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, U256::from(1_000 * e(15)));
    let now = f.now();
    f.create(NATIVE, e(15), 0, now + 500);
    assert_eq!(depletion(&mut f, NATIVE), U256::MAX);
}
