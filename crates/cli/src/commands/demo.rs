//! `herald demo`: the whole system in one command. Starts the sandbox (every vendor emulated,
//! each notification printed as the phone would show it) and Herald, creates an app with a
//! certificate per vendor and users whose devices are in every state (online, background,
//! killed, logged out, kicked, muted, do-not-disturb), sends messages, and shows which device
//! got what and why.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use herald_sandbox::{Credentials, Sandbox, SandboxOptions};
use reqwest::Client;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Flags of `herald demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Exit after the report instead of leaving Herald and the sandbox running.
    #[arg(long)]
    exit: bool,
}

/// One demo recipient: user, vendor, and what its device does.
struct Persona {
    user: &'static str,
    nickname: &'static str,
    vendor: &'static str,
    state: &'static str,
}

const PERSONAS: [Persona; 11] = [
    Persona {
        user: "ling",
        nickname: "Ling",
        vendor: "huawei",
        state: "killed (app swiped away, still logged in)",
    },
    Persona {
        user: "mei",
        nickname: "Mei",
        vendor: "xiaomi",
        state: "connected, app in the background",
    },
    Persona {
        user: "omar",
        nickname: "Omar",
        vendor: "apns",
        state: "connected, app in the foreground",
    },
    Persona {
        user: "kai",
        nickname: "Kai",
        vendor: "apns",
        state: "killed (app swiped away, still logged in)",
    },
    Persona {
        user: "lea",
        nickname: "Lea",
        vendor: "fcm",
        state: "app in the background, not connected",
    },
    Persona {
        user: "priya",
        nickname: "Priya",
        vendor: "fcm",
        state: "logged out (token kept)",
    },
    Persona {
        user: "sam",
        nickname: "Sam",
        vendor: "oppo",
        state: "kicked by the server",
    },
    Persona {
        user: "tom",
        nickname: "Tom",
        vendor: "vivo",
        state: "killed, muted the chat with Ana",
    },
    Persona {
        user: "uma",
        nickname: "Uma",
        vendor: "meizu",
        state: "killed, do-not-disturb all day",
    },
    Persona {
        user: "vic",
        nickname: "Vic",
        vendor: "honor",
        state: "killed",
    },
    Persona {
        user: "wen",
        nickname: "Wen",
        vendor: "webpush",
        state: "browser closed",
    },
];

fn token_for(vendor: &str, user: &str) -> String {
    match vendor {
        "apns" => format!(
            "{:0>64}",
            user.bytes().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        "vivo" => format!("{:0>23}", user.len()),
        _ => format!("{vendor}-demo-token-{user}"),
    }
}

/// A do-not-disturb window around now (UTC): "all day" for the demo, at any time of day
/// ("00:00"–"23:59" would leave out the day's last minute).
fn dnd_around_now() -> Value {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let now = (seconds % 86_400) / 60;
    let clock = |m: u64| format!("{:02}:{:02}", m / 60, m % 60);
    json!({"start": clock((now + 1440 - 60) % 1440), "end": clock((now + 60) % 1440), "time_zone": "UTC"})
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    println!("Starting the sandbox (every vendor API emulated on this machine)…");
    let mut options = SandboxOptions::new(Credentials::generate()?);
    options.console = true;
    let sandbox = Sandbox::start(options).await?;
    let data = tempfile::tempdir()?;
    let ca_file = data.path().join("sandbox-ca.pem");
    std::fs::write(&ca_file, &sandbox.ca_pem)?;
    let config = herald_server::Config {
        data_dir: data.path().join("data"),
        trusted_ca_file: ca_file.display().to_string(),
        ..herald_server::Config::default()
    };
    let prepared = herald_server::prepare(config).await?;
    let admin = prepared.new_admin_token.clone().unwrap_or_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(herald_server::run(
        listener,
        prepared.state,
        std::future::pending(),
    ));
    println!("Herald is running at {base}\n");

    let http = Client::new();
    let post = |path: String, body: Value| http.post(format!("{base}{path}")).json(&body);
    let app: Value = post("/v1/apps".into(), json!({"name": "demo"}))
        .bearer_auth(&admin)
        .send()
        .await?
        .json()
        .await?;
    let app_id = app["id"].as_str().context("app")?.to_string();
    let secret = app["secret"].as_str().context("secret")?.to_string();
    for definition in sandbox.certificate_definitions() {
        post(format!("/v1/apps/{app_id}/certificates"), definition)
            .bearer_auth(&admin)
            .send()
            .await?
            .error_for_status()?;
    }
    let backend = |req: reqwest::RequestBuilder| req.basic_auth(&app_id, Some(&secret));
    let token_of = |user: &'static str| {
        let req = backend(post(format!("/v1/apps/{app_id}/users/{user}/tokens"), json!({})));
        async move {
            anyhow::Ok(
                req.send().await?.json::<Value>().await?["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    };
    backend(
        http.put(format!("{base}/v1/apps/{app_id}/users/ana"))
            .json(&json!({"nickname": "Ana"})),
    )
    .send()
    .await?;

    let mut sockets = Vec::new();
    for p in &PERSONAS {
        backend(
            http.put(format!("{base}/v1/apps/{app_id}/users/{}", p.user))
                .json(&json!({"nickname": p.nickname})),
        )
        .send()
        .await?;
        let token = token_of(p.user).await?;
        let platform = match p.vendor {
            "apns" => "ios",
            "webpush" => "web",
            _ => "android",
        };
        let vendor: herald_core::Vendor = p.vendor.parse().context("persona vendor")?;
        // The sandbox names each phone after its user in the notifications it prints.
        let push_token = if p.vendor == "webpush" {
            let subscription = http
                .post(format!("{}/subscriptions", sandbox.url(vendor)))
                .send()
                .await?
                .text()
                .await?;
            sandbox.state.name_device(vendor, &subscription, p.user);
            serde_json::from_str(&subscription).context("sandbox subscription")?
        } else {
            let token = token_for(p.vendor, p.user);
            sandbox.state.name_device(vendor, &token, p.user);
            Value::String(token)
        };
        http.put(format!("{base}/v1/me/devices/phone/push-token"))
            .bearer_auth(&token)
            .json(&json!({"certificate_name": format!("sandbox-{}", p.vendor), "token": push_token, "platform": platform}))
            .send()
            .await?
            .error_for_status()?;
        match p.user {
            "mei" | "omar" => {
                let url = format!(
                    "{}/v1/connect?device=phone&platform={platform}&token={token}",
                    base.replace("http", "ws")
                );
                let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
                if p.user == "mei" {
                    socket
                        .send(WsMessage::Text(
                            json!({"type": "state", "state": "background", "unread": 0})
                                .to_string()
                                .into(),
                        ))
                        .await?;
                }
                socket
                    .send(WsMessage::Text(json!({"type": "ping"}).to_string().into()))
                    .await?;
                let _ = socket.next().await;
                sockets.push((p.user, socket));
            }
            "lea" => {
                http.post(format!("{base}/v1/me/devices/phone/background"))
                    .bearer_auth(&token)
                    .json(&json!({"unread": 0}))
                    .send()
                    .await?
                    .error_for_status()?;
            }
            "priya" => {
                http.post(format!("{base}/v1/me/devices/phone/logout"))
                    .bearer_auth(&token)
                    .json(&json!({"unbind": false}))
                    .send()
                    .await?;
            }
            "sam" => {
                backend(post(
                    format!("/v1/apps/{app_id}/users/sam/devices/phone/kick"),
                    json!({"reason": "signed in elsewhere"}),
                ))
                .send()
                .await?;
            }
            "tom" => {
                http.put(format!("{base}/v1/me/push-settings"))
                    .bearer_auth(&token)
                    .json(&json!({"muted": ["c2c:ana"]}))
                    .send()
                    .await?;
            }
            "uma" => {
                http.put(format!("{base}/v1/me/push-settings"))
                    .bearer_auth(&token)
                    .json(&json!({"dnd": dnd_around_now()}))
                    .send()
                    .await?;
            }
            _ => {}
        }
    }

    println!("Ana sends each of them a message; the notifications the phones show appear below:\n");
    let mut message_ids = Vec::new();
    for p in &PERSONAS {
        let sent: Value = backend(post(
            format!("/v1/apps/{app_id}/messages"),
            json!({"from": "ana", "to": p.user, "kind": "text", "content": {"text": format!("Hi {}, dinner at 8?", p.nickname)}}),
        ))
        .send()
        .await?
        .json()
        .await?;
        message_ids.push((p, sent["message_id"].as_str().unwrap_or_default().to_string()));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    println!(
        "\n{:<6} {:<8} {:<42} {:<14} {:<24} push",
        "user", "vendor", "device", "decision", "reason"
    );
    for (p, id) in &message_ids {
        let deliveries: Value =
            backend(http.get(format!("{base}/v1/apps/{app_id}/messages/{id}/deliveries")))
                .send()
                .await?
                .json()
                .await?;
        let d = &deliveries["deliveries"][0];
        println!(
            "{:<6} {:<8} {:<42} {:<14} {:<24} {}",
            p.user,
            p.vendor,
            p.state,
            d["decision"].as_str().unwrap_or("-"),
            d["reason"].as_str().unwrap_or("-"),
            d["state"].as_str().unwrap_or("-")
        );
    }
    for (user, mut socket) in sockets {
        while let Ok(Some(Ok(WsMessage::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(200), socket.next()).await
        {
            let frame: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
            if frame["type"] == "message" {
                println!(
                    "{user}'s open app received live: \"{}\" (seq {})",
                    frame["message"]["content"]["text"].as_str().unwrap_or(""),
                    frame["seq"]
                );
            }
        }
    }
    println!(
        "\nAdmin token: {admin}\nApp: {app_id}  secret: {secret}\nTry: curl -u {app_id}:{secret} {base}/v1/apps/{app_id}/users/ling/devices"
    );
    if !args.exit {
        println!("\nHerald and the sandbox keep running; Ctrl-C stops.");
        let _ = tokio::signal::ctrl_c().await;
    }
    Ok(())
}
