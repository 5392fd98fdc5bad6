//! Ending a job: the client cancels with notice to the worker, the worker resigns, the client
//! reclaims after the deadline. Cancelling never dodges a payment: funded milestones stay
//! submittable for the notice (one review period, never beyond the deadline), even when the
//! cancel is mined before a pending submission, and submitted, revised and disputed milestones run
//! to their end.

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

fn submit_call(job: U256, index: u64) -> MilestoneEscrow::submitCall {
    MilestoneEscrow::submitCall {
        jobId: job,
        milestoneIndex: U256::from(index),
        deliverableHash: hash("deliverable"),
    }
}

#[test]
fn cancel_gives_notice_then_refunds_only_what_was_never_submitted() {
    let mut f = Fixture::new();
    let job = job_in_every_state(&mut f);
    let (usd, client, worker, relayer) = (f.usd, f.client, f.worker, f.relayer);
    let before = f.balance(usd, client);

    f.call(worker, MilestoneEscrow::cancelCall { jobId: job })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NotClient { caller: worker });
    let notice_end = f.now() + REVIEW;
    let receipt = f.cancel(job).unwrap();
    let noticed = receipt.event::<MilestoneEscrow::CancellationNoticed>();
    assert_eq!(
        (noticed.jobId, noticed.client, noticed.worker, noticed.noticeEnd),
        (job, client, worker, U256::from(notice_end))
    );
    assert!(receipt.events::<MilestoneEscrow::MilestoneRefunded>().is_empty());
    assert!(receipt.events::<MilestoneEscrow::JobCancelled>().is_empty());
    assert_eq!(f.balance(usd, client), before, "nothing is refunded during the notice");
    assert_eq!(f.job_state(job), JobState::Cancelling);
    assert_eq!(f.job(job).cancelNoticeEnd, notice_end);
    assert_eq!(
        states(&mut f, job),
        vec![
            MilestoneState::Submitted,
            MilestoneState::ChangesRequested,
            MilestoneState::Disputed,
            MilestoneState::Funded,
            MilestoneState::Unfunded,
        ]
    );

    // During the notice: no more funding, no second cancel, no early refund.
    let cancelling = MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Cancelling as u8,
    };
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(4), count: U256::from(1) },
    )
    .reverted()
    .expect_error(cancelling.clone());
    f.cancel(job).reverted().expect_error(cancelling);
    f.finalize_cancel(client, job).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_NoticeRunning {
            jobId: job,
            noticeEnd: U256::from(notice_end),
        },
    );

    // After the notice anyone ends it: only milestone 3, funded and never submitted, goes back.
    f.warp(notice_end + 1);
    f.try_submit(job, 3).reverted().expect_error(MilestoneEscrow::MilestoneEscrow_NoticeOver {
        jobId: job,
        noticeEnd: U256::from(notice_end),
    });
    let receipt = f.finalize_cancel(relayer, job).expect("anyone finalizes after the notice");
    let cancelled = receipt.event::<MilestoneEscrow::JobCancelled>();
    assert_eq!(
        (cancelled.jobId, cancelled.client, cancelled.worker, cancelled.refunded),
        (job, client, worker, units(6, 40))
    );
    let refund = receipt.event::<MilestoneEscrow::MilestoneRefunded>();
    assert_eq!((refund.milestoneIndex, refund.amount), (U256::from(3), units(6, 40)));
    assert_eq!(f.balance(usd, client) - before, units(6, 40));
    assert_eq!(f.job_state(job), JobState::Cancelled);
    assert_eq!(f.job(job).cancelNoticeEnd, notice_end, "the notice stays on record");
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

    // Cancelled: no more funding, no second cancel or finalization.
    let cancelled = MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Cancelled as u8,
    };
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(4), count: U256::from(1) },
    )
    .reverted()
    .expect_error(cancelled.clone());
    f.cancel(job).reverted().expect_error(cancelled.clone());
    f.finalize_cancel(relayer, job).reverted().expect_error(cancelled);

    // The worker still gets paid for what was delivered: silence pays milestone 0, the revision of
    // milestone 1 can be delivered and reviewed, the dispute on milestone 2 is still ruled.
    f.submit(job, 1);
    let worker_before = f.balance(usd, worker);
    f.warp(f.now() + REVIEW + 1);
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

