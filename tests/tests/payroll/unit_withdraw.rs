//! Withdrawals: the worker's own `withdraw` (any amount up to withdrawable, any recipient),
//! `payout` by anyone to the worker, `payoutMany` across employers and tokens, rounding, and
//! native recipients that refuse payment or burn gas without blocking the others.

use alloy::primitives::{Address, U256};
use shiftpay_bindings::payroll::Payroll;

use crate::unit_fixture::{ExpectRevert, Fixture, NATIVE, NativeRecipientAttacker, e, units};

#[test]
fn worker_withdraws_part_then_rest_to_any_address() {
    let mut f = Fixture::new();
    let token = f.token(6);
    f.deposit(token, units(6, 1_000));
    let id = f.create(token, e(18), 0, 0); // 1 token per second
    f.evm.skip(100);
    let savings = f.evm.account("savings");
    let receipt = f.withdraw(id, savings, units(6, 40)).expect("withdraw");
    let event = receipt.event::<Payroll::Withdrawn>();
    assert_eq!(
        (event.streamId, event.employer, event.worker, event.to, event.caller, event.amount),
        (id, f.employer, f.worker, savings, f.worker, units(6, 40))
    );
    assert_eq!(f.evm.token_balance(token, savings), units(6, 40));
    assert_eq!(f.withdrawable(id), units(6, 60));
    assert_eq!(f.earned(id), units(6, 60));
    assert_eq!(f.pool_balance(token), units(6, 960));
    // The employer's free part is unchanged by the worker's withdrawal.
    assert_eq!(f.surplus(token), units(6, 900));

    let worker = f.worker;
    f.withdraw(id, worker, units(6, 60)).expect("withdraw rest");
    assert_eq!(f.withdrawable(id), U256::ZERO);
    assert_eq!(f.contract_balance(token), f.pool_balance(token));
}

#[test]
fn withdraw_revert_paths() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 10));
    let id = f.create(NATIVE, e(15), 0, 0);
    f.evm.skip(10);
    let available = U256::from(10 * e(15));
    let worker = f.worker;

    f.withdraw(id, worker, available + U256::from(1)).reverted().expect_error(
        Payroll::Payroll_AmountExceedsWithdrawable {
            streamId: id,
            requested: available + U256::from(1),
            withdrawable: available,
        },
    );
    f.withdraw(id, worker, U256::ZERO).reverted().expect_error(Payroll::Payroll_ZeroAmount {});
    f.withdraw(id, Address::ZERO, U256::from(1))
        .reverted()
        .expect_error(Payroll::Payroll_ZeroAddress {});
    let payroll = f.payroll;
    f.withdraw(id, payroll, U256::from(1))
        .reverted()
        .expect_error(Payroll::Payroll_SelfRecipient {});
    let missing = U256::from(7);
    f.withdraw(missing, worker, U256::from(1))
        .reverted()
        .expect_error(Payroll::Payroll_StreamNotFound { streamId: missing });
    for caller in [f.employer, f.relayer] {
        let err = f
            .evm
            .send(
                caller,
                f.payroll,
                Payroll::withdrawCall { streamId: id, to: caller, amount: U256::from(1) },
            )
            .reverted();
        err.expect_error(Payroll::Payroll_NotWorker { streamId: id, caller });
    }
    // A native recipient that refuses payment makes the worker's own withdrawal revert.
    let refuser =
        f.evm.deploy(f.worker, NativeRecipientAttacker::BYTECODE.clone()).expect("deploy");
    f.evm
        .send(f.worker, refuser, NativeRecipientAttacker::setModeCall { mode_: 1 })
        .expect("set mode");
    f.withdraw(id, refuser, U256::from(1)).reverted().expect_error(
        Payroll::Transfers_NativeTransferFailed { to: refuser, amount: U256::from(1) },
    );
    assert_eq!(f.withdrawable(id), available);
}

#[test]
fn rounding_is_down_per_withdrawal_and_the_remainder_stays_earned() {
    let mut f = Fixture::new();
    let token = f.token(6);
    f.deposit(token, units(6, 1_000));
    // 1.5 token units per second in a 6-decimal token: 1.5e12 scaled units.
    let id = f.create(token, 15 * e(11), 0, 0);
    f.evm.skip(1);
    assert_eq!(f.withdrawable(id), U256::from(1));
    let worker = f.worker;
    f.withdraw(id, worker, U256::from(1)).expect("withdraw 1 unit");
    // Half a unit is carried, not lost: one more second makes 2 whole units.
    f.evm.skip(1);
    assert_eq!(f.withdrawable(id), U256::from(2));
    f.withdraw(id, worker, U256::from(2)).expect("withdraw 2 units");
    f.evm.skip(2);
    assert_eq!(f.withdrawable(id), U256::from(3));
}

