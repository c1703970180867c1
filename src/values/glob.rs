//! Name-or-glob patterns (`monitors:` of rules and maintenance windows), one reader for
//! every place that takes them, so they fail with the same message.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A glob set from names or globs, for `monitors:` filters.
pub fn globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| format!("invalid glob {p:?}: {e}"))?);
    }
    b.build().map_err(|e| e.to_string())
}
