//! APNs answers: one per device, classified on the status and the `reason` of the JSON body.
//! Success is `200` with an empty body and the `apns-id` header. [SDK: apns2 `response.go`;
//! codes table in the vendor fact sheet §1.5]

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;
use serde_json::Value;

/// The outcome of one device's request.
pub(crate) fn classify(response: &VendorResponse) -> Outcome {
    let apns_id = response.header("apns-id").map(str::to_string);
    if response.status == 200 {
        return Outcome::Accepted {
            vendor_msg_id: apns_id,
        };
    }
    let body = response.json().unwrap_or(Value::Null);
    let Some(reason) = body["reason"].as_str() else {
        return retry::by_status(response, &response.text());
    };
    let said = format!("{} {reason}", response.status);
    let retry = |reason: String| Outcome::Retry {
        after: retry::retry_after(response),
        reason,
    };
    match (response.status, reason) {
        // Token of another environment or bundle also lands here; the certificate's environment
        // and bundle id were checked when it was saved, so the token is what is wrong.
        (400, "BadDeviceToken" | "DeviceTokenNotForTopic") | (410, _) => {
            Outcome::InvalidToken { reason: said }
        }
        // The connection sat idle: a new stream on a fresh connection works.
        (400, "IdleTimeout") => retry(said),
        (403, "ExpiredProviderToken") => Outcome::AuthExpired { reason: said },
        // APNs documents no Retry-After; one is honoured if it ever comes.
        (429 | 500..=599, _) => retry(said),
        (_, code) => Outcome::Rejected {
            code: code.to_string(),
            reason: describe(code),
        },
    }
}

/// What a refusal means for the operator.
fn describe(code: &str) -> String {
    let what = match code {
        "InvalidProviderToken" => "the provider token was refused: check team_id, key_id and the .p8 key",
        "MissingProviderToken" => "no provider token was sent",
        "BadTopic" | "TopicDisallowed" | "MissingTopic" => {
            "the bundle id (apns-topic) is not allowed for this key"
        }
        "PayloadTooLarge" => "the payload exceeds the 4096-byte limit",
        "BadCollapseId" => "apns-collapse-id exceeds 64 bytes",
        "BadCertificate" | "BadCertificateEnvironment" => "the client certificate was refused",
        _ => "APNs refused the request",
    };
    format!("{code}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn answer(status: u16, reason: Option<&str>, retry_after: Option<&str>) -> VendorResponse {
        let mut headers = vec![(
            "apns-id".to_string(),
            "6a1c1f8e-0000-8000-8000-000000000001".to_string(),
        )];
        if let Some(after) = retry_after {
            headers.push(("retry-after".to_string(), after.to_string()));
        }
        let body = reason
            .map(|r| serde_json::json!({"reason": r}).to_string().into_bytes())
            .unwrap_or_default();
        VendorResponse {
            status,
            headers,
            body,
        }
    }

    #[test]
    fn every_documented_reason_has_its_class() {
        let table: &[(u16, &str, &str)] = &[
            (400, "BadDeviceToken", "invalid_token"),
            (400, "DeviceTokenNotForTopic", "invalid_token"),
            (400, "BadCollapseId", "rejected"),
            (400, "BadExpirationDate", "rejected"),
            (400, "BadMessageId", "rejected"),
            (400, "BadPriority", "rejected"),
            (400, "BadTopic", "rejected"),
            (400, "DuplicateHeaders", "rejected"),
            (400, "InvalidPushType", "rejected"),
            (400, "MissingDeviceToken", "rejected"),
            (400, "MissingTopic", "rejected"),
            (400, "PayloadEmpty", "rejected"),
            (400, "TopicDisallowed", "rejected"),
            (400, "IdleTimeout", "retry"),
            (403, "ExpiredProviderToken", "auth_expired"),
            (403, "InvalidProviderToken", "rejected"),
            (403, "MissingProviderToken", "rejected"),
            (403, "BadCertificate", "rejected"),
            (403, "BadCertificateEnvironment", "rejected"),
            (403, "Forbidden", "rejected"),
            (404, "BadPath", "rejected"),
            (405, "MethodNotAllowed", "rejected"),
            (410, "Unregistered", "invalid_token"),
            (410, "ExpiredToken", "invalid_token"),
            (413, "PayloadTooLarge", "rejected"),
            (429, "TooManyProviderTokenUpdates", "retry"),
            (429, "TooManyRequests", "retry"),
            (500, "InternalServerError", "retry"),
            (503, "ServiceUnavailable", "retry"),
            (503, "Shutdown", "retry"),
        ];
        for (status, reason, class) in table {
            let outcome = classify(&answer(*status, Some(reason), None));
            assert_eq!(outcome.state(), *class, "{status} {reason}: {outcome:?}");
            if let Outcome::Rejected { code, .. } = outcome {
                assert_eq!(code, *reason);
            }
        }
    }

    #[test]
    fn success_carries_the_apns_id_and_retry_after_is_honoured() {
        assert_eq!(
            classify(&answer(200, None, None)),
            Outcome::Accepted {
                vendor_msg_id: Some("6a1c1f8e-0000-8000-8000-000000000001".into())
            }
        );
        assert!(matches!(
            classify(&answer(429, Some("TooManyRequests"), Some("7"))),
            Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            classify(&answer(502, None, None)),
            Outcome::Retry { .. }
        ));
    }
}
