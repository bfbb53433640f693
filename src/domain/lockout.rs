//! The opt-in lockout of a client IP after repeated failed logins (auth.md).

use serde_json::Value;

/// A module's `lockout` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: usize,
    pub window_s: i64,
    pub duration_s: i64,
}

impl LockoutPolicy {
    /// The policy of a module's `lockout` object, when enabled.
    pub fn from_config(lockout: &Value) -> Option<Self> {
        if lockout["enabled"] != Value::Bool(true) {
            return None;
        }
        let positive = |key: &str, default: i64| match lockout[key].as_i64() {
            Some(n) if n > 0 => n,
            _ => default,
        };
        Some(LockoutPolicy {
            max_failures: usize::try_from(positive("max_failures", 10)).unwrap_or(10),
            window_s: positive("window_s", 300),
            duration_s: positive("duration_s", 900),
        })
    }

    /// How far back failures matter at any moment.
    pub fn lookback_s(&self) -> i64 {
        self.window_s.saturating_add(self.duration_s)
    }

    /// Whether `failures` (timestamps, any order) lock the IP out at `now`: some run of
    /// `max_failures` of them fits in `window_s` and ended less than `duration_s` ago.
    pub fn locked(&self, failures: &[i64], now: i64) -> bool {
        let mut times: Vec<i64> = failures.iter().copied().filter(|t| *t <= now).collect();
        times.sort_unstable();
        let n = self.max_failures.max(1);
        times.windows(n).any(|run| {
            let (first, last) = (run[0], run[n - 1]);
            last.saturating_sub(first) <= self.window_s
                && now.saturating_sub(last) < self.duration_s
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            max_failures: 3,
            window_s: 60,
            duration_s: 100,
        }
    }

    #[test]
    fn enough_failures_in_the_window_lock_until_the_duration_passes() {
        let failures = [1000, 1010, 1020];
        assert!(policy().locked(&failures, 1021));
        assert!(policy().locked(&failures, 1119));
        assert!(!policy().locked(&failures, 1120));
    }

    #[test]
    fn failures_spread_wider_than_the_window_do_not_lock() {
        assert!(!policy().locked(&[1000, 1040, 1080], 1081));
        assert!(!policy().locked(&[1000, 1010], 1011));
    }

    #[test]
    fn the_largest_settings_do_not_overflow() {
        let huge = json!({"enabled": true, "max_failures": i64::MAX,
                          "window_s": i64::MAX, "duration_s": i64::MAX});
        let policy = LockoutPolicy::from_config(&huge).unwrap();
        assert_eq!(policy.lookback_s(), i64::MAX);
        assert!(!policy.locked(&[i64::MIN, 0], i64::MAX));
    }

    #[test]
    fn only_an_enabled_lockout_is_a_policy() {
        assert_eq!(
            LockoutPolicy::from_config(&json!({"max_failures": 3})),
            None
        );
        let policy = LockoutPolicy::from_config(&json!({"enabled": true})).unwrap();
        assert_eq!(
            (policy.max_failures, policy.window_s, policy.duration_s),
            (10, 300, 900)
        );
    }
}
