//! Honor answers: `{"code":200,"message":"success","data":{"sendResult","requestId",
//! "failTokens","expireTokens"}}`. A 200 answer is per token: `expireTokens` are dead,
//! `failTokens` failed for an unstated reason (retried later), the others were accepted.
//! Honor's error table is not available offline [UNCONFIRMED: vendor-apis.md §4.3]: the
//! Huawei-inherited codes are read (auth 80200001/80200003, all tokens invalid 80300007,
//! internal 81000001, quota 80300011 naming the quota), then HTTP 401 → refresh, 429/5xx →
//! retry, anything else → rejected with Honor's code.

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;
use serde_json::Value;

/// One outcome per token, in order.
pub(crate) fn classify(response: &VendorResponse, tokens: &[&str]) -> Vec<Outcome> {
    let body = response.json().unwrap_or(Value::Null);
    let code = body["code"]
        .as_i64()
        .or_else(|| body["code"].as_str().and_then(|c| c.parse().ok()));
    let Some(code) = code else {
        return vec![retry::by_status(response, &response.text()); tokens.len()];
    };
    let message = body["message"].as_str().unwrap_or_default().to_string();
    let all = |outcome: Outcome| vec![outcome; tokens.len()];
    let reason = format!("{code} {message}");
    match code {
        200 => per_token(&body["data"], tokens),
        80_200_001 | 80_200_003 => all(Outcome::AuthExpired { reason }),
        _ if response.status == 401 => all(Outcome::AuthExpired { reason }),
        80_300_007 => all(Outcome::InvalidToken { reason }),
        80_300_011 if message.contains("quota") => all(Outcome::QuotaExceeded { reason }),
        81_000_001 => all(Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        }),
        _ if response.status == 429 || response.status >= 500 => all(Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        }),
        other => all(Outcome::Rejected {
            code: other.to_string(),
            reason: message,
        }),
    }
}

fn per_token(data: &Value, tokens: &[&str]) -> Vec<Outcome> {
    let listed = |key: &str| -> Vec<&str> {
        data[key]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let expired = listed("expireTokens");
    let failed = listed("failTokens");
    let request_id = data["requestId"].as_str().map(str::to_string);
    tokens
        .iter()
        .map(|t| {
            if expired.contains(t) {
                Outcome::InvalidToken {
                    reason: "expireTokens".into(),
                }
            } else if failed.contains(t) {
                Outcome::Retry {
                    after: None,
                    reason: "failTokens (Honor gives no reason)".into(),
                }
            } else {
                Outcome::Accepted {
                    vendor_msg_id: request_id.clone(),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: Value) -> VendorResponse {
        VendorResponse {
            status,
            headers: vec![("retry-after".into(), "3".into())],
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn every_code_has_its_class() {
        let table = [
            (
                200,
                json!({"code": 200, "message": "success", "data": {"sendResult": true, "requestId": "r"}}),
                "accepted",
            ),
            (
                401,
                json!({"code": 80200001, "message": "Oauth authentication error"}),
                "auth_expired",
            ),
            (
                401,
                json!({"code": 80200003, "message": "Oauth Token expired"}),
                "auth_expired",
            ),
            (
                401,
                json!({"code": 401, "message": "unauthorized"}),
                "auth_expired",
            ),
            (
                400,
                json!({"code": 80300007, "message": "All the tokens are invalid"}),
                "invalid_token",
            ),
            (
                400,
                json!({"code": 80300011, "message": "daily quota used up"}),
                "quota_exceeded",
            ),
            (
                400,
                json!({"code": 80300011, "message": "no permission for high priority"}),
                "rejected",
            ),
            (
                500,
                json!({"code": 81000001, "message": "internal error"}),
                "retry",
            ),
            (503, json!({"code": 503, "message": "flow control"}), "retry"),
            (429, json!({"code": 429, "message": "too many requests"}), "retry"),
            (
                400,
                json!({"code": 80100003, "message": "Illegal message structure"}),
                "rejected",
            ),
            (
                400,
                json!({"code": 80300008, "message": "message body too large"}),
                "rejected",
            ),
            (502, json!("<html>bad gateway</html>"), "retry"),
        ];
        for (status, body, expected) in table {
            let outcomes = classify(&answer(status, body.clone()), &["t1"]);
            assert_eq!(outcomes[0].state(), expected, "{status} {body}");
        }
    }

    #[test]
    fn a_success_is_read_per_token() {
        let body = json!({"code": 200, "message": "success",
            "data": {"sendResult": true, "requestId": "r1", "failTokens": ["t2"], "expireTokens": ["t3"]}});
        let outcomes = classify(&answer(200, body), &["t1", "t2", "t3"]);
        assert_eq!(
            outcomes[0],
            Outcome::Accepted {
                vendor_msg_id: Some("r1".into())
            }
        );
        assert_eq!(outcomes[1].state(), "retry");
        assert_eq!(outcomes[2].state(), "invalid_token");
    }

    #[test]
    fn flow_control_honours_retry_after() {
        let outcomes = classify(
            &answer(503, json!({"code": 503, "message": "flow control"})),
            &["t1"],
        );
        assert!(matches!(outcomes[0], Outcome::Retry { after: Some(d), .. } if d.as_secs() == 3));
    }
}
