//! Job creation rules, funding at creation and later, and the offer (accept / withdraw).

use alloy::primitives::{Address, U256};
use shiftpay_bindings::escrow::{JobParams, JobState, MilestoneEscrow, MilestoneState};

use crate::fixture::{
    ExpectRevert, FEE_BPS, Fixture, NATIVE, REVIEW, RULING, hash, native_value, units,
};

type E = MilestoneEscrow::MilestoneEscrowErrors;

/// One invalid-terms case: its name, how it breaks the base terms, and the expected revert.
type InvalidTermsCase = (&'static str, Box<dyn Fn(&mut JobParams)>, E);

#[test]
fn create_stores_the_terms_funds_a_prefix_and_emits_events() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let amounts = [units(6, 100), units(6, 200), units(6, 300)];
    let mut params = f.params(usd, &amounts);
    params.deadline = f.now() + 30 * 86_400;
    let client_before = f.balance(usd, f.client);

    let receipt = f.try_create(params.clone(), 2).expect("createJob succeeds");
    let job = receipt.ret;
    assert_eq!(job, U256::from(1), "ids start at 1");

    let created = receipt.event::<MilestoneEscrow::JobCreated>();
    assert_eq!((created.jobId, created.client, created.worker), (job, f.client, f.worker));
    assert_eq!(created.params, params);
    let funded = receipt.events::<MilestoneEscrow::MilestoneFunded>();
    assert_eq!(funded.len(), 2);
    for (i, event) in funded.iter().enumerate() {
        assert_eq!((event.jobId, event.client, event.worker), (job, f.client, f.worker));
        assert_eq!((event.milestoneIndex, event.amount), (U256::from(i), amounts[i]));
    }

    let stored = f.evm.view(f.escrow, MilestoneEscrow::getJobCall { jobId: job }).unwrap();
    assert_eq!(
        (stored.client, stored.worker, stored.token, stored.arbiter),
        (f.client, f.worker, usd, f.arbiter)
    );
    assert_eq!(
        (stored.arbiterFeeBps, stored.maxChangeRequests, stored.milestoneCount),
        (FEE_BPS, 2, 3)
    );
    assert_eq!((u64::from(stored.reviewPeriod), u64::from(stored.rulingPeriod)), (REVIEW, RULING));
    assert_eq!((stored.deadline, stored.metadataHash), (params.deadline, hash("terms")));
    assert_eq!(stored.cancelNoticeEnd, 0, "no cancellation notice");
    assert_eq!(f.job_state(job), JobState::Offered);
    assert_eq!(
        [f.state(job, 0), f.state(job, 1), f.state(job, 2)],
        [MilestoneState::Funded, MilestoneState::Funded, MilestoneState::Unfunded]
    );
    let all = f.evm.view(f.escrow, MilestoneEscrow::getMilestonesCall { jobId: job }).unwrap();
    assert_eq!(all.iter().map(|m| U256::from(m.amount)).collect::<Vec<_>>(), amounts);

    assert_eq!(f.balance(usd, f.escrow), units(6, 300));
    assert_eq!(client_before - f.balance(usd, f.client), units(6, 300));
    assert_eq!(f.evm.view(f.escrow, MilestoneEscrow::jobCountCall {}).unwrap(), U256::from(1));
}

#[test]
fn create_in_native_rbtc_needs_the_exact_value() {
    let mut f = Fixture::new();
    let amounts = [units(18, 1), units(18, 2)];
    let params = f.params(NATIVE, &amounts);
    let client = f.client;

    let short = f.call_value(
        client,
        units(18, 3) - U256::from(1),
        MilestoneEscrow::createJobCall { params: params.clone(), fundCount: U256::from(2) },
    );
    short.reverted().expect_error(MilestoneEscrow::Transfers_WrongMsgValue {
        expected: units(18, 3),
        sent: units(18, 3) - U256::from(1),
    });
    let unfunded_with_value = f.call_value(
        client,
        U256::from(1),
        MilestoneEscrow::createJobCall { params: params.clone(), fundCount: U256::ZERO },
    );
    unfunded_with_value.reverted().expect_error(MilestoneEscrow::Transfers_WrongMsgValue {
        expected: U256::ZERO,
        sent: U256::from(1),
    });

    let job = f.create(params, 2);
    assert_eq!(f.balance(NATIVE, f.escrow), units(18, 3));
    assert_eq!(f.state(job, 1), MilestoneState::Funded);
}

