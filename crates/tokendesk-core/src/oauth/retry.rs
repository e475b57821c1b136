//! When to try again: Google's truncated exponential backoff with jitter, `Retry-After`, an
//! attempt cap and an overall deadline, with the sleeping behind a [`Timer`] tests replace.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// How many times, how far apart and for how long an idempotent call is retried.
///
/// Delay `k` (k = 0 for the first retry) is `base × (min(2^k, max_backoff_factor) + U[0, 1))`:
/// with the default 1 s base that is Google's [1, 2) s, [2, 3) s, [4, 5) s ... A `Retry-After`
/// from the server replaces the computed delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// One backoff unit. 1 s in production; tests use a few milliseconds.
    pub base: Duration,
    /// The exponential part stops growing here (Google: 32 or 64 s).
    pub max_backoff_factor: u32,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// No attempt starts, and no sleep is begun, that would end after this much time since
    /// the first attempt; each attempt's timeout is also cut to what remains.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max_backoff_factor: 32,
            max_attempts: 5,
            deadline: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry `k` (0-based) for a jitter fraction in `[0, 1)`.
    pub fn backoff(&self, k: u32, jitter: f64) -> Duration {
        let exp = 2u32
            .checked_pow(k)
            .unwrap_or(u32::MAX)
            .min(self.max_backoff_factor.max(1));
        let jitter = jitter.clamp(0.0, 0.999_999);
        self.base.mul_f64(f64::from(exp) + jitter)
    }
}

/// The time source and the sleeper of retry loops, injected so tests neither wait real
/// seconds nor depend on the machine's speed.
pub trait Timer: Send + Sync + fmt::Debug {
    /// A monotonic now, for deadlines.
    fn now(&self) -> Instant;
    /// Wall-clock now, to turn an HTTP-date `Retry-After` into a delay.
    fn system_now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real monotonic clock and tokio's sleep; the wall clock (for `Retry-After` dates) is the
/// one the desk was given, so a test that moves the desk's clock moves it here too.
#[derive(Debug, Default, Clone)]
pub struct TokioTimer {
    wall: Option<std::sync::Arc<dyn crate::id_token::Clock>>,
}

impl TokioTimer {
    pub fn with_clock(wall: std::sync::Arc<dyn crate::id_token::Clock>) -> Self {
        Self { wall: Some(wall) }
    }
}

impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn system_now(&self) -> SystemTime {
        self.wall.as_ref().map_or_else(SystemTime::now, |c| c.now())
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A timer that records every requested sleep and returns at once, moving its own clock
/// forward instead: tests assert the delays a retry loop asked for.
#[derive(Debug, Default)]
pub struct RecordingTimer {
    state: Mutex<Recorded>,
}

#[derive(Debug, Default)]
struct Recorded {
    slept: Vec<Duration>,
    skipped: Duration,
}

impl RecordingTimer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every delay requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .slept
            .clone()
    }
}

impl Timer for RecordingTimer {
    fn now(&self) -> Instant {
        let skipped = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .skipped;
        Instant::now() + skipped
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.slept.push(duration);
        state.skipped += duration;
        Box::pin(std::future::ready(()))
    }
}

/// A uniform fraction in `[0, 1)` from the system RNG; a failing RNG means no jitter, which
/// only makes retries less spread out.
pub(crate) fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the past
/// means "now"; anything unparsable is ignored (the computed backoff applies).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(u64::try_from(date.timestamp()).ok()?))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What a failed attempt allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Try again, after `retry_after` if the server said so, else after the backoff.
    Retry {
        retry_after: Option<Duration>,
    },
    Stop,
}

/// One attempt's budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    /// The per-request timeout, already cut to what remains of the deadline.
    pub timeout: Duration,
}

/// A call that failed for good, and how many attempts it took.
#[derive(Debug)]
pub(crate) struct GaveUp<E> {
    pub error: E,
    pub attempts: u32,
}

