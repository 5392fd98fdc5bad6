//! The task owner: start, health endpoint, shutdown order and timeouts.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::signers::local::PrivateKeySigner;
use shiftpay_relayer::{
    Relayer,
    service::{Context, Service, ServiceError, Stage, TaskContext, TaskError, connect, task_fn},
    store::memory::MemoryStore,
};
use shiftpay_tests::{
    anvil::{AnvilOptions, AnvilProcess, dev_address},
    rsk_proxy::RskProxy,
};

use crate::common::{config, fake_deployment};

/// A context with no node behind it (the tasks of these tests never call it).
fn offline_context(shutdown_timeout: &str) -> Arc<Context> {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!(
            "chain = \"devnet\"\nstorage = \"memory://\"\nshutdown_timeout = \"{shutdown_timeout}\"\n"
        ),
    );
    let chain = config.chain_info();
    Arc::new(Context {
        provider: connect("http://127.0.0.1:9", Duration::from_secs(1)).unwrap(),
        tx_policy: config.tx_policy(&chain),
        chain,
        deployment: shiftpay_relayer::bindings::deployment::Deployment::load(&fake_deployment(
            dir.path(),
            33,
        ))
        .unwrap(),
        config: Arc::new(config),
        store: Arc::new(MemoryStore::new()),
        signer: PrivateKeySigner::random(),
        thresholds: Vec::new(),
        instance: "test".to_owned(),
    })
}

type Log = Arc<Mutex<Vec<String>>>;

/// A task that waits for its stage to stop, logs it, and (the sender) finishes a step first.
fn logging_task(
    name: &'static str,
    stage: Stage,
    log: &Log,
    step: Duration,
) -> shiftpay_relayer::service::FnTask {
    let log = log.clone();
    task_fn(name, stage, move |ctx: TaskContext| async move {
        ctx.cancel.cancelled().await;
        log.lock().unwrap().push(format!("{name} cancelled"));
        tokio::time::sleep(step).await;
        log.lock().unwrap().push(format!("{name} done"));
        Ok::<_, TaskError>(())
    })
}

#[tokio::test]
async fn shutdown_stops_stages_in_order_and_lets_the_sender_finish() {
    let log: Log = Arc::default();
    let mut service = Service::new(offline_context("10s"));
    // Registered in another order than the shutdown order on purpose.
    service
        .add(logging_task("sender", Stage::Sender, &log, Duration::from_millis(300)))
        .add(logging_task("scheduler", Stage::Scheduler, &log, Duration::ZERO))
        .add(logging_task("watcher", Stage::Watcher, &log, Duration::from_millis(50)))
        .add(logging_task("api", Stage::Api, &log, Duration::ZERO));
    let handle = service.spawn();
    assert_eq!(handle.task_names(), ["sender", "scheduler", "watcher", "api"]);
    handle.shutdown().await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "api cancelled",
            "api done",
            "watcher cancelled",
            "watcher done",
            "scheduler cancelled",
            "scheduler done",
            "sender cancelled",
            "sender done",
        ]
    );
}

#[tokio::test]
async fn a_failing_task_is_reported() {
    let mut service = Service::new(offline_context("5s"));
    service.add(task_fn("watcher", Stage::Watcher, |_ctx| async {
        Err::<(), TaskError>("node said no".into())
    }));
    service.add(task_fn("sender", Stage::Sender, |ctx: TaskContext| async move {
        ctx.cancel.cancelled().await;
        Ok(())
    }));
    let handle = service.spawn();
    let failures = tokio::time::timeout(Duration::from_secs(5), handle.wait()).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].to_string(), "task watcher failed: node said no");
    let err = handle.shutdown().await.unwrap_err();
    assert!(matches!(&err, ServiceError::Tasks(f) if f.len() == 1), "{err}");
}

#[tokio::test]
async fn a_task_that_ignores_cancellation_is_aborted_after_the_timeout() {
    let mut service = Service::new(offline_context("1s"));
    service.add(task_fn("stubborn", Stage::Scheduler, |_ctx| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<_, TaskError>(())
    }));
    let handle = service.spawn();
    let started = Instant::now();
    let err = handle.shutdown().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(err.to_string().contains("task stubborn did not stop within 1s"), "{err}");
}

/// End to end against anvil behind the Rootstock-like proxy: start, `/health`, shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_serves_health_and_stops() {
    let anvil = AnvilProcess::spawn(AnvilOptions::default()).unwrap();
    let proxy = RskProxy::start(anvil.url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fake_deployment(dir.path(), 33);
    let config = config(
        dir.path(),
        &format!(
            "chain = \"devnet\"\nrpc_url = \"{}\"\nstorage = \"sqlite://state/relayer.db\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\n",
            proxy.url()
        ),
    );
    let handle = Relayer::start(config).await.unwrap();
    let ctx = handle.context().clone();
    assert_eq!(ctx.chain.chain_id, 33);
    assert_eq!(ctx.signer_address(), dev_address(0));
    assert_eq!(ctx.store.backend(), "sqlite");
    // The API task serves /health on the listener; the sender always runs (more tasks may).
    let tasks = handle.task_names();
    assert!(tasks.contains(&"api") && tasks.contains(&"sender"), "{tasks:?}");

    let addr = handle.api_addr().expect("the API is enabled");
    let body = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(body.status(), 200);
    let json: serde_json::Value = serde_json::from_str(&body.text().await.unwrap()).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["instance"], ctx.instance.as_str());
    drop(ctx);

    handle.shutdown().await.unwrap();
    assert!(reqwest::get(format!("http://{addr}/health")).await.is_err(), "still serving");
    assert!(dir.path().join("state/relayer.db").exists());
    assert_eq!(proxy.count("eth_feeHistory"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_node_on_another_chain() {
    let anvil = AnvilProcess::spawn(AnvilOptions::default()).unwrap();
    let proxy = RskProxy::start(anvil.url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fake_deployment(dir.path(), 31);
    let config = config(
        dir.path(),
        &format!(
            "chain = \"rootstock-testnet\"\nrpc_url = \"{}\"\nstorage = \"memory://\"\n",
            proxy.url()
        ),
    );
    let started = Instant::now();
    let err = Relayer::start(config).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.to_string().contains("the node is on chain 33"), "{err}");
}
