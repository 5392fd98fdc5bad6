//! End-to-end tests of the library layer against a real anvil (chain id 33), most of them through
//! the Rootstock-like JSON-RPC proxy of `shiftpay-tests` (no `eth_feeHistory`, typed transactions
//! rejected, 2,000-block `eth_getLogs` limit), so code that only works on Ethereum-like nodes
//! fails here. One test binary; each test starts its own anvil (killed on drop).

mod chain_io;
mod common;
mod logs;
mod tls;
mod tx;
mod wallet;