/// Runs `attempt` until it succeeds, `classify` says stop, attempts run out, or the next
/// sleep would cross the deadline.
pub(crate) async fn run<T, E, F, Fut>(
    policy: &RetryPolicy,
    timer: &dyn Timer,
    request_timeout: Duration,
    mut attempt: F,
    classify: impl Fn(&E) -> Verdict,
) -> Result<T, GaveUp<E>>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = timer.now();
    let max_attempts = policy.max_attempts.max(1);
    let mut number = 1;
    loop {
        let elapsed = timer.now().saturating_duration_since(start);
        let remaining = policy.deadline.saturating_sub(elapsed);
        // The first attempt always runs (a zero deadline would make the call pointless);
        // later ones only start with time left.
        let timeout = if number == 1 {
            request_timeout.min(policy.deadline.max(Duration::from_millis(1)))
        } else {
            request_timeout.min(remaining)
        };
        let error = match attempt(Attempt { timeout }).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let give_up = |error| {
            Err(GaveUp {
                error,
                attempts: number,
            })
        };
        let Verdict::Retry { retry_after } = classify(&error) else {
            return give_up(error);
        };
        if number >= max_attempts {
            return give_up(error);
        }
        let delay = retry_after.unwrap_or_else(|| policy.backoff(number - 1, jitter()));
        let elapsed = timer.now().saturating_duration_since(start);
        // Sleeping past the deadline would only delay a failure; so would waking with too
        // little time left for a request to complete.
        if elapsed + delay >= policy.deadline {
            return give_up(error);
        }
        // Only counts and times: a failure's text could be server-chosen.
        tracing::debug!(
            attempt = number,
            ?delay,
            "retrying after a transient failure"
        );
        timer.sleep(delay).await;
        number += 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn oauth_backoff_follows_googles_truncated_exponential_schedule() {
        let policy = RetryPolicy::default();
        for k in 0..8 {
            let low = policy.backoff(k, 0.0);
            let high = policy.backoff(k, 0.999);
            let exp = 2u64.pow(k).min(32);
            assert_eq!(low, Duration::from_secs(exp), "delay {k} starts at 2^k s");
            assert!(
                high < Duration::from_secs(exp + 1),
                "delay {k} stays below 2^k + 1 s"
            );
        }
    }

    #[test]
    fn oauth_backoff_scales_with_the_base() {
        let policy = RetryPolicy {
            base: Duration::from_millis(10),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(2, 0.5), Duration::from_millis(45));
    }

    #[test]
    fn oauth_jitter_is_a_fraction() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn oauth_retry_after_in_seconds() {
        assert_eq!(
            parse_retry_after(" 7 ", SystemTime::now()),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn oauth_retry_after_as_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        let later = now + Duration::from_secs(3600);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", later),
            Some(Duration::ZERO),
            "a date in the past means retry now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[tokio::test]
    async fn oauth_retry_loop_stops_after_max_attempts() {
        let timer = RecordingTimer::new();
        let policy = RetryPolicy {
            base: Duration::from_millis(10),
            ..RetryPolicy::default()
        };
        let mut calls = 0;
        let result: Result<(), _> = run(
            &policy,
            &timer,
            Duration::from_secs(1),
            |_| {
                calls += 1;
                std::future::ready(Err::<(), _>("busy"))
            },
            |_| Verdict::Retry { retry_after: None },
        )
        .await;
        let gave_up = result.unwrap_err();
        assert_eq!(gave_up.attempts, 5);
        assert_eq!(calls, 5, "5 attempts in all");
        assert_eq!(timer.sleeps().len(), 4, "a sleep between attempts only");
    }

    #[tokio::test]
    async fn oauth_retry_loop_never_sleeps_past_the_deadline() {
        let timer = RecordingTimer::new();
        let policy = RetryPolicy {
            deadline: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        let result: Result<(), _> = run(
            &policy,
            &timer,
            Duration::from_secs(1),
            |_| std::future::ready(Err::<(), _>("busy")),
            |_| Verdict::Retry {
                retry_after: Some(Duration::from_secs(10)),
            },
        )
        .await;
        assert_eq!(result.unwrap_err().attempts, 1);
        assert!(
            timer.sleeps().is_empty(),
            "a Retry-After beyond the deadline ends the call"
        );
    }

    #[tokio::test]
    async fn oauth_retry_loop_stops_on_a_final_error() {
        let timer = RecordingTimer::new();
        let result: Result<(), _> = run(
            &RetryPolicy::default(),
            &timer,
            Duration::from_secs(1),
            |_| std::future::ready(Err::<(), _>("invalid_grant")),
            |_| Verdict::Stop,
        )
        .await;
        assert_eq!(result.unwrap_err().attempts, 1);
    }
}
