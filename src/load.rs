//! Loading a config with everything checked. `config` reads the file format and checks
//! what it can alone; the rules (conditions compiled, variables type-checked against the
//! monitors) are checked here, one level up, because `rules` sits above `config`. Every
//! diagnostic keeps its message and location, and all of them come back at once.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{self, Config, Diagnostic, Loaded};

/// Parses, interpolates and validates `text`, rules included. `file` is used in
/// diagnostics only.
pub fn load_str(text: &str, file: &str, env: &BTreeMap<String, String>) -> Result<Loaded, Vec<Diagnostic>> {
    config::load_str_with(text, file, env, &check_rules)
}

/// Reads and loads a config file, rules included. A file that cannot be read is one
/// diagnostic.
pub fn load_file(path: &Path, env: &BTreeMap<String, String>) -> Result<Loaded, Vec<Diagnostic>> {
    config::load_file_with(path, env, &check_rules)
}

/// The rules' part of validation: each rule builds (condition, message, escalations),
/// and its variables exist for the monitors it applies to.
fn check_rules(c: &Config, err: &mut dyn FnMut(&str, String)) {
    if let Err(errs) = crate::rules::build(&c.rules) {
        for (path, msg) in errs {
            err(&path, msg);
        }
    }
    crate::rules::typecheck::check(c, err);
}