#[test]
fn anyone_can_pay_out_to_the_worker() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 10));
    let id = f.create(NATIVE, e(15), 0, 0);
    f.evm.skip(100);
    let before = f.evm.balance(f.worker);
    let receipt =
        f.evm.send(f.relayer, f.payroll, Payroll::payoutCall { streamId: id }).expect("payout");
    assert_eq!(receipt.ret, U256::from(100 * e(15)));
    let event = receipt.event::<Payroll::Withdrawn>();
    assert_eq!(
        (event.to, event.caller, event.amount),
        (f.worker, f.relayer, U256::from(100 * e(15)))
    );
    assert_eq!(f.evm.balance(f.worker) - before, U256::from(100 * e(15)));
    assert_eq!(f.withdrawable(id), U256::ZERO);

    // Nothing withdrawable: pays 0, no event, no revert.
    let receipt =
        f.evm.send(f.relayer, f.payroll, Payroll::payoutCall { streamId: id }).expect("payout");
    assert_eq!(receipt.ret, U256::ZERO);
    assert!(receipt.logs.is_empty());
    let missing = U256::from(42);
    let err =
        f.evm.send(f.relayer, f.payroll, Payroll::payoutCall { streamId: missing }).reverted();
    err.expect_error(Payroll::Payroll_StreamNotFound { streamId: missing });
}

#[test]
fn payout_many_pays_each_stream_its_own_worker_across_employers_and_tokens() {
    let mut f = Fixture::new();
    let usd = f.token(6);
    let btc8 = f.token(8);
    f.deposit(usd, units(6, 1_000));
    f.deposit(btc8, units(8, 1_000));
    f.deposit(NATIVE, units(18, 1_000));
    let other_employer = f.evm.account("other employer");
    f.evm
        .send_value(
            other_employer,
            f.payroll,
            units(18, 5),
            Payroll::depositCall { token: NATIVE, amount: units(18, 5) },
        )
        .expect("deposit");

    let workers: Vec<Address> = (0..4).map(|i| f.evm.account(&format!("worker {i}"))).collect();
    let ids = vec![
        f.create_for(workers[0], usd, e(18), 0, 0),
        f.create_for(workers[1], btc8, e(17), 0, 0),
        f.create_for(workers[2], NATIVE, e(15), 0, 0),
        f.try_create(other_employer, workers[3], NATIVE, e(14), 0, 0).expect("create").ret,
        f.create_for(workers[0], usd, e(17), 0, 0), // a second stream for the same pair
    ];
    f.evm.skip(10);
    let native_before = [f.evm.balance(workers[2]), f.evm.balance(workers[3])];
    let receipt = f
        .evm
        .send(f.relayer, f.payroll, Payroll::payoutManyCall { streamIds: ids.clone() })
        .expect("batch");
    let paid = receipt.events::<Payroll::Withdrawn>();
    assert_eq!(paid.len(), 5);
    for (event, id) in paid.iter().zip(&ids) {
        assert_eq!(event.streamId, *id);
        assert_eq!(event.to, event.worker);
        assert_eq!(event.caller, f.relayer);
    }
    assert_eq!(f.evm.token_balance(usd, workers[0]), units(6, 10) + units(6, 1));
    assert_eq!(f.evm.token_balance(btc8, workers[1]), units(8, 1));
    assert_eq!(f.evm.balance(workers[2]) - native_before[0], U256::from(10 * e(15)));
    assert_eq!(f.evm.balance(workers[3]) - native_before[1], U256::from(10 * e(14)));
    for id in &ids {
        assert_eq!(f.withdrawable(*id), U256::ZERO);
    }
    // An unknown id makes the batch revert (caller error), nothing paid.
    f.evm.skip(10);
    let err = f
        .evm
        .send(
            f.relayer,
            f.payroll,
            Payroll::payoutManyCall { streamIds: vec![ids[0], U256::from(999)] },
        )
        .reverted();
    err.expect_error(Payroll::Payroll_StreamNotFound { streamId: U256::from(999) });
    assert_eq!(f.withdrawable(ids[0]), units(6, 10));
}

