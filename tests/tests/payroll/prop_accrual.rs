//! Property tests of the accrual arithmetic and its rounding, against the reference model
//! ([`super::prop_model`]) and against closed-form formulas, for random rates, token decimals
//! (0, 6, 8, 18 and native), times, pauses, rate changes, end dates, deposits and withdrawals.
//!
//! Rounding properties checked:
//! - withdrawals never exceed deposits (per pool and for the contract's balance);
//! - a worker never loses a token unit: whatever the number of withdrawals, what was withdrawn
//!   plus what is still earned is the exact accrual rounded down (the loss is below one unit in
//!   total, so below one unit per withdrawal).

use std::sync::OnceLock;

use alloy::primitives::{Address, U256, aliases::U40};
use proptest::{prelude::*, test_runner::Config};
use shiftpay_bindings::payroll::Payroll;
use shiftpay_tests::Evm;

use super::prop_model::{Model, Status, scale_of};

const DAY: u64 = 86_400;
/// Tokens of the tests: ERC-20s with these decimals, then native rBTC.
const ERC20_DECIMALS: [u8; 4] = [0, 6, 8, 18];
const NATIVE: usize = 4;

#[derive(Clone)]
struct Chain {
    evm: Evm,
    payroll: Address,
    employer: Address,
    workers: [Address; 3],
    keeper: Address,
    /// ERC-20s of [`ERC20_DECIMALS`], then `Address::ZERO` (native).
    tokens: [Address; 5],
}

fn chain() -> &'static Chain {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let mut evm = Evm::new();
        let deployer = evm.account("accrual deployer");
        let payroll = evm.deploy(deployer, Payroll::BYTECODE.clone()).expect("Payroll deploys");
        let employer = evm.account("accrual employer");
        let workers = [
            evm.account("accrual worker 0"),
            evm.account("accrual worker 1"),
            evm.account("accrual worker 2"),
        ];
        let keeper = evm.account("accrual keeper");
        let huge = U256::from(10u64).pow(U256::from(38));
        let mut tokens = [Address::ZERO; 5];
        for (slot, decimals) in tokens.iter_mut().zip(ERC20_DECIMALS) {
            *slot = evm.deploy_token(deployer, &format!("T{decimals}"), decimals);
            evm.mint(*slot, employer, huge);
            evm.approve(*slot, employer, payroll, U256::MAX);
        }
        evm.set_balance(employer, huge);
        Chain { evm, payroll, employer, workers, keeper, tokens }
    })
}

fn decimals_of(token: usize) -> u8 {
    if token == NATIVE { 18 } else { ERC20_DECIMALS[token] }
}

/// A rate spread over the whole useful range: `mantissa * 10^exponent` scaled units per second
/// (from one scaled unit up to 10^27, i.e. a billion whole tokens per second).
fn rate() -> impl Strategy<Value = U256> {
    (1..1_000_000u64, 0..=21u32).prop_map(|(mantissa, exponent)| {
        U256::from(mantissa) * U256::from(10u64).pow(U256::from(exponent))
    })
}

fn elapsed() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..2 * DAY, 2 => 0..60 * DAY, 1 => 0..4 * 365 * DAY]
}

/// One employer / worker / token session on a fresh copy of the chain.
struct Session {
    chain: Chain,
    token: usize,
    model: Model,
    deposited: U256,
}

impl Session {
    fn new(token: usize) -> Self {
        Self { chain: chain().clone(), token, model: Model::default(), deposited: U256::ZERO }
    }

    fn now(&self) -> u64 {
        self.chain.evm.timestamp()
    }

    fn key(&self) -> (usize, usize) {
        (0, self.token)
    }

    fn token_address(&self) -> Address {
        self.chain.tokens[self.token]
    }

    fn balance(&mut self, who: Address) -> U256 {
        let token = self.token_address();
        self.chain.evm.balance_of(token, who)
    }

