//! Message validation: what a sender wrote becomes an [`Outgoing`] message only if it keeps
//! the rules (ids, one destination, content for its kind, push info after the Agora aliases).
//! Every way in (server API, client API, WebSocket, batch) goes through here, so a message
//! refused on one is refused on all, with the same code.

use crate::error::ServiceError;
use crate::messaging::Outgoing;
use herald_core::Invalid;
use herald_core::ids::check_id;
use herald_core::message::{Destination, SendMessage, check_content};

/// A send by a user's own device (client API or WebSocket): the sender is the token's user;
/// naming another one is refused.
pub fn device_message(
    app: &str,
    user: &str,
    message: SendMessage,
    from_device: Option<String>,
) -> Result<Outgoing, ServiceError> {
    if message.from.as_ref().is_some_and(|from| from != user) {
        return Err(ServiceError::WrongSender);
    }
    Ok(outgoing(app, user.to_string(), message, from_device)?)
}

/// A send by the app's backend on behalf of the user it names in `from` (required).
pub fn backend_message(app: &str, mut message: SendMessage) -> Result<Outgoing, Invalid> {
    let from = message.from.take().ok_or_else(|| Invalid::missing("from"))?;
    outgoing(app, from, message, None)
}

/// A send on behalf of `from` (the message's own `from` field was read by the caller).
fn outgoing(
    app: &str,
    from: String,
    message: SendMessage,
    from_device: Option<String>,
) -> Result<Outgoing, Invalid> {
    check_id("from", &from)?;
    let to = destination(message.to, message.group)?;
    checked(Outgoing {
        app: app.to_string(),
        from,
        from_device,
        to,
        kind: message.kind,
        content: message.content,
        push: message.push.unwrap_or_default(),
        attributes: message.attributes.unwrap_or_default(),
    })
}

/// Most recipients of one batch send.
pub const MAX_BATCH_RECIPIENTS: usize = 500;

/// The recipients of a batch send (each gets its own message): 1 to
/// [`MAX_BATCH_RECIPIENTS`] user ids.
pub fn batch_recipients(users: &[String]) -> Result<(), Invalid> {
    if users.is_empty() || users.len() > MAX_BATCH_RECIPIENTS {
        return Err(Invalid::field(
            "to",
            format!("give 1 to {MAX_BATCH_RECIPIENTS} recipients"),
        ));
    }
    for (i, user) in users.iter().enumerate() {
        check_id(&format!("to[{i}]"), user)?;
    }
    Ok(())
}

/// Exactly one of a user or a group.
pub fn destination(to: Option<String>, group: Option<String>) -> Result<Destination, Invalid> {
    match (to, group) {
        (Some(to), None) => {
            check_id("to", &to)?;
            Ok(Destination::C2c { to })
        }
        (None, Some(group)) => {
            check_id("group", &group)?;
            Ok(Destination::Group { group })
        }
        _ => Err(Invalid::new(
            "to",
            "invalid_destination",
            "give exactly one of `to` (a user) or `group`",
        )),
    }
}

/// Checks the content for its kind, applies the Agora `em_*` attributes to the push info and
/// checks the push info. The sender and recipient are the caller's to check.
pub fn checked(mut out: Outgoing) -> Result<Outgoing, Invalid> {
    check_content(out.kind, &out.content)?;
    out.push.apply_agora_attributes(&out.attributes);
    out.push.validate()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(body: serde_json::Value) -> SendMessage {
        serde_json::from_value(body).expect("a send body")
    }

    #[test]
    fn a_device_cannot_send_as_another_user() {
        let body = message(json!({"from": "bob", "to": "carol", "kind": "text", "content": {"text": "hi"}}));
        assert!(matches!(
            device_message("app", "alice", body, None),
            Err(ServiceError::WrongSender)
        ));
        let body =
            message(json!({"from": "alice", "to": "carol", "kind": "text", "content": {"text": "hi"}}));
        let out = device_message("app", "alice", body, Some("phone".into())).expect("own user");
        assert_eq!(
            (out.from.as_str(), out.from_device.as_deref()),
            ("alice", Some("phone"))
        );
    }

    #[test]
    fn a_backend_names_the_sender() {
        let body = message(json!({"to": "bob", "kind": "text", "content": {"text": "hi"}}));
        let error = backend_message("app", body).expect_err("no sender");
        assert_eq!((error.field.as_str(), error.code), ("from", "missing_field"));
        let body = message(json!({"from": "alice", "to": "bob", "kind": "text", "content": {"text": "hi"}}));
        let out = backend_message("app", body).expect("valid");
        assert_eq!((out.from.as_str(), out.from_device), ("alice", None));
    }

    #[test]
    fn a_message_needs_exactly_one_destination() {
        let both = message(json!({"to": "bob", "group": "g", "kind": "text", "content": {"text": "hi"}}));
        let error = outgoing("app", "alice".into(), both, None).expect_err("two destinations");
        assert_eq!(error.code, "invalid_destination");
        let neither = message(json!({"kind": "text", "content": {"text": "hi"}}));
        let error = outgoing("app", "alice".into(), neither, None).expect_err("no destination");
        assert_eq!(error.code, "invalid_destination");
    }

    #[test]
    fn agora_attributes_become_push_info_before_it_is_checked() {
        let body = message(json!({"to": "bob", "kind": "text", "content": {"text": "hi"},
            "attributes": {"em_push_name": "From the attributes"}}));
        let out = outgoing("app", "alice".into(), body, None).expect("valid");
        assert_eq!(out.push.title.as_deref(), Some("From the attributes"));
        let empty_text = message(json!({"to": "bob", "kind": "text", "content": {"text": ""}}));
        let error = outgoing("app", "alice".into(), empty_text, None).expect_err("empty text");
        assert_eq!(error.field, "content.text");
    }
}