/// The race the notice exists for: the client sees the worker's `submit` in the mempool and gets
/// a `cancel` mined first (same block, higher gas price). The submissions still go through and
/// are paid by the normal review flow; only the milestone never submitted goes back.
#[test]
fn cancel_mined_before_the_workers_submit_cannot_dodge_the_payment() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let job = f.active_job(usd, &[units(6, 100), units(6, 200), units(6, 300), units(6, 400)]);
    let (client, worker, arbiter, relayer) = (f.client, f.worker, f.arbiter, f.relayer);
    let start = f.now();

    f.cancel(job).expect("the client's cancel is mined first");
    // Same block, right after the cancel: the worker's pending submissions.
    for index in 0..3 {
        let receipt = f.try_submit(job, index).expect("submittable during the notice");
        let submitted = receipt.event::<MilestoneEscrow::MilestoneSubmitted>();
        assert_eq!(submitted.reviewEnd, U256::from(start + REVIEW));
    }
    assert_eq!(f.job_state(job), JobState::Cancelling);

    // Milestone 0: the client approves and the worker is paid in full.
    let worker_before = f.balance(usd, worker);
    f.call(
        client,
        MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: U256::ZERO },
    )
    .expect("approve during the notice");
    assert_eq!(f.balance(usd, worker) - worker_before, units(6, 100));

    // Milestone 2: the client asks for changes within the review window.
    f.request_changes(job, 2).expect("changes requested during the notice");

    // Milestone 1: the client stays silent, the review window passes, anyone releases it. The
    // notice is over too; finalizing it refunds only milestone 3, never submitted.
    let review_end = f.window_end(job, 1);
    f.warp(review_end + 1);
    f.call(
        relayer,
        MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: U256::from(1) },
    )
    .expect("silence pays the worker");
    assert_eq!(f.balance(usd, worker) - worker_before, units(6, 300));
    let client_before = f.balance(usd, client);
    let receipt = f.finalize_cancel(client, job).expect("the client finalizes");
    assert_eq!(receipt.event::<MilestoneEscrow::JobCancelled>().refunded, units(6, 400));
    assert_eq!(f.balance(usd, client) - client_before, units(6, 400));

    // Milestone 2: the revision is delivered after the notice (the client asked for it), the
    // client disputes it and the arbiter rules for the worker.
    f.submit(job, 2);
    f.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: U256::from(2) })
        .expect("dispute after the cancellation");
    f.call(
        arbiter,
        MilestoneEscrow::resolveCall {
            jobId: job,
            milestoneIndex: U256::from(2),
            workerBps: U256::from(10_000),
        },
    )
    .expect("ruling");
    // 300 minus the 5% fee.
    assert_eq!(f.balance(usd, worker) - worker_before, units(6, 300) + units(6, 285));
    assert_eq!(f.balance(usd, f.escrow), U256::ZERO);
    assert_eq!(
        (0..4).map(|i| f.state(job, i)).collect::<Vec<_>>(),
        vec![
            MilestoneState::Released,
            MilestoneState::Released,
            MilestoneState::Resolved,
            MilestoneState::Refunded
        ]
    );
}

#[test]
fn the_notice_ends_at_its_last_second() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let job = f.active_job(usd, &[units(6, 10), units(6, 20)]);
    let (escrow, client, worker, stranger) = (f.escrow, f.client, f.worker, f.stranger);
    let end = f.now() + REVIEW;
    f.cancel(job).unwrap();
    let finalize = MilestoneEscrow::finalizeCancelCall { jobId: job };

    for t in [end - 1, end] {
        let mut within = f.evm.clone();
        within.warp(t);
        within.send(worker, escrow, submit_call(job, 0)).expect("submittable within the notice");
        within.send(stranger, escrow, finalize.clone()).reverted().expect_error(
            MilestoneEscrow::MilestoneEscrow_NoticeRunning {
                jobId: job,
                noticeEnd: U256::from(end),
            },
        );
    }
    assert_eq!(f.job(job).cancelNoticeEnd, end);
    let mut after = f.evm.clone();
    after.warp(end + 1);
    after.send(worker, escrow, submit_call(job, 0)).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_NoticeOver { jobId: job, noticeEnd: U256::from(end) },
    );

    f.warp(end + 1);
    let before = f.balance(usd, client);
    let receipt = f.finalize_cancel(stranger, job).expect("anyone, one second after the notice");
    assert_eq!(receipt.events::<MilestoneEscrow::MilestoneRefunded>().len(), 2);
    assert_eq!(receipt.event::<MilestoneEscrow::JobCancelled>().refunded, units(6, 30));
    assert_eq!(f.balance(usd, client) - before, units(6, 30), "the refund goes to the client");
    assert_eq!(f.balance(usd, stranger), U256::ZERO);
}

#[test]
fn cancel_is_immediate_when_no_funded_milestone_is_left() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let params = f.params(usd, &[units(6, 10), units(6, 20)]);
    let job = f.create(params, 1);
    f.accept(job);
    f.submit(job, 0);
    let receipt = f.cancel(job).unwrap();
    assert!(receipt.events::<MilestoneEscrow::CancellationNoticed>().is_empty());
    assert_eq!(receipt.event::<MilestoneEscrow::JobCancelled>().refunded, U256::ZERO);
    assert_eq!(f.job_state(job), JobState::Cancelled);
    assert_eq!(f.job(job).cancelNoticeEnd, 0);
    assert_eq!(
        (f.state(job, 0), f.state(job, 1)),
        (MilestoneState::Submitted, MilestoneState::Unfunded)
    );
}

