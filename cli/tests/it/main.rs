//! Integration tests of the `shiftpay` binary: one test binary (`it`), one module per command.
//!
//! Tests that need a node spawn their own anvil (`common::anvil()`, the workspace's pinned
//! Foundry anvil from `node_modules`) on a free port, killed on drop, and run the built binary in
//! a `common::Sandbox` (temporary `HOME` and working directory, no inherited `SHIFTPAY_*`
//! variables), so nothing on the machine is read or written. Human output is checked with
//! `insta` snapshots (`tests/it/snapshots/`, hashes, addresses and ports redacted); `--json`
//! output is parsed.

mod common;
mod contracts;
mod demo;
mod deploy;
mod devnet;
mod docs;
mod job;
mod metamask;
mod roster;
mod safe;
mod sign;
mod stream;
mod treasury;
mod wallet;
