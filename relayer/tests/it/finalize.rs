//! `finalizeCancel` payouts against anvil behind the Rootstock proxy, the watcher and the sender
//! driven step by step: a job under cancellation notice is finalized by the relayer right after
//! the notice and not before; a job that ended another way first (the worker resigned, someone
//! else finalized it) is skipped without a transaction; `finalize_cancel.enabled = false` plans
//! nothing.

use std::{sync::Arc, time::Duration};

use alloy::{primitives::U256, sol_types::SolEvent};
use shiftpay_relayer::{
    bindings::escrow::{JobState, MilestoneEscrow, MilestoneState},
    metrics::Metrics,
    sender::{Decision, Sender, SenderOptions, chain},
    service::Context,
    store::{NewPayout, PayoutKind, PayoutStatus, TxStatus},
    watcher::Watcher,
};

use crate::devnet::{Devnet, coin};

/// Review period of the test jobs: the cancellation notice lasts as long.
const NOTICE: u32 = 600;
/// Dev accounts (the relayer signs with dev 0).
const CLIENT: usize = 3;
const WORKER: usize = 4;
const SOMEONE: usize = 6;
/// Releases off: the submitted milestone's release (due before the notice ends) stays out of
/// the way of the finalize under test.
const NO_RELEASES: &str = "[release]\nenabled = false\n";

fn sender(ctx: &Arc<Context>, metrics: &Arc<Metrics>) -> Sender {
    let options = SenderOptions {
        poll_interval: Duration::from_millis(200),
        ..SenderOptions::from_config(&ctx.config)
    };
    Sender::new(ctx.clone(), metrics.clone(), options)
}

/// The job as the contract has it.
async fn job(net: &Devnet, id: U256) -> MilestoneEscrow::Job {
    net.view(net.escrow(), &MilestoneEscrow::getJobCall { jobId: id }).await
}

/// A two-milestone job whose worker submitted milestone 0 and whose client then gave notice
/// (milestone 1 stays funded and unsubmitted). Returns its id and the notice's last second.
async fn noticed_job(net: &Devnet) -> (U256, u64) {
    let escrow = net.escrow();
    let id = net.job(CLIENT, WORKER, &[coin(1), coin(2)], NOTICE).await;
    net.submit(WORKER, id, 0).await;
    net.send(CLIENT, escrow, &MilestoneEscrow::cancelCall { jobId: id }, U256::ZERO).await;
    let job = job(net, id).await;
    assert_eq!(JobState::try_from(job.status), Ok(JobState::Cancelling));
    (id, job.cancelNoticeEnd)
}

