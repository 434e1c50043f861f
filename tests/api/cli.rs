//! The `warden` binary: bad configuration exits non-zero naming the key; `migrate`
//! and `user create` work without HTTP.

use std::process::Command;

fn warden(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_clear()
        .env("WARDEN_DATA_DIR", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

#[test]
fn invalid_configuration_exits_with_status_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(dir.path()).env("WARDEN_LISTEN", "nowhere").arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.listen"), "{err}");
}

#[test]
fn migrate_and_user_create_work_without_http() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied (sqlite)"));

    let create = |email: &str, password: &str| {
        warden(dir.path())
            .args([
                "user",
                "create",
                "--email",
                email,
                "--name",
                "Ops",
                "--password",
                password,
                "--role",
                "admin",
            ])
            .output()
            .unwrap()
    };
    let out = create("ops@example.com", "long-enough-pw");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("with role admin"));
    let out = create("ops@example.com", "long-enough-pw");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = create("other@example.com", "short");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password"));
    let out = warden(dir.path()).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}
