//! Ending a job: the client cancels, the worker resigns, the client reclaims after the deadline.
//! Cancelling never dodges a payment: submitted, revised and disputed milestones run to their end.

use alloy::primitives::U256;
use shiftpay_bindings::escrow::{JobState, MilestoneEscrow, MilestoneState};

use crate::fixture::{ExpectRevert, Fixture, REVIEW, hash, units};

/// An active 5-milestone USD job (10, 20, 30, 40, 50) with milestone 0 submitted, 1 under a
/// change request, 2 disputed, 3 funded and 4 unfunded.
fn job_in_every_state(f: &mut Fixture) -> U256 {
    let usd = f.usd;
    let amounts: Vec<U256> = (1..=5).map(|i| units(6, 10 * i)).collect();
    let params = f.params(usd, &amounts);
    let job = f.create(params, 4);
    f.accept(job);
    f.submit(job, 0);
    f.submit(job, 1);
    f.request_changes(job, 1).unwrap();
    f.submit(job, 2);
    let client = f.client;
    f.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: U256::from(2) })
        .unwrap();
    job
}

fn states(f: &mut Fixture, job: U256) -> Vec<MilestoneState> {
    (0..5).map(|i| f.state(job, i)).collect()
}

#[test]
fn cancel_refunds_only_what_was_never_submitted() {
    let mut f = Fixture::new();
    let job = job_in_every_state(&mut f);
    let (usd, client, worker) = (f.usd, f.client, f.worker);
    let before = f.balance(usd, client);

    f.call(worker, MilestoneEscrow::cancelCall { jobId: job })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NotClient { caller: worker });
    let receipt = f.call(client, MilestoneEscrow::cancelCall { jobId: job }).unwrap();
    let cancelled = receipt.event::<MilestoneEscrow::JobCancelled>();
    assert_eq!(
        (cancelled.jobId, cancelled.client, cancelled.worker, cancelled.refunded),
        (job, client, worker, units(6, 40))
    );
    let refund = receipt.event::<MilestoneEscrow::MilestoneRefunded>();
    assert_eq!((refund.milestoneIndex, refund.amount), (U256::from(3), units(6, 40)));
    assert_eq!(f.balance(usd, client) - before, units(6, 40));
    assert_eq!(f.job_state(job), JobState::Cancelled);
    assert_eq!(
        states(&mut f, job),
        vec![
            MilestoneState::Submitted,
            MilestoneState::ChangesRequested,
            MilestoneState::Disputed,
            MilestoneState::Refunded,
            MilestoneState::Unfunded,
        ]
    );
    assert_eq!(
        f.balance(usd, f.escrow),
        units(6, 60),
        "submitted, revised and disputed milestones stay"
    );

    // Cancelled: no more funding, no second cancel.
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(4), count: U256::from(1) },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Cancelled as u8,
    });
    f.call(client, MilestoneEscrow::cancelCall { jobId: job }).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
            jobId: job,
            status: JobState::Cancelled as u8,
        },
    );

    // The worker still gets paid for what was delivered: silence pays milestone 0, the revision of
    // milestone 1 can be delivered and reviewed, the dispute on milestone 2 is still ruled.
    f.submit(job, 1);
    let worker_before = f.balance(usd, worker);
    f.warp(f.now() + REVIEW + 1);
    let relayer = f.relayer;
    for index in [0u64, 1] {
        f.call(
            relayer,
            MilestoneEscrow::releaseAfterReviewCall {
                jobId: job,
                milestoneIndex: U256::from(index),
            },
        )
        .unwrap();
    }
    assert_eq!(f.balance(usd, worker) - worker_before, units(6, 30));
    let arbiter = f.arbiter;
    f.call(
        arbiter,
        MilestoneEscrow::resolveCall {
            jobId: job,
            milestoneIndex: U256::from(2),
            workerBps: U256::from(10_000),
        },
    )
    .unwrap();
    assert_eq!(f.balance(usd, f.escrow), U256::ZERO);
}

#[test]
fn cancel_needs_an_accepted_job() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let params = f.params(usd, &[units(6, 1)]);
    let job = f.create(params, 1);
    let client = f.client;
    f.call(client, MilestoneEscrow::cancelCall { jobId: job }).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
            jobId: job,
            status: JobState::Offered as u8,
        },
    );
}

