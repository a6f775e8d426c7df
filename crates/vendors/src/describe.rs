//! Each vendor's certificate fields described for people and tools: name, JSON shape, whether
//! it is required, fixed values, default and meaning. The server's OpenAPI document is built
//! from these lists (one schema per vendor), so they sit beside the checks they describe (each
//! vendor's `config.rs` declares its `FIELDS`). The tests below run every check and compare
//! what it reads and accepts with what is declared: a field a check reads but the list lacks,
//! or a value one takes and the other refuses, fails them.

/// The JSON a field is read as (`crate::fields::Fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldShape {
    /// A string that is not blank; `allowed`, when not empty, lists the only values taken.
    Text {
        /// The values taken (empty: any).
        allowed: &'static [&'static str],
    },
    /// A numeric id: a string of digits or a whole number, stored and shown as a string.
    Digits,
    /// A small whole number, one of `allowed`.
    Number {
        /// The values taken.
        allowed: &'static [u8],
    },
    /// A JSON object, or a string holding one (key files are often pasted as text).
    Object {
        /// String members the object must have.
        required: &'static [&'static str],
    },
}

/// One certificate field of a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateField {
    /// The key in the certificate's JSON.
    pub name: &'static str,
    /// What its value is read as.
    pub shape: FieldShape,
    /// Whether every certificate of the vendor needs it (fields needed by one way of
    /// authenticating only are listed in [`CertificateFields::credentials`] instead).
    pub required: bool,
    /// The value stored when none is given.
    pub default: Option<&'static str>,
    /// What it is and where to find it.
    pub description: &'static str,
}

impl CertificateField {
    /// An optional field of any non-blank string.
    pub(crate) const fn text(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            shape: FieldShape::Text { allowed: &[] },
            required: false,
            default: None,
            description,
        }
    }

    /// An optional field taking one of `allowed`.
    pub(crate) const fn one_of(
        name: &'static str,
        allowed: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        Self {
            shape: FieldShape::Text { allowed },
            ..Self::text(name, description)
        }
    }

    /// An optional small number taking one of `allowed`.
    pub(crate) const fn number(
        name: &'static str,
        allowed: &'static [u8],
        description: &'static str,
    ) -> Self {
        Self {
            shape: FieldShape::Number { allowed },
            ..Self::text(name, description)
        }
    }

    /// A numeric id.
    pub(crate) const fn digits(name: &'static str, description: &'static str) -> Self {
        Self {
            shape: FieldShape::Digits,
            ..Self::text(name, description)
        }
    }

    /// The same field, required.
    pub(crate) const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }

    /// The same field, with the value stored when none is given.
    pub(crate) const fn default(self, value: &'static str) -> Self {
        Self {
            default: Some(value),
            ..self
        }
    }
}

/// A vendor's certificate fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateFields {
    /// Every vendor field a certificate may have; any other key is refused (`unknown_field`).
    pub fields: &'static [CertificateField],
    /// Ways of authenticating, each the fields it needs; a certificate gives at least one in
    /// full (empty: the required fields are enough). APNs: token or certificate auth.
    pub credentials: &'static [&'static [&'static str]],
}

impl CertificateFields {
    /// The field named `name`.
    pub fn get(&self, name: &str) -> Option<&'static CertificateField> {
        self.fields.iter().find(|field| field.name == name)
    }
}

#[cfg(test)]
mod tests {
    use crate::fields::Fields;
    use crate::{certificate_fields, check_certificate_fields, entry, secret_fields};
    use herald_core::Vendor;
    use serde_json::{Map, Value, json};
    use std::collections::BTreeSet;

