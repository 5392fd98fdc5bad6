//! Treasury: deposits (native rBTC, ERC-20 with 0/6/8/18 decimals, third-party top-ups), rejected
//! tokens (fee-on-transfer, false-returning, no code, > 18 decimals), employer withdrawals of
//! the free part only, and what unsupported token behaviour does: donations are stranded, a
//! shortfall falls on the last withdrawers.

use alloy::primitives::{Address, U256};
use shiftpay_bindings::payroll::Payroll;
use shiftpay_tests::mocks::{FalseReturningERC20, FeeOnTransferERC20};

use crate::unit_fixture::{ExpectRevert, Fixture, NATIVE, e, units};

#[test]
fn native_deposit_credits_pool_and_emits_events() {
    let mut f = Fixture::new();
    let amount = units(18, 5);
    let receipt = f.deposit(NATIVE, amount);

    let opened = receipt.event::<Payroll::PoolOpened>();
    assert_eq!((opened.employer, opened.token, opened.decimals), (f.employer, NATIVE, 18));
    let deposited = receipt.event::<Payroll::Deposited>();
    assert_eq!(
        (deposited.employer, deposited.token, deposited.from, deposited.amount),
        (f.employer, NATIVE, f.employer, amount)
    );
    assert_eq!(f.pool_balance(NATIVE), amount);
    assert_eq!(f.surplus(NATIVE), amount);
    assert_eq!(f.contract_balance(NATIVE), amount);

    // Second deposit: no second PoolOpened.
    let again = f.deposit(NATIVE, amount);
    assert!(again.events::<Payroll::PoolOpened>().is_empty());
    assert_eq!(f.pool_balance(NATIVE), amount * U256::from(2));
}

#[test]
fn erc20_deposits_work_for_0_6_8_18_decimals() {
    for decimals in [0u8, 6, 8, 18] {
        let mut f = Fixture::new();
        let token = f.token(decimals);
        let amount = units(decimals, 1_000);
        let receipt = f.deposit(token, amount);
        assert_eq!(receipt.event::<Payroll::PoolOpened>().decimals, decimals);
        assert_eq!(f.pool_balance(token), amount);
        assert_eq!(f.contract_balance(token), amount);
        let pool = f
            .evm
            .view(f.payroll, Payroll::getPoolCall { employer: f.employer, token })
            .expect("getPool");
        assert!(pool.exists);
        assert_eq!(pool.decimals, decimals);
        assert_eq!(pool.surplus, amount);
        assert_eq!(pool.debt, U256::ZERO);
    }
}

#[test]
fn deposit_for_credits_the_named_employer() {
    let mut f = Fixture::new();
    let sponsor = f.evm.account("sponsor");
    let amount = units(18, 2);
    let receipt = f
        .evm
        .send_value(
            sponsor,
            f.payroll,
            amount,
            Payroll::depositForCall { employer: f.employer, token: NATIVE, amount },
        )
        .expect("depositFor");
    let deposited = receipt.event::<Payroll::Deposited>();
    assert_eq!((deposited.employer, deposited.from), (f.employer, sponsor));
    assert_eq!(f.pool_balance(NATIVE), amount);
    let sponsor_pool = f
        .evm
        .view(f.payroll, Payroll::poolBalanceCall { employer: sponsor, token: NATIVE })
        .expect("poolBalance");
    assert_eq!(sponsor_pool, U256::ZERO);

    let err = f
        .evm
        .send(
            sponsor,
            f.payroll,
            Payroll::depositForCall { employer: Address::ZERO, token: NATIVE, amount },
        )
        .reverted();
    err.expect_error(Payroll::Payroll_ZeroAddress {});
}

