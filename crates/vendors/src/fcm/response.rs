//! FCM answers: Google RPC errors, classified on the `FcmError` `errorCode` in `details` first,
//! then on the RPC `status`, then on the HTTP status (a `404` may also be an unknown project).
//! Codes: firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode (vendor-apis.md §2.4).

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;
use serde_json::Value;
use std::time::Duration;

/// FCM asks for at least a minute of back-off after `QUOTA_EXCEEDED` when it gives no
/// Retry-After. [DOC: vendor-apis.md §2.4]
const QUOTA_BACKOFF: Duration = Duration::from_secs(60);

/// The outcome of one send (FCM takes one token per request).
pub(crate) fn classify(response: &VendorResponse) -> Outcome {
    let body = response.json().unwrap_or(Value::Null);
    if (200..300).contains(&response.status) {
        return Outcome::Accepted {
            vendor_msg_id: body["name"].as_str().map(str::to_string),
        };
    }
    let error = &body["error"];
    let Some(status) = error["status"].as_str() else {
        return retry::by_status(response, &response.text());
    };
    let message = error["message"].as_str().unwrap_or_default();
    let details = error["details"].as_array().map(Vec::as_slice).unwrap_or_default();
    let fcm_code = details
        .iter()
        .find(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.firebase.fcm.v1.FcmError"))
        })
        .and_then(|d| d["errorCode"].as_str());
    let reason = format!("{} {message}", fcm_code.unwrap_or(status));
    match (fcm_code, status) {
        (Some("UNREGISTERED"), _) => Outcome::InvalidToken { reason },
        // The token belongs to another Firebase project: it can never work with this one.
        (Some("SENDER_ID_MISMATCH"), _) => Outcome::InvalidToken { reason },
        (Some("INVALID_ARGUMENT"), _) | (None, "INVALID_ARGUMENT") if token_is_blamed(details, message) => {
            Outcome::InvalidToken { reason }
        }
        (Some("QUOTA_EXCEEDED"), _) | (None, "RESOURCE_EXHAUSTED") => Outcome::Retry {
            after: Some(retry::retry_after(response).unwrap_or(QUOTA_BACKOFF)),
            reason,
        },
        (Some("UNAVAILABLE" | "INTERNAL"), _) | (None, "UNAVAILABLE" | "INTERNAL") => Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        },
        (Some(code @ ("THIRD_PARTY_AUTH_ERROR" | "APNS_AUTH_ERROR")), _) => Outcome::Rejected {
            code: code.to_string(),
            reason: format!("APNs or Web Push credentials of the Firebase project: {message}"),
        },
        (None, "UNAUTHENTICATED") => Outcome::AuthExpired { reason },
        (code, status) => Outcome::Rejected {
            code: code.unwrap_or(status).to_string(),
            reason: message.to_string(),
        },
    }
}

/// Whether an `INVALID_ARGUMENT` is about the registration token itself.
fn token_is_blamed(details: &[Value], message: &str) -> bool {
    let on_token = details.iter().any(|d| {
        d["fieldViolations"].as_array().is_some_and(|violations| {
            violations
                .iter()
                .any(|v| v["field"].as_str() == Some("message.token"))
        })
    });
    on_token || message.contains("not a valid FCM registration token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: Value, retry_after: Option<&str>) -> VendorResponse {
        VendorResponse {
            status,
            headers: retry_after
                .map(|r| vec![("retry-after".to_string(), r.to_string())])
                .unwrap_or_default(),
            body: body.to_string().into_bytes(),
        }
    }

    fn rpc(code: u16, status: &str, fcm: Option<&str>) -> Value {
        let details: Vec<Value> = fcm
            .map(|c| json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": c}))
            .into_iter()
            .collect();
        json!({"error": {"code": code, "message": "m", "status": status, "details": details}})
    }

    #[test]
    fn every_documented_code_has_its_class() {
        let table: Vec<(VendorResponse, &str)> = vec![
            (
                answer(200, json!({"name": "projects/p/messages/1"}), None),
                "accepted",
            ),
            (
                answer(404, rpc(404, "NOT_FOUND", Some("UNREGISTERED")), None),
                "invalid_token",
            ),
            (
                answer(
                    403,
                    rpc(403, "PERMISSION_DENIED", Some("SENDER_ID_MISMATCH")),
                    None,
                ),
                "invalid_token",
            ),
            (
                answer(400, rpc(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT")), None),
                "rejected",
            ),
            (
                answer(401, rpc(401, "UNAUTHENTICATED", None), None),
                "auth_expired",
            ),
            (
                answer(
                    401,
                    rpc(401, "UNAUTHENTICATED", Some("THIRD_PARTY_AUTH_ERROR")),
                    None,
                ),
                "rejected",
            ),
            (
                answer(401, rpc(401, "UNAUTHENTICATED", Some("APNS_AUTH_ERROR")), None),
                "rejected",
            ),
            (
                answer(429, rpc(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED")), None),
                "retry",
            ),
            (answer(500, rpc(500, "INTERNAL", Some("INTERNAL")), None), "retry"),
            (
                answer(503, rpc(503, "UNAVAILABLE", Some("UNAVAILABLE")), None),
                "retry",
            ),
            (answer(404, rpc(404, "NOT_FOUND", None), None), "rejected"),
            (answer(403, rpc(403, "PERMISSION_DENIED", None), None), "rejected"),
            (answer(502, json!("<html>bad gateway</html>"), None), "retry"),
        ];
        for (response, expected) in table {
            assert_eq!(classify(&response).state(), expected, "{}", response.text());
        }
    }

    #[test]
    fn an_invalid_argument_on_the_token_means_the_token_is_dead() {
        let mut body = rpc(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"));
        body["error"]["details"]
            .as_array_mut()
            .expect("details")
            .push(json!({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}]}));
        assert_eq!(classify(&answer(400, body, None)).state(), "invalid_token");
        let mut text = rpc(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"));
        text["error"]["message"] = json!("The registration token is not a valid FCM registration token");
        assert_eq!(classify(&answer(400, text, None)).state(), "invalid_token");
    }

    #[test]
    fn quota_waits_for_retry_after_or_a_minute() {
        let quota = rpc(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"));
        assert!(
            matches!(classify(&answer(429, quota.clone(), Some("7"))), Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7))
        );
        assert!(
            matches!(classify(&answer(429, quota, None)), Outcome::Retry { after: Some(d), .. } if d == QUOTA_BACKOFF)
        );
    }

    #[test]
    fn success_keeps_the_message_name() {
        let outcome = classify(&answer(200, json!({"name": "projects/p/messages/0:123"}), None));
        assert_eq!(
            outcome,
            Outcome::Accepted {
                vendor_msg_id: Some("projects/p/messages/0:123".into())
            }
        );
    }
}