    fn testdata(name: &str) -> String {
        let path = format!("{}/../../testdata/keys/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim()
            .to_string()
    }

    /// A valid certificate of `vendor` with the required fields and the first way of
    /// authenticating only.
    fn minimal(vendor: Vendor) -> Map<String, Value> {
        let value = match vendor {
            Vendor::Apns => json!({"bundle_id": "com.example.chat", "team_id": "ABCDE12345",
                "key_id": "KEY1234567", "private_key": testdata("apns_p8.pem")}),
            Vendor::Fcm => json!({"service_account": {"type": "service_account",
                "project_id": "herald-test", "private_key": testdata("fcm_rsa.pem"),
                "client_email": "push@herald-test.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token"}}),
            Vendor::Huawei => json!({"app_id": "104412345", "app_secret": "hw-secret",
                "package_name": "com.example.chat"}),
            Vendor::Honor => json!({"app_id": "104400001", "client_id": "honor-client",
                "client_secret": "honor-secret", "package_name": "com.example.chat"}),
            Vendor::Xiaomi => json!({"app_secret": "mi-secret", "package_name": "com.example.chat"}),
            Vendor::Oppo => json!({"app_key": "oppo-key", "master_secret": "oppo-master"}),
            Vendor::Vivo => json!({"app_id": "10004", "app_key": "vivo-key", "app_secret": "vivo-secret"}),
            Vendor::Meizu => json!({"app_id": "110001", "app_secret": "meizu-secret",
                "package_name": "com.example.chat"}),
            Vendor::Webpush => json!({"vapid_public_key": testdata("vapid_public.b64url"),
                "vapid_private_key": testdata("vapid_private.b64url"), "subject": "mailto:ops@example.com"}),
        };
        value.as_object().expect("object").clone()
    }

    /// [`minimal`] with every optional field the check reads on its way to accepting it.
    fn complete(vendor: Vendor) -> Map<String, Value> {
        let extra = match vendor {
            Vendor::Apns => json!({"environment": "sandbox"}),
            Vendor::Fcm => json!({"project_id": "herald-test", "sender_id": "1234"}),
            Vendor::Huawei => json!({"badge_class": "com.example.chat.MainActivity", "category": "IM",
                "importance": "NORMAL"}),
            Vendor::Honor => json!({}),
            Vendor::Xiaomi => json!({"region": "global", "channel_id": "chat"}),
            Vendor::Oppo => json!({"channel_id": "chat", "category": "IM", "notify_level": 2}),
            Vendor::Vivo => json!({"classification": 1, "category": "IM"}),
            Vendor::Meizu => json!({"notice_msg_type": 1}),
            Vendor::Webpush => json!({}),
        };
        let mut fields = minimal(vendor);
        fields.extend(extra.as_object().expect("object").clone());
        fields
    }

    /// The keys the vendor's check reads while accepting `fields`.
    fn keys_read(vendor: Vendor, mut fields: Map<String, Value>) -> BTreeSet<String> {
        let profile = entry(vendor).profile();
        let mut reader = Fields::new(vendor.as_str(), &mut fields);
        (profile.check_fields)(&mut reader).unwrap_or_else(|e| panic!("{vendor}: {e:?}"));
        reader.read_keys().clone()
    }

    fn declared(vendor: Vendor) -> BTreeSet<String> {
        certificate_fields(vendor)
            .fields
            .iter()
            .map(|f| f.name.to_string())
            .collect()
    }

    #[test]
    fn each_vendor_declares_exactly_the_fields_its_check_reads() {
        for vendor in Vendor::ALL {
            // Every check reads all of its keys before it decides, so an accepted certificate
            // shows them all; any other key is refused as unknown.
            assert_eq!(keys_read(vendor, complete(vendor)), declared(vendor), "{vendor}");
            let mut unknown = complete(vendor);
            unknown.insert("not_a_field".into(), json!("x"));
            let refused = check_certificate_fields(vendor, unknown).expect_err("unknown field");
            assert_eq!(
                (refused.code, refused.field.as_str()),
                ("unknown_field", "not_a_field")
            );
            for secret in secret_fields(vendor) {
                assert!(
                    declared(vendor).contains(*secret),
                    "{vendor}: secret {secret} undeclared"
                );
            }
        }
    }

    #[test]
    fn the_required_fields_and_one_way_of_authenticating_are_enough_and_needed() {
        for vendor in Vendor::ALL {
            let described = certificate_fields(vendor);
            let needed: BTreeSet<&str> = described
                .fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name)
                .chain(
                    described
                        .credentials
                        .first()
                        .into_iter()
                        .flat_map(|c| c.iter().copied()),
                )
                .collect();
            let fixture = minimal(vendor);
            assert_eq!(
                fixture.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                needed,
                "{vendor}: the minimal certificate is the required fields plus the first credentials"
            );
            check_certificate_fields(vendor, fixture.clone())
                .unwrap_or_else(|e| panic!("{vendor}: minimal certificate refused: {e:?}"));
            for name in needed {
                let mut without = fixture.clone();
                without.remove(name);
                assert!(
                    check_certificate_fields(vendor, without).is_err(),
                    "{vendor}: accepted without {name}"
                );
            }
            for field in described.fields {
                if let Some(default) = field.default {
                    let checked = check_certificate_fields(vendor, fixture.clone()).expect("valid");
                    assert_eq!(
                        checked.public[field.name], default,
                        "{vendor}: default of {}",
                        field.name
                    );
                }
            }
        }
    }

    #[test]
    fn the_other_ways_of_authenticating_are_accepted_alone() {
        // FCM's legacy key still loads (with a deprecation warning).
        let mut fcm = Map::new();
        fcm.insert("server_key".into(), json!("AAAA-legacy"));
        fcm.insert("sender_id".into(), json!("1234"));
        let mut apns = minimal(Vendor::Apns);
        for key in ["team_id", "key_id", "private_key"] {
            apns.remove(key);
        }
        apns.insert("certificate".into(), json!(testdata("apns_p12.b64")));
        apns.insert("certificate_password".into(), json!("secret"));
        for (vendor, fields, way) in [(Vendor::Fcm, fcm, 1), (Vendor::Apns, apns, 1)] {
            let credentials = certificate_fields(vendor).credentials[way];
            assert!(
                credentials.iter().all(|key| fields.contains_key(*key)),
                "{vendor}"
            );
            check_certificate_fields(vendor, fields).unwrap_or_else(|e| panic!("{vendor}: {e:?}"));
        }
    }

    #[test]
    fn fixed_values_are_the_ones_the_checks_take() {
        for vendor in Vendor::ALL {
            for field in certificate_fields(vendor).fields {
                let with = |value: Value| {
                    let mut fields = minimal(vendor);
                    fields.insert(field.name.to_string(), value);
                    check_certificate_fields(vendor, fields)
                };
                match field.shape {
                    super::FieldShape::Text { allowed } if !allowed.is_empty() => {
                        for value in allowed {
                            assert!(with(json!(value)).is_ok(), "{vendor}: {} = {value}", field.name);
                        }
                        assert!(with(json!("NOT_A_VALUE")).is_err(), "{vendor}: {}", field.name);
                    }
                    super::FieldShape::Number { allowed } => {
                        for value in 0..=u8::MAX {
                            assert_eq!(
                                with(json!(value)).is_ok(),
                                allowed.contains(&value),
                                "{vendor}: {} = {value}",
                                field.name
                            );
                        }
                    }
                    super::FieldShape::Digits => {
                        assert!(
                            with(json!(104412345)).is_ok(),
                            "{vendor}: {} as a number",
                            field.name
                        );
                        assert!(with(json!("not digits")).is_err(), "{vendor}: {}", field.name);
                    }
                    _ => {}
                }
            }
        }
    }
}
