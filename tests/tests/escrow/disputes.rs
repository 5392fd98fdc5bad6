//! Arbiter rulings (split minus fee), the 50/50 default when the arbiter stays silent, and jobs
//! without an arbiter: no disputes at all (a silent ruling must not hand the client half of
//! delivered work), settlements of any split, and the client taking back a milestone whose worker
//! left a change request unanswered.

use alloy::{
    primitives::{Bytes, U256},
    signers::SignerSync,
};
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState, ResolutionKind, Settlement};

use crate::fixture::{
    BPS, ExpectRevert, FEE_BPS, Fixture, NATIVE, REVIEW, RULING, no_signature, units,
};

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
fn silent_arbiter_after_the_worker_contests_also_splits_fifty_fifty() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    f.request_changes(job, 0).unwrap();
    let (usd, client, worker, escrow) = (f.usd, f.client, f.worker, f.escrow);
    f.call(worker, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 })
        .expect("the worker contests the change request");
    let end = f.window_end(job, 0);
    assert_eq!(end, f.now() + RULING);
    let settle = MilestoneEscrow::settleAfterRulingTimeoutCall { jobId: job, milestoneIndex: M0 };
    for t in [end - 1, end] {
        let mut early = f.evm.clone();
        early.warp(t);
        early.send(client, escrow, settle.clone()).reverted().expect_error(
            MilestoneEscrow::MilestoneEscrow_WindowOpen {
                jobId: job,
                milestoneIndex: M0,
                windowEnd: U256::from(end),
            },
        );
    }
    f.warp(end + 1);
    let (worker_before, client_before) = (f.balance(usd, worker), f.balance(usd, client));
    f.call(client, settle).expect("one second after the ruling period");
    assert_eq!(f.balance(usd, worker) - worker_before, units(6, 50));
    assert_eq!(f.balance(usd, client) - client_before, units(6, 50));
}

/// An active job without an arbiter, of two 100-USD milestones.
fn job_without_arbiter(f: &mut Fixture) -> U256 {
    let usd = f.usd;
    let params = f.params_without_arbiter(usd, &[units(6, 100), units(6, 100)]);
    f.active_job_with(params)
}

#[test]
fn without_an_arbiter_nobody_can_dispute_and_silence_still_pays_the_worker() {
    let mut f = Fixture::new();
    let job = job_without_arbiter(&mut f);
    let (usd, client, worker, relayer) = (f.usd, f.client, f.worker, f.relayer);
    let no_arbiter = MilestoneEscrow::MilestoneEscrow_NoArbiter { jobId: job };
    let dispute =
        |index: u64| MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: U256::from(index) };

    // The client cannot dispute a delivery within its review window...
    f.submit(job, 0);
    f.call(client, dispute(0)).reverted().expect_error(no_arbiter.clone());
    // ...the worker cannot contest a change request...
    f.submit(job, 1);
    f.request_changes(job, 1).unwrap();
    f.call(worker, dispute(1)).reverted().expect_error(no_arbiter.clone());
    // ...and the client cannot escalate once the worker's response window passed.
    let response_end = f.window_end(job, 1);
    f.warp(response_end + 1);
    f.call(client, dispute(1)).reverted().expect_error(no_arbiter);

    // So no ruling timeout ever splits a milestone 50/50: the client's half never comes.
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
    // The client stayed silent on milestone 0: the worker is paid in full.
    let (worker_before, client_before) = (f.balance(usd, worker), f.balance(usd, client));
    f.call(relayer, MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    assert_eq!(f.balance(usd, worker) - worker_before, units(6, 100));
    assert_eq!(f.balance(usd, client), client_before);
}

/// `label` signs a settlement of `(job, index)` at `bps` with its current nonce.
fn sign_settlement(f: &mut Fixture, label: &str, job: U256, index: u64, bps: u64) -> Bytes {
    let signer = f.evm.signer(label);
    let nonce = f.nonce(signer.address());
    let digest = Settlement {
        jobId: job,
        milestoneIndex: U256::from(index),
        workerBps: U256::from(bps),
        nonce,
        deadline: U256::from(u64::MAX),
    }
    .signing_hash(f.evm.chain_id(), f.escrow);
    signer.sign_hash_sync(&digest).expect("signs").as_bytes().to_vec().into()
}

fn settle_call(
    job: U256,
    index: u64,
    bps: u64,
    client_signature: Bytes,
    worker_signature: Bytes,
) -> MilestoneEscrow::settleCall {
    MilestoneEscrow::settleCall {
        jobId: job,
        milestoneIndex: U256::from(index),
        workerBps: U256::from(bps),
        deadline: U256::from(u64::MAX),
        clientSignature: client_signature,
        workerSignature: worker_signature,
    }
}