#[test]
fn create_with_an_erc20_rejects_native_value() {
    let mut f = Fixture::new();
    let params = f.params(f.usd, &[units(6, 1)]);
    let client = f.client;
    let err = f
        .call_value(
            client,
            U256::from(5),
            MilestoneEscrow::createJobCall { params, fundCount: U256::from(1) },
        )
        .reverted();
    err.expect_error(MilestoneEscrow::Transfers_UnexpectedMsgValue { sent: U256::from(5) });
}

#[test]
fn create_rejects_every_invalid_term() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let base = f.params(usd, &[units(6, 1)]);
    let (client, worker, arbiter) = (f.client, f.worker, f.arbiter);
    let now = f.now();

    let cases: Vec<InvalidTermsCase> = vec![
        (
            "zero worker",
            Box::new(|p| p.worker = Address::ZERO),
            E::MilestoneEscrow_InvalidWorker(MilestoneEscrow::MilestoneEscrow_InvalidWorker {
                worker: Address::ZERO,
            }),
        ),
        (
            "client as worker",
            Box::new(move |p| p.worker = client),
            E::MilestoneEscrow_InvalidWorker(MilestoneEscrow::MilestoneEscrow_InvalidWorker {
                worker: client,
            }),
        ),
        (
            "client as arbiter",
            Box::new(move |p| p.arbiter = client),
            E::MilestoneEscrow_InvalidArbiter(MilestoneEscrow::MilestoneEscrow_InvalidArbiter {
                arbiter: client,
            }),
        ),
        (
            "worker as arbiter",
            Box::new(move |p| p.arbiter = worker),
            E::MilestoneEscrow_InvalidArbiter(MilestoneEscrow::MilestoneEscrow_InvalidArbiter {
                arbiter: worker,
            }),
        ),
        (
            "fee without arbiter",
            Box::new(|p| p.arbiter = Address::ZERO),
            E::MilestoneEscrow_InvalidArbiter(MilestoneEscrow::MilestoneEscrow_InvalidArbiter {
                arbiter: Address::ZERO,
            }),
        ),
        (
            "fee above 10%",
            Box::new(|p| p.arbiterFeeBps = 1_001),
            E::MilestoneEscrow_ArbiterFeeTooHigh(
                MilestoneEscrow::MilestoneEscrow_ArbiterFeeTooHigh {
                    feeBps: U256::from(1_001),
                    maxFeeBps: U256::from(1_000),
                },
            ),
        ),
        (
            "more than 10 change requests",
            Box::new(|p| p.maxChangeRequests = 11),
            E::MilestoneEscrow_TooManyChangeRequests(
                MilestoneEscrow::MilestoneEscrow_TooManyChangeRequests {
                    requested: U256::from(11),
                    max: U256::from(10),
                },
            ),
        ),
        (
            "zero review period",
            Box::new(|p| p.reviewPeriod = 0),
            E::MilestoneEscrow_InvalidReviewPeriod(
                MilestoneEscrow::MilestoneEscrow_InvalidReviewPeriod { period: U256::ZERO },
            ),
        ),
        (
            "review period above a year",
            Box::new(|p| p.reviewPeriod = 365 * 86_400 + 1),
            E::MilestoneEscrow_InvalidReviewPeriod(
                MilestoneEscrow::MilestoneEscrow_InvalidReviewPeriod {
                    period: U256::from(365 * 86_400 + 1),
                },
            ),
        ),
        (
            "zero ruling period",
            Box::new(|p| p.rulingPeriod = 0),
            E::MilestoneEscrow_InvalidRulingPeriod(
                MilestoneEscrow::MilestoneEscrow_InvalidRulingPeriod { period: U256::ZERO },
            ),
        ),
        (
            "ruling period above a year",
            Box::new(|p| p.rulingPeriod = 365 * 86_400 + 1),
            E::MilestoneEscrow_InvalidRulingPeriod(
                MilestoneEscrow::MilestoneEscrow_InvalidRulingPeriod {
                    period: U256::from(365 * 86_400 + 1),
                },
            ),
        ),
        (
            "deadline now",
            Box::new(move |p| p.deadline = now),
            E::MilestoneEscrow_DeadlineInPast(MilestoneEscrow::MilestoneEscrow_DeadlineInPast {
                deadline: U256::from(now),
                nowTimestamp: U256::from(now),
            }),
        ),
        (
            "no milestone",
            Box::new(|p| p.amounts.clear()),
            E::MilestoneEscrow_InvalidMilestoneCount(
                MilestoneEscrow::MilestoneEscrow_InvalidMilestoneCount {
                    count: U256::ZERO,
                    max: U256::from(50),
                },
            ),
        ),
        (
            "51 milestones",
            Box::new(|p| p.amounts = vec![U256::from(1); 51]),
            E::MilestoneEscrow_InvalidMilestoneCount(
                MilestoneEscrow::MilestoneEscrow_InvalidMilestoneCount {
                    count: U256::from(51),
                    max: U256::from(50),
                },
            ),
        ),
        (
            "zero amount",
            Box::new(|p| p.amounts = vec![U256::from(1), U256::ZERO]),
            E::MilestoneEscrow_InvalidAmount(MilestoneEscrow::MilestoneEscrow_InvalidAmount {
                index: U256::from(1),
                amount: U256::ZERO,
            }),
        ),
        (
            "amount above uint128",
            Box::new(|p| p.amounts = vec![U256::from(u128::MAX) + U256::from(1)]),
            E::MilestoneEscrow_InvalidAmount(MilestoneEscrow::MilestoneEscrow_InvalidAmount {
                index: U256::ZERO,
                amount: U256::from(u128::MAX) + U256::from(1),
            }),
        ),
    ];
    for (name, mutate, expected) in cases {
        let mut params = base.clone();
        if name != "fee without arbiter" {
            params.arbiter = arbiter;
        }
        mutate(&mut params);
        let err = f
            .call(client, MilestoneEscrow::createJobCall { params, fundCount: U256::ZERO })
            .reverted();
        assert_eq!(err.decode_any::<E>(), Some(expected), "{name}");
    }

    // fundCount beyond the milestones.
    let err = f.call(
        client,
        MilestoneEscrow::createJobCall { params: base.clone(), fundCount: U256::from(2) },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_InvalidRange {
        from: U256::ZERO,
        count: U256::from(2),
        milestoneCount: U256::from(1),
    });
}

