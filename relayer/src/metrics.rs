//! The relayer's Prometheus metrics: a handful of counters and gauges kept in atomics and
//! written by hand in the text exposition format (version 0.0.4) by `GET /metrics`.
//!
//! | metric | type | meaning |
//! | --- | --- | --- |
//! | `relayer_lag_blocks` | gauge | blocks between the confirmed head (`latest - confirmations`) and the watcher's cursor |
//! | `relayer_queue_depth` | gauge | payouts waiting to be sent (`pending` + `sending`) |
//! | `relayer_payouts{status}` | gauge | payouts per status |
//! | `relayer_tx_sent_total` | counter | transactions signed, recorded and sent: payouts and nonce-gap fillers (first versions: rebroadcasts and replacements not counted) |
//! | `relayer_tx_confirmed_total` | counter | transactions that reached the configured confirmations |
//! | `relayer_tx_failed_total` | counter | payouts given up: reverted on chain, or failed before sending (a revert in the gas estimate, a transaction that cannot be built or signed) |
//! | `relayer_tx_replaced_total` | counter | replacements with a bumped gas price |
//! | `relayer_signer_balance_wei` | gauge | the signer's native balance at the last check |
//! | `relayer_instance_info{instance_id, role}` | gauge | always 1: this process's lease-holder id and its role (`leader` or `follower`) |
//! | `relayer_leader` | gauge | 1 while this instance holds the cursor lease, else 0 |
//!
//! **Several instances**: Prometheus adds the target's `instance` label (host:port) to every
//! series it scrapes, so the metrics carry no label of that name (it would clash and become
//! `exported_instance`); `relayer_instance_info` maps the target to the relayer's own id and
//! role (join on `instance`), and `sum(relayer_leader) == 1` is the "exactly one leader" alert.
//! `relayer_payouts`, `relayer_queue_depth` and `relayer_lag_blocks` read the shared database
//! and cursor, so every instance reports the same values: aggregate them with `max`, not `sum`;
//! the `_total` counters are per process (`sum` them).
//!
//! One [`Metrics`] is shared by the sender (which counts), the watcher (which may report its lag
//! with [`Metrics::set_lag`]) and the API (which renders). Counters start at zero with the
//! process, as Prometheus expects.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use alloy::primitives::U256;

use crate::{store::PayoutStatus, watcher::Role};

/// The counters and gauges. Cheap to update from any task (`Arc<Metrics>`).
#[derive(Debug, Default)]
pub struct Metrics {
    tx_sent: AtomicU64,
    tx_confirmed: AtomicU64,
    tx_failed: AtomicU64,
    tx_replaced: AtomicU64,
    /// Lag + 1 (0 = never set).
    lag_plus_one: AtomicU64,
    signer_balance: Mutex<Option<U256>>,
}

/// What the metrics page shows besides the counters, read from the store and the node when
/// `/metrics` is scraped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Payouts per status (every status listed).
    pub payouts: BTreeMap<PayoutStatus, u64>,
    /// Lag in blocks, when known.
    pub lag_blocks: Option<u64>,
    /// This process's lease-holder id (`relayer_instance_info`).
    pub instance: Option<String>,
    /// Whether it holds the cursor lease, when a watcher runs (`relayer_leader`).
    pub role: Option<Role>,
}

/// A counter's value by name (tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// `relayer_tx_sent_total`.
    pub sent: u64,
    /// `relayer_tx_confirmed_total`.
    pub confirmed: u64,
    /// `relayer_tx_failed_total`.
    pub failed: u64,
    /// `relayer_tx_replaced_total`.
    pub replaced: u64,
}