#[test]
fn without_an_arbiter_the_parties_settle_any_split() {
    let mut f = Fixture::new();
    let job = job_without_arbiter(&mut f);
    let (usd, client, worker) = (f.usd, f.client, f.worker);
    f.submit(job, 0);
    f.submit(job, 1);
    f.request_changes(job, 1).unwrap();
    let (worker_before, client_before) = (f.balance(usd, worker), f.balance(usd, client));

    // A submitted milestone: the client calls with the worker's signature (30% to the worker).
    let worker_sig = sign_settlement(&mut f, "worker", job, 0, 3_000);
    let receipt = f.call(client, settle_call(job, 0, 3_000, no_signature(), worker_sig)).unwrap();
    let event = receipt.event::<MilestoneEscrow::MilestoneResolved>();
    assert_eq!(ResolutionKind::try_from(event.resolution), Ok(ResolutionKind::Settlement));
    assert_eq!(
        (event.workerAmount, event.clientAmount, event.arbiterFee),
        (units(6, 30), units(6, 70), U256::ZERO)
    );
    // A milestone under a change request: the worker calls with the client's signature (85%).
    let client_sig = sign_settlement(&mut f, "client", job, 1, 8_500);
    f.call(worker, settle_call(job, 1, 8_500, client_sig, no_signature())).unwrap();
    assert_eq!(f.balance(usd, worker) - worker_before, units(6, 115));
    assert_eq!(f.balance(usd, client) - client_before, units(6, 85));
    assert_eq!(
        (f.state(job, 0), f.state(job, 1)),
        (MilestoneState::Resolved, MilestoneState::Resolved)
    );
}

#[test]
fn without_an_arbiter_an_unanswered_change_request_goes_back_to_the_client() {
    let mut f = Fixture::new();
    let job = job_without_arbiter(&mut f);
    let (usd, escrow, client, worker, stranger) = (f.usd, f.escrow, f.client, f.worker, f.stranger);
    f.submit(job, 0);
    f.request_changes(job, 0).unwrap();
    let end = f.window_end(job, 0);
    assert_eq!(end, f.now() + REVIEW);
    let reclaim = MilestoneEscrow::reclaimAbandonedCall { jobId: job, milestoneIndex: M0 };
    let resubmit = MilestoneEscrow::submitCall {
        jobId: job,
        milestoneIndex: M0,
        deliverableHash: Default::default(),
    };

    for caller in [worker, stranger] {
        f.call(caller, reclaim.clone())
            .reverted()
            .expect_error(MilestoneEscrow::MilestoneEscrow_NotClient { caller });
    }
    // The worker's response window: the client waits, the worker may resubmit.
    for t in [end - 1, end] {
        let mut within = f.evm.clone();
        within.warp(t);
        within.send(client, escrow, reclaim.clone()).reverted().expect_error(
            MilestoneEscrow::MilestoneEscrow_WindowOpen {
                jobId: job,
                milestoneIndex: M0,
                windowEnd: U256::from(end),
            },
        );
        within.send(worker, escrow, resubmit.clone()).expect("resubmission within the window");
    }
    // After it, a late resubmission still counts until the client takes the milestone back.
    let mut late = f.evm.clone();
    late.warp(end + 1);
    late.send(worker, escrow, resubmit.clone()).expect("late resubmission before the reclaim");

    f.warp(end + 1);
    let before = f.balance(usd, client);
    let receipt = f.call(client, reclaim.clone()).expect("one second after the response window");
    let refund = receipt.event::<MilestoneEscrow::MilestoneRefunded>();
    assert_eq!(
        (refund.jobId, refund.client, refund.worker, refund.milestoneIndex, refund.amount),
        (job, client, worker, M0, units(6, 100))
    );
    assert_eq!(f.balance(usd, client) - before, units(6, 100));
    assert_eq!(f.state(job, 0), MilestoneState::Refunded);
    let refunded = MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: M0,
        status: MilestoneState::Refunded as u8,
    };
    f.call(worker, resubmit).reverted().expect_error(refunded.clone());
    f.call(client, reclaim).reverted().expect_error(refunded);
    // Only changes-requested milestones: a funded one is not abandoned.
    f.call(
        client,
        MilestoneEscrow::reclaimAbandonedCall { jobId: job, milestoneIndex: U256::from(1) },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: U256::from(1),
        status: MilestoneState::Funded as u8,
    });
    assert_eq!(f.balance(usd, escrow), units(6, 100));
}

#[test]
fn with_an_arbiter_an_unanswered_change_request_is_disputed_not_reclaimed() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    f.request_changes(job, 0).unwrap();
    let (client, arbiter) = (f.client, f.arbiter);
    let response_end = f.window_end(job, 0);
    f.warp(response_end + 1);
    f.call(client, MilestoneEscrow::reclaimAbandonedCall { jobId: job, milestoneIndex: M0 })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_HasArbiter { jobId: job, arbiter });
    f.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 })
        .expect("the arbiter decides");
}
