//! Restart budget: at most `max_restarts` restarts within `window`, then escalate.

use std::{collections::VecDeque, time::Duration};

/// How often a supervisor may restart one child before it gives up and escalates to its parent.
///
/// One-for-one strategy: each child has its own budget. A child that keeps failing faster than
/// the budget allows is most likely failing on its persisted state, and restarting it again would
/// only spin; the parent then decides (for a topic: unload it, so the next use loads it afresh).
#[derive(Clone, Debug)]
pub struct RestartBudget {
    /// Restarts allowed inside one window.
    pub max_restarts: usize,
    /// Length of the sliding window.
    pub window: Duration,
    /// Times (since an arbitrary origin) of the restarts inside the window.
    recent: VecDeque<Duration>,
}

impl RestartBudget {
    /// A budget of `max_restarts` restarts per `window`.
    pub fn new(max_restarts: usize, window: Duration) -> Self {
        Self {
            max_restarts,
            window,
            recent: VecDeque::new(),
        }
    }

    /// Records a restart attempt at `now` and says whether it is still within budget.
    pub fn try_restart(&mut self, now: Duration) -> bool {
        while let Some(oldest) = self.recent.front() {
            if now.saturating_sub(*oldest) >= self.window {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() >= self.max_restarts {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

impl Default for RestartBudget {
    /// Ten restarts in ten seconds, the same order as Erlang/OTP's defaults.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_past_the_limit_inside_the_window() {
        let mut budget = RestartBudget::new(2, Duration::from_secs(10));
        assert!(budget.try_restart(Duration::from_secs(1)));
        assert!(budget.try_restart(Duration::from_secs(2)));
        assert!(!budget.try_restart(Duration::from_secs(3)));
    }

    #[test]
    fn budget_recovers_once_old_restarts_leave_the_window() {
        let mut budget = RestartBudget::new(1, Duration::from_secs(5));
        assert!(budget.try_restart(Duration::from_secs(0)));
        assert!(!budget.try_restart(Duration::from_secs(4)));
        assert!(budget.try_restart(Duration::from_secs(6)));
    }
}