#[test]
fn deposit_rejects_zero_and_wrong_value() {
    let mut f = Fixture::new();
    let token = f.token(6);
    let err = f
        .evm
        .send(f.employer, f.payroll, Payroll::depositCall { token: NATIVE, amount: U256::ZERO })
        .reverted();
    err.expect_error(Payroll::Payroll_ZeroAmount {});

    let err = f
        .evm
        .send_value(
            f.employer,
            f.payroll,
            U256::from(5),
            Payroll::depositCall { token: NATIVE, amount: U256::from(6) },
        )
        .reverted();
    err.expect_error(Payroll::Transfers_WrongMsgValue {
        expected: U256::from(6),
        sent: U256::from(5),
    });

    let err = f
        .evm
        .send_value(
            f.employer,
            f.payroll,
            U256::from(1),
            Payroll::depositCall { token, amount: U256::from(6) },
        )
        .reverted();
    err.expect_error(Payroll::Transfers_UnexpectedMsgValue { sent: U256::from(1) });
    assert_eq!(f.pool_balance(token), U256::ZERO);
}

#[test]
fn deposit_rejects_amounts_beyond_128_bits() {
    let mut f = Fixture::new();
    let token = f.evm.deploy_token(f.employer, "BIG", 18);
    f.fund_employer(token, U256::MAX >> 1);
    let too_much = U256::from(u128::MAX) + U256::from(1);
    let err = f
        .evm
        .send(f.employer, f.payroll, Payroll::depositCall { token, amount: too_much })
        .reverted();
    err.expect_error(Payroll::Payroll_AmountTooLarge { amount: too_much });
}

#[test]
fn fee_on_transfer_token_is_rejected() {
    let mut f = Fixture::new();
    let token = f.evm.deploy(f.employer, FeeOnTransferERC20::BYTECODE.clone()).expect("deploy");
    f.evm
        .send(
            f.employer,
            token,
            FeeOnTransferERC20::mintCall { to: f.employer, amount: units(18, 100) },
        )
        .expect("mint");
    f.evm.approve(token, f.employer, f.payroll, U256::MAX);
    let amount = units(18, 10);
    let err = f.evm.send(f.employer, f.payroll, Payroll::depositCall { token, amount }).reverted();
    err.expect_error(Payroll::Transfers_AmountMismatch {
        token,
        expected: amount,
        received: amount - amount / U256::from(100),
    });
    assert_eq!(f.pool_balance(token), U256::ZERO);
}

#[test]
fn false_returning_token_without_allowance_is_rejected() {
    let mut f = Fixture::new();
    let token = f.evm.deploy(f.employer, FalseReturningERC20::BYTECODE.clone()).expect("deploy");
    f.evm
        .send(
            f.employer,
            token,
            FalseReturningERC20::mintCall { to: f.employer, amount: units(18, 100) },
        )
        .expect("mint");
    // No approval: transferFrom returns false instead of reverting; SafeERC20 turns it into a revert.
    let err = f
        .evm
        .send(f.employer, f.payroll, Payroll::depositCall { token, amount: units(18, 1) })
        .reverted();
    err.expect_error(Payroll::SafeERC20FailedOperation { token });

    // With an allowance the same token works (RIF-style tokens are supported when they succeed).
    f.evm
        .send(
            f.employer,
            token,
            FalseReturningERC20::approveCall { spender: f.payroll, amount: U256::MAX },
        )
        .expect("approve");
    f.evm
        .send(f.employer, f.payroll, Payroll::depositCall { token, amount: units(18, 1) })
        .expect("deposit");
    assert_eq!(f.pool_balance(token), units(18, 1));
}

#[test]
fn token_without_code_or_with_too_many_decimals_is_rejected() {
    let mut f = Fixture::new();
    let eoa = f.evm.account("not a token");
    let err = f
        .evm
        .send(f.employer, f.payroll, Payroll::depositCall { token: eoa, amount: U256::from(1) })
        .reverted();
    err.expect_error(Payroll::Payroll_InvalidToken { token: eoa });
    // The payroll itself has code but no decimals().
    let payroll = f.payroll;
    let err = f.try_create(f.employer, f.worker, payroll, 1, 0, 0).reverted();
    err.expect_error(Payroll::Payroll_InvalidToken { token: payroll });

    let token19 = f.evm.deploy_token(f.employer, "D19", 19);
    let err = f.try_create(f.employer, f.worker, token19, 1, 0, 0).reverted();
    err.expect_error(Payroll::Payroll_UnsupportedDecimals {
        token: token19,
        decimals: U256::from(19),
    });
}

