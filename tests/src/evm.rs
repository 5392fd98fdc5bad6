//! An in-process EVM for contract tests and gas measurement: deploy artifacts, send calls through
//! alloy `sol!` types, move time, fund accounts, read logs and gas.
//!
//! Every transaction runs against a fresh revm instance built on the harness's own state
//! ([`CacheDB`]), so an [`Evm`] is a plain value: clone it to snapshot a scenario and branch.
//! Gas is priced at zero, so native balances change only by the value transferred; gas figures
//! are `tx_gas_used` (intrinsic 21,000 included), the same figure a receipt shows.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, B256, Bytes, Log, TxKind, U256, keccak256},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolError, SolEvent, SolInterface},
};
use revm::{
    Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    database_interface::DatabaseRef,
    primitives::hardfork::SpecId,
    state::AccountInfo,
};

use crate::mocks::MockERC20;

/// Chain id of the harness (anvil's default), so signatures made for it are valid on a devnet too.
pub const CHAIN_ID: u64 = 31_337;
/// Block timestamp the harness starts at: a fixed moment so gas and amounts are repeatable.
pub const GENESIS_TIMESTAMP: u64 = 1_750_000_000;
/// Native balance every [`Evm::account`] starts with: one million rBTC.
pub const ACCOUNT_BALANCE: U256 = U256::from_limbs([0x1bce_cced_a100_0000, 0xd3c2, 0, 0]);
/// Gas limit of each transaction: Rootstock's block gas limit, so a call that passes here fits
/// in one Rootstock block.
pub const TX_GAS_LIMIT: u64 = 6_800_000;

/// Why a transaction did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The EVM executed `REVERT`; the payload is the revert data (custom error or reason).
    #[error("reverted with 0x{}", alloy::hex::encode(.0))]
    Revert(Bytes),
    /// The EVM halted (out of gas, invalid opcode, ...).
    #[error("halted: {0}")]
    Halt(String),
    /// The transaction was invalid before execution (nonce, balance, ...).
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// A call succeeded but its return data did not decode as the expected type.
    #[error("undecodable return data: {0}")]
    Decode(String),
}

impl TxError {
    /// The revert payload, if the transaction reverted.
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::Revert(data) => Some(data),
            _ => None,
        }
    }

    /// Decodes the revert payload as the custom error `E`, if it is one.
    pub fn decode<E: SolError>(&self) -> Option<E> {
        self.revert_data().and_then(|data| E::abi_decode(data).ok())
    }

    /// Decodes the revert payload as one of the errors of a contract's error enum.
    pub fn decode_any<E: SolInterface>(&self) -> Option<E> {
        self.revert_data().and_then(|data| E::abi_decode(data).ok())
    }

    /// Asserts the transaction reverted with exactly `expected` (selector and arguments).
    #[track_caller]
    pub fn expect_error<E: SolError + PartialEq + std::fmt::Debug>(&self, expected: E) {
        match self.decode::<E>() {
            Some(actual) => assert_eq!(actual, expected, "reverted with other arguments"),
            None => panic!("expected revert {}, got {self}", E::SIGNATURE),
        }
    }

    /// Asserts the transaction reverted with the custom error `E`, whatever its arguments.
    #[track_caller]
    pub fn expect_selector<E: SolError>(&self) {
        let data = self
            .revert_data()
            .unwrap_or_else(|| panic!("expected revert {}, got {self}", E::SIGNATURE));
        assert!(
            data.len() >= 4 && data[..4] == E::SELECTOR,
            "expected revert {}, got {self}",
            E::SIGNATURE
        );
    }
}

/// What a successful transaction returned.
#[derive(Debug, Clone)]
pub struct Receipt<T> {
    /// The decoded return value.
    pub ret: T,
    /// Gas used by the whole transaction, intrinsic cost included.
    pub gas_used: u64,
    /// Logs in emission order.
    pub logs: Vec<Log>,
}

impl<T> Receipt<T> {
    /// Decodes every log that is event `E` (by topic 0), in order.
    pub fn events<E: SolEvent>(&self) -> Vec<E> {
        decode_events(&self.logs)
    }

    /// The only `E` event of the transaction; panics when there is not exactly one.
    #[track_caller]
    pub fn event<E: SolEvent>(&self) -> E {
        let mut events = self.events::<E>();
        assert_eq!(events.len(), 1, "expected exactly one {} event", E::SIGNATURE);
        events.remove(0)
    }
}

/// Decodes every log in `logs` that is event `E`, in order.
pub fn decode_events<E: SolEvent>(logs: &[Log]) -> Vec<E> {
    logs.iter()
        .filter(|log| log.topics().first() == Some(&E::SIGNATURE_HASH))
        .map(|log| E::decode_log(log).expect("log with the event's topic decodes").data)
        .collect()
}

/// The in-process EVM. See the module docs.
#[derive(Debug, Clone)]
pub struct Evm {
    db: CacheDB<EmptyDB>,
    block: BlockEnv,
    cfg: CfgEnv,
    labels: BTreeMap<Address, String>,
}

