//! The WebSocket frames in the OpenAPI document. OpenAPI has no words for the messages of an
//! upgraded connection, so the frames are component schemas of their own, `ClientFrame` and
//! `ServerFrame` (derived from `herald_engine::protocol`, the types the gateway parses and
//! writes), and `GET /v1/connect`'s `101` answer points at them. Each frame type becomes a
//! schema of its own (`ClientSendFrame`, `ServerSentFrame`…) that the union reaches through a
//! `type` discriminator, which code generators turn into one class per frame.

use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::{Discriminator, Object, OneOf, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// The two unions and the prefix of their frame schemas.
pub const UNIONS: [(&str, &str); 2] = [("ClientFrame", "Client"), ("ServerFrame", "Server")];

/// The path whose `101` answer the frames travel on.
pub const CONNECT_PATH: &str = "/v1/connect";

/// Splits the frame unions into one schema per frame type with a `type` discriminator, and
/// links them from `GET /v1/connect`'s `101` answer.
pub fn document_frames(openapi: &mut OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    for (union, prefix) in UNIONS {
        let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get(union).cloned() else {
            continue;
        };
        let mut split = OneOf::new();
        split.description = one_of.description.clone();
        let mut mapping = Vec::new();
        for item in one_of.items {
            let frame = flatten(item, &components.schemas);
            let Some(kind) = frame_type(&frame) else {
                continue;
            };
            let name = format!("{prefix}{}Frame", title(&kind));
            components
                .schemas
                .insert(name.clone(), Schema::Object(frame).into());
            split.items.push(Ref::from_schema_name(name.clone()).into());
            mapping.push((kind, format!("#/components/schemas/{name}")));
        }
        split.discriminator = Some(Discriminator::with_mapping("type", mapping));
        components
            .schemas
            .insert(union.to_string(), Schema::OneOf(split).into());
    }

    let Some(operation) = openapi
        .paths
        .paths
        .get_mut(CONNECT_PATH)
        .and_then(|item| item.get.as_mut())
    else {
        return;
    };
    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("101") {
        let link = |name: &str| serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
        let frames = ExtensionsBuilder::new()
            .add(
                "x-websocket-frames",
                serde_json::json!({"client": link("ClientFrame"), "server": link("ServerFrame")}),
            )
            .build();
        match &mut response.extensions {
            Some(extensions) => extensions.merge(frames),
            None => response.extensions = Some(frames),
        }
    }
}

/// A frame as one object: the parts of an `allOf` (a flattened field, such as the message of
/// a `send`) merged, references to other components resolved.
fn flatten(item: RefOr<Schema>, schemas: &std::collections::BTreeMap<String, RefOr<Schema>>) -> Object {
    match item {
        RefOr::T(Schema::Object(object)) => object,
        RefOr::T(Schema::AllOf(all_of)) => {
            let mut merged = Object::with_type(SchemaType::Type(Type::Object));
            for part in all_of.items {
                let part = match part {
                    RefOr::Ref(reference) => {
                        let name = reference.ref_location.rsplit('/').next().unwrap_or_default();
                        match schemas.get(name) {
                            Some(RefOr::T(Schema::Object(object))) => object.clone(),
                            _ => continue,
                        }
                    }
                    RefOr::T(Schema::Object(object)) => object,
                    RefOr::T(_) => continue,
                };
                merged.properties.extend(part.properties);
                for name in part.required {
                    if !merged.required.contains(&name) {
                        merged.required.push(name);
                    }
                }
            }
            merged.description = all_of.description;
            merged
        }
        _ => Object::new(),
    }
}

/// The value of a frame's `type` property.
fn frame_type(frame: &Object) -> Option<String> {
    match frame.properties.get("type")? {
        RefOr::T(Schema::Object(property)) => property
            .enum_values
            .as_ref()?
            .first()?
            .as_str()
            .map(str::to_string),
        _ => None,
    }
}

/// `send` → `Send`.
fn title(kind: &str) -> String {
    kind.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}
