//! Login throttle: after `AUTH_LOGIN_FAILURES_MAX` failed logins from one IP within
//! `AUTH_LOGIN_THROTTLE_WINDOW_MS`, that IP's logins are refused (without running bcrypt)
//! until its window ends. Per core, in a map bounded by `AUTH_LOGIN_THROTTLE_IPS_MAX`.

use hashbrown::HashMap;

use crate::limits::{
    AUTH_LOGIN_FAILURES_MAX, AUTH_LOGIN_THROTTLE_IPS_MAX, AUTH_LOGIN_THROTTLE_WINDOW_MS,
};

#[derive(Debug, Clone, Copy)]
struct Window {
    started_ms: u64,
    failures: u32,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    windows: HashMap<String, Window>,
}

impl LoginThrottle {
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    /// Whether a login from `ip` may be tried now.
    pub fn allows(&self, ip: &str, now_ms: u64) -> bool {
        match self.windows.get(ip) {
            Some(w) => {
                now_ms.saturating_sub(w.started_ms) >= AUTH_LOGIN_THROTTLE_WINDOW_MS
                    || w.failures < AUTH_LOGIN_FAILURES_MAX
            }
            None => true,
        }
    }

    pub fn record_failure(&mut self, ip: &str, now_ms: u64) {
        if !self.windows.contains_key(ip) && self.windows.len() >= AUTH_LOGIN_THROTTLE_IPS_MAX {
            self.make_room(now_ms);
        }
        let window = self.windows.entry(ip.to_string()).or_insert(Window {
            started_ms: now_ms,
            failures: 0,
        });
        if now_ms.saturating_sub(window.started_ms) >= AUTH_LOGIN_THROTTLE_WINDOW_MS {
            *window = Window {
                started_ms: now_ms,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
        debug_assert!(self.windows.len() <= AUTH_LOGIN_THROTTLE_IPS_MAX);
    }

    pub fn record_success(&mut self, ip: &str) {
        self.windows.remove(ip);
    }

    /// Drops ended windows; if none ended, the oldest one.
    fn make_room(&mut self, now_ms: u64) {
        self.windows
            .retain(|_, w| now_ms.saturating_sub(w.started_ms) < AUTH_LOGIN_THROTTLE_WINDOW_MS);
        if self.windows.len() < AUTH_LOGIN_THROTTLE_IPS_MAX {
            return;
        }
        let oldest = self
            .windows
            .iter()
            .min_by_key(|(_, w)| w.started_ms)
            .map(|(ip, _)| ip.clone());
        if let Some(ip) = oldest {
            self.windows.remove(&ip);
        }
    }

    pub fn tracked(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_failures_until_window_ends() {
        let mut t = LoginThrottle::new();
        for _ in 0..AUTH_LOGIN_FAILURES_MAX {
            assert!(t.allows("1.2.3.4", 10));
            t.record_failure("1.2.3.4", 10);
        }
        assert!(!t.allows("1.2.3.4", 11));
        assert!(t.allows("5.6.7.8", 11), "other IPs are not affected");
        assert!(t.allows("1.2.3.4", 10 + AUTH_LOGIN_THROTTLE_WINDOW_MS));
        t.record_failure("1.2.3.4", 10 + AUTH_LOGIN_THROTTLE_WINDOW_MS);
        assert!(t.allows("1.2.3.4", 11 + AUTH_LOGIN_THROTTLE_WINDOW_MS));
    }

    #[test]
    fn success_resets() {
        let mut t = LoginThrottle::new();
        for _ in 0..AUTH_LOGIN_FAILURES_MAX - 1 {
            t.record_failure("ip", 0);
        }
        t.record_success("ip");
        t.record_failure("ip", 0);
        assert!(t.allows("ip", 0));
    }

    #[test]
    fn bounded() {
        let mut t = LoginThrottle::new();
        for i in 0..AUTH_LOGIN_THROTTLE_IPS_MAX + 10 {
            t.record_failure(&format!("ip{i}"), i as u64);
        }
        assert_eq!(t.tracked(), AUTH_LOGIN_THROTTLE_IPS_MAX);
    }
}
