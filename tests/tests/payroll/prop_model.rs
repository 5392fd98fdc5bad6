//! Reference model of the payroll accounting, in plain Rust `U256` arithmetic, written from the
//! documented rules of `IPayroll` / `PayrollTypes` (not from the contract's code):
//!
//! - rates are 18-decimal ("scaled") token units per second; a token with `d` decimals has
//!   `scale = 10^(18 - d)` scaled units per token unit;
//! - a stream accrues `rate * (min(now, end) - max(last, start))` while active, where `last` is the
//!   last time it was settled (creation, any employer control, resume);
//! - `earned` = (accrued - withdrawn * scale) / scale, rounded down: the remainder stays owed;
//! - per pool: `balance` = deposits - employer withdrawals - worker withdrawals, and
//!   `surplusScaled` = (deposits - employer withdrawals) * scale - everything its streams ever
//!   accrued; `surplus` rounds it down, `debt` rounds its negative part up;
//! - `withdrawable` = min(earned, pool balance).
//!
//! The model keeps every stream's accrual exact (scaled units), so the tests can check the
//! contract's rounded views against exact values and the accounting identities hold exactly.

use alloy::primitives::U256;

/// Lifecycle of a model stream (same meaning as `PayrollTypes.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    Paused,
    Canceled,
}

/// Why the model expects a call to revert; each maps to one `Errors.Payroll_*` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    ZeroAmount,
    ZeroRate,
    StartInPast,
    InvalidEnd,
    NotEmployer,
    NotWorker,
    StreamCanceled,
    StreamPaused,
    StreamNotPaused,
    AmountExceedsWithdrawable,
    AmountExceedsSurplus,
}

/// One employer's pool of one token.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    /// Scaled units per token unit.
    pub(crate) scale: U256,
    /// Deposits minus employer withdrawals, in token units.
    pub(crate) funded: U256,
    /// Token units the pool holds.
    pub(crate) balance: U256,
    /// Indices (into [`Model::streams`]) of the pool's streams.
    pub(crate) streams: Vec<usize>,
}

/// One stream, settled lazily like the contract's.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    /// The pool key `(employer, token)` (indices chosen by the test).
    pub(crate) pool: (usize, usize),
    /// The worker (index chosen by the test).
    pub(crate) worker: usize,
    pub(crate) rate: U256,
    pub(crate) start: u64,
    /// 0 = open-ended.
    pub(crate) end: u64,
    pub(crate) status: Status,
    /// Last settlement time.
    pub(crate) last: u64,
    /// Everything the stream accrued up to `last`, in scaled units (never decreases).
    pub(crate) accrued_scaled: U256,
    /// Token units withdrawn from the stream.
    pub(crate) withdrawn: U256,
}

impl Stream {
    /// Scaled units accrued between `last` and `now` that are not settled yet.
    fn pending_scaled(&self, now: u64) -> U256 {
        if self.status != Status::Active {
            return U256::ZERO;
        }
        let from = self.last.max(self.start);
        let to = if self.end == 0 { now } else { now.min(self.end) };
        if to > from { self.rate * U256::from(to - from) } else { U256::ZERO }
    }

    /// Everything accrued up to `now`, in scaled units.
    pub(crate) fn accrued_scaled_at(&self, now: u64) -> U256 {
        self.accrued_scaled + self.pending_scaled(now)
    }

    fn settle(&mut self, now: u64) {
        self.accrued_scaled = self.accrued_scaled_at(now);
        self.last = now;
    }
}

/// The whole contract: pools keyed by `(employer, token)` and streams in creation order (stream
/// id = index + 1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub(crate) pools: std::collections::BTreeMap<(usize, usize), Pool>,
    pub(crate) streams: Vec<Stream>,
}

/// `10^(18 - decimals)`.
pub(crate) fn scale_of(decimals: u8) -> U256 {
    U256::from(10u64).pow(U256::from(18 - decimals))
}

