//! A token bucket per (client IP, account) in front of the authenticators.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// How many buckets are kept before full ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets of `size` tokens refilling at `per_second`.
pub struct RateLimiter {
    size: f64,
    per_second: f64,
    buckets: Mutex<HashMap<(IpAddr, String), Bucket>>,
}

impl RateLimiter {
    /// A limiter; a size of zero turns it off.
    pub fn new(size: u32, per_second: u32) -> Self {
        RateLimiter {
            size: f64::from(size),
            per_second: f64::from(per_second),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `(ip, account)`; `false` when the bucket is empty.
    pub fn allow(&self, ip: IpAddr, account: &str) -> bool {
        if self.size == 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() >= MAX_BUCKETS {
            self.forget_full(&mut buckets, now);
        }
        let bucket = buckets.entry((ip, account.to_string())).or_insert(Bucket {
            tokens: self.size,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.size);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn forget_full(&self, buckets: &mut HashMap<(IpAddr, String), Bucket>, now: Instant) {
        let (size, rate) = (self.size, self.per_second);
        buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < size);
        if buckets.len() >= MAX_BUCKETS {
            buckets.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_bucket_refuses_and_buckets_are_separate() {
        let limiter = RateLimiter::new(3, 0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(ip, "a")));
        assert!(!limiter.allow(ip, "a"));
        assert!(limiter.allow(ip, "b"));
        assert!(limiter.allow("192.0.2.2".parse().unwrap(), "a"));
    }

    #[test]
    fn a_zero_size_turns_the_limit_off() {
        let limiter = RateLimiter::new(0, 0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| limiter.allow(ip, "a")));
    }
}
