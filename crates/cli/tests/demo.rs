//! The real `herald demo --exit`: every vendor's push goes through the sandbox, the report names
//! users, and the notifications printed say whose phone showed them.

use std::process::Command;

fn demo_output() -> String {
    let work = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["demo", "--exit"])
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run herald demo");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "demo failed: {text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// The report line of `user`, split into words.
fn report_line<'a>(output: &'a str, user: &str) -> Vec<&'a str> {
    output
        .lines()
        .find(|line| line.split_whitespace().next() == Some(user))
        .unwrap_or_else(|| panic!("no report line for {user}:\n{output}"))
        .split_whitespace()
        .collect()
}

#[test]
fn the_demo_pushes_through_apns_and_fcm_too_and_names_users() {
    let output = demo_output();
    for (user, vendor) in [
        ("kai", "apns"),
        ("lea", "fcm"),
        ("ling", "huawei"),
        ("vic", "honor"),
        ("wen", "webpush"),
    ] {
        let words = report_line(&output, user);
        assert_eq!(words.get(1), Some(&vendor), "{words:?}");
        assert_eq!(words.last(), Some(&"accepted"), "{user}'s push: {words:?}");
        let shown = format!("] {user} ▸ Ana — Hi ");
        assert!(
            output
                .lines()
                .any(|line| line.contains(&format!("{vendor}]")) && line.contains(&shown)),
            "the sandbox prints {user}'s notification under the user's name:\n{output}"
        );
    }
    let omar = report_line(&output, "omar");
    assert!(omar.contains(&"online_in_foreground"), "{omar:?}");
}
