//! OPPO answers: classify on the integer `code` first, the HTTP status second. `unicast_batch`
//! answers per target in `data[]` (`registrationId`, `messageId`, `errorCode`).
//! Codes: OPPO "调用地址，公共参数和返回码" and SDK `ReturnCode.java` (fact sheet §6.5).

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;
use serde_json::Value;

/// One outcome per token, in order.
pub(crate) fn classify(response: &VendorResponse, tokens: &[&str]) -> Vec<Outcome> {
    let body = response.json().unwrap_or(Value::Null);
    let Some(code) = body["code"].as_i64() else {
        return vec![retry::by_status(response, &response.text()); tokens.len()];
    };
    let message = body["message"].as_str().unwrap_or_default();
    if code != 0 {
        return vec![outcome(response, code, message, None); tokens.len()];
    }
    match &body["data"] {
        // unicast_batch: one entry per message, matched by registration id (order as a fallback).
        Value::Array(items) => tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let item = items
                    .iter()
                    .find(|it| it["registrationId"].as_str() == Some(token))
                    .or_else(|| items.get(i));
                match item {
                    Some(item) => match item["errorCode"].as_i64() {
                        None | Some(0) => Outcome::Accepted {
                            vendor_msg_id: item["messageId"].as_str().map(str::to_string),
                        },
                        Some(error) => outcome(
                            response,
                            error,
                            item["errorMessage"].as_str().unwrap_or_default(),
                            None,
                        ),
                    },
                    None => Outcome::Retry {
                        after: None,
                        reason: "OPPO answered no result for this target".into(),
                    },
                }
            })
            .collect(),
        data => {
            let id = data["messageId"]
                .as_str()
                .or(data["message_id"].as_str())
                .map(str::to_string);
            vec![outcome(response, 0, message, id); tokens.len()]
        }
    }
}

/// What one OPPO code means.
fn outcome(response: &VendorResponse, code: i64, message: &str, id: Option<String>) -> Outcome {
    let reason = format!("{code} {message}").trim_end().to_string();
    match code {
        0 => Outcome::Accepted { vendor_msg_id: id },
        // 10000 invalid registration id; 10001 unsubscribed (broadcast list key). [DOC; 3P]
        10000 | 10001 => Outcome::InvalidToken { reason },
        // 11 invalid auth_token; 29 missing: refresh once (the official SDK re-auths on 11).
        11 | 29 => Outcome::AuthExpired { reason },
        // -1 unavailable, -2 flow control, 13 call limit, 55 frequency limit: back off.
        -1 | -2 | 13 | 55 => Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        },
        // 33 daily message quota, 34 daily picture quota: stop until tomorrow.
        33 | 34 => Outcome::QuotaExceeded { reason },
        _ if response.status >= 500 => Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        },
        other => Outcome::Rejected {
            code: other.to_string(),
            reason: message.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn answer(status: u16, body: Value, retry_after: Option<&str>) -> VendorResponse {
        VendorResponse {
            status,
            headers: retry_after
                .map(|r| vec![("retry-after".to_string(), r.to_string())])
                .unwrap_or_default(),
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn every_documented_code_has_its_class() {
        let table: &[(i64, &str)] = &[
            (0, "accepted"),
            (-1, "retry"),
            (-2, "retry"),
            (11, "auth_expired"),
            (29, "auth_expired"),
            (12, "rejected"),
            (13, "retry"),
            (55, "retry"),
            (33, "quota_exceeded"),
            (34, "quota_exceeded"),
            (14, "rejected"),
            (16, "rejected"),
            (19, "rejected"),
            (26, "rejected"),
            (30, "rejected"),
            (31, "rejected"),
            (40, "rejected"),
            (41, "rejected"),
            (51, "rejected"),
            (59, "rejected"),
            (67, "rejected"),
            (10000, "invalid_token"),
            (10001, "invalid_token"),
        ];
        for (code, class) in table {
            let got = classify(
                &answer(
                    200,
                    json!({"code": code, "message": "m", "data": {"messageId": "id"}}),
                    None,
                ),
                &["t"],
            );
            assert_eq!(got[0].state(), *class, "code {code}");
        }
    }

    #[test]
    fn flow_control_honours_retry_after() {
        let got = classify(
            &answer(
                200,
                json!({"code": -2, "message": "Service in Flow Control"}),
                Some("7"),
            ),
            &["t"],
        );
        assert!(matches!(got[0], Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)));
    }

    #[test]
    fn a_batch_answer_is_read_per_target() {
        let body = json!({"code": 0, "message": "", "data": [
            {"messageId": "m1", "registrationId": "a"},
            {"messageId": "m2", "registrationId": "b", "errorCode": 10000, "errorMessage": "Invalid Registration_id"},
        ]});
        let got = classify(&answer(200, body, None), &["a", "b"]);
        assert!(matches!(&got[0], Outcome::Accepted { vendor_msg_id: Some(id) } if id == "m1"));
        assert!(matches!(got[1], Outcome::InvalidToken { .. }));
    }

    #[test]
    fn a_server_error_without_json_is_retried() {
        let response = VendorResponse {
            status: 502,
            headers: Vec::new(),
            body: b"bad gateway".to_vec(),
        };
        assert!(matches!(classify(&response, &["t"])[0], Outcome::Retry { .. }));
    }
}
