//! Arbiter rulings (split minus fee) and the 50/50 default when the arbiter stays silent.

use alloy::primitives::{Address, U256};
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState, ResolutionKind};

use crate::fixture::{BPS, ExpectRevert, FEE_BPS, Fixture, NATIVE, RULING, units};

const M0: U256 = U256::ZERO;

#[test]
fn arbiter_rules_a_split_and_takes_the_fee() {
    let mut f = Fixture::new();
    let job = f.disputed_job();
    let (usd, client, worker, arbiter) = (f.usd, f.client, f.worker, f.arbiter);
    let before = [f.balance(usd, worker), f.balance(usd, client), f.balance(usd, arbiter)];

    let receipt = f
        .call(
            arbiter,
            MilestoneEscrow::resolveCall {
                jobId: job,
                milestoneIndex: M0,
                workerBps: U256::from(7_000),
            },
        )
        .expect("arbiter rules");
    // 100 USD, 5% fee = 5; 70% of the remaining 95 = 66.5 to the worker, 28.5 to the client.
    let amount = units(6, 100);
    let fee = amount * U256::from(FEE_BPS) / U256::from(BPS);
    let worker_share = (amount - fee) * U256::from(7_000) / U256::from(BPS);
    let client_share = amount - fee - worker_share;
    assert_eq!(
        (fee, worker_share, client_share),
        (units(6, 5), U256::from(66_500_000), U256::from(28_500_000))
    );

    let event = receipt.event::<MilestoneEscrow::MilestoneResolved>();
    assert_eq!(
        (event.jobId, event.client, event.worker, event.milestoneIndex),
        (job, client, worker, M0)
    );
    assert_eq!(ResolutionKind::try_from(event.resolution), Ok(ResolutionKind::ArbiterRuling));
    assert_eq!(
        (event.workerAmount, event.clientAmount, event.arbiterFee),
        (worker_share, client_share, fee)
    );
    assert_eq!(f.balance(usd, worker) - before[0], worker_share);
    assert_eq!(f.balance(usd, client) - before[1], client_share);
    assert_eq!(f.balance(usd, arbiter) - before[2], fee);
    assert_eq!(f.state(job, 0), MilestoneState::Resolved);

    f.call(
        arbiter,
        MilestoneEscrow::resolveCall { jobId: job, milestoneIndex: M0, workerBps: U256::ZERO },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: M0,
        status: MilestoneState::Resolved as u8,
    });
}

#[test]
fn arbiter_rulings_at_the_extremes() {
    for (bps, worker_gets) in [(0u64, 0u64), (10_000, 95)] {
        let mut f = Fixture::new();
        let job = f.disputed_job();
        let (usd, client, worker, arbiter) = (f.usd, f.client, f.worker, f.arbiter);
        let (worker_before, client_before) = (f.balance(usd, worker), f.balance(usd, client));
        f.call(
            arbiter,
            MilestoneEscrow::resolveCall {
                jobId: job,
                milestoneIndex: M0,
                workerBps: U256::from(bps),
            },
        )
        .unwrap();
        assert_eq!(f.balance(usd, worker) - worker_before, units(6, worker_gets));
        assert_eq!(f.balance(usd, client) - client_before, units(6, 95 - worker_gets));
    }
}

#[test]
fn only_the_arbiter_rules_only_disputes_and_within_the_ruling_period() {
    let mut f = Fixture::new();
    let job = f.disputed_job();
    let (client, worker, arbiter) = (f.client, f.worker, f.arbiter);
    let end = f.window_end(job, 0);
    let rule = |bps: u64| MilestoneEscrow::resolveCall {
        jobId: job,
        milestoneIndex: M0,
        workerBps: U256::from(bps),
    };

    for caller in [client, worker] {
        f.call(caller, rule(5_000))
            .reverted()
            .expect_error(MilestoneEscrow::MilestoneEscrow_NotArbiter { caller });
    }
    f.call(arbiter, rule(10_001))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidBps { bps: U256::from(10_001) });
    f.call(
        arbiter,
        MilestoneEscrow::resolveCall {
            jobId: job,
            milestoneIndex: U256::from(1),
            workerBps: U256::ZERO,
        },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: U256::from(1),
        status: MilestoneState::Funded as u8,
    });

    let mut late = f.evm.clone();
    late.warp(end + 1);
    late.send(arbiter, f.escrow, rule(5_000)).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WindowClosed {
            jobId: job,
            milestoneIndex: M0,
            windowEnd: U256::from(end),
        },
    );
    let mut before = f.evm.clone();
    before.warp(end - 1);
    before.send(arbiter, f.escrow, rule(5_000)).expect("one second before the end");
    f.warp(end);
    f.call(arbiter, rule(5_000)).expect("at the ruling period's last second");
}

