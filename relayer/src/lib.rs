//! `shiftpay-relayer`: watches the ShiftPay contracts' events and submits due payouts and
//! wallet-signed (EIP-712) requests, so workers never need rBTC for gas.
//!
//! Layers (the README's "The relayer" section shows how to run it and what it never does):
//! - [`config`]: `relayer.toml` + environment, checked before anything starts.
//! - [`store`]: the [`store::Store`] trait (cursor, block window, payout queue, transactions,
//!   nonces, API requests) with in-memory and SQLite backends.
//! - [`watcher`]: confirmed logs, reorg rollback, and the release / `finalizeCancel` payouts
//!   the events call for ([`scheduler::ReleasePlanner`]).
//! - [`scheduler`]: paydays and payout thresholds.
//! - [`sender`]: on-chain re-check, nonce + signed bytes recorded in one store transaction,
//!   broadcast, confirmation, replacement of stuck transactions.
//! - [`api`]: signed requests in, their state out, `/health`, `/ready`, [`metrics`].
//! - [`service`]: the task owner: [`Relayer::start`] builds the provider, store and signer and
//!   spawns the tasks; [`RelayerHandle::shutdown`] stops them in order.
//!
//! Chain facts, contract bindings, typed data and the transaction policy come from
//! [`shiftpay_bindings`] (re-exported as [`bindings`]); nothing here re-declares them.

pub use shiftpay_bindings as bindings;

pub mod config;
pub mod store;

pub use config::Config;
pub mod api;
pub mod metrics;
pub mod scheduler;
pub mod sender;
pub mod service;
pub mod watcher;

pub use service::{Relayer, RelayerHandle};
