//! Signed tokens that already verified, remembered until they lapse. A sender signs one JWT
//! (an APNs provider token, a VAPID token) and reuses it for every push for minutes or hours;
//! checking the ES256 signature again on each of those pushes was most of the emulators' CPU
//! in a fan-out, on a machine the benchmark shares with Herald. A token that verified stays
//! good until its own expiry, so remembering the answer changes no outcome.

use std::collections::HashMap;
use std::sync::Mutex;

/// Tokens remembered at most; beyond it the memory starts over (a test makes a few).
const MAX_REMEMBERED: usize = 4096;

/// Verified tokens, each with what its check returned and the second it stops being valid.
#[derive(Debug)]
pub(crate) struct VerifiedTokens<T> {
    tokens: Mutex<HashMap<String, (T, i64)>>,
}

impl<T> Default for VerifiedTokens<T> {
    fn default() -> Self {
        Self {
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> VerifiedTokens<T> {
    /// What `check` returned for `token` (keyed with everything the check depends on), while
    /// it is still valid at `now`; otherwise runs `check`, which gives the answer and the
    /// second it lapses.
    pub(crate) fn check<E>(
        &self,
        token: &str,
        now: i64,
        check: impl FnOnce() -> Result<(T, i64), E>,
    ) -> Result<T, E> {
        if let Some((answer, until)) = self.lock().get(token)
            && now < *until
        {
            return Ok(answer.clone());
        }
        let (answer, until) = check()?;
        let mut tokens = self.lock();
        if tokens.len() >= MAX_REMEMBERED {
            tokens.clear();
        }
        tokens.insert(token.to_string(), (answer.clone(), until));
        Ok(answer)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (T, i64)>> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_checked_once_until_it_lapses_and_failures_are_not_remembered() {
        let verified = VerifiedTokens::<u8>::default();
        let mut checks = 0;
        let mut check = |answer: Result<u8, &'static str>| {
            checks += 1;
            answer.map(|a| (a, 100))
        };
        assert_eq!(verified.check("bad", 10, || check(Err("no"))), Err("no"));
        assert_eq!(verified.check("bad", 10, || check(Err("no"))), Err("no"));
        assert_eq!(verified.check("good", 10, || check(Ok(1))), Ok(1));
        assert_eq!(verified.check("good", 99, || check(Ok(2))), Ok(1));
        // At its expiry the token is checked again.
        assert_eq!(verified.check("good", 100, || check(Ok(3))), Ok(3));
        assert_eq!(checks, 4);
    }
}