impl Metrics {
    /// All zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new transaction was recorded and handed to the node.
    pub fn tx_sent(&self) {
        self.tx_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A transaction reached the configured confirmations.
    pub fn tx_confirmed(&self) {
        self.tx_confirmed.fetch_add(1, Ordering::Relaxed);
    }

    /// A payout failed (on-chain revert, or a revert in simulation).
    pub fn tx_failed(&self) {
        self.tx_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A stuck transaction was replaced with a higher price.
    pub fn tx_replaced(&self) {
        self.tx_replaced.fetch_add(1, Ordering::Relaxed);
    }

    /// The watcher's lag in blocks (confirmed head minus cursor).
    pub fn set_lag(&self, blocks: u64) {
        self.lag_plus_one.store(blocks.saturating_add(1), Ordering::Relaxed);
    }

    /// The last lag reported with [`Metrics::set_lag`].
    pub fn lag(&self) -> Option<u64> {
        self.lag_plus_one.load(Ordering::Relaxed).checked_sub(1)
    }

    /// The signer's balance at the last check.
    pub fn set_signer_balance(&self, wei: U256) {
        *self.signer_balance.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(wei);
    }

    /// The signer's balance at the last check, if any.
    pub fn signer_balance(&self) -> Option<U256> {
        *self.signer_balance.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        Counters {
            sent: self.tx_sent.load(Ordering::Relaxed),
            confirmed: self.tx_confirmed.load(Ordering::Relaxed),
            failed: self.tx_failed.load(Ordering::Relaxed),
            replaced: self.tx_replaced.load(Ordering::Relaxed),
        }
    }

    /// The Prometheus text exposition of everything (`Content-Type: text/plain; version=0.0.4`).
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::with_capacity(2048);
        let counters = self.counters();
        let lag = snapshot.lag_blocks.or_else(|| self.lag());
        if let Some(lag) = lag {
            metric(
                &mut out,
                "relayer_lag_blocks",
                "gauge",
                "Blocks the watcher is behind the confirmed head.",
                lag,
            );
        }
        let depth = [PayoutStatus::Pending, PayoutStatus::Sending]
            .iter()
            .map(|status| snapshot.payouts.get(status).copied().unwrap_or(0))
            .sum::<u64>();
        metric(
            &mut out,
            "relayer_queue_depth",
            "gauge",
            "Payouts waiting to be sent (pending + sending).",
            depth,
        );
        let _ = writeln!(out, "# HELP relayer_payouts Payouts per status.");
        let _ = writeln!(out, "# TYPE relayer_payouts gauge");
        for status in PayoutStatus::ALL {
            let count = snapshot.payouts.get(status).copied().unwrap_or(0);
            let _ = writeln!(out, "relayer_payouts{{status=\"{status}\"}} {count}");
        }
        metric(
            &mut out,
            "relayer_tx_sent_total",
            "counter",
            "Transactions signed and sent (first versions).",
            counters.sent,
        );
        metric(
            &mut out,
            "relayer_tx_confirmed_total",
            "counter",
            "Transactions confirmed.",
            counters.confirmed,
        );
        metric(
            &mut out,
            "relayer_tx_failed_total",
            "counter",
            "Payouts failed (reverted on chain or in simulation).",
            counters.failed,
        );
        metric(
            &mut out,
            "relayer_tx_replaced_total",
            "counter",
            "Stuck transactions replaced with a higher gas price.",
            counters.replaced,
        );
        if let Some(instance) = &snapshot.instance {
            let role = snapshot.role.map_or("unknown", Role::as_str);
            let _ = writeln!(
                out,
                "# HELP relayer_instance_info This relayer process: its lease-holder id and role."
            );
            let _ = writeln!(out, "# TYPE relayer_instance_info gauge");
            let _ = writeln!(
                out,
                "relayer_instance_info{{instance_id=\"{}\",role=\"{role}\"}} 1",
                label_value(instance)
            );
        }
        if let Some(role) = snapshot.role {
            metric(
                &mut out,
                "relayer_leader",
                "gauge",
                "1 while this instance holds the cursor lease (moves the log cursor).",
                u8::from(role == Role::Leader),
            );
        }
        if let Some(balance) = self.signer_balance() {
            metric(
                &mut out,
                "relayer_signer_balance_wei",
                "gauge",
                "The signer's native balance in wei.",
                balance,
            );
        }
        out
    }
}

/// Writes one metric with its HELP and TYPE lines.
/// A label value escaped for the text format (backslash, double quote, newline).
fn label_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let metrics = Metrics::new();
        metrics.tx_sent();
        metrics.tx_sent();
        metrics.tx_confirmed();
        metrics.tx_replaced();
        metrics.set_signer_balance(U256::from(10u64).pow(U256::from(21u64)));
        let mut payouts: BTreeMap<_, _> = PayoutStatus::ALL.iter().map(|&s| (s, 0)).collect();
        payouts.insert(PayoutStatus::Pending, 3);
        payouts.insert(PayoutStatus::Sending, 1);
        let text = metrics.render(&Snapshot {
            payouts,
            lag_blocks: Some(7),
            instance: Some("pid1-ab\"c".into()),
            role: Some(Role::Follower),
        });
        assert!(
            text.contains("# TYPE relayer_tx_sent_total counter\nrelayer_tx_sent_total 2\n"),
            "{text}"
        );
        assert!(text.contains("relayer_tx_confirmed_total 1\n"));
        assert!(text.contains("relayer_tx_failed_total 0\n"));
        assert!(text.contains("relayer_tx_replaced_total 1\n"));
        assert!(text.contains("relayer_queue_depth 4\n"));
        assert!(text.contains("relayer_lag_blocks 7\n"));
        assert!(text.contains("relayer_payouts{status=\"pending\"} 3\n"));
        assert!(text.contains("relayer_signer_balance_wei 1000000000000000000000\n"));
        assert!(
            text.contains(
                "relayer_instance_info{instance_id=\"pid1-ab\\\"c\",role=\"follower\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE relayer_leader gauge\nrelayer_leader 0\n"), "{text}");
        let leader = metrics.render(&Snapshot { role: Some(Role::Leader), ..Snapshot::default() });
        assert!(leader.contains("relayer_leader 1\n"), "{leader}");
        assert!(!leader.contains("relayer_instance_info"), "no id, no info: {leader}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn lag_is_unknown_until_set() {
        let metrics = Metrics::new();
        assert_eq!(metrics.lag(), None);
        assert!(!metrics.render(&Snapshot::default()).contains("relayer_lag_blocks"));
        metrics.set_lag(0);
        assert_eq!(metrics.lag(), Some(0));
    }
}