#[test]
fn employer_withdraws_only_the_free_part() {
    let mut f = Fixture::new();
    let token = f.token(6);
    f.deposit(token, units(6, 1_000));
    // 1 token per second (6 decimals, scaled to 18).
    f.create(token, e(18), 0, 0);
    f.evm.skip(100);
    assert_eq!(f.surplus(token), units(6, 900));

    let to = f.evm.account("treasury");
    let err = f
        .as_employer(Payroll::withdrawSurplusCall {
            token,
            amount: units(6, 900) + U256::from(1),
            to,
        })
        .reverted();
    err.expect_error(Payroll::Payroll_AmountExceedsSurplus {
        token,
        requested: units(6, 900) + U256::from(1),
        surplus: units(6, 900),
    });

    let receipt = f
        .as_employer(Payroll::withdrawSurplusCall { token, amount: units(6, 900), to })
        .expect("withdraw");
    let event = receipt.event::<Payroll::SurplusWithdrawn>();
    assert_eq!(
        (event.employer, event.token, event.to, event.amount),
        (f.employer, token, to, units(6, 900))
    );
    assert_eq!(f.evm.token_balance(token, to), units(6, 900));
    assert_eq!(f.surplus(token), U256::ZERO);
    // What the worker earned is still all there.
    assert_eq!(f.pool_balance(token), units(6, 100));
    assert_eq!(f.withdrawable(U256::from(1)), units(6, 100));
}

#[test]
fn withdraw_surplus_argument_checks() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1));
    let to = f.employer;
    let err = f
        .as_employer(Payroll::withdrawSurplusCall {
            token: NATIVE,
            amount: U256::from(1),
            to: Address::ZERO,
        })
        .reverted();
    err.expect_error(Payroll::Payroll_ZeroAddress {});
    let payroll = f.payroll;
    f.as_employer(Payroll::withdrawSurplusCall {
        token: NATIVE,
        amount: U256::from(1),
        to: payroll,
    })
    .reverted()
    .expect_error(Payroll::Payroll_SelfRecipient {});
    let err = f
        .as_employer(Payroll::withdrawSurplusCall { token: NATIVE, amount: U256::ZERO, to })
        .reverted();
    err.expect_error(Payroll::Payroll_ZeroAmount {});
    // A pool that was never opened has no surplus.
    let stranger = f.evm.account("stranger");
    let err = f
        .evm
        .send(
            stranger,
            f.payroll,
            Payroll::withdrawSurplusCall { token: NATIVE, amount: U256::from(1), to },
        )
        .reverted();
    err.expect_error(Payroll::Payroll_AmountExceedsSurplus {
        token: NATIVE,
        requested: U256::from(1),
        surplus: U256::ZERO,
    });

    // Native withdrawal to an EOA.
    let before = f.evm.balance(to);
    f.as_employer(Payroll::withdrawSurplusCall { token: NATIVE, amount: units(18, 1), to })
        .expect("withdraw");
    assert_eq!(f.evm.balance(to) - before, units(18, 1));
    assert_eq!(f.contract_balance(NATIVE), U256::ZERO);
}