impl Model {
    fn pool_mut(&mut self, key: (usize, usize), decimals: u8) -> &mut Pool {
        self.pools.entry(key).or_insert_with(|| Pool {
            scale: scale_of(decimals),
            funded: U256::ZERO,
            balance: U256::ZERO,
            streams: Vec::new(),
        })
    }

    /// A deposit of `amount` token units into `key`'s pool (opening it if needed).
    pub(crate) fn deposit(
        &mut self,
        key: (usize, usize),
        decimals: u8,
        amount: U256,
    ) -> Result<(), Reject> {
        if amount.is_zero() {
            return Err(Reject::ZeroAmount);
        }
        let pool = self.pool_mut(key, decimals);
        pool.funded += amount;
        pool.balance += amount;
        Ok(())
    }

    /// Creates a stream; returns its index. `start` / `end` as passed to `createStream`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create(
        &mut self,
        key: (usize, usize),
        decimals: u8,
        worker: usize,
        rate: U256,
        start: u64,
        end: u64,
        now: u64,
    ) -> Result<usize, Reject> {
        if rate.is_zero() {
            return Err(Reject::ZeroRate);
        }
        let start = if start == 0 {
            now
        } else if start < now {
            return Err(Reject::StartInPast);
        } else {
            start
        };
        if end != 0 && end <= start {
            return Err(Reject::InvalidEnd);
        }
        let index = self.streams.len();
        self.pool_mut(key, decimals).streams.push(index);
        self.streams.push(Stream {
            pool: key,
            worker,
            rate,
            start,
            end,
            status: Status::Active,
            last: now,
            accrued_scaled: U256::ZERO,
            withdrawn: U256::ZERO,
        });
        Ok(index)
    }

    /// Common checks of the employer controls: caller and not canceled.
    fn controlled(
        &mut self,
        index: usize,
        caller_is_employer: bool,
    ) -> Result<&mut Stream, Reject> {
        let stream = &mut self.streams[index];
        if !caller_is_employer {
            return Err(Reject::NotEmployer);
        }
        if stream.status == Status::Canceled {
            return Err(Reject::StreamCanceled);
        }
        Ok(stream)
    }

    pub(crate) fn pause(
        &mut self,
        index: usize,
        caller_is_employer: bool,
        now: u64,
    ) -> Result<(), Reject> {
        let stream = self.controlled(index, caller_is_employer)?;
        if stream.status == Status::Paused {
            return Err(Reject::StreamPaused);
        }
        stream.settle(now);
        stream.status = Status::Paused;
        Ok(())
    }

    pub(crate) fn resume(
        &mut self,
        index: usize,
        caller_is_employer: bool,
        now: u64,
    ) -> Result<(), Reject> {
        let stream = self.controlled(index, caller_is_employer)?;
        if stream.status != Status::Paused {
            return Err(Reject::StreamNotPaused);
        }
        // Nothing accrues while paused: the accrual origin just moves to now.
        stream.settle(now);
        stream.status = Status::Active;
        Ok(())
    }

    pub(crate) fn adjust_rate(
        &mut self,
        index: usize,
        caller_is_employer: bool,
        new_rate: U256,
        now: u64,
    ) -> Result<(), Reject> {
        if new_rate.is_zero() {
            return Err(Reject::ZeroRate);
        }
        let stream = self.controlled(index, caller_is_employer)?;
        stream.settle(now);
        stream.rate = new_rate;
        Ok(())
    }

    pub(crate) fn set_end(
        &mut self,
        index: usize,
        caller_is_employer: bool,
        new_end: u64,
        now: u64,
    ) -> Result<(), Reject> {
        let stream = self.controlled(index, caller_is_employer)?;
        if new_end != 0 && (new_end <= now || new_end <= stream.start) {
            return Err(Reject::InvalidEnd);
        }
        // Settling first keeps what accrued up to the old end; an extension accrues from now.
        stream.settle(now);
        stream.end = new_end;
        Ok(())
    }

    pub(crate) fn cancel(
        &mut self,
        index: usize,
        caller_is_employer: bool,
        now: u64,
    ) -> Result<(), Reject> {
        let stream = self.controlled(index, caller_is_employer)?;
        stream.settle(now);
        stream.status = Status::Canceled;
        // Accrual stops now: the end becomes now if later (or open-ended), and a stream canceled
        // before its start never starts (start = end = now), so the record never reads end < start.
        stream.start = stream.start.min(now);
        if stream.end == 0 || stream.end > now {
            stream.end = now;
        }
        Ok(())
    }

    /// What stream `index` earned and has not withdrawn, in scaled units (exact).
    pub(crate) fn owed_scaled(&self, index: usize, now: u64) -> U256 {
        let stream = &self.streams[index];
        let scale = self.pools[&stream.pool].scale;
        stream.accrued_scaled_at(now) - stream.withdrawn * scale
    }

    /// `earned(id)`: owed, rounded down to token units.
    pub(crate) fn earned(&self, index: usize, now: u64) -> U256 {
        let scale = self.pools[&self.streams[index].pool].scale;
        self.owed_scaled(index, now) / scale
    }

    /// `withdrawable(id)`: min(earned, pool balance).
    pub(crate) fn withdrawable(&self, index: usize, now: u64) -> U256 {
        self.earned(index, now).min(self.pools[&self.streams[index].pool].balance)
    }

    /// Everything the pool's streams accrued up to `now`, in scaled units.
    pub(crate) fn pool_accrued_scaled(&self, key: (usize, usize), now: u64) -> U256 {
        self.pools[&key].streams.iter().map(|&i| self.streams[i].accrued_scaled_at(now)).sum()
    }

    /// `(surplus, debt)` of a pool in token units: surplus rounded down, debt rounded up.
    pub(crate) fn surplus_and_debt(&self, key: (usize, usize), now: u64) -> (U256, U256) {
        let pool = &self.pools[&key];
        let funded_scaled = pool.funded * pool.scale;
        let accrued = self.pool_accrued_scaled(key, now);
        if funded_scaled >= accrued {
            ((funded_scaled - accrued) / pool.scale, U256::ZERO)
        } else {
            (U256::ZERO, (accrued - funded_scaled).div_ceil(pool.scale))
        }
    }

    /// The worker withdraws (or gets paid) `amount` token units from stream `index`.
    pub(crate) fn withdraw(&mut self, index: usize, amount: U256, now: u64) -> Result<(), Reject> {
        if amount.is_zero() {
            return Err(Reject::ZeroAmount);
        }
        if amount > self.withdrawable(index, now) {
            return Err(Reject::AmountExceedsWithdrawable);
        }
        let key = self.streams[index].pool;
        self.streams[index].withdrawn += amount;
        self.pools.get_mut(&key).expect("stream's pool exists").balance -= amount;
        Ok(())
    }

    /// `payout(id)`: pays everything withdrawable; returns the amount (0: nothing happens).
    pub(crate) fn payout(&mut self, index: usize, now: u64) -> U256 {
        let amount = self.withdrawable(index, now);
        if !amount.is_zero() {
            self.withdraw(index, amount, now).expect("withdrawable amount is withdrawable");
        }
        amount
    }

    /// The employer takes `amount` of its pool's surplus.
    pub(crate) fn withdraw_surplus(
        &mut self,
        key: (usize, usize),
        amount: U256,
        now: u64,
    ) -> Result<(), Reject> {
        if amount.is_zero() {
            return Err(Reject::ZeroAmount);
        }
        if !self.pools.contains_key(&key) || amount > self.surplus_and_debt(key, now).0 {
            return Err(Reject::AmountExceedsSurplus);
        }
        let pool = self.pools.get_mut(&key).expect("checked above");
        pool.funded -= amount;
        pool.balance -= amount;
        Ok(())
    }

    /// Checks the model's own accounting identity for one pool, exactly in scaled units:
    /// `balance * scale == (funded * scale - accrued) + sum(owed)`, i.e. what the pool holds is
    /// exactly its free part plus what its streams are owed (the free part being negative when
    /// the pool is in debt).
    pub(crate) fn assert_pool_identity(&self, key: (usize, usize), now: u64) {
        let pool = &self.pools[&key];
        let owed: U256 = pool.streams.iter().map(|&i| self.owed_scaled(i, now)).sum();
        let lhs = pool.balance * pool.scale + self.pool_accrued_scaled(key, now);
        let rhs = pool.funded * pool.scale + owed;
        assert_eq!(lhs, rhs, "model identity broken for pool {key:?}");
    }
}

