//! The vendor credentials the emulators accept, and the certificate definitions that point
//! Herald at the sandbox with them (`herald sandbox --print-config`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::Vendor;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::BTreeMap;

/// Why credentials could not be made.
#[derive(Debug, thiserror::Error)]
#[error("sandbox credentials: {0}")]
pub struct CredentialError(String);

/// Everything the emulators check signatures and secrets against.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    /// iOS bundle id (APNs topic) and Android package of the demo app.
    pub bundle_id: String,
    /// APNs team id.
    pub apns_team_id: String,
    /// APNs key id.
    pub apns_key_id: String,
    /// APNs .p8 (PKCS#8 PEM).
    pub apns_private_key_pem: String,
    /// Its public half (PEM), for verifying provider JWTs.
    pub apns_public_key_pem: String,
    /// APNs push certificate and its key as a .p12 file, base64 (certificate auth). Empty in
    /// credentials saved before certificate auth existed.
    #[serde(default)]
    pub apns_certificate_p12_b64: String,
    /// The .p12's password.
    #[serde(default)]
    pub apns_certificate_password: String,
    /// The .p12's certificate (PEM): the one TLS client certificate the APNs emulator accepts.
    #[serde(default)]
    pub apns_certificate_pem: String,
    /// FCM project.
    pub fcm_project_id: String,
    /// Service account e-mail.
    pub fcm_client_email: String,
    /// Service account key id.
    pub fcm_private_key_id: String,
    /// Service account RSA key (PKCS#8 PEM).
    pub fcm_private_key_pem: String,
    /// Its public half (PEM).
    pub fcm_public_key_pem: String,
    /// Huawei app id / OAuth client id.
    pub huawei_app_id: String,
    /// Huawei app secret.
    pub huawei_app_secret: String,
    /// Honor app id.
    pub honor_app_id: String,
    /// Honor OAuth client id.
    pub honor_client_id: String,
    /// Honor OAuth client secret.
    pub honor_client_secret: String,
    /// Xiaomi AppSecret.
    pub xiaomi_app_secret: String,
    /// OPPO AppKey.
    pub oppo_app_key: String,
    /// OPPO MasterSecret.
    pub oppo_master_secret: String,
    /// vivo app id.
    pub vivo_app_id: u64,
    /// vivo AppKey.
    pub vivo_app_key: String,
    /// vivo AppSecret.
    pub vivo_app_secret: String,
    /// Meizu app id.
    pub meizu_app_id: String,
    /// Meizu AppSecret.
    pub meizu_app_secret: String,
    /// VAPID public key (base64url, 65 bytes).
    pub vapid_public_key: String,
    /// VAPID private key (base64url, 32 bytes).
    pub vapid_private_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids only: keys, secrets and passwords stay out of logs.
        f.debug_struct("Credentials")
            .field("bundle_id", &self.bundle_id)
            .field("apns_team_id", &self.apns_team_id)
            .field("apns_key_id", &self.apns_key_id)
            .field("fcm_project_id", &self.fcm_project_id)
            .field("fcm_client_email", &self.fcm_client_email)
            .field("huawei_app_id", &self.huawei_app_id)
            .field("honor_app_id", &self.honor_app_id)
            .field("vivo_app_id", &self.vivo_app_id)
            .field("meizu_app_id", &self.meizu_app_id)
            .field("vapid_public_key", &self.vapid_public_key)
            .finish_non_exhaustive()
    }
}

/// Password of the sandbox's APNs .p12.
const APNS_P12_PASSWORD: &str = "sandbox-p12-secret";

