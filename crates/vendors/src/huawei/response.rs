//! Huawei answers: classify on the string `code` first, the HTTP status second. A partial
//! success (`80100000`) lists the rejected tokens in a JSON string inside `msg`.
//! Codes: Huawei Push Kit server API reference (codes table in the vendor fact sheet §3.4).

use crate::http::VendorResponse;
use crate::retry;
use herald_core::Outcome;
use serde_json::Value;

/// One outcome per token, in order.
pub(crate) fn classify(response: &VendorResponse, tokens: &[&str]) -> Vec<Outcome> {
    let body = response.json().unwrap_or(Value::Null);
    let Some(code) = body["code"].as_str() else {
        return vec![retry::by_status(response, &response.text()); tokens.len()];
    };
    let msg = body["msg"].as_str().unwrap_or_default().to_string();
    let request_id = body["requestId"].as_str().map(str::to_string);
    let all = |outcome: Outcome| vec![outcome; tokens.len()];
    match code {
        "80000000" => all(Outcome::Accepted {
            vendor_msg_id: request_id,
        }),
        "80100000" => {
            let detail: Value = serde_json::from_str(&msg).unwrap_or(Value::Null);
            let illegal: Vec<&str> = detail["illegal_tokens"]
                .as_array()
                .map(|l| l.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            tokens
                .iter()
                .map(|t| {
                    if illegal.contains(t) {
                        Outcome::InvalidToken {
                            reason: "80100000 illegal token".into(),
                        }
                    } else {
                        Outcome::Accepted {
                            vendor_msg_id: request_id.clone(),
                        }
                    }
                })
                .collect()
        }
        "80300007" => all(Outcome::InvalidToken {
            reason: format!("80300007 {msg}"),
        }),
        "80200001" | "80200003" | "80600003" => all(Outcome::AuthExpired {
            reason: format!("{code} {msg}"),
        }),
        "80100017" | "81000001" => all(Outcome::Retry {
            after: retry::retry_after(response),
            reason: format!("{code} {msg}"),
        }),
        "80300011" if msg.contains("quota") => all(Outcome::QuotaExceeded {
            reason: format!("{code} {msg}"),
        }),
        _ if response.status >= 500 => all(Outcome::Retry {
            after: retry::retry_after(response),
            reason: format!("{code} {msg}"),
        }),
        other => all(Outcome::Rejected {
            code: other.to_string(),
            reason: msg,
        }),
    }
}
