//! Integration tests of `shiftpay-relayer` (one test binary, `cargo test -p shiftpay-relayer`).

mod api;
mod binary;
mod check_config;
mod common;
mod devnet;
mod e2e;
mod faults;
mod finalize;
mod instances;
mod pg_faults;
mod scheduler;
mod sender;
mod service;
mod store;
mod watcher;
mod web;
