//! Plain file helpers every store shares: atomic replacement (temporary sibling, then
//! rename, so a reader never sees half a file), appends, a directory lock for overlapping
//! runs, and opening without following symlinks. The state directory is restored from
//! `actions/cache` or a data branch, so a planted symlink must never make a run read or
//! write a file elsewhere (SPEC §9): reads and appends use `O_NOFOLLOW`, and a symlink
//! found where a file belongs is moved aside and reported.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A file a run could not write, and what it was for.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what} to {} (check that the directory exists and is writable)", path.display())]
pub struct WriteError {
    pub what: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl WriteError {
    /// `map_err` for an I/O result: `res.map_err(WriteError::of("the report", path))`.
    pub fn of<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WriteError + 'a {
        move |source| WriteError { what, path: path.to_path_buf(), source }
    }
}

/// Writes a file through a temporary sibling and a rename, so readers never see half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for content produced by `fill` as it goes (a large report is streamed
/// to the file instead of being built in memory first).
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    replace_with(path, true, fill)
}

/// [`write_atomic`] without the `fsync`: readers still see the old file or the new one,
/// never half of one (the rename is atomic), but a power loss right after may lose the
/// new content. For files the next run rewrites anyway (the metrics textfile), where
/// the `fsync` would be most of the write's time.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_with(path, false, |w| w.write_all(bytes))
}

fn replace_with(
    path: &Path,
    sync: bool,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, tmp.as_file_mut());
        fill(&mut w)?;
        w.flush()?;
    }
    // Temp files are 0600; outputs must stay readable by later workflow steps, which
    // run as another user than a Docker action's root.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    if sync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Appends `bytes` to `path`, creating it (the job summary and step outputs GitHub gives).
pub fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(bytes)
}

/// The lock file a [`Lock`] holds in its directory.
const LOCK_FILE: &str = ".lock";
/// A lock older than this belongs to a run that died; a write takes seconds at most.
const STALE_LOCK: Duration = Duration::from_secs(120);

/// Holds `DIR/.lock` while alive (the state and history stores, the run log), so two
/// overlapping runs never write one directory at once. Created with O_EXCL; a lock left by a run that
/// died (older than two minutes) is taken over.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    pub fn acquire(dir: &Path, timeout: Duration) -> std::io::Result<Lock> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOCK_FILE);
        let start = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&path).and_then(|m| m.modified()).ok().and_then(|m| m.elapsed().ok());
                    if age.is_some_and(|a| a > STALE_LOCK) {
                        // Another waiter may remove it first; either way, try again.
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if start.elapsed() > timeout {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::WouldBlock,
                            format!(
                                "{} is held by another vaktpost run; if none is running, delete it",
                                path.display()
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

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

    #[test]
    fn stale_lock_is_taken_over_and_live_lock_times_out() {
        use std::time::SystemTime;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        let backdate = |age: Duration| {
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.set_modified(SystemTime::now() - age).unwrap();
        };
        // A dead run's lock: last written longer ago than STALE_LOCK. It is taken over at
        // once, even with no time to wait, and the new holder's lock is a fresh file.
        std::fs::write(&path, "999999\n").unwrap();
        backdate(STALE_LOCK + Duration::from_secs(60));
        let taken = Lock::acquire(dir.path(), Duration::ZERO).expect("a stale lock is taken over");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", std::process::id()));
        let age = std::fs::metadata(&path).unwrap().modified().unwrap().elapsed().unwrap_or_default();
        assert!(age < STALE_LOCK, "the taken-over lock is fresh");
        // A live lock (the one just taken, and one just under the staleness age) is not:
        // the waiter gives up after its timeout with WouldBlock and a message saying what
        // to do, and the lock stays.
        let err = Lock::acquire(dir.path(), Duration::from_millis(50)).err().expect("a live lock is held");
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        assert!(err.to_string().contains("held by another vaktpost run; if none is running, delete it"), "{err}");
        backdate(STALE_LOCK - Duration::from_secs(30));
        let err =
            Lock::acquire(dir.path(), Duration::from_millis(50)).err().expect("a lock younger than STALE_LOCK is live");
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        assert!(path.exists());
        // Released: free again.
        drop(taken);
        assert!(!path.exists());
        assert!(Lock::acquire(dir.path(), Duration::ZERO).is_ok());
    }
}
