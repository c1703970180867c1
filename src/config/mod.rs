//! Configuration: the serde model, loading with located diagnostics, and validation.

pub mod channels;
pub mod diag;
pub mod endpoints;
pub mod interp;
pub mod load;
pub mod locate;
pub mod model;
pub mod schema;
pub mod template;
pub mod validate;

pub use crate::checks::chroma::ChromaOptions;
pub use crate::checks::http::{HttpOptions, SecurityOptions};
pub use crate::checks::log_files::{LogFilesOptions, NamedPattern, SecurityPattern};
pub use crate::checks::railway::RailwayOptions;
pub use crate::checks::redis::RedisOptions;
pub use crate::checks::ssl::SslOptions;
pub use crate::checks::status_page::StatusPageOptions;
pub use crate::checks::system::SystemOptions;
pub use crate::checks::{Common, Monitor, MonitorKind, COMMON_KEYS};
pub use crate::values::Secret;
pub use crate::values::{duration, secret};
pub use crate::values::{ByteSize, Confirm, Dur, OneOrMany, StatusItem, StatusSpec, CONFIRM_DEFAULT};
pub use diag::Diagnostic;
pub use load::{load_str_with, Loaded};
pub use model::*;
pub use validate::RuleCheck;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Files tried, in order, when no `--config` is given (after `$INPUT_CONFIG`).
pub const DEFAULT_PATHS: &[&str] = &["vaktpost.yml", ".github/vaktpost.yml", "monitoring/config/external_monitors.yml"];

/// The config path to use: the explicit one, else `$INPUT_CONFIG`, else the first default that exists.
pub fn find_config(explicit: Option<&Path>, env: &BTreeMap<String, String>, cwd: &Path) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = env.get("INPUT_CONFIG").filter(|s| !s.trim().is_empty()) {
        return Some(PathBuf::from(p.trim()));
    }
    DEFAULT_PATHS.iter().map(|p| cwd.join(p)).find(|p| p.is_file())
}

/// Largest config file read. Real configs are a few KB; a path that names something
/// endless (`/dev/zero`, a huge log by mistake) must fail, not fill memory.
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// Reads and loads a config file, the rules with `rules` (see `crate::load`). A file that
/// cannot be read is one diagnostic.
pub fn load_file_with(
    path: &Path,
    env: &BTreeMap<String, String>,
    rules: RuleCheck,
) -> Result<Loaded, Vec<Diagnostic>> {
    let shown = path.display().to_string();
    match read_config(path, MAX_CONFIG_BYTES) {
        Ok(text) => load_str_with(&text, &shown, env, rules),
        Err(message) => Err(vec![Diagnostic { file: shown, line: 0, column: 0, path: String::new(), message }]),
    }
}

/// The file's text, at most `max` bytes. Regular files and pipes (`--config <(…)`,
/// `/dev/stdin` fed by a pipe) are read; devices, sockets and directories are refused
/// before anything is read, since they may never end.
pub fn read_config(path: &Path, max: u64) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read the config file: {e}");
    // stat first: opening a device may have effects, and a FIFO is opened only when it is one.
    let kind = describe_unreadable(&std::fs::metadata(path).map_err(cannot)?);
    if let Some(what) = kind {
        return Err(format!("the config path is {what}, not a file; pass the path of a YAML file"));
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    // The path may have changed between the two looks; the open handle is what is read.
    if let Some(what) = describe_unreadable(&file.metadata().map_err(cannot)?) {
        return Err(format!("the config path is {what}, not a file; pass the path of a YAML file"));
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > max {
        return Err(format!("config file is larger than {} MiB; is this the right file?", max >> 20));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot read the config file: it is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Why a file of this type is not read as a config, or `None` when it is.
fn describe_unreadable(m: &std::fs::Metadata) -> Option<&'static str> {
    let t = m.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return None;
        }
        if t.is_char_device() {
            return Some("a character device (such as /dev/zero or a terminal)");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}
