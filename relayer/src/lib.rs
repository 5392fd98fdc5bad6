//! `shiftpay-relayer`: watches the ShiftPay contracts' events and submits due payouts and
//! wallet-signed (EIP-712) requests, so workers never need rBTC for gas.
//!
//! This crate is a workspace member from the start so its dependency direction is fixed
//! (it imports contract types from `shiftpay-bindings`, never the other way round); the watcher,
//! scheduler, sender and store arrive with the relayer issue.

pub use shiftpay_bindings as bindings;
