//! Bindings of the test-only contracts in `contracts/test/` (compiled into `tests/artifacts/` by
//! `cargo xtask contracts build`). Never deployed on a live chain.
#![allow(missing_docs)]

alloy::sol!(
    #[sol(rpc, all_derives)]
    MockERC20,
    "artifacts/MockERC20.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    FeeOnTransferERC20,
    "artifacts/FeeOnTransferERC20.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    FalseReturningERC20,
    "artifacts/FalseReturningERC20.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    NonZeroApprovalERC20,
    "artifacts/NonZeroApprovalERC20.json"
);
