//! Secrets that may be generated on first start and kept in the data directory.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;

/// The configured value when set; otherwise the one kept in `<data_dir>/<name>`;
/// otherwise a new random one written there (mode 0600) for the next start.
pub fn load_or_generate(data_dir: &Path, name: &str, configured: &str) -> anyhow::Result<String> {
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    let path = data_dir.join(name);
    if path.exists() {
        let value = std::fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let value = value.trim().to_string();
        anyhow::ensure!(value.len() >= 32, "{} holds fewer than 32 characters", path.display());
        return Ok(value);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("could not create data directory {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let value = hex::encode(bytes);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(value.as_bytes())
                .with_context(|| format!("could not write {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new {name}");
            Ok(value)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            load_or_generate(data_dir, name, "")
        }
        Err(e) => Err(e).with_context(|| format!("could not create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_is_persisted_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(dir.path(), "jwt_secret", "").unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_generate(dir.path(), "jwt_secret", "").unwrap(), first);
        assert_eq!(
            load_or_generate(dir.path(), "jwt_secret", "configured-value").unwrap(),
            "configured-value"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                std::fs::metadata(dir.path().join("jwt_secret")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
