//! One adapter per push vendor. Each vendor lives in its own folder with the same role-named
//! files (`config.rs` now; `auth.rs`, `request.rs`, `response.rs`, `adapter.rs` as adapters
//! land), and vendor folders never import each other: shared code lives in this crate's root
//! modules.

mod auth;
mod cert;
mod driver;
mod fields;
pub mod http;
mod limits;
mod quota;
mod retry;
mod rules;
mod token;

mod apns;
mod fcm;
mod honor;
mod huawei;
mod meizu;
mod oppo;
mod vivo;
mod webpush;
mod xiaomi;

use cert::CertView;
use driver::{Driver, VendorApi};
use fields::Fields;
use herald_core::{Adapter, AdapterError, Certificate, Invalid, Notification, Outcome, Target, Vendor};
use http::{Http, VendorRequest};
use quota::{DailyQuota, RateLimit};
use serde_json::{Map, Value};
use std::sync::Arc;

pub use rules::check_defaults;
pub use token::{check_token, serves_platform};

/// A certificate's vendor fields after checking: split into what may be shown and what must be
/// sealed, plus advice for the operator (deprecated auth, missing IM channel).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedFields {
    /// Fields returned by the API as they are.
    pub public: Map<String, Value>,
    /// Write-only fields, to be sealed at rest.
    pub secrets: Map<String, Value>,
    /// Things that work but will hurt (shown on create and update).
    pub warnings: Vec<String>,
}

/// The write-only fields of a vendor.
pub fn secret_fields(vendor: Vendor) -> &'static [&'static str] {
    match vendor {
        Vendor::Apns => apns::config::SECRET_FIELDS,
        Vendor::Fcm => fcm::config::SECRET_FIELDS,
        Vendor::Huawei => huawei::config::SECRET_FIELDS,
        Vendor::Honor => honor::config::SECRET_FIELDS,
        Vendor::Xiaomi => xiaomi::config::SECRET_FIELDS,
        Vendor::Oppo => oppo::config::SECRET_FIELDS,
        Vendor::Vivo => vivo::config::SECRET_FIELDS,
        Vendor::Meizu => meizu::config::SECRET_FIELDS,
        Vendor::Webpush => webpush::config::SECRET_FIELDS,
    }
}

/// Checks a vendor's certificate fields deeply (keys parse, ids have the vendor's shape, value
/// sets are the vendor's) and splits them into public and secret parts. `fields` holds only the
/// vendor's own fields, none of the common ones (`name`, `click_action`…).
pub fn check_certificate_fields(
    vendor: Vendor,
    mut fields: Map<String, Value>,
) -> Result<CheckedFields, Invalid> {
    let mut reader = Fields::new(vendor.as_str(), &mut fields);
    let warnings = match vendor {
        Vendor::Apns => apns::config::check(&mut reader)?,
        Vendor::Fcm => fcm::config::check(&mut reader)?,
        Vendor::Huawei => huawei::config::check(&mut reader)?,
        Vendor::Honor => honor::config::check(&mut reader)?,
        Vendor::Xiaomi => xiaomi::config::check(&mut reader)?,
        Vendor::Oppo => oppo::config::check(&mut reader)?,
        Vendor::Vivo => vivo::config::check(&mut reader)?,
        Vendor::Meizu => meizu::config::check(&mut reader)?,
        Vendor::Webpush => webpush::config::check(&mut reader)?,
    };
    reader.finish()?;
    let secret_names = secret_fields(vendor);
    let mut checked = CheckedFields {
        warnings,
        ..CheckedFields::default()
    };
    for (key, value) in fields {
        if value.is_null() {
            continue;
        }
        if secret_names.contains(&key.as_str()) {
            checked.secrets.insert(key, value);
        } else {
            checked.public.insert(key, value);
        }
    }
    Ok(checked)
}

/// Usual request rate per certificate when none is configured (requests per second). Vendors
/// publish few numbers (OPPO's smallest tier is 5,000 QPS, FCM 600,000 messages a minute); these
/// stay below what a new app is granted.
fn default_rate(vendor: Vendor) -> u32 {
    match vendor {
        Vendor::Apns | Vendor::Fcm | Vendor::Webpush => 5_000,
        Vendor::Oppo => 4_000,
        Vendor::Xiaomi => 3_000,
        Vendor::Huawei | Vendor::Honor => 1_000,
        Vendor::Vivo => 500,
        Vendor::Meizu => 200,
    }
}

/// The vendor's day starts at midnight in this UTC offset (hours): Beijing time for the
/// Chinese vendors, UTC for the others.
fn quota_day_offset(vendor: Vendor) -> i64 {
    match vendor {
        Vendor::Huawei | Vendor::Honor | Vendor::Xiaomi | Vendor::Oppo | Vendor::Vivo | Vendor::Meizu => 8,
        Vendor::Apns | Vendor::Fcm | Vendor::Webpush => 0,
    }
}

fn drive<V: VendorApi>(api: V, cert: &Certificate, http: &Http) -> Arc<dyn Adapter> {
    let rate = cert
        .defaults
        .requests_per_second
        .unwrap_or_else(|| default_rate(cert.vendor));
    let quota = DailyQuota::new(cert.defaults.daily_quota, quota_day_offset(cert.vendor));
    Arc::new(Driver::new(api, http.clone(), RateLimit::new(rate), quota))
}

