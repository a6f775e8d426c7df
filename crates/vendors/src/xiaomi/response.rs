//! Xiaomi answers: JSON with a numeric `code` (HTTP 200 even for most errors). `0` accepts
//! the request; `data.bad_regids` (comma-separated) lists refused regIds, 20301 means none was
//! valid. Codes: decompiled `com.xiaomi.push.sdk.ErrorCode` and third-party handling code
//! (vendor-apis.md §5.5).

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;
use serde_json::Value;

/// One outcome per regId, in order.
pub(crate) fn classify(response: &VendorResponse, reg_ids: &[&str]) -> Vec<Outcome> {
    let body = response.json().unwrap_or(Value::Null);
    let Some(code) = body["code"].as_i64() else {
        return vec![retry::by_status(response, &response.text()); reg_ids.len()];
    };
    let text = |key: &str| body[key].as_str().unwrap_or_default();
    let reason = format!("{code} {} {}", text("description"), text("reason"))
        .trim_end()
        .to_string();
    let all = |outcome: Outcome| vec![outcome; reg_ids.len()];
    match code {
        0 => {
            let bad_regids = text_field(&body["data"]["bad_regids"]);
            let bad: Vec<&str> = bad_regids
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect();
            let id = body["data"]["id"].as_str().map(str::to_string);
            reg_ids
                .iter()
                .map(|r| {
                    if bad.contains(r) {
                        Outcome::InvalidToken {
                            reason: "bad_regids".into(),
                        }
                    } else {
                        Outcome::Accepted {
                            vendor_msg_id: id.clone(),
                        }
                    }
                })
                .collect()
        }
        // No valid target. [3P]
        20301 => all(Outcome::InvalidToken { reason }),
        // Authentication failed [3P]: a static key cannot be refreshed, but the driver resends
        // once; if it persists the AppSecret is wrong.
        21301 => all(Outcome::AuthExpired {
            reason: format!("{reason} (check the AppSecret)"),
        }),
        // Daily send limit. [3P]
        200_001 => all(Outcome::QuotaExceeded { reason }),
        // System error, service paused, remote error, busy, RPC error; notification send failed.
        10001 | 10002 | 10003 | 10009 | 10011 | 22102 => all(Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        }),
        // IP / user / API / app call frequency exceeded: back off.
        10022 | 10023 | 10024 | 10027 | 10028 => all(Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        }),
        _ if response.status >= 500 => all(Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        }),
        other => all(Outcome::Rejected {
            code: other.to_string(),
            reason,
        }),
    }
}

/// `bad_regids` is a string; tolerate an array too.
fn text_field(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: Value) -> VendorResponse {
        VendorResponse {
            status,
            headers: vec![("retry-after".into(), "5".into())],
            body: body.to_string().into_bytes(),
        }
    }

    fn error(code: i64) -> Value {
        json!({"result": "error", "trace_id": "t", "code": code, "description": "d", "reason": "r"})
    }

    #[test]
    fn every_documented_code_has_its_class() {
        let mut table = vec![(
            200,
            json!({"result": "ok", "code": 0, "data": {"id": "m1"}}),
            "accepted",
        )];
        table.push((200, error(20301), "invalid_token"));
        table.push((200, error(21301), "auth_expired"));
        table.push((200, error(200001), "quota_exceeded"));
        for code in [
            10001, 10002, 10003, 10009, 10011, 22102, 10022, 10023, 10024, 10027, 10028,
        ] {
            table.push((200, error(code), "retry"));
        }
        for code in [
            21305, 10016, 10008, 10017, 10018, 22000, 22001, 22002, 22006, 22007, 22008, 22022, 22100, 22101,
            22103, 10004, 10005, 10014, 10026,
        ] {
            table.push((200, error(code), "rejected"));
        }
        table.push((503, json!("Service Unavailable"), "retry"));
        for (status, body, expected) in table {
            assert_eq!(
                classify(&answer(status, body.clone()), &["r1"])[0].state(),
                expected,
                "{body}"
            );
        }
    }

    #[test]
    fn bad_regids_are_invalid_and_the_rest_accepted() {
        let body = json!({"result": "ok", "code": 0, "data": {"id": "m1", "bad_regids": "r2,r3"}});
        let outcomes = classify(&answer(200, body), &["r1", "r2", "r3", "r4"]);
        let states: Vec<&str> = outcomes.iter().map(Outcome::state).collect();
        assert_eq!(states, ["accepted", "invalid_token", "invalid_token", "accepted"]);
        assert_eq!(
            outcomes[0],
            Outcome::Accepted {
                vendor_msg_id: Some("m1".into())
            }
        );
    }

    #[test]
    fn frequency_codes_honour_retry_after() {
        assert!(
            matches!(&classify(&answer(200, error(10027)), &["r1"])[0], Outcome::Retry { after: Some(d), .. } if d.as_secs() == 5)
        );
    }
}
