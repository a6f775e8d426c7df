//! The certificate schemas of the OpenAPI document: one per vendor for a create body
//! (`ApnsCertificate`…, a `oneOf` discriminated by `vendor`), an update body
//! (`ApnsCertificateUpdate`…, every field optional) and an answer (`ApnsCertificateView`…,
//! secrets left out). They are built from `herald_vendors::certificate_fields`, the description
//! that sits beside each vendor's checks, and from the common fields' own types, so the
//! document lists the fields the server takes and shows, no more and no fewer. The handlers
//! still read a JSON map: what is accepted is decided by the checks alone.

use super::views::{CertificateCommonView, CertificateView};
use herald_core::{CertificateDefaults, ClickAction, Vendor};
use herald_vendors::{CertificateField, FieldShape};
use serde_json::{Value, json};
use std::borrow::Cow;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, Discriminator, Object, ObjectBuilder,
    OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// The schemas a [`ToSchema::schemas`] call collects.
type Schemas = Vec<(String, RefOr<Schema>)>;

/// The fields every certificate body has besides its vendor's (the template of each vendor's
/// schema; the engine reads them, `herald_engine::CertificateChanges`).
#[derive(ToSchema)]
#[allow(dead_code)]
struct CommonFields {
    /// Unique name in the app: letters, digits, `_ . @ -`.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.@-]+$")]
    name: String,
    /// Whether pushes go out through it (default true).
    enabled: Option<bool>,
    /// What tapping the notification does (default `{"type":"open_app"}`).
    click_action: Option<ClickAction>,
    /// Options applied to every push through it; each accepted only for the vendors that
    /// use it (`unsupported_default` otherwise).
    defaults: Option<CertificateDefaults>,
    /// Endpoint override (an http or https URL), e.g. the sandbox's.
    base_url: Option<String>,
}

/// The schema name of a vendor's certificate, `Apns` … `Webpush`.
fn vendor_title(vendor: Vendor) -> String {
    let id = vendor.as_str();
    id[..1].to_ascii_uppercase() + &id[1..]
}

/// The schema names of a vendor's create body, update body and answer.
pub fn schema_names(vendor: Vendor) -> [String; 3] {
    let title = vendor_title(vendor);
    [
        format!("{title}Certificate"),
        format!("{title}CertificateUpdate"),
        format!("{title}CertificateView"),
    ]
}

/// Which of the three shapes a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A create body: the required fields required, secrets write-only.
    Create,
    /// An update body: every field optional, `null` removes an optional one.
    Update,
    /// An answer: public fields only, as stored (numeric ids as strings).
    View,
}

/// The object schema inside `schema` (the derive makes objects).
fn object_of(schema: RefOr<Schema>) -> Object {
    match schema {
        RefOr::T(Schema::Object(object)) => object,
        _ => Object::new(),
    }
}

/// The types a field takes, with `null` where it means "not given".
fn types(types: &[Type], nullable: bool) -> SchemaType {
    let mut all = types.to_vec();
    if nullable {
        all.push(Type::Null);
    }
    match all.as_slice() {
        [one] => SchemaType::Type(one.clone()),
        _ => SchemaType::Array(all),
    }
}

/// A fixed set of values, with `null` where it means "not given".
fn values<T: Into<Value> + Copy>(allowed: &[T], nullable: bool) -> Vec<Value> {
    let mut all: Vec<Value> = allowed.iter().map(|v| (*v).into()).collect();
    if nullable {
        all.push(Value::Null);
    }
    all
}

/// The schema of one vendor field. An optional field takes `null` (the same as leaving it
/// out) except in an answer, which shows stored values only.
fn field_schema(vendor: Vendor, field: &CertificateField, shape: Shape) -> RefOr<Schema> {
    let nullable = shape != Shape::View && !field.required;
    let secret = herald_vendors::secret_fields(vendor).contains(&field.name);
    let mut description = field.description.to_string();
    if secret {
        description.push_str(" Write-only: sealed at rest, never returned.");
    }
    let builder = ObjectBuilder::new().description(Some(description));
    let builder = match field.shape {
        FieldShape::Text { allowed: [] } => builder
            .schema_type(types(&[Type::String], nullable))
            .min_length(Some(1)),
        FieldShape::Text { allowed } => builder
            .schema_type(types(&[Type::String], nullable))
            .enum_values(Some(values(allowed, nullable))),
        FieldShape::Digits if shape == Shape::View => {
            builder.schema_type(Type::String).pattern(Some("^[0-9]{1,20}$"))
        }
        FieldShape::Digits => builder
            .schema_type(types(&[Type::String, Type::Integer], nullable))
            .min_length(Some(1))
            .minimum(Some(0)),
        FieldShape::Number { allowed } => builder
            .schema_type(types(&[Type::Integer], nullable))
            .enum_values(Some(values(allowed, nullable))),
        FieldShape::Object { required } => {
            let mut builder = builder.schema_type(types(&[Type::Object, Type::String], nullable));
            for member in required {
                builder = builder
                    .property(*member, ObjectBuilder::new().schema_type(Type::String))
                    .required(*member);
            }
            builder
        }
    };
    builder
        .default(field.default.map(|d| json!(d)))
        .write_only(secret.then_some(true))
        .into()
}

/// The `vendor` property of one vendor's schemas.
fn vendor_property(vendor: Vendor) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([vendor.as_str()]))
        .description(Some("The vendor (it cannot change once created)."))
        .into()
}