/// Builds the adapter of one certificate (its credentials, token cache, rate limit and quota).
pub fn build_adapter(
    cert: &Certificate,
    secrets: &Map<String, Value>,
    http: &Http,
) -> Result<Arc<dyn Adapter>, AdapterError> {
    let view = CertView { cert, secrets };
    match cert.vendor {
        Vendor::Huawei => Ok(drive(
            huawei::adapter::HuaweiApi {
                config: huawei::config::HuaweiConfig::from_certificate(view)?,
            },
            cert,
            http,
        )),
        Vendor::Fcm => Ok(drive(
            fcm::adapter::FcmApi {
                config: fcm::config::FcmConfig::from_certificate(view)?,
            },
            cert,
            http,
        )),
        Vendor::Honor => Ok(drive(
            honor::adapter::HonorApi {
                config: honor::config::HonorConfig::from_certificate(view)?,
            },
            cert,
            http,
        )),
        Vendor::Xiaomi => Ok(drive(
            xiaomi::adapter::XiaomiApi {
                config: xiaomi::config::XiaomiConfig::from_certificate(view)?,
            },
            cert,
            http,
        )),
        Vendor::Oppo => Ok(drive(
            oppo::adapter::OppoApi {
                config: oppo::config::OppoConfig::from_certificate(view)?,
            },
            cert,
            http,
        )),
        Vendor::Vivo => Ok(drive(
            vivo::adapter::VivoApi {
                config: vivo::config::VivoConfig::from_certificate(view)?,
            },
            cert,
            http,
        )),
        Vendor::Meizu => Ok(drive(
            meizu::adapter::MeizuApi {
                config: meizu::config::MeizuConfig::from_certificate(view)?,
            },
            cert,
            http,
        )),
        Vendor::Apns => {
            let config = apns::config::ApnsConfig::from_certificate(view)?;
            // Certificate auth: a client of its own presenting the .p12 as TLS client certificate.
            let http = match &config.auth {
                apns::config::ApnsAuth::Certificate(identity) => http.with_identity(identity.pem.expose())?,
                apns::config::ApnsAuth::Token(_) => http.clone(),
            };
            Ok(drive(apns::adapter::ApnsApi { config }, cert, &http))
        }
        Vendor::Webpush => Ok(drive(
            webpush::adapter::WebpushApi::new(webpush::config::WebpushConfig::from_certificate(view)?),
            cert,
            http,
        )),
    }
}

/// The requests an adapter would send for a notification (with `credential` in place of a
/// real access token), without sending them: for reviewing request shapes and for traces.
pub fn preview_requests(
    cert: &Certificate,
    secrets: &Map<String, Value>,
    notification: &Notification,
    targets: &[Target],
    credential: &str,
) -> Result<Result<Vec<VendorRequest>, Outcome>, AdapterError> {
    let view = CertView { cert, secrets };
    let tokens: Vec<&str> = targets.iter().map(|t| t.token.as_str()).collect();
    match cert.vendor {
        Vendor::Huawei => {
            let config = huawei::config::HuaweiConfig::from_certificate(view)?;
            Ok(huawei::request::message(&config, notification).map(|message| {
                tokens
                    .chunks(huawei::adapter::MAX_BATCH)
                    .map(|chunk| huawei::request::send_request(&config, &message, chunk, credential))
                    .collect()
            }))
        }
        Vendor::Fcm => {
            let config = fcm::config::FcmConfig::from_certificate(view)?;
            Ok(fcm::request::message(&config, notification).map(|message| {
                targets
                    .iter()
                    .map(|target| fcm::request::send_request(&config, &message, target, credential))
                    .collect()
            }))
        }
        Vendor::Honor => {
            // `timestamp` is the preview's own time.
            let config = honor::config::HonorConfig::from_certificate(view)?;
            Ok(honor::request::message(&config, notification).map(|message| {
                tokens
                    .chunks(honor::adapter::MAX_BATCH)
                    .map(|chunk| {
                        honor::request::send_request(&config, &message, chunk, credential, auth::now_millis())
                    })
                    .collect()
            }))
        }
        Vendor::Xiaomi => {
            // `credential` stands in for the AppSecret, which a preview never shows.
            let config = xiaomi::config::XiaomiConfig::from_certificate(view)?;
            Ok(xiaomi::request::message(&config, notification).map(|fields| {
                tokens
                    .chunks(xiaomi::adapter::MAX_BATCH)
                    .map(|chunk| xiaomi::request::send_request(&config, &fields, chunk, credential))
                    .collect()
            }))
        }
        Vendor::Oppo => {
            let config = oppo::config::OppoConfig::from_certificate(view)?;
            Ok(oppo::request::notification(&config, notification).map(|body| {
                tokens
                    .chunks(oppo::adapter::MAX_BATCH)
                    .map(|chunk| oppo::request::send_request(&config, &body, chunk, credential))
                    .collect()
            }))
        }
        Vendor::Vivo => {
            // A list push needs the taskId vivo answers to saveListPayload: shown as a placeholder.
            let config = vivo::config::VivoConfig::from_certificate(view)?;
            Ok(vivo::request::message(&config, notification).map(|message| {
                tokens
                    .chunks(vivo::adapter::MAX_BATCH)
                    .flat_map(|chunk| match chunk {
                        [token] => vec![vivo::request::send_request(&config, &message, token, credential)],
                        _ => vec![
                            vivo::request::save_list_payload_request(&config, &message, chunk, credential),
                            vivo::request::push_to_list_request(
                                &config, &message, "<taskId>", chunk, credential,
                            ),
                        ],
                    })
                    .collect()
            }))
        }
        Vendor::Meizu => {
            // Meizu signs each request; `credential` is not used.
            let config = meizu::config::MeizuConfig::from_certificate(view)?;
            Ok(
                meizu::request::message_json(&config, notification).map(|message| {
                    tokens
                        .chunks(meizu::adapter::MAX_BATCH)
                        .map(|chunk| meizu::request::send_request(&config, &message, chunk))
                        .collect()
                }),
            )
        }
        Vendor::Apns => {
            let config = apns::config::ApnsConfig::from_certificate(view)?;
            Ok(apns::request::alert(&config, notification).map(|alert| {
                targets
                    .iter()
                    .map(|target| apns::request::send_request(&config, &alert, target, credential))
                    .collect()
            }))
        }
        Vendor::Webpush => {
            // `credential` stands in for the VAPID JWT; bodies are encrypted with a fresh key.
            let config = webpush::config::WebpushConfig::from_certificate(view)?;
            Ok(
                webpush::request::message(&config, notification).and_then(|message| {
                    targets
                        .iter()
                        .map(|target| {
                            let subscription = webpush::request::subscription(&target.token)
                                .map_err(|reason| Outcome::InvalidToken { reason })?;
                            let body = webpush::encrypt::encrypt(
                                &message.plaintext,
                                &subscription.p256dh,
                                &subscription.auth,
                            )
                            .map_err(|e| Outcome::InvalidToken {
                                reason: e.to_string(),
                            })?;
                            let authorization = webpush::auth::authorization(credential, &config.public_key);
                            Ok(webpush::request::send_request(
                                &message,
                                &subscription,
                                body,
                                authorization,
                            ))
                        })
                        .collect()
                }),
            )
        }
    }
}

