//! Integration tests of `shiftpay-relayer` (one test binary, `cargo test -p shiftpay-relayer`).

mod api;
mod check_config;
mod common;
mod devnet;
mod scheduler;
mod sender;
mod service;
mod store;
mod watcher;
