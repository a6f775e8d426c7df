//! Meizu answers: classify on the string `code` first, the HTTP status second. With code
//! `200`, `value` maps a per-target code to the pushIds that failed; targets not listed were
//! accepted. Codes: MEIZUPUSH/PushAPI README, SDK `ErrorCode` / `PushResponseCode` (§8.5).

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;
use serde_json::Value;

/// One outcome per token, in order.
pub(crate) fn classify(response: &VendorResponse, tokens: &[&str]) -> Vec<Outcome> {
    let body = response.json().unwrap_or(Value::Null);
    let code = body["code"]
        .as_str()
        .map(str::to_string)
        .or_else(|| body["code"].as_i64().map(|c| c.to_string()));
    let Some(code) = code else {
        return vec![retry::by_status(response, &response.text()); tokens.len()];
    };
    let message = body["message"].as_str().unwrap_or_default();
    if code != "200" {
        return vec![top_level(response, &code, message); tokens.len()];
    }
    let msg_id = body["msgId"].as_str().map(str::to_string);
    let failed = body["value"].as_object();
    tokens
        .iter()
        .map(|token| {
            let listed = failed.and_then(|map| {
                map.iter().find(|(_, ids)| {
                    ids.as_array()
                        .is_some_and(|l| l.iter().any(|id| id.as_str() == Some(token)))
                })
            });
            match listed {
                None => Outcome::Accepted {
                    vendor_msg_id: msg_id.clone(),
                },
                Some((target_code, _)) => per_target(response, target_code),
            }
        })
        .collect()
}

/// A top-level code (the whole request).
fn top_level(response: &VendorResponse, code: &str, message: &str) -> Outcome {
    let reason = format!("{code} {message}").trim_end().to_string();
    match code {
        // System error, server busy, other: transient.
        "1001" | "1003" | "500" => Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        },
        // App request rate too high: back off.
        "110010" => Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        },
        // Signature refused. Meizu has no token to refresh; it is reported as an expired
        // credential so the driver resends once (a persistent 1006 is a wrong AppSecret).
        "1006" => Outcome::AuthExpired { reason },
        // Daily / total push count, pass-through limit.
        "110019" | "110051" | "110053" => Outcome::QuotaExceeded { reason },
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

/// A code in `value` (one target).
fn per_target(response: &VendorResponse, code: &str) -> Outcome {
    let reason = format!("{code} {}", describe(code));
    match code {
        // Not registered / illegal / alias not subscribed / notification switch off.
        "110002" | "110003" | "110005" | "110010" => Outcome::InvalidToken { reason },
        // The device's daily public-message limit.
        "110011" => Outcome::QuotaExceeded { reason },
        // db error, push failed, speed limit (Meizu's sample resends these), overloaded.
        "501" | "513" | "518" | "519" => Outcome::Retry {
            after: retry::retry_after(response),
            reason,
        },
        // 201 refused; 520 collapsed by Meizu (too many to one device within a minute): final.
        other => Outcome::Rejected {
            code: other.to_string(),
            reason,
        },
    }
}

fn describe(code: &str) -> &'static str {
    match code {
        "110002" => "pushId not registered or unsubscribed",
        "110003" => "pushId illegal",
        "110005" => "alias not subscribed",
        "110010" => "pushId invalid: notification switch off",
        "110011" => "daily public-message limit of the device reached",
        "201" => "no permission, refused",
        "501" | "513" => "push failed",
        "518" => "exceeded the configured speed",
        "519" => "service overloaded",
        "520" => "collapsed: the device received too many messages within a minute",
        _ => "refused",
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
    fn every_documented_top_level_code_has_its_class() {
        let table: &[(&str, &str)] = &[
            ("200", "accepted"),
            ("1001", "retry"),
            ("1003", "retry"),
            ("500", "retry"),
            ("1005", "rejected"),
            ("110004", "rejected"),
            ("1006", "auth_expired"),
            ("110000", "rejected"),
            ("110001", "rejected"),
            ("110031", "rejected"),
            ("110033", "rejected"),
            ("110009", "rejected"),
            ("110010", "retry"),
            ("110019", "quota_exceeded"),
            ("110051", "quota_exceeded"),
            ("110032", "rejected"),
            ("110053", "quota_exceeded"),
        ];
        for (code, class) in table {
            let got = classify(
                &answer(200, json!({"code": code, "message": "m", "value": {}}), None),
                &["t"],
            );
            assert_eq!(got[0].state(), *class, "code {code}");
        }
    }

    #[test]
    fn every_documented_per_target_code_has_its_class() {
        let table: &[(&str, &str)] = &[
            ("110002", "invalid_token"),
            ("110003", "invalid_token"),
            ("110005", "invalid_token"),
            ("110010", "invalid_token"),
            ("110011", "quota_exceeded"),
            ("201", "rejected"),
            ("501", "retry"),
            ("513", "retry"),
            ("518", "retry"),
            ("519", "retry"),
            ("520", "rejected"),
        ];
        for (code, class) in table {
            let body = json!({"code": "200", "message": "", "value": {*code: ["b"]}, "msgId": "m"});
            let got = classify(&answer(200, body, None), &["a", "b"]);
            assert!(
                matches!(&got[0], Outcome::Accepted { vendor_msg_id: Some(id) } if id == "m"),
                "code {code}"
            );
            assert_eq!(got[1].state(), *class, "code {code}");
        }
    }

    #[test]
    fn rate_limit_honours_retry_after_and_a_bare_5xx_is_retried() {
        let got = classify(
            &answer(
                200,
                json!({"code": "110010", "message": "too fast", "value": ""}),
                Some("7"),
            ),
            &["t"],
        );
        assert!(matches!(got[0], Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)));
        let plain = VendorResponse {
            status: 503,
            headers: Vec::new(),
            body: b"busy".to_vec(),
        };
        assert!(matches!(classify(&plain, &["t"])[0], Outcome::Retry { .. }));
    }
}