/// A fresh self-signed APNs push certificate for `bundle_id` (an EC P-256 key and a subject
/// like Apple's, `CN=Apple Push Services: <bundle id>`), packed with its key as a .p12:
/// returns the .p12 (base64) and the certificate (PEM).
fn apns_push_certificate(bundle_id: &str) -> Result<(String, String), CredentialError> {
    let err = |e: &dyn std::fmt::Display| CredentialError(format!("APNs certificate: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| err(&e))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Apple Push Services: {bundle_id}"),
    );
    let cert = params.self_signed(&key).map_err(|e| err(&e))?;
    let local_key_id = sha2::Sha256::digest(cert.der());
    let chain = p12_keystore::PrivateKeyChain::new(
        &local_key_id[..20],
        p12_keystore::PrivateKey::from_der(&key.serialize_der()).map_err(|e| err(&e))?,
        [p12_keystore::Certificate::from_der(cert.der()).map_err(|e| err(&e))?],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("apns", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let p12 = store.writer(APNS_P12_PASSWORD).write().map_err(|e| err(&e))?;
    Ok((base64::engine::general_purpose::STANDARD.encode(p12), cert.pem()))
}

impl Credentials {
    /// Credentials built on the given keys: an APNs .p8 PEM, an FCM RSA PKCS#8 PEM and a VAPID
    /// private key (base64url). The other vendors' secrets are fixed sandbox values; the APNs
    /// push certificate (.p12) is made fresh.
    pub fn from_keys(
        apns_p8_pem: &str,
        fcm_rsa_pem: &str,
        vapid_private_b64: &str,
    ) -> Result<Self, CredentialError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| CredentialError(format!("{what}: {e}"));
        let apns = p256::SecretKey::from_pkcs8_pem(apns_p8_pem.trim()).map_err(|e| bad("APNs key", &e))?;
        let apns_public = apns
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| bad("APNs key", &e))?;
        let fcm = rsa::RsaPrivateKey::from_pkcs8_pem(fcm_rsa_pem.trim()).map_err(|e| bad("FCM key", &e))?;
        let fcm_public = rsa::RsaPublicKey::from(&fcm)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| bad("FCM key", &e))?;
        let vapid_bytes = URL_SAFE_NO_PAD
            .decode(vapid_private_b64.trim())
            .map_err(|e| bad("VAPID key", &e))?;
        let vapid = p256::SecretKey::from_slice(&vapid_bytes).map_err(|e| bad("VAPID key", &e))?;
        let vapid_public = URL_SAFE_NO_PAD.encode(vapid.public_key().to_encoded_point(false).as_bytes());
        let bundle_id = "com.example.chat";
        let (apns_p12, apns_certificate_pem) = apns_push_certificate(bundle_id)?;
        Ok(Self {
            bundle_id: bundle_id.into(),
            apns_team_id: "ABCDE12345".into(),
            apns_key_id: "KEY1234567".into(),
            apns_private_key_pem: apns_p8_pem.trim().to_string(),
            apns_public_key_pem: apns_public,
            apns_certificate_p12_b64: apns_p12,
            apns_certificate_password: APNS_P12_PASSWORD.into(),
            apns_certificate_pem,
            fcm_project_id: "herald-test-1".into(),
            fcm_client_email: "push@herald-test-1.iam.gserviceaccount.com".into(),
            fcm_private_key_id: "0123456789abcdef".into(),
            fcm_private_key_pem: fcm_rsa_pem.trim().to_string(),
            fcm_public_key_pem: fcm_public,
            huawei_app_id: "104412345".into(),
            huawei_app_secret: "hw-secret-value-0001".into(),
            honor_app_id: "104400001".into(),
            honor_client_id: "honor-client".into(),
            honor_client_secret: "honor-secret-value-0001".into(),
            xiaomi_app_secret: "mi-secret-value-0001".into(),
            oppo_app_key: "oppo-app-key".into(),
            oppo_master_secret: "oppo-master-secret-0001".into(),
            vivo_app_id: 10004,
            vivo_app_key: "vivo-app-key".into(),
            vivo_app_secret: "vivo-secret-value-0001".into(),
            meizu_app_id: "110001".into(),
            meizu_app_secret: "meizu-secret-value-0001".into(),
            vapid_public_key: vapid_public,
            vapid_private_key: vapid_private_b64.trim().to_string(),
        })
    }

    /// Fresh random keys (for `herald sandbox` and the demo).
    pub fn generate() -> Result<Self, CredentialError> {
        let mut rng = rand::thread_rng();
        let apns = p256::SecretKey::random(&mut rng);
        let apns_pem = apns
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| CredentialError(e.to_string()))?;
        let fcm = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| CredentialError(e.to_string()))?;
        let fcm_pem = fcm
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| CredentialError(e.to_string()))?;
        let vapid = p256::SecretKey::random(&mut rng);
        let vapid_b64 = URL_SAFE_NO_PAD.encode(vapid.to_bytes());
        Self::from_keys(&apns_pem, &fcm_pem, &vapid_b64)
    }

    /// A certificate body for APNs certificate auth (the .p12 and its password) pointing at the
    /// APNs emulator at `url`; `None` when these credentials hold no .p12.
    pub fn apns_certificate_definition(&self, url: &str) -> Option<Value> {
        (!self.apns_certificate_p12_b64.is_empty()).then(|| {
            json!({"vendor": "apns", "name": "sandbox-apns-certificate", "base_url": url,
                   "bundle_id": self.bundle_id, "environment": "sandbox",
                   "certificate": self.apns_certificate_p12_b64,
                   "certificate_password": self.apns_certificate_password})
        })
    }

    /// Certificate bodies for Herald's admin API, one per vendor, pointing at the emulators.
    pub fn certificate_definitions(&self, urls: &BTreeMap<Vendor, String>) -> Vec<Value> {
        let url = |v: Vendor| urls.get(&v).cloned().unwrap_or_default();
        vec![
            json!({"vendor": "apns", "name": "sandbox-apns", "base_url": url(Vendor::Apns),
                   "bundle_id": self.bundle_id, "environment": "sandbox", "team_id": self.apns_team_id,
                   "key_id": self.apns_key_id, "private_key": self.apns_private_key_pem}),
            json!({"vendor": "fcm", "name": "sandbox-fcm", "base_url": url(Vendor::Fcm),
                   "service_account": {"type": "service_account", "project_id": self.fcm_project_id,
                       "private_key_id": self.fcm_private_key_id, "private_key": self.fcm_private_key_pem,
                       "client_email": self.fcm_client_email, "token_uri": format!("{}/token", url(Vendor::Fcm))}}),
            json!({"vendor": "huawei", "name": "sandbox-huawei", "base_url": url(Vendor::Huawei),
                   "app_id": self.huawei_app_id, "app_secret": self.huawei_app_secret,
                   "package_name": self.bundle_id, "category": "IM", "importance": "NORMAL"}),
            json!({"vendor": "honor", "name": "sandbox-honor", "base_url": url(Vendor::Honor),
                   "app_id": self.honor_app_id, "client_id": self.honor_client_id,
                   "client_secret": self.honor_client_secret, "package_name": self.bundle_id}),
            json!({"vendor": "xiaomi", "name": "sandbox-xiaomi", "base_url": url(Vendor::Xiaomi),
                   "app_secret": self.xiaomi_app_secret, "package_name": self.bundle_id, "channel_id": "chat_private"}),
            json!({"vendor": "oppo", "name": "sandbox-oppo", "base_url": url(Vendor::Oppo),
                   "app_key": self.oppo_app_key, "master_secret": self.oppo_master_secret,
                   "channel_id": "chat_private", "category": "IM", "notify_level": 2}),
            json!({"vendor": "vivo", "name": "sandbox-vivo", "base_url": url(Vendor::Vivo),
                   "app_id": self.vivo_app_id, "app_key": self.vivo_app_key, "app_secret": self.vivo_app_secret,
                   "classification": 1, "category": "IM"}),
            json!({"vendor": "meizu", "name": "sandbox-meizu", "base_url": url(Vendor::Meizu),
                   "app_id": self.meizu_app_id, "app_secret": self.meizu_app_secret,
                   "package_name": self.bundle_id, "notice_msg_type": 1}),
            json!({"vendor": "webpush", "name": "sandbox-webpush",
                   "vapid_public_key": self.vapid_public_key, "vapid_private_key": self.vapid_private_key,
                   "subject": "mailto:ops@example.com"}),
        ]
    }
}