/// One vendor's schema of the given shape: the common fields, then the vendor's.
fn vendor_schema(vendor: Vendor, shape: Shape) -> RefOr<Schema> {
    let described = herald_vendors::certificate_fields(vendor);
    let mut object = match shape {
        Shape::View => object_of(CertificateCommonView::schema()),
        Shape::Create | Shape::Update => object_of(CommonFields::schema()),
    };
    object.properties.insert("vendor".into(), vendor_property(vendor));
    match shape {
        Shape::Create => object.required.insert(0, "vendor".into()),
        Shape::Update => object.required.clear(),
        Shape::View => {
            // The names of the secrets that hold a value.
            let secrets = herald_vendors::secret_fields(vendor);
            object.properties.insert(
                "secret_fields".into(),
                ArrayBuilder::new()
                    .items(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(secrets.iter().copied())),
                    )
                    .description(Some(
                        "The write-only fields that hold a value (never their values).",
                    ))
                    .into(),
            );
        }
    }
    for field in described.fields {
        if shape == Shape::View && herald_vendors::secret_fields(vendor).contains(&field.name) {
            continue;
        }
        object
            .properties
            .insert(field.name.into(), field_schema(vendor, field, shape));
        // An answer always has the required public fields and the ones given a default.
        let present = match shape {
            Shape::Create => field.required,
            Shape::Update => false,
            Shape::View => field.required || field.default.is_some(),
        };
        if present {
            object.required.push(field.name.into());
        }
    }
    object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    object.description = Some(match shape {
        Shape::Create => format!("A new {vendor} certificate: the common fields and {vendor}'s own."),
        Shape::Update => format!(
            "Changes to a {vendor} certificate: given fields replace the stored ones, left-out \
             fields (secrets too) stay, `null` removes an optional field."
        ),
        Shape::View => format!("A {vendor} certificate: secrets are listed by name in `secret_fields`."),
    });
    let object = Schema::Object(object);
    // Ways of authenticating (APNs token or certificate auth): at least one, in full.
    if shape != Shape::Create || described.credentials.is_empty() {
        return object.into();
    }
    let mut ways = AnyOfBuilder::new().description(Some(
        "The fields of at least one way of authenticating (the README tells which may be combined).",
    ));
    for way in described.credentials {
        let mut needs = ObjectBuilder::new();
        for key in *way {
            needs = needs.required(*key);
        }
        ways = ways.item(needs);
    }
    AllOfBuilder::new().item(object).item(ways).into()
}

/// Registers the nine vendor schemas of `shape` and returns the union over them.
fn union(shape: Shape, schemas: &mut Schemas) -> Vec<(Vendor, String)> {
    let index = match shape {
        Shape::Create => 0,
        Shape::Update => 1,
        Shape::View => 2,
    };
    Vendor::ALL
        .into_iter()
        .map(|vendor| {
            let name = schema_names(vendor)[index].clone();
            schemas.push((name.clone(), vendor_schema(vendor, shape)));
            (vendor, name)
        })
        .collect()
}

/// A `oneOf` over the vendor schemas, told apart by `vendor`.
fn discriminated(names: &[(Vendor, String)], description: &str) -> RefOr<Schema> {
    let mut one_of = OneOfBuilder::new().description(Some(description));
    for (_, name) in names {
        one_of = one_of.item(Ref::from_schema_name(name.clone()));
    }
    let mapping = names
        .iter()
        .map(|(vendor, name)| (vendor.as_str(), format!("#/components/schemas/{name}")));
    one_of
        .discriminator(Some(Discriminator::with_mapping("vendor", mapping)))
        .into()
}

/// Body of certificate create: the common fields and the vendor's own, one schema per vendor
/// (`ApnsCertificate` … `WebpushCertificate`).
pub struct CertificateRequest;

const REQUEST: &str = "A new certificate: `vendor`, `name` and the vendor's fields.";

impl PartialSchema for CertificateRequest {
    fn schema() -> RefOr<Schema> {
        discriminated(&union(Shape::Create, &mut Vec::new()), REQUEST)
    }
}

impl ToSchema for CertificateRequest {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CertificateRequest")
    }

    fn schemas(schemas: &mut Schemas) {
        union(Shape::Create, schemas);
        common_schemas(schemas);
    }
}

/// Body of certificate update: any of the certificate's fields (its vendor's schema with every
/// field optional, `ApnsCertificateUpdate` …).
pub struct CertificateUpdate;

impl PartialSchema for CertificateUpdate {
    fn schema() -> RefOr<Schema> {
        let mut any_of = AnyOfBuilder::new().description(Some(
            "Changes to a certificate: fields of its vendor's schema, each optional. `vendor`, if \
             given, must be the certificate's.",
        ));
        for (_, name) in union(Shape::Update, &mut Vec::new()) {
            any_of = any_of.item(Ref::from_schema_name(name));
        }
        any_of.into()
    }
}

impl ToSchema for CertificateUpdate {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CertificateUpdate")
    }

    fn schemas(schemas: &mut Schemas) {
        union(Shape::Update, schemas);
        common_schemas(schemas);
    }
}

const VIEW: &str = "A certificate as the API shows it: the common fields, the vendor's public \
                    fields inline, and the names of the secret fields that are set (never their \
                    values).";

impl PartialSchema for CertificateView {
    fn schema() -> RefOr<Schema> {
        discriminated(&union(Shape::View, &mut Vec::new()), VIEW)
    }
}

impl ToSchema for CertificateView {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CertificateView")
    }

    fn schemas(schemas: &mut Schemas) {
        union(Shape::View, schemas);
        <CertificateCommonView as ToSchema>::schemas(schemas);
    }
}

/// The schemas the common fields refer to (click action, defaults).
fn common_schemas(schemas: &mut Schemas) {
    <CommonFields as ToSchema>::schemas(schemas);
}