    fn create(&mut self, worker: usize, rate: U256, start: u64, end: u64) -> usize {
        let now = self.now();
        let (employer, payroll, token) =
            (self.chain.employer, self.chain.payroll, self.token_address());
        let id = self
            .chain
            .evm
            .send(
                employer,
                payroll,
                Payroll::createStreamCall {
                    worker: self.chain.workers[worker],
                    token,
                    rate: rate.to(),
                    start: U40::from(start),
                    end: U40::from(end),
                },
            )
            .expect("createStream")
            .ret;
        let index = self
            .model
            .create(self.key(), decimals_of(self.token), worker, rate, start, end, now)
            .expect("valid");
        assert_eq!(id, U256::from(index + 1));
        index
    }

    fn deposit(&mut self, amount: U256) {
        let (employer, payroll, token) =
            (self.chain.employer, self.chain.payroll, self.token_address());
        let value = if token.is_zero() { amount } else { U256::ZERO };
        self.chain
            .evm
            .send_value(employer, payroll, value, Payroll::depositCall { token, amount })
            .expect("deposit");
        self.model.deposit(self.key(), decimals_of(self.token), amount).expect("non-zero deposit");
        self.deposited += amount;
    }

    /// The worker withdraws `amount` to themself; checks the tokens arrived.
    fn withdraw(&mut self, index: usize, amount: U256) {
        let now = self.now();
        let worker = self.chain.workers[self.model.streams[index].worker];
        let before = self.balance(worker);
        let payroll = self.chain.payroll;
        self.chain
            .evm
            .send(
                worker,
                payroll,
                Payroll::withdrawCall { streamId: U256::from(index + 1), to: worker, amount },
            )
            .expect("withdraw of at most withdrawable");
        self.model.withdraw(index, amount, now).expect("model agrees it is withdrawable");
        assert_eq!(self.balance(worker), before + amount);
    }

    /// A keeper pays the stream out; checks the amount against the model.
    fn payout(&mut self, index: usize) {
        let now = self.now();
        let (keeper, payroll) = (self.chain.keeper, self.chain.payroll);
        let paid = self
            .chain
            .evm
            .send(keeper, payroll, Payroll::payoutCall { streamId: U256::from(index + 1) })
            .expect("payout")
            .ret;
        assert_eq!(paid, self.model.payout(index, now), "payout amount");
    }

    /// Every view of the session's pool and streams equals the model; the rounding properties.
    fn check(&mut self) {
        let now = self.now();
        let (employer, payroll, token) =
            (self.chain.employer, self.chain.payroll, self.token_address());
        for index in 0..self.model.streams.len() {
            let id = U256::from(index + 1);
            let earned =
                self.chain.evm.view(payroll, Payroll::earnedCall { streamId: id }).expect("earned");
            let withdrawable = self
                .chain
                .evm
                .view(payroll, Payroll::withdrawableCall { streamId: id })
                .expect("withdrawable");
            assert_eq!(earned, self.model.earned(index, now), "stream {id} earned at {now}");
            assert_eq!(
                withdrawable,
                self.model.withdrawable(index, now),
                "stream {id} withdrawable at {now}"
            );
            // The worker's total (withdrawn + still earned) is the exact accrual rounded down: the
            // rounding of all the withdrawals together costs less than one token unit.
            let stream = &self.model.streams[index];
            let scale = scale_of(decimals_of(self.token));
            let accrued = stream.accrued_scaled_at(now);
            let total = (stream.withdrawn + earned) * scale;
            assert!(
                total <= accrued && accrued - total < scale,
                "stream {id}: worker lost a token unit to rounding"
            );
        }
        let pool = self
            .chain
            .evm
            .view(payroll, Payroll::getPoolCall { employer, token })
            .expect("getPool");
        let (surplus, debt) = self.model.surplus_and_debt(self.key(), now);
        assert_eq!((pool.surplus, pool.debt), (surplus, debt), "pool surplus/debt at {now}");
        let withdrawn: U256 = self.model.streams.iter().map(|s| s.withdrawn).sum();
        assert!(withdrawn <= self.deposited, "withdrawals exceed deposits");
        assert_eq!(pool.balance, self.deposited - withdrawn, "pool balance");
        let held = self.balance(payroll);
        assert_eq!(held, self.deposited - withdrawn, "contract balance");
    }
}

