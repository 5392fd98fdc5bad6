//! A token bucket per signer address: `per_minute` requests in a burst, refilled continuously at
//! `per_minute` per minute. Only requests whose signature verified take a token, so garbage
//! cannot use up a worker's allowance.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use alloy::primitives::Address;

/// Buckets beyond this many are pruned of the full (idle) ones.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-address token buckets.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<Address, Bucket>>,
}

impl RateLimiter {
    /// `per_minute` requests per address per minute (0: no limit).
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Mutex::default() }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let capacity = f64::from(self.per_minute);
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        Bucket { tokens: (bucket.tokens + elapsed * capacity / 60.0).min(capacity), at: now }
    }

    /// Takes a token for `address`, or says how long until one is available.
    pub fn acquire(&self, address: Address) -> Result<(), Duration> {
        self.acquire_at(address, Instant::now())
    }

    fn acquire_at(&self, address: Address, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| self.refilled(*bucket, now).tokens < capacity);
        }
        let bucket = buckets.entry(address).or_insert(Bucket { tokens: capacity, at: now });
        *bucket = self.refilled(*bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(Duration::from_secs_f64(missing * 60.0 / capacity))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refills() {
        let limiter = RateLimiter::new(3);
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire_at(a, start).unwrap();
        }
        let wait = limiter.acquire_at(a, start).unwrap_err();
        assert!(wait <= Duration::from_secs(20) && wait > Duration::from_secs(19), "{wait:?}");
        limiter.acquire_at(b, start).unwrap();
        limiter.acquire_at(a, start + Duration::from_secs(20)).unwrap();
        assert!(limiter.acquire_at(a, start + Duration::from_secs(21)).is_err());
        assert!(RateLimiter::new(0).acquire(a).is_ok());
    }
}
