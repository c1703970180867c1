//! The layering of ARCHITECTURE.md, kept true: each top-level module of `src/` may use
//! only the modules listed before it in [`ORDER`], so no import circle can form between
//! them. The test reads every `crate::…` path outside `#[cfg(test)]` code (in `use`
//! items, `use crate::{a, b}` groups and inline paths) and fails naming the file, the line
//! and the edge that climbs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first. A module may use the modules before it, never one after it.
const ORDER: &[&str] = &[
    // Leaves: plain helpers every layer may use.
    "human",
    "untrusted",
    "redact",
    "errgroup",
    "fsutil",
    "markdown",
    "retry",
    "context",
    "github",
    "values",
    // The domain, bottom up.
    "checks",
    "config",
    "rules",
    "load",
    "import",
    "state",
    "report",
    "alerts",
    "metrics",
    "pages",
    "trust",
    "runner",
    "runlog",
    // The pipeline (src/lib.rs) and the binary.
    "lib",
    "main",
];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Every top-level module named by a `crate::` path in `code`, with its 1-based line.
fn crate_refs(code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                // `crate::{a, b::c, d}`: the first segment of each item.
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        out.push((i + 1, name));
                    }
                }
            } else {
                let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push((i + 1, name));
                }
            }
            rest = after;
        }
    }
    out
}

/// The code of a file without its `#[cfg(test)]` part (test modules sit at the end).
fn production(text: &str) -> &str {
    match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// The edges that climb: `file:line: from -> to`.
fn climbing(root: &Path) -> (Vec<String>, BTreeSet<String>) {
    let src = root.join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let rank = |m: &str| ORDER.iter().position(|o| *o == m);
    let mut bad = Vec::new();
    let mut unknown = BTreeSet::new();
    for p in &files {
        let rel = p.strip_prefix(&src).unwrap();
        let from = module_of(rel);
        let Some(from_rank) = rank(&from) else {
            unknown.insert(from);
            continue;
        };
        let text = std::fs::read_to_string(p).unwrap();
        for (line, to) in crate_refs(production(&text)) {
            if to == from || to == "self" || to == "super" {
                continue;
            }
            match rank(&to) {
                // Items of lib.rs itself (`crate::run`, `crate::RunOptions`): the top.
                None if from != "lib" && from != "main" => {
                    bad.push(format!("src/{}:{line}: {from} -> crate::{to} (an item of lib.rs)", rel.display()))
                }
                Some(r) if r > from_rank => bad.push(format!("src/{}:{line}: {from} -> {to}", rel.display())),
                _ => {}
            }
        }
    }
    (bad, unknown)
}

#[test]
fn no_module_uses_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (bad, unknown) = climbing(root);
    assert!(
        unknown.is_empty(),
        "top-level modules missing from the layering (add each to ORDER here and to ARCHITECTURE.md): {unknown:?}"
    );
    assert!(
        bad.is_empty(),
        "imports that climb the layering of ARCHITECTURE.md (move the shared item down, or pass the data in):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scanner_reads_paths_groups_and_skips_tests() {
    let code = "use crate::config::Config;\nuse crate::{alerts, state::State};\nlet x = crate::report::write(1); // crate::ignored\n";
    let refs: Vec<String> = crate_refs(code).into_iter().map(|(l, m)| format!("{l}:{m}")).collect();
    assert_eq!(refs, ["1:config", "2:alerts", "2:state", "3:report"]);
    assert_eq!(production("a\n#[cfg(test)]\nmod tests { crate::x }"), "a\n");
}