impl Default for Evm {
    fn default() -> Self {
        Self::new()
    }
}

impl Evm {
    /// A fresh chain at [`GENESIS_TIMESTAMP`], block 1, chain id [`CHAIN_ID`], Cancun rules
    /// (a superset of the Shanghai level ShiftPay compiles for, so third-party bytecode runs too).
    pub fn new() -> Self {
        let mut cfg = CfgEnv::new_with_spec(SpecId::CANCUN);
        cfg.chain_id = CHAIN_ID;
        let block = BlockEnv {
            number: U256::from(1),
            timestamp: U256::from(GENESIS_TIMESTAMP),
            gas_limit: TX_GAS_LIMIT,
            basefee: 0,
            ..Default::default()
        };
        Self { db: CacheDB::default(), block, cfg, labels: BTreeMap::new() }
    }

    /// The chain id transactions and signatures use.
    pub fn chain_id(&self) -> u64 {
        self.cfg.chain_id
    }

    /// Changes the chain id (to test signatures made for another chain).
    pub fn set_chain_id(&mut self, chain_id: u64) {
        self.cfg.chain_id = chain_id;
    }

    /// The private key behind the account labelled `label`: `keccak256(label)`. Deterministic, so
    /// tests and external signers agree on it.
    pub fn private_key(label: &str) -> B256 {
        keccak256(format!("shiftpay test account {label}"))
    }

