//! Streams: creation (ids, future starts, end dates, several streams per pair), accrual at any
//! decimals, and every employer control (pause, resume, adjustRate, setEnd, cancel) with its
//! revert paths. No control may reduce what was earned before it.

use alloy::primitives::{Address, U256};
use shiftpay_bindings::payroll::{Payroll, PayrollTypes};

use crate::unit_fixture::{ExpectRevert, Fixture, NATIVE, e, t40, units};

/// Status values of `PayrollTypes.Status`.
const ACTIVE: u8 = 0;
const PAUSED: u8 = 1;
const CANCELED: u8 = 2;

fn status(f: &mut Fixture, id: U256) -> u8 {
    f.stream(id).status
}

#[test]
fn create_assigns_counter_ids_and_emits_event() {
    let mut f = Fixture::new();
    let token = f.token(6);
    assert_eq!(f.evm.view(f.payroll, Payroll::nextStreamIdCall {}).expect("view"), U256::from(1));
    let now = f.now();
    let receipt = f.try_create(f.employer, f.worker, token, e(15), 0, now + 1_000).expect("create");
    assert_eq!(receipt.ret, U256::from(1));
    let event = receipt.event::<Payroll::StreamCreated>();
    assert_eq!(event.streamId, U256::from(1));
    assert_eq!((event.employer, event.worker, event.token), (f.employer, f.worker, token));
    assert_eq!((event.rate, event.start, event.end), (e(15), t40(now), t40(now + 1_000)));

    // Several streams between the same pair are independent.
    let second = f.create(token, e(16), 0, 0);
    let third = f.create(token, e(17), now + 50, 0);
    assert_eq!((second, third), (U256::from(2), U256::from(3)));
    let view = f.stream(third);
    assert_eq!((view.employer, view.worker, view.token), (f.employer, f.worker, token));
    assert_eq!(
        (view.rate, view.start, view.end, view.status),
        (e(17), t40(now + 50), t40(0), ACTIVE)
    );
    assert_eq!(f.evm.view(f.payroll, Payroll::nextStreamIdCall {}).expect("view"), U256::from(4));
}

#[test]
fn create_argument_checks() {
    let mut f = Fixture::new();
    let now = f.now();
    let (employer, worker) = (f.employer, f.worker);
    f.try_create(employer, Address::ZERO, NATIVE, 1, 0, 0)
        .reverted()
        .expect_error(Payroll::Payroll_ZeroAddress {});
    let payroll = f.payroll;
    f.try_create(employer, payroll, NATIVE, 1, 0, 0)
        .reverted()
        .expect_error(Payroll::Payroll_SelfRecipient {});
    f.try_create(employer, worker, NATIVE, 0, 0, 0)
        .reverted()
        .expect_error(Payroll::Payroll_ZeroRate {});
    let too_fast = 1u128 << 96;
    f.try_create(employer, worker, NATIVE, too_fast, 0, 0)
        .reverted()
        .expect_error(Payroll::Payroll_RateTooHigh { rate: U256::from(too_fast) });
    // The largest accepted rate.
    f.try_create(employer, worker, NATIVE, too_fast - 1, 0, 0).expect("max rate");
    f.try_create(employer, worker, NATIVE, 1, now - 1, 0).reverted().expect_error(
        Payroll::Payroll_StartInPast { start: t40(now - 1), currentTime: U256::from(now) },
    );
    f.try_create(employer, worker, NATIVE, 1, 0, now).reverted().expect_error(
        Payroll::Payroll_InvalidEnd {
            end: t40(now),
            start: t40(now),
            currentTime: U256::from(now),
        },
    );
    f.try_create(employer, worker, NATIVE, 1, now + 10, now + 10).reverted().expect_error(
        Payroll::Payroll_InvalidEnd {
            end: t40(now + 10),
            start: t40(now + 10),
            currentTime: U256::from(now),
        },
    );
}

#[test]
fn accrual_is_exact_per_second_at_every_decimals() {
    for decimals in [0u8, 6, 8, 18] {
        let mut f = Fixture::new();
        let token = f.token(decimals);
        f.deposit(token, units(decimals, 1_000_000));
        // 0.5 token per hour does not divide into whole units per second for small decimals:
        // rate = 5e17 / 3600 scaled units per second, rounded down.
        let rate = 5 * e(17) / 3_600;
        let id = f.create(token, rate, 0, 0);
        let scale = U256::from(10).pow(U256::from(18 - decimals));
        for elapsed in [1u64, 59, 3_600, 86_400] {
            // Each duration on its own copy of the chain.
            let mut g = Fixture { evm: f.evm.clone(), ..f };
            g.evm.skip(elapsed);
            let exact = U256::from(rate) * U256::from(elapsed);
            assert_eq!(g.earned(id), exact / scale, "decimals {decimals}, elapsed {elapsed}");
            assert_eq!(g.withdrawable(id), exact / scale);
        }
    }
}

