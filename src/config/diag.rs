//! Config diagnostics: where, which key, what is wrong, and what was probably meant.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Key path such as `monitors[1].expected_status`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

pub use crate::values::hint::{did_you_mean, hint};

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn typos_find_their_key() {
        let keys = ["expected_status", "expect_version", "extract", "url"];
        assert_eq!(did_you_mean("expectd_status", keys), Some("expected_status"));
        assert_eq!(did_you_mean("ulr", keys), Some("url"));
        assert_eq!(did_you_mean("completely_different", keys), None);
    }
}