#[test]
fn create_accepts_the_limits() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let mut params = f.params(usd, &vec![units(6, 1); 50]);
    params.arbiterFeeBps = 1_000;
    params.maxChangeRequests = 10;
    params.reviewPeriod = 365 * 86_400;
    params.rulingPeriod = 365 * 86_400;
    params.deadline = f.now() + 1;
    let receipt = f.try_create(params, 50).expect("50 milestones, 10% fee, year-long periods");
    assert!(
        receipt.gas_used < 6_800_000 / 2,
        "creating and funding 50 milestones fits a Rootstock block easily"
    );

    // No arbiter and no fee: no disputes; change requests, settlements and concessions remain.
    let mut no_arbiter = f.params(usd, &[units(6, 1)]);
    no_arbiter.arbiter = Address::ZERO;
    no_arbiter.arbiterFeeBps = 0;
    no_arbiter.maxChangeRequests = 0;
    f.create(no_arbiter, 1);
}

#[test]
fn fund_later_milestone_by_milestone() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let params = f.params(usd, &[units(6, 10), units(6, 20), units(6, 30)]);
    let job = f.create(params, 0);
    assert_eq!(f.balance(usd, f.escrow), U256::ZERO);
    let client = f.client;

    let receipt = f
        .call(
            client,
            MilestoneEscrow::fundCall { jobId: job, from: U256::from(1), count: U256::from(1) },
        )
        .expect("fund milestone 1");
    let event = receipt.event::<MilestoneEscrow::MilestoneFunded>();
    assert_eq!(
        (event.jobId, event.milestoneIndex, event.amount),
        (job, U256::from(1), units(6, 20))
    );
    assert_eq!(f.state(job, 1), MilestoneState::Funded);
    assert_eq!(f.state(job, 0), MilestoneState::Unfunded);

    // A range overlapping a funded milestone is refused as a whole.
    let err = f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::ZERO, count: U256::from(2) },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
        jobId: job,
        milestoneIndex: U256::from(1),
        status: MilestoneState::Funded as u8,
    });
    assert_eq!(f.state(job, 0), MilestoneState::Unfunded);

    f.accept(job);
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(2), count: U256::from(1) },
    )
    .unwrap();
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::ZERO, count: U256::from(1) },
    )
    .unwrap();
    assert_eq!(f.balance(usd, f.escrow), units(6, 60));
}