#[test]
fn future_start_and_end_date_bound_accrual() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1_000));
    let now = f.now();
    let id = f.create(NATIVE, e(15), now + 100, now + 400);
    f.evm.skip(50);
    assert_eq!(f.earned(id), U256::ZERO);
    f.evm.skip(100); // now + 150: 50 seconds of accrual
    assert_eq!(f.earned(id), U256::from(50 * e(15)));
    f.evm.skip(1_000); // past the end: exactly 300 seconds
    assert_eq!(f.earned(id), U256::from(300 * e(15)));
    // The pool aggregate followed the same schedule.
    assert_eq!(f.surplus(NATIVE), units(18, 1_000) - U256::from(300 * e(15)));
    let pool = f
        .evm
        .view(f.payroll, Payroll::getPoolCall { employer: f.employer, token: NATIVE })
        .expect("getPool");
    assert_eq!(pool.totalRate, U256::ZERO);
}

#[test]
fn pause_and_resume_keep_past_earnings_and_skip_paused_time() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1_000));
    let id = f.create(NATIVE, e(15), 0, 0);
    f.evm.skip(100);
    let receipt = f.as_employer(Payroll::pauseCall { streamId: id }).expect("pause");
    let event = receipt.event::<Payroll::StreamPaused>();
    assert_eq!((event.streamId, event.employer, event.worker), (id, f.employer, f.worker));
    assert_eq!(status(&mut f, id), PAUSED);
    assert_eq!(f.earned(id), U256::from(100 * e(15)));

    f.evm.skip(500);
    assert_eq!(f.earned(id), U256::from(100 * e(15)));
    f.as_employer(Payroll::pauseCall { streamId: id })
        .reverted()
        .expect_error(Payroll::Payroll_StreamPaused { streamId: id });

    let receipt = f.as_employer(Payroll::resumeCall { streamId: id }).expect("resume");
    assert_eq!(receipt.event::<Payroll::StreamResumed>().streamId, id);
    assert_eq!(status(&mut f, id), ACTIVE);
    f.as_employer(Payroll::resumeCall { streamId: id })
        .reverted()
        .expect_error(Payroll::Payroll_StreamNotPaused { streamId: id });
    f.evm.skip(10);
    assert_eq!(f.earned(id), U256::from(110 * e(15)));
    assert_eq!(f.surplus(NATIVE), units(18, 1_000) - U256::from(110 * e(15)));
}

#[test]
fn pause_before_start_then_resume_keeps_schedule() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1_000));
    let now = f.now();
    let id = f.create(NATIVE, e(15), now + 100, now + 300);
    f.as_employer(Payroll::pauseCall { streamId: id }).expect("pause");
    f.evm.skip(50);
    f.as_employer(Payroll::resumeCall { streamId: id }).expect("resume");
    f.evm.skip(1_000);
    assert_eq!(f.earned(id), U256::from(200 * e(15)));
    assert_eq!(f.surplus(NATIVE), units(18, 1_000) - U256::from(200 * e(15)));
}

#[test]
fn adjust_rate_applies_from_now_only() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1_000));
    let id = f.create(NATIVE, e(15), 0, 0);
    f.evm.skip(100);
    let receipt =
        f.as_employer(Payroll::adjustRateCall { streamId: id, newRate: e(14) }).expect("adjust");
    let event = receipt.event::<Payroll::RateAdjusted>();
    assert_eq!((event.streamId, event.oldRate, event.newRate), (id, e(15), e(14)));
    f.evm.skip(100);
    assert_eq!(f.earned(id), U256::from(100 * e(15) + 100 * e(14)));
    assert_eq!(f.surplus(NATIVE), units(18, 1_000) - U256::from(100 * e(15) + 100 * e(14)));
    f.as_employer(Payroll::adjustRateCall { streamId: id, newRate: 0 })
        .reverted()
        .expect_error(Payroll::Payroll_ZeroRate {});
    f.as_employer(Payroll::adjustRateCall { streamId: id, newRate: 1 << 96 })
        .reverted()
        .expect_error(Payroll::Payroll_RateTooHigh { rate: U256::from(1u128 << 96) });
    // Adjusting a paused stream changes the rate it resumes with.
    f.as_employer(Payroll::pauseCall { streamId: id }).expect("pause");
    f.as_employer(Payroll::adjustRateCall { streamId: id, newRate: e(16) }).expect("adjust paused");
    f.evm.skip(100);
    assert_eq!(f.earned(id), U256::from(100 * e(15) + 100 * e(14)));
    f.as_employer(Payroll::resumeCall { streamId: id }).expect("resume");
    f.evm.skip(1);
    assert_eq!(f.earned(id), U256::from(100 * e(15) + 100 * e(14) + e(16)));
}

