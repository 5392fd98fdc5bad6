//! One module per `shiftpay` subcommand.

pub(crate) mod chains;
pub(crate) mod contracts;
pub(crate) mod demo;
pub(crate) mod deploy;
pub(crate) mod devnet;
pub(crate) mod job;
pub(crate) mod payroll_common;
pub(crate) mod safe;
pub(crate) mod sign;
pub(crate) mod stream;
pub(crate) mod submit;
pub(crate) mod treasury;
pub(crate) mod verify;
pub(crate) mod wallet;
