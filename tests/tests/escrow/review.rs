//! Submit, approve, silence pays the worker, change requests and the windows of disputes, with
//! every time boundary checked one second before, at and after the window's last second.

use alloy::primitives::U256;
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState};

use crate::fixture::{ExpectRevert, Fixture, NATIVE, REVIEW, RULING, hash, units};

const M0: U256 = U256::ZERO;

#[test]
fn submit_starts_the_review_window() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let job = f.active_job(usd, &[units(6, 100), units(6, 200)]);
    let now = f.now();
    let receipt = f.submit(job, 1);
    let event = receipt.event::<MilestoneEscrow::MilestoneSubmitted>();
    assert_eq!((event.jobId, event.client, event.worker), (job, f.client, f.worker));
    assert_eq!((event.milestoneIndex, event.deliverableHash), (U256::from(1), hash("deliverable")));
    assert_eq!(event.reviewEnd, U256::from(now + REVIEW));
    assert_eq!(f.state(job, 1), MilestoneState::Submitted);
    assert_eq!(f.window_end(job, 1), now + REVIEW);
}

#[test]
fn submit_rejects_strangers_unfunded_and_repeated_submissions() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let params = f.params(usd, &[units(6, 100), units(6, 200)]);
    let job = f.create(params, 1);
    f.accept(job);
    let (worker, client) = (f.worker, f.client);
    let submit = |index: u64| MilestoneEscrow::submitCall {
        jobId: job,
        milestoneIndex: U256::from(index),
        deliverableHash: hash("d"),
    };

    f.call(client, submit(0))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NotWorker { caller: client });
    f.call(worker, submit(1)).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
            jobId: job,
            milestoneIndex: U256::from(1),
            status: MilestoneState::Unfunded as u8,
        },
    );
    f.call(worker, submit(2)).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_MilestoneNotFound {
            jobId: job,
            milestoneIndex: U256::from(2),
        },
    );
    f.call(worker, submit(0)).unwrap();
    f.call(worker, submit(0)).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
            jobId: job,
            milestoneIndex: M0,
            status: MilestoneState::Submitted as u8,
        },
    );
}

#[test]
fn approve_pays_the_worker_at_once() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let (usd, client, worker) = (f.usd, f.client, f.worker);
    let before = f.balance(usd, worker);

    let receipt = f
        .call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    let event = receipt.event::<MilestoneEscrow::MilestoneApproved>();
    assert_eq!(
        (event.jobId, event.client, event.worker, event.milestoneIndex),
        (job, client, worker, M0)
    );
    assert_eq!((event.amount, event.bySignature), (units(6, 100), false));
    assert_eq!(f.balance(usd, worker) - before, units(6, 100));
    assert_eq!(f.state(job, 0), MilestoneState::Released);

    // Paid once: a second approval, a release or a dispute all find it closed.
    let closed = MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: M0,
        status: MilestoneState::Released as u8,
    };
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .reverted()
        .expect_error(closed.clone());
    f.warp(f.now() + REVIEW + 1);
    f.call(worker, MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: M0 })
        .reverted()
        .expect_error(closed.clone());
    f.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 })
        .reverted()
        .expect_error(closed);
}

#[test]
fn approve_is_for_the_client_and_open_milestones() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let params = f.params(usd, &[units(6, 100), units(6, 200)]);
    let job = f.create(params, 1);
    f.accept(job);
    let (client, worker) = (f.client, f.worker);

    f.call(worker, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NotClient { caller: worker });
    f.call(
        client,
        MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: U256::from(1) },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: U256::from(1),
        status: MilestoneState::Unfunded as u8,
    });
    // A funded milestone may be paid before delivery (the client's choice).
    let before = f.balance(usd, worker);
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    assert_eq!(f.balance(usd, worker) - before, units(6, 100));
}