#[test]
fn resign_returns_everything_not_paid_or_submitted() {
    let mut f = Fixture::new();
    let job = job_in_every_state(&mut f);
    let (usd, client, worker) = (f.usd, f.client, f.worker);
    let before = f.balance(usd, client);

    f.call(client, MilestoneEscrow::resignCall { jobId: job })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NotWorker { caller: client });
    let receipt = f.call(worker, MilestoneEscrow::resignCall { jobId: job }).unwrap();
    let resigned = receipt.event::<MilestoneEscrow::WorkerResigned>();
    assert_eq!(
        (resigned.jobId, resigned.client, resigned.worker, resigned.refunded),
        (job, client, worker, units(6, 60))
    );
    let refunds = receipt.events::<MilestoneEscrow::MilestoneRefunded>();
    assert_eq!(
        refunds.iter().map(|r| r.milestoneIndex).collect::<Vec<_>>(),
        vec![U256::from(1), U256::from(3)]
    );
    assert_eq!(f.balance(usd, client) - before, units(6, 60));
    assert_eq!(f.job_state(job), JobState::Resigned);
    assert_eq!(
        states(&mut f, job),
        vec![
            MilestoneState::Submitted,
            MilestoneState::Refunded,
            MilestoneState::Disputed,
            MilestoneState::Refunded,
            MilestoneState::Unfunded,
        ]
    );
    // Delivered work is still paid after resigning.
    f.warp(f.now() + REVIEW + 1);
    let worker_before = f.balance(usd, worker);
    let relayer = f.relayer;
    f.call(
        relayer,
        MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: U256::ZERO },
    )
    .unwrap();
    assert_eq!(f.balance(usd, worker) - worker_before, units(6, 10));
    f.call(worker, MilestoneEscrow::resignCall { jobId: job }).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
            jobId: job,
            status: JobState::Resigned as u8,
        },
    );
}

#[test]
fn deadline_stops_first_submissions_and_lets_the_client_reclaim() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let mut params = f.params(usd, &[units(6, 10), units(6, 20), units(6, 30), units(6, 40)]);
    let deadline = f.now() + 20 * 86_400;
    params.deadline = deadline;
    let job = f.active_job_with(params);
    let (client, worker) = (f.client, f.worker);
    let reclaim = MilestoneEscrow::reclaimExpiredCall { jobId: job };

    f.submit(job, 0);
    f.request_changes(job, 0).unwrap();
    f.warp(deadline - 1);
    f.call(client, reclaim.clone()).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_DeadlineNotPassed {
            jobId: job,
            deadline: U256::from(deadline),
        },
    );
    f.warp(deadline);
    f.call(client, reclaim.clone()).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_DeadlineNotPassed {
            jobId: job,
            deadline: U256::from(deadline),
        },
    );
    f.submit(job, 1);

    f.warp(deadline + 1);
    f.call(
        worker,
        MilestoneEscrow::submitCall {
            jobId: job,
            milestoneIndex: U256::from(2),
            deliverableHash: hash("late"),
        },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_DeadlinePassed {
        jobId: job,
        deadline: U256::from(deadline),
    });
    // A revision the client asked for may still be delivered after the deadline.
    f.submit(job, 0);

    f.call(worker, reclaim.clone())
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NotClient { caller: worker });
    let before = f.balance(usd, client);
    let receipt = f.call(client, reclaim).unwrap();
    let event = receipt.event::<MilestoneEscrow::ExpiredMilestonesReclaimed>();
    assert_eq!(
        (event.jobId, event.client, event.worker, event.refunded),
        (job, client, worker, units(6, 70))
    );
    assert_eq!(f.balance(usd, client) - before, units(6, 70));
    assert_eq!(
        (0..4).map(|i| f.state(job, i)).collect::<Vec<_>>(),
        vec![
            MilestoneState::Submitted,
            MilestoneState::Submitted,
            MilestoneState::Refunded,
            MilestoneState::Refunded
        ]
    );
}

#[test]
fn reclaim_needs_a_deadline() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let client = f.client;
    f.warp(f.now() + 1_000 * 86_400);
    f.call(client, MilestoneEscrow::reclaimExpiredCall { jobId: job }).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_DeadlineNotPassed { jobId: job, deadline: U256::ZERO },
    );
}

#[test]
fn reclaim_after_cancel_is_refused() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let mut params = f.params(usd, &[units(6, 1)]);
    params.deadline = f.now() + 100;
    let job = f.active_job_with(params);
    let client = f.client;
    f.call(client, MilestoneEscrow::cancelCall { jobId: job }).unwrap();
    f.warp(f.now() + 101);
    f.call(client, MilestoneEscrow::reclaimExpiredCall { jobId: job }).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
            jobId: job,
            status: JobState::Cancelled as u8,
        },
    );
}

#[test]
fn ending_a_fifty_milestone_job_fits_a_rootstock_block() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let job = f.active_job(usd, &vec![units(6, 1); 50]);
    let client = f.client;
    let receipt = f.call(client, MilestoneEscrow::cancelCall { jobId: job }).unwrap();
    assert_eq!(receipt.events::<MilestoneEscrow::MilestoneRefunded>().len(), 50);
    assert!(receipt.gas_used < 1_000_000, "cancel of 50 milestones used {}", receipt.gas_used);
}