#[test]
fn set_end_moves_shortens_extends_and_removes_the_end() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1_000));
    let now = f.now();
    let id = f.create(NATIVE, e(15), 0, now + 1_000);

    // Shorten.
    let receipt = f
        .as_employer(Payroll::setEndCall { streamId: id, newEnd: t40(now + 200) })
        .expect("setEnd");
    let event = receipt.event::<Payroll::EndSet>();
    assert_eq!((event.oldEnd, event.newEnd), (t40(now + 1_000), t40(now + 200)));
    f.evm.skip(500);
    assert_eq!(f.earned(id), U256::from(200 * e(15)));

    // Extend after it ended: accrual restarts now, the gap is not paid.
    let restart = f.now();
    f.as_employer(Payroll::setEndCall { streamId: id, newEnd: t40(restart + 100) })
        .expect("extend");
    f.evm.skip(1_000);
    assert_eq!(f.earned(id), U256::from(300 * e(15)));

    // Open-ended.
    f.as_employer(Payroll::setEndCall { streamId: id, newEnd: t40(0) }).expect("open-ended");
    f.evm.skip(10);
    assert_eq!(f.earned(id), U256::from(310 * e(15)));
    assert_eq!(f.surplus(NATIVE), units(18, 1_000) - U256::from(310 * e(15)));

    // Invalid ends: not in the future, not after the start.
    let now = f.now();
    f.as_employer(Payroll::setEndCall { streamId: id, newEnd: t40(now) }).reverted().expect_error(
        Payroll::Payroll_InvalidEnd {
            end: t40(now),
            start: t40(restart - 500),
            currentTime: U256::from(now),
        },
    );
    let later = f.create(NATIVE, 1, now + 100, 0);
    f.as_employer(Payroll::setEndCall { streamId: later, newEnd: t40(now + 100) })
        .reverted()
        .expect_error(Payroll::Payroll_InvalidEnd {
            end: t40(now + 100),
            start: t40(now + 100),
            currentTime: U256::from(now),
        });
}

#[test]
fn cancel_stops_accrual_and_keeps_earnings_withdrawable() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1_000));
    let id = f.create(NATIVE, e(15), 0, 0);
    f.evm.skip(100);
    let receipt = f.as_employer(Payroll::cancelCall { streamId: id }).expect("cancel");
    let event = receipt.event::<Payroll::StreamCanceled>();
    assert_eq!(
        (event.streamId, event.employer, event.worker, event.earned),
        (id, f.employer, f.worker, U256::from(100 * e(15)))
    );
    let view = f.stream(id);
    assert_eq!((view.status, view.end), (CANCELED, t40(f.now())));
    f.evm.skip(100);
    assert_eq!(f.earned(id), U256::from(100 * e(15)));
    assert_eq!(f.withdrawable(id), U256::from(100 * e(15)));
    // The employer gets back everything else.
    assert_eq!(f.surplus(NATIVE), units(18, 1_000) - U256::from(100 * e(15)));
    let worker = f.worker;
    f.withdraw(id, worker, U256::from(100 * e(15))).expect("withdraw after cancel");

    // Controls on a canceled stream revert.
    let canceled = Payroll::Payroll_StreamCanceled { streamId: id };
    f.as_employer(Payroll::cancelCall { streamId: id }).reverted().expect_error(canceled.clone());
    f.as_employer(Payroll::pauseCall { streamId: id }).reverted().expect_error(canceled.clone());
    f.as_employer(Payroll::resumeCall { streamId: id }).reverted().expect_error(canceled.clone());
    f.as_employer(Payroll::adjustRateCall { streamId: id, newRate: 1 })
        .reverted()
        .expect_error(canceled.clone());
    f.as_employer(Payroll::setEndCall { streamId: id, newEnd: t40(0) })
        .reverted()
        .expect_error(canceled);
}

#[test]
fn cancel_before_start_removes_the_schedule() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 10));
    let now = f.now();
    let id = f.create(NATIVE, e(15), now + 100, now + 200);
    f.as_employer(Payroll::cancelCall { streamId: id }).expect("cancel");
    f.evm.skip(1_000);
    assert_eq!(f.earned(id), U256::ZERO);
    assert_eq!(f.surplus(NATIVE), units(18, 10));
    let depletion = f
        .evm
        .view(f.payroll, Payroll::depletionTimeCall { employer: f.employer, token: NATIVE })
        .expect("view");
    assert_eq!(depletion, U256::MAX);
}