#[derive(Debug, Clone)]
enum Op {
    Nothing,
    Pause,
    Resume,
    AdjustRate(U256),
    SetEnd(Option<u64>),
    /// Withdraw this share (per mille) of what is withdrawable.
    Withdraw(u16),
    Payout,
    /// Deposit this many days of pay at the current rate (per mille of a day) plus some units.
    Deposit(u32, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Nothing),
        2 => Just(Op::Pause),
        2 => Just(Op::Resume),
        2 => rate().prop_map(Op::AdjustRate),
        1 => prop_oneof![Just(None), (1..30 * DAY).prop_map(Some)].prop_map(Op::SetEnd),
        4 => (0..=1_000u16).prop_map(Op::Withdraw),
        2 => Just(Op::Payout),
        3 => (0..30_000u32, 0..1_000_000u64).prop_map(|(days, units)| Op::Deposit(days, units)),
    ]
}

fn config() -> Config {
    Config { failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config())]

    /// A single stream with no control earns exactly `floor(rate * (min(t, end) - start) / scale)`,
    /// computed here in closed form (no model), for every decimals and any schedule.
    #[test]
    fn single_stream_accrual_matches_closed_form(
        token in 0..5usize,
        rate in rate(),
        start_in in prop_oneof![Just(0u64), 0..10 * DAY],
        duration in prop_oneof![Just(None), (1..90 * DAY).prop_map(Some)],
        checkpoints in prop::collection::vec(elapsed(), 1..6),
    ) {
        let mut session = Session::new(token);
        let created = session.now();
        let start = if start_in == 0 { 0 } else { created + start_in };
        let effective_start = if start == 0 { created } else { start };
        let end = duration.map_or(0, |d| effective_start + d);
        session.create(0, rate, start, end);
        let scale = scale_of(decimals_of(token));
        for skip in checkpoints {
            session.chain.evm.skip(skip);
            let now = session.now();
            let until = if end == 0 { now } else { now.min(end) };
            let seconds = until.saturating_sub(effective_start);
            let expected = rate * U256::from(seconds) / scale;
            let payroll = session.chain.payroll;
            let earned = session.chain.evm.view(payroll, Payroll::earnedCall { streamId: U256::from(1) }).unwrap();
            prop_assert_eq!(earned, expected, "earned after {} s", seconds);
            // Unfunded: it is all debt, rounded up.
            let debt = session.chain.evm.view(payroll, Payroll::debtCall { employer: session.chain.employer, token: session.token_address() }).unwrap();
            prop_assert_eq!(debt, (rate * U256::from(seconds)).div_ceil(scale));
        }
    }

    /// Random sequences of pauses, resumes, rate changes, end dates, deposits, withdrawals and
    /// payouts on one stream: every view equals the model after each step; rounding properties.
    #[test]
    fn accrual_matches_reference_model(
        token in 0..5usize,
        initial_rate in rate(),
        steps in prop::collection::vec((elapsed(), op()), 1..25),
    ) {
        let mut session = Session::new(token);
        let index = session.create(0, initial_rate, 0, 0);
        let scale = scale_of(decimals_of(token));
        session.check();
        for (skip, op) in steps {
            session.chain.evm.skip(skip);
            let now = session.now();
            let (employer, payroll) = (session.chain.employer, session.chain.payroll);
            let id = U256::from(index + 1);
            let stream = session.model.streams[index].clone();
            match op {
                Op::Nothing => {}
                Op::Pause if stream.status == Status::Active => {
                    session.chain.evm.send(employer, payroll, Payroll::pauseCall { streamId: id }).expect("pause");
                    session.model.pause(index, true, now).unwrap();
                }
                Op::Resume if stream.status == Status::Paused => {
                    session.chain.evm.send(employer, payroll, Payroll::resumeCall { streamId: id }).expect("resume");
                    session.model.resume(index, true, now).unwrap();
                }
                Op::AdjustRate(rate) => {
                    session.chain.evm.send(employer, payroll, Payroll::adjustRateCall { streamId: id, newRate: rate.to() }).expect("adjustRate");
                    session.model.adjust_rate(index, true, rate, now).unwrap();
                }
                Op::SetEnd(end_in) => {
                    let new_end = end_in.map_or(0, |d| now + d);
                    if new_end == 0 || new_end > stream.start {
                        session.chain.evm.send(employer, payroll, Payroll::setEndCall { streamId: id, newEnd: U40::from(new_end) }).expect("setEnd");
                        session.model.set_end(index, true, new_end, now).unwrap();
                    }
                }
                Op::Withdraw(per_mille) => {
                    let amount = session.model.withdrawable(index, now) * U256::from(per_mille) / U256::from(1_000);
                    if !amount.is_zero() {
                        session.withdraw(index, amount);
                    }
                }
                Op::Payout => {
                    let covered = session.model.withdrawable(index, now) == session.model.earned(index, now);
                    session.payout(index);
                    // A full payout of a covered stream leaves less than one unit owed.
                    if covered {
                        prop_assert!(session.model.owed_scaled(index, now) < scale);
                    }
                }
                Op::Deposit(day_per_mille, units) => {
                    let rate = session.model.streams[index].rate;
                    let amount = rate * U256::from(DAY) * U256::from(day_per_mille) / U256::from(1_000) / scale + U256::from(units);
                    if !amount.is_zero() {
                        session.deposit(amount);
                    }
                }
                // Pause of a paused stream, resume of an active one: invalid, covered by the
                // invariant test.
                Op::Pause | Op::Resume => {}
            }
            session.check();
        }
    }

    /// Three streams from one underfunded pool, paid out in random order with small, irregular
    /// deposits: payouts never exceed deposits, the shortfall is debt (rounded up), and depositing
    /// that debt makes every stream's full earnings withdrawable.
    #[test]
    fn withdrawals_never_exceed_deposits_and_debt_is_repaid_in_full(
        token in 0..5usize,
        rates in prop::collection::vec(rate(), 3),
        rounds in prop::collection::vec((elapsed(), 0..1_000_000u64, prop::collection::vec(0..3usize, 0..4)), 1..12),
    ) {
        let mut session = Session::new(token);
        for (worker, &rate) in rates.iter().enumerate() {
            session.create(worker, rate, 0, 0);
        }
        for (skip, deposit, payouts) in rounds {
            session.chain.evm.skip(skip);
            if deposit > 0 {
                session.deposit(U256::from(deposit));
            }
            for index in payouts {
                session.payout(index);
            }
            session.check();
        }
        let now = session.now();
        let (_, debt) = session.model.surplus_and_debt(session.key(), now);
        if !debt.is_zero() {
            session.deposit(debt);
        }
        prop_assert_eq!(session.model.surplus_and_debt(session.key(), now).1, U256::ZERO);
        for index in 0..3 {
            let payroll = session.chain.payroll;
            let id = U256::from(index + 1);
            let earned = session.chain.evm.view(payroll, Payroll::earnedCall { streamId: id }).unwrap();
            let withdrawable = session.chain.evm.view(payroll, Payroll::withdrawableCall { streamId: id }).unwrap();
            prop_assert_eq!(withdrawable, earned, "stream {} not fully covered after repaying the debt", id);
            session.payout(index);
        }
        session.check();
    }
}
