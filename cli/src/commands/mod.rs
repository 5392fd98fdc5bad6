//! One module per `shiftpay` subcommand.

pub(crate) mod contracts;