#[test]
fn donations_are_credited_to_no_pool() {
    // Tokens that reach the contract outside `deposit` (a direct ERC-20 transfer, rBTC forced in by
    // `selfdestruct` or a block reward; there is no `receive`) belong to no pool: no view moves,
    // nobody can withdraw them, and the contract then holds more than its pools' balances.
    let mut f = Fixture::new();
    let token = f.token(6);
    f.deposit(token, units(6, 100));
    f.deposit(NATIVE, units(18, 1));
    let id = f.create(token, e(12), 0, 0); // one unit per second
    let payroll = f.payroll;
    let employer = f.employer;
    f.evm
        .send(
            employer,
            token,
            shiftpay_tests::mocks::MockERC20::transferCall { to: payroll, value: units(6, 50) },
        )
        .expect("direct transfer");
    let native = f.evm.balance(payroll);
    f.evm.set_balance(payroll, native + units(18, 2));
    // A plain rBTC transfer is refused (no receive / fallback).
    f.evm.send_raw(employer, payroll, units(18, 1), alloy::primitives::Bytes::new()).reverted();

    f.evm.skip(10);
    assert_eq!((f.pool_balance(token), f.pool_balance(NATIVE)), (units(6, 100), units(18, 1)));
    assert_eq!(f.surplus(token), units(6, 100) - U256::from(10));
    assert_eq!(f.surplus(NATIVE), units(18, 1));
    assert_eq!(f.withdrawable(id), U256::from(10));
    assert_eq!(f.contract_balance(token), units(6, 150));
    assert_eq!(f.contract_balance(NATIVE), units(18, 3));
    // The employer can take back its free part, not the donation.
    let surplus = f.surplus(token);
    let over = surplus + U256::from(1);
    f.as_employer(Payroll::withdrawSurplusCall { token, amount: over, to: employer })
        .reverted()
        .expect_error(Payroll::Payroll_AmountExceedsSurplus { token, requested: over, surplus });
    f.as_employer(Payroll::withdrawSurplusCall { token, amount: surplus, to: employer })
        .expect("free part");
    let worker = f.worker;
    f.withdraw(id, worker, U256::from(10)).expect("worker withdraws");
    assert_eq!(f.pool_balance(token), U256::ZERO);
    assert_eq!(f.contract_balance(token), units(6, 50), "the donation is stranded");
}

#[test]
fn a_shortfall_in_the_contract_falls_on_the_last_withdrawers_of_any_pool() {
    // What a negative rebase (or a fee charged to the sender) does: the contract holds less than
    // its pools' balances. Pools of one token share the contract's balance, so withdrawals are
    // paid first come, first served across employers until it runs out; then the last
    // withdrawals revert and payouts report `PayoutFailed`, the amount staying owed.
    let mut f = Fixture::new();
    let other_employer = f.evm.account("other employer");
    f.deposit(NATIVE, units(18, 10));
    let payroll = f.payroll;
    f.evm
        .send_value(
            other_employer,
            payroll,
            units(18, 10),
            Payroll::depositCall { token: NATIVE, amount: units(18, 10) },
        )
        .expect("second employer deposits");
    let first = f.create(NATIVE, e(16), 0, 0);
    let second = f
        .evm
        .send(
            other_employer,
            payroll,
            Payroll::createStreamCall {
                worker: f.worker,
                token: NATIVE,
                rate: e(16),
                start: crate::unit_fixture::t40(0),
                end: crate::unit_fixture::t40(0),
            },
        )
        .expect("createStream")
        .ret;
    f.evm.skip(600); // each stream earned 6 rBTC
    // The contract loses 8 of its 20 rBTC.
    f.evm.set_balance(payroll, units(18, 12));

    let worker = f.worker;
    f.withdraw(second, worker, units(18, 6)).expect("first come: the other employer's stream");
    assert_eq!(f.withdrawable(first), units(18, 6), "views still promise the full amount");
    let paid = f.evm.send(f.relayer, payroll, Payroll::payoutCall { streamId: first });
    let receipt = paid.expect("payout does not revert");
    assert_eq!(receipt.ret, units(18, 6));
    // 0 left in the contract while both pools still count 4 rBTC of free funds each.
    assert_eq!(f.contract_balance(NATIVE), U256::ZERO);
    assert_eq!(f.pool_balance(NATIVE), units(18, 4));
    f.evm.skip(100); // one more rBTC earned per stream
    f.withdraw(first, worker, units(18, 1))
        .reverted()
        .expect_error(Payroll::Transfers_NativeTransferFailed { to: worker, amount: units(18, 1) });
    let receipt =
        f.evm.send(f.relayer, payroll, Payroll::payoutCall { streamId: second }).expect("payout");
    assert_eq!(receipt.ret, U256::ZERO);
    assert_eq!(receipt.event::<Payroll::PayoutFailed>().amount, units(18, 1));
    assert_eq!(f.withdrawable(second), units(18, 1), "still owed");
}
