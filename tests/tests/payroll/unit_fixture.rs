//! Shared setup of the payroll unit tests: a deployed `Payroll`, an employer, a worker, tokens
//! with any decimals, and short helpers for the calls every test makes.

use alloy::primitives::{Address, U256, aliases::U40};
use shiftpay_bindings::payroll::Payroll;
use shiftpay_tests::{Evm, Receipt, TxError};

alloy::sol!(
    #[sol(rpc, all_derives)]
    ReentrantERC20,
    "artifacts/ReentrantERC20.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    NativeRecipientAttacker,
    "artifacts/NativeRecipientAttacker.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    MockERC1271Wallet,
    "artifacts/MockERC1271Wallet.json"
);

/// The native coin (rBTC) as a token address.
pub(crate) const NATIVE: Address = Address::ZERO;

/// One whole token of a token with `decimals` decimals, in token units.
pub(crate) fn units(decimals: u8, whole: u64) -> U256 {
    U256::from(whole) * U256::from(10).pow(U256::from(decimals))
}

/// `10^exp` as a `u128` rate (scaled units per second).
pub(crate) fn e(exp: u32) -> u128 {
    10u128.pow(exp)
}

/// A `uint40` timestamp argument.
pub(crate) fn t40(timestamp: u64) -> U40 {
    U40::from(timestamp)
}

/// A fresh chain with a deployed `Payroll` and labelled actors.
pub(crate) struct Fixture {
    pub(crate) evm: Evm,
    pub(crate) payroll: Address,
    pub(crate) employer: Address,
    pub(crate) worker: Address,
    pub(crate) relayer: Address,
}

impl Fixture {
    /// Deploys `Payroll` from a deployer account.
    pub(crate) fn new() -> Self {
        let mut evm = Evm::new();
        let deployer = evm.account("deployer");
        let payroll = evm.deploy(deployer, Payroll::BYTECODE.clone()).expect("Payroll deploys");
        let employer = evm.account("employer");
        let worker = evm.account("worker");
        let relayer = evm.account("relayer");
        Self { evm, payroll, employer, worker, relayer }
    }

    /// Current block timestamp.
    pub(crate) fn now(&self) -> u64 {
        self.evm.timestamp()
    }

    /// A mock ERC-20 with `decimals`, 10^12 whole tokens minted to the employer, approved to the payroll.
    pub(crate) fn token(&mut self, decimals: u8) -> Address {
        let token = self.evm.deploy_token(self.employer, &format!("T{decimals}"), decimals);
        self.fund_employer(token, units(decimals, 1_000_000_000_000));
        token
    }

    /// Mints `amount` of mock `token` to the employer and approves the payroll for everything.
    pub(crate) fn fund_employer(&mut self, token: Address, amount: U256) {
        self.evm.mint(token, self.employer, amount);
        self.evm.approve(token, self.employer, self.payroll, U256::MAX);
    }

    /// The employer deposits `amount` of `token` (native: sent as value).
    pub(crate) fn deposit(
        &mut self,
        token: Address,
        amount: U256,
    ) -> Receipt<Payroll::depositReturn> {
        let value = if token == NATIVE { amount } else { U256::ZERO };
        self.evm
            .send_value(self.employer, self.payroll, value, Payroll::depositCall { token, amount })
            .expect("deposit succeeds")
    }

    /// The employer creates a stream to the worker; returns its id.
    pub(crate) fn create(&mut self, token: Address, rate: u128, start: u64, end: u64) -> U256 {
        let worker = self.worker;
        self.create_for(worker, token, rate, start, end)
    }

    /// The employer creates a stream to `worker`; returns its id.
    pub(crate) fn create_for(
        &mut self,
        worker: Address,
        token: Address,
        rate: u128,
        start: u64,
        end: u64,
    ) -> U256 {
        self.try_create(self.employer, worker, token, rate, start, end)
            .expect("createStream succeeds")
            .ret
    }

    /// `from` calls `createStream`.
    pub(crate) fn try_create(
        &mut self,
        from: Address,
        worker: Address,
        token: Address,
        rate: u128,
        start: u64,
        end: u64,
    ) -> Result<Receipt<U256>, TxError> {
        self.evm.send(
            from,
            self.payroll,
            Payroll::createStreamCall { worker, token, rate, start: t40(start), end: t40(end) },
        )
    }

    /// `withdrawable(id)`.
    pub(crate) fn withdrawable(&mut self, id: U256) -> U256 {
        self.evm
            .view(self.payroll, Payroll::withdrawableCall { streamId: id })
            .expect("withdrawable")
    }

    /// `earned(id)`.
    pub(crate) fn earned(&mut self, id: U256) -> U256 {
        self.evm.view(self.payroll, Payroll::earnedCall { streamId: id }).expect("earned")
    }

    /// `debt(employer, token)`.
    pub(crate) fn debt(&mut self, token: Address) -> U256 {
        let employer = self.employer;
        self.evm.view(self.payroll, Payroll::debtCall { employer, token }).expect("debt")
    }

    /// `surplus(employer, token)`.
    pub(crate) fn surplus(&mut self, token: Address) -> U256 {
        let employer = self.employer;
        self.evm.view(self.payroll, Payroll::surplusCall { employer, token }).expect("surplus")
    }

    /// `poolBalance(employer, token)`.
    pub(crate) fn pool_balance(&mut self, token: Address) -> U256 {
        let employer = self.employer;
        self.evm
            .view(self.payroll, Payroll::poolBalanceCall { employer, token })
            .expect("poolBalance")
    }

    /// `getStream(id)`.
    pub(crate) fn stream(
        &mut self,
        id: U256,
    ) -> shiftpay_bindings::payroll::PayrollTypes::StreamView {
        self.evm.view(self.payroll, Payroll::getStreamCall { streamId: id }).expect("getStream")
    }

    /// The payroll contract's balance of `token` (native or ERC-20).
    pub(crate) fn contract_balance(&mut self, token: Address) -> U256 {
        let payroll = self.payroll;
        self.evm.balance_of(token, payroll)
    }

    /// The worker withdraws `amount` of stream `id` to `to`.
    pub(crate) fn withdraw(
        &mut self,
        id: U256,
        to: Address,
        amount: U256,
    ) -> Result<Receipt<()>, TxError> {
        self.evm
            .send(self.worker, self.payroll, Payroll::withdrawCall { streamId: id, to, amount })
            .map(|r| Receipt { ret: (), gas_used: r.gas_used, logs: r.logs })
    }

    /// The employer calls `call` (an employer control) on the payroll.
    pub(crate) fn as_employer<C: alloy::sol_types::SolCall>(
        &mut self,
        call: C,
    ) -> Result<Receipt<C::Return>, TxError> {
        self.evm.send(self.employer, self.payroll, call)
    }
}

/// `unwrap_err` for call results whose success type is not `Debug` (alloy's empty return structs).
pub(crate) trait ExpectRevert {
    /// The error of a call that must have failed; panics if it succeeded.
    fn reverted(self) -> TxError;
}

impl<T> ExpectRevert for Result<T, TxError> {
    #[track_caller]
    fn reverted(self) -> TxError {
        match self {
            Ok(_) => panic!("expected the call to revert, it succeeded"),
            Err(err) => err,
        }
    }
}