fn key(net: &Devnet, id: U256) -> String {
    NewPayout::finalize_cancel(net.escrow(), id, 0, 0).key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_is_finalized_right_after_the_notice_and_not_before() {
    let net = Devnet::start().await;
    let ctx = net.context(net.config("", NO_RELEASES), "test").await;
    let metrics = Arc::new(Metrics::new());
    let sender = sender(&ctx, &metrics);
    let mut watcher = Watcher::from_context(&ctx);
    let escrow = net.escrow();
    let (id, notice_end) = noticed_job(&net).await;

    // The watcher schedules it from CancellationNoticed, due one second after the notice.
    net.mine().await; // the devnet's one confirmation
    watcher.catch_up().await.unwrap();
    let payout = ctx.store.payout(&key(&net, id)).await.unwrap().expect("finalize scheduled");
    assert_eq!(payout.status, PayoutStatus::Pending);
    assert_eq!(payout.due_at, notice_end + 1);
    assert_eq!(payout.kind, PayoutKind::FinalizeCancel { escrow, job: id, notice_end });

    // Not due yet: nothing claimed, nothing sent.
    let report = sender.step().await.unwrap();
    assert_eq!((report.claimed, report.sent), (0, 0), "{report:?}");
    // Even claimed early (a machine clock ahead of the chain), the on-chain re-check waits
    // for the chain's clock to pass the job's notice: back to the queue, no transaction.
    let claimed =
        ctx.store.claim_due(notice_end + 1, 10, sender.holder(), Duration::from_secs(60)).await;
    let claimed = claimed.unwrap();
    assert_eq!(claimed.len(), 1);
    let head = chain::head(&ctx.provider).await.unwrap();
    assert!(head.timestamp <= notice_end);
    match sender.decide(&claimed[0], &head, None).await {
        Decision::Later { at, reason } => {
            assert!(at > notice_end, "{at} <= {notice_end}");
            assert!(reason.contains(&notice_end.to_string()), "{reason}");
            ctx.store.retry_later(&claimed[0].key, sender.holder(), at, &reason).await.unwrap();
        }
        other => panic!("finalized before the notice ended: {other:?}"),
    }
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 0);

    // The chain's clock passes the notice: finalized at the next step, once.
    let now = net.now().await;
    net.advance(notice_end + 1 - now).await;
    assert!(net.now().await > notice_end);
    let report = sender.step().await.unwrap();
    assert_eq!((report.claimed, report.sent, report.skipped), (1, 1, 0), "{report:?}");
    let report = sender.step().await.unwrap();
    assert_eq!(report.confirmed, 1, "{report:?}");
    let payout = ctx.store.payout(&key(&net, id)).await.unwrap().unwrap();
    assert_eq!(payout.status, PayoutStatus::Confirmed, "{payout:?}");
    let tx = ctx.store.tx(payout.tx_id.unwrap()).await.unwrap().unwrap();
    assert_eq!(tx.status, TxStatus::Confirmed);

    // On-chain: the job is Cancelled, the unsubmitted milestone went back to the client, the
    // submitted one still runs its review.
    let job = job(&net, id).await;
    assert_eq!(JobState::try_from(job.status), Ok(JobState::Cancelled));
    let refunded = net.milestone(id, 1).await;
    assert_eq!(MilestoneState::try_from(refunded.status), Ok(MilestoneState::Refunded));
    let submitted = net.milestone(id, 0).await;
    assert_eq!(MilestoneState::try_from(submitted.status), Ok(MilestoneState::Submitted));
    let cancelled = MilestoneEscrow::JobCancelled::SIGNATURE_HASH;
    assert_eq!(net.count_events(escrow, cancelled).await, 1);
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 1);
    assert_eq!(metrics.counters().sent, 1);
    assert_eq!(metrics.counters().failed, 0);

    // The JobCancelled the relayer caused does not undo anything; nothing more is sent.
    net.mine().await;
    watcher.catch_up().await.unwrap();
    let report = sender.step().await.unwrap();
    assert_eq!((report.claimed, report.sent), (0, 0), "{report:?}");
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_ended_another_way_is_skipped_without_a_transaction() {
    let net = Devnet::start().await;
    let ctx = net.context(net.config("", NO_RELEASES), "test").await;
    let metrics = Arc::new(Metrics::new());
    let sender = sender(&ctx, &metrics);
    let mut watcher = Watcher::from_context(&ctx);
    let escrow = net.escrow();

    // The worker resigns during the notice (the job is Resigned, the rest refunded at once).
    let (resigned, notice_end) = noticed_job(&net).await;
    net.send(WORKER, escrow, &MilestoneEscrow::resignCall { jobId: resigned }, U256::ZERO).await;
    // Another job: someone else finalizes it once its notice is over.
    let (finalized, other_end) = noticed_job(&net).await;
    net.mine().await;
    watcher.catch_up().await.unwrap();
    for id in [resigned, finalized] {
        let payout = ctx.store.payout(&key(&net, id)).await.unwrap().expect("scheduled");
        assert_eq!(payout.status, PayoutStatus::Pending);
    }

    let now = net.now().await;
    net.advance(notice_end.max(other_end) + 1 - now).await;
    net.send(
        SOMEONE,
        escrow,
        &MilestoneEscrow::finalizeCancelCall { jobId: finalized },
        U256::ZERO,
    )
    .await;

    let report = sender.step().await.unwrap();
    assert_eq!(
        (report.claimed, report.skipped, report.sent, report.failed),
        (2, 2, 0, 0),
        "{report:?}"
    );
    for (id, state) in [(resigned, "Resigned"), (finalized, "Cancelled")] {
        let payout = ctx.store.payout(&key(&net, id)).await.unwrap().unwrap();
        assert_eq!(payout.status, PayoutStatus::Skipped, "{payout:?}");
        assert_eq!(payout.tx_id, None);
        let error = payout.last_error.as_deref().unwrap();
        assert!(error.contains(state) && error.contains("nothing to finalize"), "{error}");
    }
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 0);
    assert_eq!(net.proxy.count("eth_estimateGas"), 0);
    assert_eq!(metrics.counters().failed, 0);
    let cancelled = MilestoneEscrow::JobCancelled::SIGNATURE_HASH;
    assert_eq!(net.count_events(escrow, cancelled).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalize_cancel_can_be_turned_off() {
    let net = Devnet::start().await;
    let config = net.config("storage = \"memory://\"", "[finalize_cancel]\nenabled = false\n");
    assert!(!config.finalize_cancel.enabled);
    let ctx = net.context(config, "test").await;
    let (id, _) = noticed_job(&net).await;
    net.mine().await;
    let mut watcher = Watcher::from_context(&ctx);
    watcher.catch_up().await.unwrap();
    // The event was seen (the milestone's release is scheduled), the finalize was not.
    let release =
        NewPayout::release(net.escrow(), id, U256::ZERO, net.milestone(id, 0).await.windowEnd, 0);
    assert!(ctx.store.payout(&release.key).await.unwrap().is_some());
    assert!(ctx.store.payout(&key(&net, id)).await.unwrap().is_none());
}
