//! Web Push answers: the status says it all (RFC 8030 §5–§8). 201 carries the `Location` of
//! the message resource; 404/410 mean the subscription is gone. [DOC: vendor fact sheet §9.1]

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;

/// The outcome of one subscription's request.
pub(crate) fn classify(response: &VendorResponse) -> Outcome {
    let said = || {
        let text = response.text();
        if text.is_empty() {
            format!("HTTP {}", response.status)
        } else {
            format!("HTTP {}: {text}", response.status)
        }
    };
    match response.status {
        // RFC 8030 says 201; some push services answer 200 or 202.
        200..=202 => Outcome::Accepted {
            vendor_msg_id: response.header("location").map(str::to_string),
        },
        404 | 410 => Outcome::InvalidToken { reason: said() },
        // A refused VAPID token: regenerate it once (an old or a rotated one).
        401 => Outcome::AuthExpired { reason: said() },
        403 => Outcome::Rejected {
            code: "403".into(),
            reason: format!(
                "{}: the VAPID key differs from the one the browser subscribed with",
                said()
            ),
        },
        413 => Outcome::Rejected {
            code: "413".into(),
            reason: format!("{}: over the push service's size limit", said()),
        },
        429 | 500..=599 => Outcome::Retry {
            after: retry::retry_after(response),
            reason: said(),
        },
        _ => retry::by_status(response, &said()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn answer(status: u16, headers: &[(&str, &str)]) -> VendorResponse {
        VendorResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn every_documented_status_has_its_class() {
        let table: &[(u16, &str)] = &[
            (200, "accepted"),
            (201, "accepted"),
            (202, "accepted"),
            (400, "rejected"),
            (401, "auth_expired"),
            (403, "rejected"),
            (404, "invalid_token"),
            (410, "invalid_token"),
            (413, "rejected"),
            (429, "retry"),
            (500, "retry"),
            (502, "retry"),
            (503, "retry"),
        ];
        for (status, class) in table {
            let outcome = classify(&answer(*status, &[]));
            assert_eq!(outcome.state(), *class, "{status}: {outcome:?}");
        }
    }

    #[test]
    fn location_and_retry_after_are_read() {
        assert_eq!(
            classify(&answer(201, &[("location", "https://push.example/m/1")])),
            Outcome::Accepted {
                vendor_msg_id: Some("https://push.example/m/1".into())
            }
        );
        assert!(matches!(
            classify(&answer(429, &[("retry-after", "7")])),
            Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)
        ));
    }
}
