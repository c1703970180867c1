//! Configuration: the serde model, loading with located diagnostics, and validation.

pub mod diag;
pub mod duration;
pub mod interp;
pub mod load;
pub mod locate;
pub mod model;
pub mod secret;
pub mod validate;

pub use diag::Diagnostic;
pub use duration::{ByteSize, Dur};
pub use load::{load_str, Loaded};
pub use model::*;
pub use secret::Secret;

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

/// Reads and loads a config file. A file that cannot be read is one diagnostic.
pub fn load_file(path: &Path, env: &BTreeMap<String, String>) -> Result<Loaded, Vec<Diagnostic>> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&text, &shown, env),
        Err(e) => Err(vec![Diagnostic {
            file: shown,
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("cannot read the config file: {e}"),
        }]),
    }
}