/// Performs the vendor's local signing step once, as the adapter does when its cached
/// credential runs out (APNs provider JWT, FCM service-account assertion, VAPID JWT, OPPO and
/// vivo auth signatures, Meizu request signature). `Ok(None)` for vendors whose credential is
/// only obtained from the vendor (Huawei, Honor) or is a static key (Xiaomi). For benchmarks
/// and diagnostics; returns the signed value.
pub fn sign_locally(
    cert: &Certificate,
    secrets: &Map<String, Value>,
) -> Result<Option<String>, AdapterError> {
    let view = CertView { cert, secrets };
    let now = auth::now_seconds();
    let refused = |f: auth::AuthFailure| match f {
        auth::AuthFailure::Refused { reason, .. } => AdapterError::Config(reason),
        auth::AuthFailure::Transport(e) => e,
    };
    Ok(match cert.vendor {
        Vendor::Apns => {
            // Certificate auth signs nothing: the TLS handshake authenticates.
            match apns::config::ApnsConfig::from_certificate(view)?.auth {
                apns::config::ApnsAuth::Token(key) => {
                    Some(apns::auth::provider_token(&key, now).map_err(refused)?)
                }
                apns::config::ApnsAuth::Certificate(_) => None,
            }
        }
        Vendor::Fcm => {
            let config = fcm::config::FcmConfig::from_certificate(view)?;
            Some(fcm::auth::assertion(&config, now).map_err(refused)?)
        }
        Vendor::Webpush => {
            let config = webpush::config::WebpushConfig::from_certificate(view)?;
            Some(
                webpush::auth::vapid_jwt(&config, "https://push.example.net", now + 43_200)
                    .map_err(AdapterError::Config)?,
            )
        }
        Vendor::Oppo => {
            let config = oppo::config::OppoConfig::from_certificate(view)?;
            Some(oppo::auth::sign(
                &config.app_key,
                now * 1000,
                config.master_secret.expose(),
            ))
        }
        Vendor::Vivo => {
            let config = vivo::config::VivoConfig::from_certificate(view)?;
            Some(vivo::auth::sign(
                config.app_id,
                &config.app_key,
                now * 1000,
                config.app_secret.expose(),
            ))
        }
        Vendor::Meizu => {
            let config = meizu::config::MeizuConfig::from_certificate(view)?;
            let message = r#"{"noticeBarInfo":{"title":"t","content":"c"}}"#;
            Some(meizu::auth::sign(
                &[
                    ("appId", config.app_id.as_str()),
                    ("messageJson", message),
                    ("pushIds", "p1,p2"),
                ],
                config.app_secret.expose(),
            ))
        }
        Vendor::Huawei | Vendor::Honor | Vendor::Xiaomi => None,
    })
}