#[cfg(test)]
mod tests {
    //! Sanity checks of the model itself on hand-computed cases.
    use super::*;

    const T0: u64 = 1_000;

    #[test]
    fn open_ended_stream_accrues_linearly_and_rounds_down() {
        let mut model = Model::default();
        // 6 decimals: scale 1e12; rate 1.5e12 scaled/s = 1.5 token units per second.
        let index = model.create((0, 0), 6, 0, U256::from(1_500_000_000_000u64), 0, 0, T0).unwrap();
        assert_eq!(model.earned(index, T0 + 1), U256::from(1));
        assert_eq!(model.earned(index, T0 + 2), U256::from(3));
        assert_eq!(model.surplus_and_debt((0, 0), T0 + 1), (U256::ZERO, U256::from(2)));
        model.deposit((0, 0), 6, U256::from(10)).unwrap();
        assert_eq!(model.withdrawable(index, T0 + 3), U256::from(4));
        model.withdraw(index, U256::from(4), T0 + 3).unwrap();
        // 4.5 accrued, 4 withdrawn: the half unit stays owed and completes the next unit.
        assert_eq!(model.earned(index, T0 + 3), U256::ZERO);
        assert_eq!(model.earned(index, T0 + 4), U256::from(2));
        model.assert_pool_identity((0, 0), T0 + 4);
    }