#[test]
fn cancel_before_start_leaves_a_consistent_record() {
    // A stream canceled before its start never accrued: its record must not read end < start.
    // Bounded, open-ended and paused-before-start streams, next to one that runs.
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 10));
    let now = f.now();
    let bounded = f.create(NATIVE, e(15), now + 100, now + 200);
    let open = f.create(NATIVE, 2 * e(15), now + 100, 0);
    let paused = f.create(NATIVE, 4 * e(15), now + 50, now + 500);
    f.as_employer(Payroll::pauseCall { streamId: paused }).expect("pause before start");
    let running = f.create(NATIVE, 3 * e(14), 0, 0);
    f.evm.skip(10);
    let canceled_at = f.now();
    for id in [bounded, open, paused] {
        let receipt = f.as_employer(Payroll::cancelCall { streamId: id }).expect("cancel");
        assert_eq!(receipt.event::<Payroll::StreamCanceled>().earned, U256::ZERO);
        let view = f.stream(id);
        assert!(view.end >= view.start, "stream {id}: end {} < start {}", view.end, view.start);
        // Accrual never started and stopped now: the record says so.
        assert_eq!(
            (view.start, view.end, view.status, view.owedScaled),
            (t40(canceled_at), t40(canceled_at), CANCELED, alloy::primitives::aliases::U216::ZERO)
        );
    }

    // Past every original start and end: none of them accrues or enters the pool's rate.
    for skip in [100u64, 1_000] {
        f.evm.skip(skip);
        for id in [bounded, open, paused] {
            assert_eq!((f.earned(id), f.withdrawable(id)), (U256::ZERO, U256::ZERO));
            let view = f.stream(id);
            assert_eq!((view.start, view.end), (t40(canceled_at), t40(canceled_at)));
        }
        let pool = f
            .evm
            .view(f.payroll, Payroll::getPoolCall { employer: f.employer, token: NATIVE })
            .expect("getPool");
        assert_eq!(pool.totalRate, U256::from(3 * e(14)), "only the running stream accrues");
        let running_earned = U256::from(3 * e(14)) * U256::from(f.now() - now);
        assert_eq!(f.earned(running), running_earned);
        assert_eq!(f.surplus(NATIVE), units(18, 10) - running_earned);
    }
    // A control settles the pool through the removed checkpoints without touching the rate.
    f.as_employer(Payroll::adjustRateCall { streamId: running, newRate: 3 * e(14) })
        .expect("settle the pool");
    let pool = f
        .evm
        .view(f.payroll, Payroll::getPoolCall { employer: f.employer, token: NATIVE })
        .expect("getPool");
    assert_eq!(pool.totalRate, U256::from(3 * e(14)));
    let worker = f.worker;
    f.withdraw(bounded, worker, U256::from(1)).reverted().expect_error(
        Payroll::Payroll_AmountExceedsWithdrawable {
            streamId: bounded,
            requested: U256::from(1),
            withdrawable: U256::ZERO,
        },
    );
    let payout = f.evm.send(f.relayer, f.payroll, Payroll::payoutCall { streamId: open });
    assert_eq!(payout.expect("payout").ret, U256::ZERO);
}

#[test]
fn controls_are_employer_only_and_need_an_existing_stream() {
    let mut f = Fixture::new();
    let id = f.create(NATIVE, 1, 0, 0);
    let stranger = f.evm.account("stranger");
    for caller in [stranger, f.worker] {
        let not_employer = Payroll::Payroll_NotEmployer { streamId: id, caller };
        let payroll = f.payroll;
        f.evm
            .send(caller, payroll, Payroll::pauseCall { streamId: id })
            .reverted()
            .expect_error(not_employer.clone());
        f.evm
            .send(caller, payroll, Payroll::resumeCall { streamId: id })
            .reverted()
            .expect_error(not_employer.clone());
        f.evm
            .send(caller, payroll, Payroll::adjustRateCall { streamId: id, newRate: 2 })
            .reverted()
            .expect_error(not_employer.clone());
        f.evm
            .send(caller, payroll, Payroll::setEndCall { streamId: id, newEnd: t40(0) })
            .reverted()
            .expect_error(not_employer.clone());
        f.evm
            .send(caller, payroll, Payroll::cancelCall { streamId: id })
            .reverted()
            .expect_error(not_employer);
    }
    let missing = U256::from(99);
    let not_found = Payroll::Payroll_StreamNotFound { streamId: missing };
    f.as_employer(Payroll::pauseCall { streamId: missing })
        .reverted()
        .expect_error(not_found.clone());
    f.as_employer(Payroll::cancelCall { streamId: missing })
        .reverted()
        .expect_error(not_found.clone());
    let err = f.evm.view(f.payroll, Payroll::earnedCall { streamId: missing }).reverted();
    err.expect_error(not_found.clone());
    let err = f.evm.view(f.payroll, Payroll::getStreamCall { streamId: missing }).reverted();
    err.expect_error(not_found);
}

