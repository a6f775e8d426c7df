//! Classification shared by every vendor: reading `Retry-After`, and what an HTTP status means
//! when the vendor's body says nothing more specific.

use crate::http::VendorResponse;
use herald_core::Outcome;
use std::time::Duration;

/// Longest `Retry-After` honoured; a longer one is capped (the job's TTL decides anyway).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Reads `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(response: &VendorResponse) -> Option<Duration> {
    let value = response.header("retry-after")?.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
            let now = jiff::Timestamp::now();
            Duration::from_millis(u64::try_from(at.as_millisecond() - now.as_millisecond()).unwrap_or(0))
        }
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// The outcome an HTTP status implies by itself: 429 and 5xx retry (honouring Retry-After),
/// 401 is an expired credential, other 4xx are rejections.
pub fn by_status(response: &VendorResponse, reason: &str) -> Outcome {
    match response.status {
        200..=299 => Outcome::Accepted { vendor_msg_id: None },
        401 => Outcome::AuthExpired {
            reason: reason.to_string(),
        },
        408 | 429 | 500..=599 => Outcome::Retry {
            after: retry_after(response),
            reason: reason.to_string(),
        },
        status => Outcome::Rejected {
            code: status.to_string(),
            reason: reason.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, retry: Option<&str>) -> VendorResponse {
        VendorResponse {
            status,
            headers: retry
                .map(|r| vec![("retry-after".to_string(), r.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
        }
    }

    #[test]
    fn retry_after_is_read_as_seconds_and_capped() {
        assert_eq!(
            retry_after(&response(429, Some("7"))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_after(&response(429, Some("999999"))), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&response(429, None)), None);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert!(
            matches!(by_status(&response(503, Some("2")), "x"), Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(2))
        );
        assert!(matches!(
            by_status(&response(401, None), "x"),
            Outcome::AuthExpired { .. }
        ));
        assert!(matches!(
            by_status(&response(400, None), "x"),
            Outcome::Rejected { .. }
        ));
    }
}