    /// An alloy signer for the account labelled `label`.
    pub fn signer(&self, label: &str) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&Self::private_key(label))
            .expect("keccak output is a valid key")
    }

    /// The address of the account labelled `label`, funded with [`ACCOUNT_BALANCE`] on first use.
    pub fn account(&mut self, label: &str) -> Address {
        let address = self.signer(label).address();
        if let std::collections::btree_map::Entry::Vacant(entry) = self.labels.entry(address) {
            entry.insert(label.to_owned());
            if self.balance(address).is_zero() {
                self.set_balance(address, ACCOUNT_BALANCE);
            }
        }
        address
    }

    /// The label an address was created with, for readable failure messages.
    pub fn label(&self, address: Address) -> String {
        self.labels.get(&address).cloned().unwrap_or_else(|| address.to_string())
    }

    /// Current block timestamp.
    pub fn timestamp(&self) -> u64 {
        self.block.timestamp.to()
    }

    /// Sets the block timestamp (and advances the block number, as a new block would).
    pub fn warp(&mut self, timestamp: u64) {
        self.block.timestamp = U256::from(timestamp);
        self.block.number += U256::from(1);
    }

    /// Moves time forward by `seconds`.
    pub fn skip(&mut self, seconds: u64) {
        self.warp(self.timestamp() + seconds);
    }

    /// Current block number.
    pub fn block_number(&self) -> u64 {
        self.block.number.to()
    }

    fn account_info(&self, address: Address) -> AccountInfo {
        self.db.basic_ref(address).ok().flatten().unwrap_or_default()
    }

    /// Native balance of `address`, in wei.
    pub fn balance(&self, address: Address) -> U256 {
        self.account_info(address).balance
    }

    /// Sets the native balance of `address`.
    pub fn set_balance(&mut self, address: Address, wei: U256) {
        let mut info = self.account_info(address);
        info.balance = wei;
        self.db.insert_account_info(address, info);
    }

    /// Runtime code of `address` (empty for an EOA).
    pub fn code(&self, address: Address) -> Bytes {
        self.account_info(address).code.map(|c| c.original_bytes()).unwrap_or_default()
    }

    fn run(
        &mut self,
        from: Address,
        kind: TxKind,
        value: U256,
        data: Bytes,
        commit: bool,
    ) -> Result<ExecutionResult, TxError> {
        let nonce = self.account_info(from).nonce;
        let tx = TxEnv::builder()
            .caller(from)
            .nonce(nonce)
            .kind(kind)
            .value(value)
            .data(data)
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .chain_id(Some(self.cfg.chain_id))
            .build()
            .map_err(|e| TxError::Invalid(format!("{e:?}")))?;
        let db = std::mem::take(&mut self.db);
        let mut evm = Context::mainnet()
            .with_db(db)
            .with_block(self.block.clone())
            .with_cfg(self.cfg.clone())
            .build_mainnet();
        let outcome = if commit {
            evm.transact_commit(tx)
        } else {
            evm.transact(tx).map(|result_and_state| result_and_state.result)
        };
        self.db = evm.ctx.journaled_state.database;
        let result = outcome.map_err(|e| TxError::Invalid(e.to_string()))?;
        match result {
            ExecutionResult::Success { .. } => Ok(result),
            ExecutionResult::Revert { output, .. } => Err(TxError::Revert(output)),
            ExecutionResult::Halt { reason, .. } => Err(TxError::Halt(format!("{reason:?}"))),
        }
    }

    /// Deploys `init_code` (creation bytecode followed by ABI-encoded constructor arguments) from
    /// `from` and returns the new contract's address.
    pub fn deploy(
        &mut self,
        from: Address,
        init_code: impl Into<Bytes>,
    ) -> Result<Address, TxError> {
        self.deploy_with_value(from, U256::ZERO, init_code)
    }

    /// [`Self::deploy`] with native value sent to a payable constructor.
    pub fn deploy_with_value(
        &mut self,
        from: Address,
        value: U256,
        init_code: impl Into<Bytes>,
    ) -> Result<Address, TxError> {
        let result = self.run(from, TxKind::Create, value, init_code.into(), true)?;
        result.created_address().ok_or_else(|| TxError::Halt("create returned no address".into()))
    }

    /// Deploys and also reports the deployment's gas.
    pub fn deploy_measured(
        &mut self,
        from: Address,
        init_code: impl Into<Bytes>,
    ) -> Result<(Address, u64), TxError> {
        let result = self.run(from, TxKind::Create, U256::ZERO, init_code.into(), true)?;
        let gas = result.tx_gas_used();
        let address = result
            .created_address()
            .ok_or_else(|| TxError::Halt("create returned no address".into()))?;
        Ok((address, gas))
    }

    /// Sends `call` from `from` to `to` and commits its effects.
    pub fn send<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: C,
    ) -> Result<Receipt<C::Return>, TxError> {
        self.send_value(from, to, U256::ZERO, call)
    }

    /// Sends `call` with `value` wei attached and commits its effects.
    pub fn send_value<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
        call: C,
    ) -> Result<Receipt<C::Return>, TxError> {
        let receipt = self.send_raw(from, to, value, call.abi_encode().into())?;
        let ret =
            C::abi_decode_returns(&receipt.ret).map_err(|e| TxError::Decode(e.to_string()))?;
        Ok(Receipt { ret, gas_used: receipt.gas_used, logs: receipt.logs })
    }

    /// Sends raw calldata (or a plain value transfer with empty data) and commits its effects.
    pub fn send_raw(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
        data: Bytes,
    ) -> Result<Receipt<Bytes>, TxError> {
        let result = self.run(from, TxKind::Call(to), value, data, true)?;
        let gas_used = result.tx_gas_used();
        let ret = result.output().cloned().unwrap_or_default();
        Ok(Receipt { ret, gas_used, logs: result.into_logs() })
    }

    /// Executes `call` without committing anything (an `eth_call`) and decodes its return.
    pub fn view<C: SolCall>(&mut self, to: Address, call: C) -> Result<C::Return, TxError> {
        let result =
            self.run(Address::ZERO, TxKind::Call(to), U256::ZERO, call.abi_encode().into(), false)?;
        let output = result.output().cloned().unwrap_or_default();
        C::abi_decode_returns(&output).map_err(|e| TxError::Decode(e.to_string()))
    }

    /// Executes `call` from `from` without committing, returning what a send would (gas included).
    pub fn simulate<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: C,
    ) -> Result<Receipt<C::Return>, TxError> {
        let result =
            self.run(from, TxKind::Call(to), U256::ZERO, call.abi_encode().into(), false)?;
        let gas_used = result.tx_gas_used();
        let output = result.output().cloned().unwrap_or_default();
        let ret = C::abi_decode_returns(&output).map_err(|e| TxError::Decode(e.to_string()))?;
        Ok(Receipt { ret, gas_used, logs: result.into_logs() })
    }

    /// Deploys a [`MockERC20`] test token with `decimals` and returns its address.
    pub fn deploy_token(&mut self, from: Address, symbol: &str, decimals: u8) -> Address {
        let init = [
            MockERC20::BYTECODE.as_ref(),
            &alloy::sol_types::SolConstructor::abi_encode(&MockERC20::constructorCall {
                name_: format!("Mock {symbol}"),
                symbol_: symbol.to_owned(),
                decimals_: decimals,
            }),
        ]
        .concat();
        self.deploy(from, init).expect("mock token deploys")
    }

    /// Mints `amount` of a [`MockERC20`] `token` to `to`.
    pub fn mint(&mut self, token: Address, to: Address, amount: U256) {
        self.send(to, token, MockERC20::mintCall { to, amount }).expect("mint succeeds");
    }

    /// ERC-20 balance of `owner`.
    pub fn token_balance(&mut self, token: Address, owner: Address) -> U256 {
        self.view(token, MockERC20::balanceOfCall { account: owner }).expect("balanceOf succeeds")
    }

    /// `owner` approves `spender` for `amount` of `token`.
    pub fn approve(&mut self, token: Address, owner: Address, spender: Address, amount: U256) {
        self.send(owner, token, MockERC20::approveCall { spender, value: amount })
            .expect("approve succeeds");
    }

    /// Balance of `owner` in `token`, where `Address::ZERO` means the native coin.
    pub fn balance_of(&mut self, token: Address, owner: Address) -> U256 {
        if token.is_zero() { self.balance(owner) } else { self.token_balance(token, owner) }
    }
}
