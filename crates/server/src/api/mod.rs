//! The HTTP routes, grouped by who calls them. Handlers translate between JSON and the store;
//! the rules they enforce live in `herald-core` and `herald-vendors`.

pub mod apps;
pub mod certificate_schemas;
pub mod certificates;
pub mod groups;
pub mod me;
pub mod messages;
pub mod ops;
pub mod push_test;
pub mod users;
pub mod views;

use crate::state::AppState;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The document's header and security schemes; paths are added by the router itself.
#[derive(OpenApi)]
#[openapi(
    info(title = "Herald", description = "Self-hosted chat server with offline push through every phone vendor."),
    modifiers(&SecuritySchemes),
    components(schemas(herald_engine::protocol::ClientFrame, herald_engine::protocol::ServerFrame)),
    tags(
        (name = "admin", description = "Operator: apps, certificates, stats (admin token)"),
        (name = "server", description = "App backend: users, tokens, groups, devices (HTTP Basic app id + secret)"),
        (name = "client", description = "Phone app: push token, session state, settings (user token)"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("admin_token", bearer());
        components.add_security_scheme("user_token", bearer());
        components.add_security_scheme(
            "app_secret",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// Adds the answers any route may give besides its own to each operation of the document, so
/// that a client generated from it expects them: 401 where credentials are required, 403 where
/// app credentials are (they may name another app than the path), 400 where a parameter or
/// body is read, 404 where the path names something, 408 and 413 where a body is read, and 415
/// where a JSON body is required (the same [`ErrorBody`](crate::error::ErrorBody) as every
/// error). A route's own description of a status is kept; where a route lists one of these
/// statuses without a description, it gets the common one.
pub fn document_common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| -> RefOr<utoipa::openapi::Response> {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
            .into()
    };
    /// A status, its description, and which operations can answer it.
    type Common = (
        &'static str,
        &'static str,
        fn(&utoipa::openapi::path::Operation) -> bool,
    );
    let common: [Common; 7] = [
        (
            "401",
            "Missing credentials (`missing_credentials`), credentials of the wrong kind (`admin_token_required`, `app_credentials_required`, `user_token_required`, `unsupported_authorization`) or wrong ones (`invalid_admin_token`, `invalid_app_credentials`, `invalid_token`, `token_expired`)",
            |op| op.security.as_ref().is_some_and(|s| !s.is_empty()),
        ),
        (
            "403",
            "The app credentials belong to another app than the path's (`wrong_app`)",
            |op| requires_scheme(op, "app_secret"),
        ),
        (
            "404",
            "Something the path names does not exist (`app_not_found`, `user_not_found`…)",
            |op| has_parameter_in(op, utoipa::openapi::path::ParameterIn::Path),
        ),
        (
            "408",
            "The body stopped arriving (`request_timeout`, http_body_timeout_seconds)",
            |op| op.request_body.is_some(),
        ),
        (
            "400",
            "The body or a parameter breaks a rule; `field` names it",
            |op| op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty()),
        ),
        (
            "413",
            "The body is larger than `max_body_bytes` (`payload_too_large`)",
            |op| op.request_body.is_some(),
        ),
        (
            "415",
            "The body was not sent as `application/json` (`unsupported_media_type`)",
            // A body that may be left out is read whatever its `Content-Type`.
            |op| {
                op.request_body
                    .as_ref()
                    .is_some_and(|body| matches!(body.required, Some(utoipa::openapi::Required::True)))
            },
        ),
    ];
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, description, applies) in &common {
                let applies = applies(operation);
                let responses = &mut operation.responses.responses;
                match responses.get_mut(*status) {
                    // A route that lists the status without saying why gets the common words.
                    Some(RefOr::T(response)) if response.description.trim().is_empty() => {
                        response.description = (*description).to_string();
                    }
                    Some(_) => {}
                    None if applies => {
                        responses.insert((*status).to_string(), error(description));
                    }
                    None => {}
                }
            }
        }
    }
}

/// Whether the operation accepts the security scheme `scheme`.
fn requires_scheme(operation: &utoipa::openapi::path::Operation, scheme: &str) -> bool {
    let Some(requirements) = &operation.security else {
        return false;
    };
    // `SecurityRequirement` keeps its schemes private; its JSON form names them.
    requirements.iter().any(|requirement| {
        serde_json::to_value(requirement)
            .ok()
            .and_then(|value| value.as_object().map(|schemes| schemes.contains_key(scheme)))
            .unwrap_or(false)
    })
}

/// Whether the operation has a parameter in `location`.
fn has_parameter_in(
    operation: &utoipa::openapi::path::Operation,
    location: utoipa::openapi::path::ParameterIn,
) -> bool {
    operation
        .parameters
        .as_ref()
        .is_some_and(|parameters| parameters.iter().any(|p| p.parameter_in == location))
}

/// Every documented route. The OpenAPI document is built from this same list, so a route cannot
/// exist without being described.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(apps::create_app, apps::list_apps))
        .routes(routes!(apps::get_app, apps::delete_app))
        .routes(routes!(apps::rotate_secret))
        .routes(routes!(apps::stats))
        .routes(routes!(
            certificates::create_certificate,
            certificates::list_certificates
        ))
        .routes(routes!(
            certificates::get_certificate,
            certificates::update_certificate,
            certificates::delete_certificate
        ))
        .routes(routes!(certificates::certificate_quota))
        .routes(routes!(users::put_user, users::get_user))
        .routes(routes!(users::mint_token))
        .routes(routes!(users::list_devices))
        .routes(routes!(users::kick_device))
        .routes(routes!(groups::create_group))
        .routes(routes!(groups::get_group, groups::delete_group))
        .routes(routes!(groups::add_members))
        .routes(routes!(groups::remove_member))
        .routes(routes!(me::bind_push_token, me::unbind_push_token))
        .routes(routes!(me::background))
        .routes(routes!(me::foreground))
        .routes(routes!(me::logout))
        .routes(routes!(me::list_my_devices))
        .routes(routes!(me::get_push_settings, me::put_push_settings))
        .routes(routes!(messages::send_message))
        .routes(routes!(messages::send_batch))
        .routes(routes!(messages::send_my_message))
        .routes(routes!(messages::message_deliveries))
        .routes(routes!(messages::device_deliveries))
        .routes(routes!(push_test::push_test))
        .routes(routes!(crate::gateway::connect))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
}
