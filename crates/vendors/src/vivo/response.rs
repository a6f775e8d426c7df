//! vivo answers: classify on the integer `result` first, the HTTP status second. A single send
//! names a bad target in `invalidUser`; a list push answers `result: 0` and lists bad targets in
//! `invalidUsers` (status 1 unknown, 2 uninstalled/unsubscribed, 4 not a test device).
//! Codes: vivo server API doc 362 and SDK `ExceptionStatusEnum` (fact sheet §7.4).

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;
use serde_json::Value;

/// One outcome per token, in order (for `/message/send` and `/message/pushToList`).
pub(crate) fn classify(response: &VendorResponse, tokens: &[&str]) -> Vec<Outcome> {
    let body = response.json().unwrap_or(Value::Null);
    let Some(result) = body["result"].as_i64() else {
        return vec![retry::by_status(response, &response.text()); tokens.len()];
    };
    let desc = body["desc"].as_str().unwrap_or_default();
    if result != 0 {
        return vec![outcome(response, result, desc); tokens.len()];
    }
    let task = body["taskId"]
        .as_str()
        .map(str::to_string)
        .or_else(|| body["taskId"].as_i64().map(|t| t.to_string()));
    let mut invalid: Vec<&Value> = body["invalidUsers"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    if body["invalidUser"].is_object() {
        invalid.push(&body["invalidUser"]);
    }
    tokens
        .iter()
        .map(|token| {
            let user = invalid.iter().find(|u| user_id(u).as_deref() == Some(*token));
            match user.and_then(|u| u["status"].as_i64()) {
                None => Outcome::Accepted {
                    vendor_msg_id: task.clone(),
                },
                // 1 unknown, 2 uninstalled / notifications off [DOC]; 3 offline 90 days [3P modood].
                Some(status @ 1..=3) => Outcome::InvalidToken {
                    reason: format!("invalid user status {status}"),
                },
                Some(status) => Outcome::Rejected {
                    code: format!("invalid_user_{status}"),
                    reason: format!("vivo refused this target (status {status}, e.g. 4 = not a test device)"),
                },
            }
        })
        .collect()
}

/// The `taskId` of a `saveListPayload` answer, or the outcome every target gets instead.
pub(crate) fn saved_task(response: &VendorResponse, tokens: &[&str]) -> Result<String, Vec<Outcome>> {
    let body = response.json().unwrap_or(Value::Null);
    let task = body["taskId"]
        .as_str()
        .map(str::to_string)
        .or_else(|| body["taskId"].as_i64().map(|t| t.to_string()));
    match (body["result"].as_i64(), task) {
        (Some(0), Some(task)) => Ok(task),
        (Some(0), None) => Err(vec![
            Outcome::Retry {
                after: None,
                reason: "vivo saved the payload without a taskId".into()
            };
            tokens.len()
        ]),
        _ => Err(classify(response, tokens)),
    }
}

/// The user id of an invalid-user entry (vivo sends it as text; some clients model a number).
fn user_id(user: &Value) -> Option<String> {
    user["userid"]
        .as_str()
        .map(str::to_string)
        .or_else(|| user["userid"].as_u64().map(|u| u.to_string()))
}

/// What one vivo `result` means.
fn outcome(response: &VendorResponse, result: i64, desc: &str) -> Outcome {
    let reason = format!("{result} {desc}").trim_end().to_string();
    match result {
        0 => Outcome::Accepted { vendor_msg_id: None },
        10302 => Outcome::InvalidToken { reason },
        // Auth token invalid or expired: refresh once. [3P]
        10000 => Outcome::AuthExpired { reason },
        // 10070 total quota, 10252 list payloads, 10254 broadcasts: do not call again today.
        10070 | 10252 | 10254 => Outcome::QuotaExceeded { reason },
        // Call frequency exceeded. [3P]
        10072 => Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        },
        _ if response.status >= 500 => Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        },
        other => Outcome::Rejected {
            code: other.to_string(),
            reason: desc.to_string(),
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
            (10302, "invalid_token"),
            (10000, "auth_expired"),
            (10094, "rejected"),
            (10050, "rejected"),
            (10055, "rejected"),
            (10056, "rejected"),
            (10059, "rejected"),
            (10069, "rejected"),
            (10150, "rejected"),
            (10153, "rejected"),
            (10301, "rejected"),
            (10305, "rejected"),
            (10352, "rejected"),
            (11000, "rejected"),
            (10096, "rejected"),
            (10097, "rejected"),
            (10200, "rejected"),
            (10205, "rejected"),
            (10070, "quota_exceeded"),
            (10252, "quota_exceeded"),
            (10254, "quota_exceeded"),
            (10072, "retry"),
        ];
        for (result, class) in table {
            let got = classify(
                &answer(200, json!({"result": result, "desc": "d", "taskId": "1"}), None),
                &["t"],
            );
            assert_eq!(got[0].state(), *class, "result {result}");
        }
    }

    #[test]
    fn frequency_limit_honours_retry_after_and_500_is_retried() {
        let got = classify(
            &answer(200, json!({"result": 10072, "desc": "too fast"}), Some("7")),
            &["t"],
        );
        assert!(matches!(got[0], Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)));
        let plain = VendorResponse {
            status: 500,
            headers: Vec::new(),
            body: b"Internet server error!".to_vec(),
        };
        assert!(matches!(classify(&plain, &["t"])[0], Outcome::Retry { .. }));
    }

    #[test]
    fn invalid_users_are_read_per_target() {
        let body = json!({"result": 0, "desc": "ok", "taskId": "9",
            "invalidUsers": [{"status": 1, "userid": "b"}, {"status": 2, "userid": "c"}, {"status": 4, "userid": "d"}]});
        let got = classify(&answer(200, body, None), &["a", "b", "c", "d"]);
        assert!(matches!(&got[0], Outcome::Accepted { vendor_msg_id: Some(id) } if id == "9"));
        assert!(matches!(got[1], Outcome::InvalidToken { .. }));
        assert!(matches!(got[2], Outcome::InvalidToken { .. }));
        assert!(matches!(got[3], Outcome::Rejected { .. }));
    }

    #[test]
    fn a_saved_payload_yields_its_task_id() {
        assert_eq!(
            saved_task(
                &answer(200, json!({"result": 0, "taskId": "42"}), None),
                &["a", "b"]
            ),
            Ok("42".into())
        );
        let refused = saved_task(
            &answer(200, json!({"result": 10000, "desc": "auth"}), None),
            &["a", "b"],
        );
        assert!(
            matches!(refused, Err(outcomes) if outcomes.len() == 2 && outcomes[0].state() == "auth_expired")
        );
    }
}