    #[test]
    fn pause_resume_end_and_cancel_stop_accrual() {
        let mut model = Model::default();
        let rate = U256::from(10u64).pow(U256::from(18));
        let index = model.create((0, 0), 18, 0, rate, T0 + 10, T0 + 100, T0).unwrap();
        assert_eq!(model.earned(index, T0 + 10), U256::ZERO);
        model.pause(index, true, T0 + 20).unwrap();
        assert_eq!(model.pause(index, true, T0 + 21), Err(Reject::StreamPaused));
        model.resume(index, true, T0 + 50).unwrap();
        assert_eq!(model.earned(index, T0 + 60), rate * U256::from(20));
        // Past the end nothing more accrues; extending restarts from now, not from the old end.
        assert_eq!(model.earned(index, T0 + 200), rate * U256::from(60));
        model.set_end(index, true, T0 + 300, T0 + 200).unwrap();
        assert_eq!(model.earned(index, T0 + 210), rate * U256::from(70));
        model.cancel(index, true, T0 + 220).unwrap();
        assert_eq!(model.earned(index, T0 + 10_000), rate * U256::from(80));
        assert_eq!(model.cancel(index, true, T0 + 230), Err(Reject::StreamCanceled));

        // Canceled before its start: start = end = the cancellation time, nothing ever accrues.
        let later = model.create((0, 0), 18, 0, rate, T0 + 500, 0, T0 + 300).unwrap();
        model.cancel(later, true, T0 + 310).unwrap();
        let stream = &model.streams[later];
        assert_eq!((stream.start, stream.end), (T0 + 310, T0 + 310));
        assert_eq!(model.earned(later, T0 + 10_000), U256::ZERO);
    }
}