#[test]
fn many_end_dates_keep_the_pool_aggregate_exact() {
    // Streams with interleaved starts and ends: the pool's surplus must equal the sum of the
    // streams' exact earnings at every step (checkpoint list kept in time order).
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1_000_000));
    let now = f.now();
    let schedule =
        [(0u64, 500u64), (300, 0), (100, 200), (50, 700), (0, 0), (200, 250), (600, 650)];
    let mut ids = Vec::new();
    for (i, (start, end)) in schedule.iter().enumerate() {
        let start = if *start == 0 { 0 } else { now + start };
        let end = if *end == 0 { 0 } else { now + end };
        ids.push(f.create(NATIVE, e(15) + i as u128, start, end));
    }
    for _ in 0..16 {
        f.evm.skip(53);
        let mut total = U256::ZERO;
        for id in &ids {
            total += f.earned(*id);
        }
        assert_eq!(f.surplus(NATIVE), units(18, 1_000_000) - total, "at {}", f.now() - now);
        // Settle the pool now and then (a control on one stream) to consume checkpoints.
        if f.now().is_multiple_of(2) {
            f.as_employer(Payroll::adjustRateCall { streamId: ids[4], newRate: e(15) + 4 })
                .expect("adjust");
        }
    }
}

#[test]
fn get_pool_of_unknown_pool_is_empty() {
    let mut f = Fixture::new();
    let pool: PayrollTypes::PoolView = f
        .evm
        .view(f.payroll, Payroll::getPoolCall { employer: f.relayer, token: NATIVE })
        .expect("getPool");
    assert!(!pool.exists);
    assert_eq!(pool.balance, U256::ZERO);
}

#[test]
fn settle_pool_clears_a_backlog_of_end_dates_in_bounded_steps() {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1_000));
    let now = f.now();
    let ids: Vec<U256> = (1..=5).map(|i| f.create(NATIVE, e(15), 0, now + 10 * i)).collect();
    f.evm.skip(100);
    let expected_surplus = units(18, 1_000) - U256::from(150 * e(15));
    assert_eq!(f.surplus(NATIVE), expected_surplus);

    let (employer, relayer) = (f.employer, f.relayer);
    let settle = |max: u64| Payroll::settlePoolCall {
        employer,
        token: NATIVE,
        maxCheckpoints: U256::from(max),
    };
    // Anyone may call; two of the five passed end dates are applied.
    let receipt = f.evm.send(relayer, f.payroll, settle(2)).expect("settle 2");
    assert_eq!(receipt.ret, U256::from(2));
    let event = receipt.event::<Payroll::PoolSettled>();
    assert_eq!(
        (event.employer, event.token, event.settledUntil, event.checkpointsApplied),
        (employer, NATIVE, t40(now + 20), U256::from(2))
    );
    // Views are unaffected by how far the pool was settled.
    assert_eq!(f.surplus(NATIVE), expected_surplus);

    let receipt = f.evm.send(relayer, f.payroll, settle(10)).expect("settle rest");
    assert_eq!(receipt.ret, U256::from(3));
    assert_eq!(receipt.event::<Payroll::PoolSettled>().settledUntil, t40(f.now()));
    let receipt = f.evm.send(relayer, f.payroll, settle(10)).expect("nothing left");
    assert_eq!(receipt.ret, U256::ZERO);
    assert_eq!(f.surplus(NATIVE), expected_surplus);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(f.earned(*id), U256::from(10 * (i as u128 + 1) * e(15)));
    }

    f.evm
        .send(relayer, f.payroll, settle(0))
        .reverted()
        .expect_error(Payroll::Payroll_ZeroAmount {});
    let stranger = f.evm.account("stranger");
    let call = Payroll::settlePoolCall {
        employer: stranger,
        token: NATIVE,
        maxCheckpoints: U256::from(1),
    };
    f.evm
        .send(relayer, f.payroll, call)
        .reverted()
        .expect_error(Payroll::Payroll_PoolNotFound { employer: stranger, token: NATIVE });
}