/// A native worker that reverts or burns all its gas must not block the other payouts.
#[test]
fn hostile_native_recipients_are_skipped_and_stay_withdrawable() {
    for mode in [1u8, 2u8] {
        let mut f = Fixture::new();
        f.deposit(NATIVE, units(18, 10));
        let hostile =
            f.evm.deploy(f.worker, NativeRecipientAttacker::BYTECODE.clone()).expect("deploy");
        f.evm
            .send(f.worker, hostile, NativeRecipientAttacker::setModeCall { mode_: mode })
            .expect("mode");
        let honest = f.evm.account("honest worker");
        let hostile_id = f.create_for(hostile, NATIVE, e(15), 0, 0);
        let honest_id = f.create_for(honest, NATIVE, e(15), 0, 0);
        f.evm.skip(10);
        let owed = U256::from(10 * e(15));
        let before = f.evm.balance(honest);

        let receipt = f
            .evm
            .send(
                f.relayer,
                f.payroll,
                Payroll::payoutManyCall { streamIds: vec![hostile_id, honest_id] },
            )
            .expect("batch does not revert");
        let failed = receipt.event::<Payroll::PayoutFailed>();
        assert_eq!(
            (failed.streamId, failed.employer, failed.worker, failed.amount),
            (hostile_id, f.employer, hostile, owed)
        );
        assert_eq!(receipt.event::<Payroll::Withdrawn>().streamId, honest_id);
        assert_eq!(f.evm.balance(honest) - before, owed);
        assert_eq!(f.withdrawable(hostile_id), owed, "mode {mode}");
        assert_eq!(f.evm.balance(hostile), U256::ZERO);
        assert_eq!(f.contract_balance(NATIVE), f.pool_balance(NATIVE));
        if mode == 2 {
            // The gas burner gets at most NATIVE_PAYOUT_GAS: the batch stays cheap.
            assert!(receipt.gas_used < 200_000, "gas {}", receipt.gas_used);
        }

        // Single payout: same behaviour, returns 0.
        let receipt = f
            .evm
            .send(f.relayer, f.payroll, Payroll::payoutCall { streamId: hostile_id })
            .expect("payout");
        assert_eq!(receipt.ret, U256::ZERO);
        assert_eq!(receipt.event::<Payroll::PayoutFailed>().amount, owed);

        // Once the recipient accepts again, the amount is paid out.
        f.evm
            .send(f.worker, hostile, NativeRecipientAttacker::setModeCall { mode_: 0 })
            .expect("mode");
        let receipt = f
            .evm
            .send(f.relayer, f.payroll, Payroll::payoutCall { streamId: hostile_id })
            .expect("payout");
        assert_eq!(receipt.ret, owed);
        assert_eq!(f.evm.balance(hostile), owed);
    }
}

#[test]
fn native_payout_gas_cap_is_exposed() {
    let mut f = Fixture::new();
    let cap = f.evm.view(f.payroll, Payroll::NATIVE_PAYOUT_GASCall {}).expect("view");
    assert_eq!(cap, U256::from(30_000));
}

/// Gas target: a payday batch of 100 streams costs at most 25,000 gas per stream once each
/// worker already holds the token (steady state; a worker's very first token receipt pays the
/// token's own 20,000-gas fresh-balance cost, which no payroll design can avoid).
#[test]
fn batched_payout_of_100_streams_costs_at_most_25k_gas_per_stream() {
    for token_kind in ["erc20", "native"] {
        let mut f = Fixture::new();
        let token = if token_kind == "native" { NATIVE } else { f.token(6) };
        f.deposit(token, units(if token == NATIVE { 18 } else { 6 }, 1_000_000));
        let mut ids = Vec::new();
        for i in 0..100 {
            let worker = f.evm.account(&format!("payday worker {i}"));
            // 20 USD/hour style rate: leaves sub-unit remainders in the stream.
            ids.push(f.create_for(worker, token, 20 * e(18) / 3_600, 0, 0));
        }
        f.evm.skip(7 * 86_400);
        let first = f
            .evm
            .send(f.relayer, f.payroll, Payroll::payoutManyCall { streamIds: ids.clone() })
            .expect("first payday");
        assert_eq!(first.events::<Payroll::Withdrawn>().len(), 100);
        f.evm.skip(7 * 86_400);
        let second = f
            .evm
            .send(f.relayer, f.payroll, Payroll::payoutManyCall { streamIds: ids.clone() })
            .expect("second payday");
        assert_eq!(second.events::<Payroll::Withdrawn>().len(), 100);
        let per_stream = second.gas_used / 100;
        assert!(per_stream <= 25_000, "{token_kind}: {per_stream} gas per stream");
        assert!(first.gas_used < 6_800_000);
    }
}
