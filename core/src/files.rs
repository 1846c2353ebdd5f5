//! Files dbward creates in its data directory (the master key, the generated TLS key and
//! certificate, the instance id): written whole or not at all. Each goes to a temporary file
//! beside its place, is flushed to disk, then moved into place in one rename; a failure (a full
//! disk) removes the temporary file and leaves the place as it was, so the next start creates
//! the file again instead of reading half a key.

use std::io::Write as _;
use std::path::Path;

/// Writes `content` to `path` with permissions `mode`, whole or not at all. `replace`: an
/// existing file is replaced; otherwise it is an `AlreadyExists` error and stays as it is.
pub fn write_whole(path: &Path, content: &[u8], mode: u32, replace: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".dbward-new-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    if replace {
        tmp.persist(path).map_err(|e| e.error)?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    // The new name itself, for a power loss right after.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_with_their_mode_and_keeps_existing_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.key");
        write_whole(&path, b"first\n", 0o600, false).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"first\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_whole(&path, b"second\n", 0o600, false).expect_err("no clobbering");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).expect("read"), b"first\n");
        write_whole(&path, b"third\n", 0o644, true).expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"third\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["secret.key"], "no temporary file left behind");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("no-such-dir").join("tls.key");
        assert!(write_whole(&missing, b"x", 0o600, false).is_err());
        assert!(
            std::fs::read_dir(dir.path())
                .expect("list")
                .next()
                .is_none()
        );
    }
}