#[test]
fn silent_arbiter_means_fifty_fifty_without_fee() {
    let mut f = Fixture::new();
    // An odd amount shows the rounding: the worker gets half rounded down, the client the rest.
    let job = f.active_job(NATIVE, &[U256::from(1_000_000_000_000_000_001u128)]);
    f.submit(job, 0);
    let (client, worker, arbiter, stranger) = (f.client, f.worker, f.arbiter, f.stranger);
    f.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 }).unwrap();
    let end = f.window_end(job, 0);
    assert_eq!(end, f.now() + RULING);
    let settle = MilestoneEscrow::settleAfterRulingTimeoutCall { jobId: job, milestoneIndex: M0 };

    for t in [end - 1, end] {
        let mut early = f.evm.clone();
        early.warp(t);
        early.send(worker, f.escrow, settle.clone()).reverted().expect_error(
            MilestoneEscrow::MilestoneEscrow_WindowOpen {
                jobId: job,
                milestoneIndex: M0,
                windowEnd: U256::from(end),
            },
        );
    }
    f.warp(end + 1);
    f.call(stranger, settle.clone())
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NotParty { caller: stranger });
    // The arbiter is too late now.
    f.call(
        arbiter,
        MilestoneEscrow::resolveCall { jobId: job, milestoneIndex: M0, workerBps: U256::ZERO },
    )
    .reverted()
    .expect_selector::<MilestoneEscrow::MilestoneEscrow_WindowClosed>();

    let before = [f.balance(NATIVE, worker), f.balance(NATIVE, client), f.balance(NATIVE, arbiter)];
    let receipt =
        f.call(worker, settle.clone()).expect("either party settles after the ruling period");
    let event = receipt.event::<MilestoneEscrow::MilestoneResolved>();
    assert_eq!(ResolutionKind::try_from(event.resolution), Ok(ResolutionKind::RulingTimeout));
    let half = U256::from(500_000_000_000_000_000u128);
    assert_eq!(
        (event.workerAmount, event.clientAmount, event.arbiterFee),
        (half, half + U256::from(1), U256::ZERO)
    );
    assert_eq!(f.balance(NATIVE, worker) - before[0], half);
    assert_eq!(f.balance(NATIVE, client) - before[1], half + U256::from(1));
    assert_eq!(f.balance(NATIVE, arbiter), before[2]);
    assert_eq!(f.state(job, 0), MilestoneState::Resolved);
    f.call(client, settle)
        .reverted()
        .expect_selector::<MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus>();
}

#[test]
fn settle_after_timeout_needs_a_dispute() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let client = f.client;
    f.warp(f.now() + RULING + 1);
    f.call(
        client,
        MilestoneEscrow::settleAfterRulingTimeoutCall { jobId: job, milestoneIndex: M0 },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: M0,
        status: MilestoneState::Submitted as u8,
    });
}

#[test]
fn without_an_arbiter_disputes_end_by_timeout() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let mut params = f.params(usd, &[units(6, 10)]);
    params.arbiter = Address::ZERO;
    params.arbiterFeeBps = 0;
    let job = f.active_job_with(params);
    f.submit(job, 0);
    let (client, worker, arbiter) = (f.client, f.worker, f.arbiter);
    f.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 }).unwrap();
    // Nobody can rule, not even address(0)'s impersonator.
    f.call(
        arbiter,
        MilestoneEscrow::resolveCall { jobId: job, milestoneIndex: M0, workerBps: U256::ZERO },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_NotArbiter { caller: arbiter });
    let end = f.window_end(job, 0);
    f.warp(end + 1);
    let before = f.balance(usd, worker);
    f.call(
        client,
        MilestoneEscrow::settleAfterRulingTimeoutCall { jobId: job, milestoneIndex: M0 },
    )
    .unwrap();
    assert_eq!(f.balance(usd, worker) - before, units(6, 5));
}
