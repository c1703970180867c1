//! Opening the state directory's files without following symlinks. The directory is
//! restored from `actions/cache` or a data branch, so a planted symlink must never make a
//! run read or write a file elsewhere (SPEC §9): reads and appends use `O_NOFOLLOW`, and a
//! symlink found where a state file belongs is moved aside and reported.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

fn nofollow(o: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o
}

/// Opens `path` for reading; a symlink fails with [`is_symlink`].
pub fn open_read(path: &Path) -> std::io::Result<File> {
    nofollow(OpenOptions::new().read(true)).open(path)
}

/// Opens an existing `path` for reading and appending; a symlink fails with [`is_symlink`].
pub fn open_append(path: &Path) -> std::io::Result<File> {
    nofollow(OpenOptions::new().read(true).append(true)).open(path)
}

/// The whole file, read without following a symlink.
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = open_read(path)?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Whether an open failed because the path is a symlink (`O_NOFOLLOW`'s ELOOP).
pub fn is_symlink(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Where a bad file is moved: `NAME.corrupt-<UTC time>` beside it (never mirrored to the
/// data branch, never read again).
pub fn aside_path(path: &Path, now: DateTime<Utc>) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}.corrupt-{}", now.format("%Y%m%dT%H%M%SZ")))
}

/// Moves `path` (a symlink itself, not its target) aside; where it went, if it could.
pub fn move_aside(path: &Path, now: DateTime<Utc>) -> Option<PathBuf> {
    let aside = aside_path(path, now);
    std::fs::rename(path, &aside).ok().map(|()| aside)
}

/// Moves every symlink directly in `dir` aside, with a note each. A symlinked `dir` itself
/// is moved aside too (the caller then starts with an empty one).
pub fn quarantine_symlinks(dir: &Path, now: DateTime<Utc>, notes: &mut Vec<String>) {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        notes.push(symlink_note(dir, move_aside(dir, now).as_deref()));
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_symlink()) {
            let path = e.path();
            if path.to_string_lossy().contains(".corrupt-") {
                continue;
            }
            notes.push(symlink_note(&path, move_aside(&path, now).as_deref()));
        }
    }
}

/// The note for a symlink found where a state file belongs.
pub fn symlink_note(path: &Path, moved: Option<&Path>) -> String {
    match moved {
        Some(to) => format!(
            "{} is a symlink, which vaktpost never follows; moved to {} and started that file fresh",
            path.display(),
            to.display()
        ),
        None => format!(
            "{} is a symlink, which vaktpost never follows, and it could not be moved aside; it was left alone",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_is_refused_and_moved_aside_not_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), b"secret").unwrap();
        let link = dir.path().join("state.json");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        let e = read(&link).unwrap_err();
        assert!(is_symlink(&e), "{e}");
        assert!(is_symlink(&open_append(&link).unwrap_err()));
        let mut notes = Vec::new();
        quarantine_symlinks(dir.path(), Utc::now(), &mut notes);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(!link.exists() && std::fs::symlink_metadata(&link).is_err());
        assert_eq!(std::fs::read(outside.path()).unwrap(), b"secret");
    }
}