#[test]
fn cancel_after_the_deadline_refunds_at_once() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let mut params = f.params(usd, &[units(6, 10), units(6, 20)]);
    let deadline = f.now() + 86_400;
    params.deadline = deadline;
    let job = f.active_job_with(params);
    f.submit(job, 0);
    let (escrow, client) = (f.escrow, f.client);

    // At the deadline's last second the worker may still submit: the cancel gives notice until it.
    let mut at_deadline = f.evm.clone();
    at_deadline.warp(deadline);
    let receipt =
        at_deadline.send(client, escrow, MilestoneEscrow::cancelCall { jobId: job }).unwrap();
    assert_eq!(
        receipt.event::<MilestoneEscrow::CancellationNoticed>().noticeEnd,
        U256::from(deadline)
    );

    // After it nobody can submit a funded milestone any more: no notice, refund now.
    f.warp(deadline + 1);
    let before = f.balance(usd, client);
    let receipt = f.cancel(job).unwrap();
    assert!(receipt.events::<MilestoneEscrow::CancellationNoticed>().is_empty());
    assert_eq!(receipt.event::<MilestoneEscrow::JobCancelled>().refunded, units(6, 20));
    assert_eq!(f.balance(usd, client) - before, units(6, 20));
    assert_eq!(f.job_state(job), JobState::Cancelled);
    assert_eq!(f.state(job, 0), MilestoneState::Submitted);
}

#[test]
fn the_notice_never_outlasts_the_deadline() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let mut params = f.params(usd, &[units(6, 10), units(6, 20)]);
    let deadline = f.now() + 86_400;
    assert!(deadline < f.now() + REVIEW);
    params.deadline = deadline;
    let job = f.active_job_with(params);
    let (escrow, client, worker) = (f.escrow, f.client, f.worker);

    let receipt = f.cancel(job).unwrap();
    assert_eq!(
        receipt.event::<MilestoneEscrow::CancellationNoticed>().noticeEnd,
        U256::from(deadline)
    );
    assert_eq!(f.job(job).cancelNoticeEnd, deadline);
    let mut at_deadline = f.evm.clone();
    at_deadline.warp(deadline);
    at_deadline.send(worker, escrow, submit_call(job, 0)).expect("the deadline's last second");

    f.warp(deadline + 1);
    f.try_submit(job, 0).reverted().expect_error(MilestoneEscrow::MilestoneEscrow_NoticeOver {
        jobId: job,
        noticeEnd: U256::from(deadline),
    });
    // The notice replaces reclaimExpired: finalizing it refunds everything never submitted.
    f.call(client, MilestoneEscrow::reclaimExpiredCall { jobId: job }).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
            jobId: job,
            status: JobState::Cancelling as u8,
        },
    );
    let before = f.balance(usd, client);
    f.finalize_cancel(client, job).unwrap();
    assert_eq!(f.balance(usd, client) - before, units(6, 30));
}

#[test]
fn the_worker_may_resign_during_the_notice() {
    let mut f = Fixture::new();
    let job = job_in_every_state(&mut f);
    let (usd, client, worker) = (f.usd, f.client, f.worker);
    let notice_end = f.now() + REVIEW;
    f.cancel(job).unwrap();
    let before = f.balance(usd, client);

    // The worker waives the notice: funded and changes-requested milestones go back at once.
    let receipt = f.call(worker, MilestoneEscrow::resignCall { jobId: job }).unwrap();
    assert_eq!(receipt.event::<MilestoneEscrow::WorkerResigned>().refunded, units(6, 60));
    assert_eq!(f.balance(usd, client) - before, units(6, 60));
    assert_eq!(f.job_state(job), JobState::Resigned);
    assert_eq!(f.job(job).cancelNoticeEnd, notice_end);
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
    f.warp(notice_end + 1);
    f.finalize_cancel(client, job).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
            jobId: job,
            status: JobState::Resigned as u8,
        },
    );
}

#[test]
fn finalize_cancel_needs_a_notice() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let job = f.active_job(usd, &[units(6, 1)]);
    let client = f.client;
    f.warp(f.now() + 10 * REVIEW);
    f.finalize_cancel(client, job).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
            jobId: job,
            status: JobState::Active as u8,
        },
    );
    f.finalize_cancel(client, U256::from(99))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_JobNotFound { jobId: U256::from(99) });
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
fn ending_a_fifty_milestone_job_fits_a_rootstock_block() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let job = f.active_job(usd, &vec![units(6, 1); 50]);
    let relayer = f.relayer;
    let notice = f.cancel(job).unwrap();
    assert!(notice.gas_used < 100_000, "notice of 50 milestones used {}", notice.gas_used);
    f.warp(f.now() + REVIEW + 1);
    let receipt = f.finalize_cancel(relayer, job).unwrap();
    assert_eq!(receipt.events::<MilestoneEscrow::MilestoneRefunded>().len(), 50);
    assert!(receipt.gas_used < 1_000_000, "cancel of 50 milestones used {}", receipt.gas_used);

    // Worst case of the notice's scan: only the last of 50 milestones is funded.
    let params = f.params(usd, &vec![units(6, 1); 50]);
    let job = f.create(params, 0);
    let client = f.client;
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(49), count: U256::from(1) },
    )
    .unwrap();
    f.accept(job);
    let notice = f.cancel(job).unwrap();
    assert!(notice.gas_used < 300_000, "scan of 50 milestones used {}", notice.gas_used);
}