#[test]
fn fund_rejects_bad_ranges_callers_and_jobs() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let params = f.params(usd, &[units(6, 10), units(6, 20)]);
    let job = f.create(params, 0);
    let (client, stranger) = (f.client, f.stranger);

    for (from, count) in [(0u64, 0u64), (2, 1), (1, 2), (0, 3)] {
        let err = f.call(
            client,
            MilestoneEscrow::fundCall {
                jobId: job,
                from: U256::from(from),
                count: U256::from(count),
            },
        );
        err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_InvalidRange {
            from: U256::from(from),
            count: U256::from(count),
            milestoneCount: U256::from(2),
        });
    }
    let err = f.call(
        stranger,
        MilestoneEscrow::fundCall { jobId: job, from: U256::ZERO, count: U256::from(1) },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_NotClient { caller: stranger });
    let missing = U256::from(99);
    let err = f.call(
        client,
        MilestoneEscrow::fundCall { jobId: missing, from: U256::ZERO, count: U256::from(1) },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_JobNotFound { jobId: missing });

    f.call(client, MilestoneEscrow::withdrawOfferCall { jobId: job }).unwrap();
    let err = f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::ZERO, count: U256::from(1) },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Withdrawn as u8,
    });
}

#[test]
fn fund_stops_at_the_deadline() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let mut params = f.params(usd, &[units(6, 10), units(6, 20), units(6, 30)]);
    let deadline = f.now() + 10 * 86_400;
    params.deadline = deadline;
    let job = f.create(params, 0);
    let client = f.client;

    f.warp(deadline - 1);
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::ZERO, count: U256::from(1) },
    )
    .unwrap();
    f.warp(deadline);
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(1), count: U256::from(1) },
    )
    .unwrap();
    f.warp(deadline + 1);
    let err = f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(2), count: U256::from(1) },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_DeadlinePassed {
        jobId: job,
        deadline: U256::from(deadline),
    });
}

#[test]
fn fund_in_native_needs_the_exact_value() {
    let mut f = Fixture::new();
    let params = f.params(NATIVE, &[units(18, 1), units(18, 2)]);
    let value = native_value(&params, 0, 2);
    let job = f.create(params, 0);
    let client = f.client;
    let call = MilestoneEscrow::fundCall { jobId: job, from: U256::ZERO, count: U256::from(2) };
    let err = f.call_value(client, value + U256::from(1), call.clone()).reverted();
    err.expect_error(MilestoneEscrow::Transfers_WrongMsgValue {
        expected: value,
        sent: value + U256::from(1),
    });
    f.call_value(client, value, call).unwrap();
    assert_eq!(f.balance(NATIVE, f.escrow), value);
}

#[test]
fn accept_makes_the_job_active_once_and_only_for_the_worker() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let params = f.params(usd, &[units(6, 10)]);
    let job = f.create(params, 1);
    let (client, worker) = (f.client, f.worker);

    // Before acceptance the worker cannot submit.
    let err = f.call(
        worker,
        MilestoneEscrow::submitCall {
            jobId: job,
            milestoneIndex: U256::ZERO,
            deliverableHash: hash("d"),
        },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Offered as u8,
    });
    // ... and the client cannot pay early.
    let err = f.call(
        client,
        MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: U256::ZERO },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Offered as u8,
    });

    let err = f.call(client, MilestoneEscrow::acceptJobCall { jobId: job });
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_NotWorker { caller: client });

    let receipt = f.call(worker, MilestoneEscrow::acceptJobCall { jobId: job }).unwrap();
    let event = receipt.event::<MilestoneEscrow::JobAccepted>();
    assert_eq!((event.jobId, event.client, event.worker), (job, client, worker));
    assert_eq!(f.job_state(job), JobState::Active);

    let err = f.call(worker, MilestoneEscrow::acceptJobCall { jobId: job });
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Active as u8,
    });
    // Once accepted, the offer can no longer be withdrawn.
    let err = f.call(client, MilestoneEscrow::withdrawOfferCall { jobId: job });
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Active as u8,
    });
}