#[test]
fn silence_pays_the_worker_after_the_review_window() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let (usd, worker, relayer) = (f.usd, f.worker, f.relayer);
    let end = f.window_end(job, 0);
    let release = MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: M0 };
    let open = MilestoneEscrow::MilestoneEscrow_WindowOpen {
        jobId: job,
        milestoneIndex: M0,
        windowEnd: U256::from(end),
    };

    for t in [end - 1, end] {
        f.warp(t);
        f.call(relayer, release.clone()).reverted().expect_error(open.clone());
    }
    f.warp(end + 1);
    let before = f.balance(usd, worker);
    let receipt = f.call(relayer, release.clone()).expect("anyone releases after the window");
    let event = receipt.event::<MilestoneEscrow::MilestoneReleasedAfterReview>();
    assert_eq!((event.jobId, event.worker, event.milestoneIndex), (job, worker, M0));
    assert_eq!((event.amount, event.caller), (units(6, 100), relayer));
    assert_eq!(f.balance(usd, worker) - before, units(6, 100));
    assert_eq!(f.state(job, 0), MilestoneState::Released);
    f.call(relayer, release)
        .reverted()
        .expect_selector::<MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus>();
}

#[test]
fn release_needs_a_submitted_milestone() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let relayer = f.relayer;
    f.warp(f.now() + REVIEW + 1);
    f.call(
        relayer,
        MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: U256::from(1) },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: U256::from(1),
        status: MilestoneState::Funded as u8,
    });
}

#[test]
fn change_requests_within_the_window() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let (client, worker) = (f.client, f.worker);
    let end = f.window_end(job, 0);

    f.call(
        worker,
        MilestoneEscrow::requestChangesCall {
            jobId: job,
            milestoneIndex: M0,
            reasonHash: hash("r"),
        },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_NotClient { caller: worker });

    let mut late = f.evm.clone();
    late.warp(end + 1);
    late.send(
        client,
        f.escrow,
        MilestoneEscrow::requestChangesCall {
            jobId: job,
            milestoneIndex: M0,
            reasonHash: hash("r"),
        },
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_WindowClosed {
        jobId: job,
        milestoneIndex: M0,
        windowEnd: U256::from(end),
    });

    f.warp(end);
    let receipt = f.request_changes(job, 0).expect("at the window's last second");
    let event = receipt.event::<MilestoneEscrow::ChangesRequested>();
    assert_eq!(
        (event.jobId, event.client, event.worker, event.milestoneIndex),
        (job, client, worker, M0)
    );
    assert_eq!((event.reasonHash, event.changeRequests), (hash("please change"), U256::from(1)));
    assert_eq!(event.responseEnd, U256::from(end + REVIEW));
    let stored = f.milestone(job, 0);
    assert_eq!((stored.changeRequests, stored.windowEnd), (1, end + REVIEW));
    assert_eq!(f.state(job, 0), MilestoneState::ChangesRequested);

    // Silence does not pay a milestone under revision.
    f.warp(end + REVIEW + 1);
    f.call(worker, MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: M0 })
        .reverted()
        .expect_selector::<MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus>();

    // The worker resubmits (even late): a fresh review window.
    let now = f.now();
    f.submit(job, 0);
    assert_eq!(f.state(job, 0), MilestoneState::Submitted);
    assert_eq!(f.window_end(job, 0), now + REVIEW);
}

#[test]
fn change_requests_are_capped_then_only_approve_or_dispute_remain() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let client = f.client;
    f.request_changes(job, 0).unwrap();
    f.submit(job, 0);
    f.request_changes(job, 0).unwrap();
    f.submit(job, 0);
    f.request_changes(job, 0).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_ChangeRequestLimitReached {
            jobId: job,
            milestoneIndex: M0,
            max: U256::from(2),
        },
    );
    assert_eq!(f.milestone(job, 0).changeRequests, 2);
    // Dispute is still open to the client, and so is approval.
    let mut disputed = f.evm.clone();
    disputed
        .send(client, f.escrow, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    let stored = disputed
        .view(f.escrow, MilestoneEscrow::getMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    assert_eq!(stored.status, MilestoneState::Disputed as u8);
    assert_eq!(stored.windowEnd, disputed.timestamp() + RULING);
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    assert_eq!(f.state(job, 0), MilestoneState::Released);
}

#[test]
fn a_job_may_allow_no_change_request() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let mut params = f.params(usd, &[units(6, 5)]);
    params.maxChangeRequests = 0;
    let job = f.active_job_with(params);
    f.submit(job, 0);
    f.request_changes(job, 0).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_ChangeRequestLimitReached {
            jobId: job,
            milestoneIndex: M0,
            max: U256::ZERO,
        },
    );
}

