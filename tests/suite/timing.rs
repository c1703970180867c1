//! The suite does not synchronise by sleeping: a sleep in test code is a clock race on a
//! loaded runner (the thing slept for may take longer), and a sleep that stands for a
//! retry's wait belongs on the recording sleep (`support::clock`) instead. This scans the
//! integration tests, their shared support, and the `#[cfg(test)]` code under `src/`, and
//! lists every sleep not annotated `// sleep-ok: <reason>` on the line above (a fake that
//! simulates a slow server, or the poll interval of a bounded polling loop).

use std::path::{Path, PathBuf};

/// The calls that sleep; built with `concat!` so this file does not match itself.
const NEEDLES: [&str; 4] = [
    concat!("thread::", "sleep("),
    concat!("time::", "sleep("),
    concat!("use std::thread::", "sleep"),
    concat!("use tokio::time::", "sleep"),
];
const ALLOW: &str = concat!("// sleep", "-ok:");

fn rs_files(dir: &Path, recurse: bool, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && recurse {
            rs_files(&p, true, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `path:line: text` for each sleep in `text` from line `from` (0-based) on that lacks
/// the allow comment (with a reason) on the line above.
fn unannotated(path: &Path, text: &str, from: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(from) {
        let code = line.trim_start();
        if code.starts_with("//") || !NEEDLES.iter().any(|n| code.contains(n)) {
            continue;
        }
        let allowed =
            i > 0 && lines[i - 1].trim_start().strip_prefix(ALLOW).is_some_and(|reason| !reason.trim().is_empty());
        if !allowed {
            found.push(format!("{}:{}: {}", path.display(), i + 1, code));
        }
    }
    found
}

/// The first line of test code in a `src/` file: its first `#[cfg(test)]`, if any.
fn test_code_start(text: &str) -> Option<usize> {
    text.lines().position(|l| l.trim_start().starts_with("#[cfg(test)]"))
}

#[test]
fn no_test_synchronises_by_sleeping() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();

    let mut tests = Vec::new();
    rs_files(&root.join("tests/suite"), true, &mut tests);
    rs_files(&root.join("tests"), false, &mut tests);
    assert!(tests.len() > 20, "the suite's files were not found: {tests:?}");
    for p in &tests {
        found.extend(unannotated(p.strip_prefix(root).unwrap(), &std::fs::read_to_string(p).unwrap(), 0));
    }

    let mut src = Vec::new();
    rs_files(&root.join("src"), true, &mut src);
    let mut with_tests = 0;
    for p in &src {
        let text = std::fs::read_to_string(p).unwrap();
        if let Some(start) = test_code_start(&text) {
            with_tests += 1;
            found.extend(unannotated(p.strip_prefix(root).unwrap(), &text, start));
        }
    }
    assert!(with_tests > 10, "src/ test modules were not found");

    assert!(
        found.is_empty(),
        "test code that sleeps: synchronise with a channel, barrier or bounded poll instead, \
         use the recording sleep (tests/suite/support/clock.rs) for a retry's wait, or annotate \
         a legitimate sleep with `{ALLOW} <reason>` on the line above:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_finds_an_unannotated_sleep_and_accepts_an_annotated_one() {
    let sleep = concat!("std::thread::", "sleep(d);");
    let bad = format!("fn a() {{\n    {sleep}\n}}\n");
    assert_eq!(unannotated(Path::new("x.rs"), &bad, 0), [format!("x.rs:2: {sleep}")]);
    let ok = format!("fn a() {{\n    {ALLOW} a slow fake\n    {sleep}\n}}\n");
    assert!(unannotated(Path::new("x.rs"), &ok, 0).is_empty());
    // An allow comment without a reason does not count.
    let bare = format!("fn a() {{\n    {ALLOW}\n    {sleep}\n}}\n");
    assert_eq!(unannotated(Path::new("x.rs"), &bare, 0).len(), 1);
    // Only test code of a src/ file is scanned.
    let src = format!("fn real() {{ {sleep} }}\n#[cfg(test)]\nmod tests {{\n    {sleep}\n}}\n");
    let start = test_code_start(&src).unwrap();
    assert_eq!(unannotated(Path::new("y.rs"), &src, start).len(), 1);
}