#[test]
fn withdraw_offer_refunds_everything_funded() {
    let mut f = Fixture::new();
    let params = f.params(NATIVE, &[units(18, 1), units(18, 2), units(18, 4)]);
    let job = f.create(params, 2);
    let (client, worker) = (f.client, f.worker);
    let before = f.balance(NATIVE, client);

    let err = f.call(worker, MilestoneEscrow::withdrawOfferCall { jobId: job });
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_NotClient { caller: worker });

    let receipt = f.call(client, MilestoneEscrow::withdrawOfferCall { jobId: job }).unwrap();
    let withdrawn = receipt.event::<MilestoneEscrow::OfferWithdrawn>();
    assert_eq!((withdrawn.jobId, withdrawn.refunded), (job, units(18, 3)));
    let refunds = receipt.events::<MilestoneEscrow::MilestoneRefunded>();
    assert_eq!(
        refunds.iter().map(|r| (r.milestoneIndex, r.amount)).collect::<Vec<_>>(),
        vec![(U256::ZERO, units(18, 1)), (U256::from(1), units(18, 2))]
    );
    assert_eq!(f.balance(NATIVE, client) - before, units(18, 3));
    assert_eq!(f.balance(NATIVE, f.escrow), U256::ZERO);
    assert_eq!(f.job_state(job), JobState::Withdrawn);
    assert_eq!(
        [f.state(job, 0), f.state(job, 1), f.state(job, 2)],
        [MilestoneState::Refunded, MilestoneState::Refunded, MilestoneState::Unfunded]
    );

    let err = f.call(worker, MilestoneEscrow::acceptJobCall { jobId: job });
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Withdrawn as u8,
    });
    let err = f.call(client, MilestoneEscrow::withdrawOfferCall { jobId: job });
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_WrongJobStatus {
        jobId: job,
        status: JobState::Withdrawn as u8,
    });
}

#[test]
fn unknown_jobs_and_milestones_are_reported() {
    let mut f = Fixture::new();
    let (client, worker) = (f.client, f.worker);
    let err = f.call(worker, MilestoneEscrow::acceptJobCall { jobId: U256::from(7) });
    err.reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_JobNotFound { jobId: U256::from(7) });
    let job = f.submitted_job();
    let err = f.call(
        client,
        MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: U256::from(3) },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_MilestoneNotFound {
        jobId: job,
        milestoneIndex: U256::from(3),
    });
    let err = f.evm.view(
        f.escrow,
        MilestoneEscrow::getMilestoneCall { jobId: job, milestoneIndex: U256::from(3) },
    );
    err.reverted().expect_error(MilestoneEscrow::MilestoneEscrow_MilestoneNotFound {
        jobId: job,
        milestoneIndex: U256::from(3),
    });
}

#[test]
fn constants_match_the_issue() {
    let mut f = Fixture::new();
    let escrow = f.escrow;
    let evm = &mut f.evm;
    assert_eq!(evm.view(escrow, MilestoneEscrow::MAX_MILESTONESCall {}).unwrap(), U256::from(50));
    assert_eq!(
        evm.view(escrow, MilestoneEscrow::MAX_ARBITER_FEE_BPSCall {}).unwrap(),
        U256::from(1_000)
    );
    assert_eq!(
        evm.view(escrow, MilestoneEscrow::DEFAULT_MAX_CHANGE_REQUESTSCall {}).unwrap(),
        U256::from(shiftpay_bindings::escrow::DEFAULT_MAX_CHANGE_REQUESTS)
    );
}