#[test]
fn client_disputes_a_submission_within_the_review_window() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let (client, worker, stranger) = (f.client, f.worker, f.stranger);
    let end = f.window_end(job, 0);
    let dispute = MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 };

    f.call(stranger, dispute.clone())
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NotParty { caller: stranger });
    // The worker has nothing to contest while the client has not answered.
    f.call(worker, dispute.clone()).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
            jobId: job,
            milestoneIndex: M0,
            status: MilestoneState::Submitted as u8,
        },
    );
    // Funded (not submitted) milestones cannot be disputed.
    f.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: U256::from(1) })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
            jobId: job,
            milestoneIndex: U256::from(1),
            status: MilestoneState::Funded as u8,
        });

    let mut late = f.evm.clone();
    late.warp(end + 1);
    late.send(client, f.escrow, dispute.clone()).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WindowClosed {
            jobId: job,
            milestoneIndex: M0,
            windowEnd: U256::from(end),
        },
    );

    f.warp(end - 1);
    let mut at_end = f.evm.clone();
    at_end.warp(end);
    at_end.send(client, f.escrow, dispute.clone()).expect("dispute at the window's last second");

    let receipt = f.call(client, dispute).unwrap();
    let event = receipt.event::<MilestoneEscrow::MilestoneDisputed>();
    assert_eq!(
        (event.jobId, event.client, event.worker, event.milestoneIndex),
        (job, client, worker, M0)
    );
    assert_eq!((event.disputant, event.rulingEnd), (client, U256::from(end - 1 + RULING)));
    assert_eq!(f.state(job, 0), MilestoneState::Disputed);
    assert_eq!(f.window_end(job, 0), end - 1 + RULING);
}

#[test]
fn worker_contests_a_change_request_within_the_response_window() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let (client, worker) = (f.client, f.worker);
    f.request_changes(job, 0).unwrap();
    let end = f.window_end(job, 0);
    let dispute = MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 };

    // The client cannot escalate while the worker may still answer.
    for t in [end - 1, end] {
        let mut early = f.evm.clone();
        early.warp(t);
        early.send(client, f.escrow, dispute.clone()).reverted().expect_error(
            MilestoneEscrow::MilestoneEscrow_WindowOpen {
                jobId: job,
                milestoneIndex: M0,
                windowEnd: U256::from(end),
            },
        );
    }
    let mut late = f.evm.clone();
    late.warp(end + 1);
    late.send(worker, f.escrow, dispute.clone()).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WindowClosed {
            jobId: job,
            milestoneIndex: M0,
            windowEnd: U256::from(end),
        },
    );
    // After the response window the silent worker's milestone can be escalated by the client.
    let receipt = late
        .send(client, f.escrow, dispute.clone())
        .expect("client escalates after the response window");
    assert_eq!(receipt.event::<MilestoneEscrow::MilestoneDisputed>().disputant, client);

    f.warp(end);
    let receipt = f.call(worker, dispute).expect("worker contests at the last second");
    assert_eq!(receipt.event::<MilestoneEscrow::MilestoneDisputed>().disputant, worker);
    assert_eq!(f.state(job, 0), MilestoneState::Disputed);
}

#[test]
fn client_concedes_a_dispute_by_approving() {
    let mut f = Fixture::new();
    let job = f.disputed_job();
    let (usd, client, worker, arbiter) = (f.usd, f.client, f.worker, f.arbiter);
    let (worker_before, arbiter_before) = (f.balance(usd, worker), f.balance(usd, arbiter));
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    assert_eq!(
        f.balance(usd, worker) - worker_before,
        units(6, 100),
        "full amount, no arbiter fee"
    );
    assert_eq!(f.balance(usd, arbiter), arbiter_before);
}

#[test]
fn native_milestones_flow_the_same_way() {
    let mut f = Fixture::new();
    let job = f.active_job(NATIVE, &[units(18, 1), units(18, 2)]);
    let (client, worker) = (f.client, f.worker);
    f.submit(job, 0);
    f.submit(job, 1);
    let before = f.balance(NATIVE, worker);
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    f.warp(f.now() + REVIEW + 1);
    f.call(
        f.relayer,
        MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: U256::from(1) },
    )
    .unwrap();
    assert_eq!(f.balance(NATIVE, worker) - before, units(18, 3));
    assert_eq!(f.balance(NATIVE, f.escrow), U256::ZERO);
}
