//! The status site (`vaktpost pages --out DIR`, `vaktpost run --pages DIR`; SPEC §6):
//! static HTML with a 90-day uptime bar per public monitor, per-monitor pages with
//! response-time charts, incidents and maintenance; shields.io endpoint badges; and an
//! Atlassian-Statuspage-compatible `api/v2/summary.json` and `status.json`.
//!
//! `model` arranges what `state` computed (history aggregates, alert records, last
//! checks) and the last report into plain data; `render` turns it into HTML through
//! templates; `api` into JSON. Only [`write_site`] touches the disk.

pub mod api;
pub mod model;
pub mod render;

use std::path::{Path, PathBuf};

pub use model::{build, slug, Inputs, Site};
pub use render::{Renderer, TemplateError};

use crate::fsutil::WriteError;

/// Why the site was not written.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    /// A user template that does not parse or render, or a logo that cannot be read:
    /// the configuration's problem (exit 2).
    #[error("{0}")]
    Config(String),
    /// The output directory is not writable (exit 3).
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<TemplateError> for PagesError {
    fn from(e: TemplateError) -> Self {
        PagesError::Config(format!("{e}; fix the template or remove it from pages.templates to use the built-in one"))
    }
}

/// The site's files: (path relative to the site's root, bytes).
pub type Files = Vec<(String, Vec<u8>)>;

/// Where a config's relative paths (`pages.logo`, `pages.templates`) point.
pub struct Paths {
    pub templates: Option<PathBuf>,
    pub logo: Option<PathBuf>,
}

impl Paths {
    /// `pages.templates` and `pages.logo`, relative to `base` (the working directory).
    pub fn of(cfg: &crate::config::PagesConfig, base: &Path) -> Paths {
        let abs = |p: &String| {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        Paths { templates: cfg.templates.as_ref().map(abs), logo: cfg.logo.as_ref().map(abs) }
    }
}

/// Logo files the site accepts, by extension.
const LOGO_TYPES: &[&str] = &["png", "svg", "jpg", "jpeg", "webp", "gif", "ico"];
/// Largest logo copied into the site.
const MAX_LOGO: u64 = 2 << 20;

/// Every file of the site, in memory.
pub fn generate(inputs: &Inputs, paths: &Paths) -> Result<(Site, Files), PagesError> {
    let renderer = Renderer::new(paths.templates.as_deref())?;
    let mut site = build(inputs);
    let mut files: Files = Vec::with_capacity(site.monitors.len() * 7 + 8);
    if let Some(logo) = &paths.logo {
        let ext = logo.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if !LOGO_TYPES.contains(&ext.as_str()) {
            return Err(PagesError::Config(format!(
                "pages.logo {}: use an image file ({})",
                logo.display(),
                LOGO_TYPES.join(", ")
            )));
        }
        let bytes = read_limited(logo, MAX_LOGO)
            .map_err(|e| PagesError::Config(format!("pages.logo {}: cannot read it ({e})", logo.display())))?;
        let name = format!("logo.{ext}");
        files.push((name.clone(), bytes));
        site.logo = Some(name);
    }
    files.push(("style.css".into(), renderer.style.clone().into_bytes()));
    let whole = Renderer::site_value(&site);
    files.push(("index.html".into(), renderer.index(&whole)?.into_bytes()));
    files.push(("incidents.html".into(), renderer.incidents(&whole)?.into_bytes()));
    drop(whole);
    // Monitor pages are independent: a large fleet's are rendered on every core.
    let n = site.monitors.len();
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).clamp(1, 8);
    let chunk = n.div_ceil(threads).max(64);
    let pages: Vec<Result<Files, TemplateError>> = std::thread::scope(|sc| {
        let (site, renderer) = (&site, &renderer);
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|from| {
                sc.spawn(move || {
                    let mut out = Files::new();
                    for i in from..(from + chunk).min(n) {
                        let m = &site.monitors[i];
                        out.push((format!("monitors/{}.html", m.slug), renderer.monitor(site, i)?.into_bytes()));
                        for (name, badge) in api::monitor_badges(m) {
                            out.push((format!("badges/{}/{name}", m.slug), json_bytes(&badge)));
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    for part in pages {
        files.extend(part?);
    }
    files.push(("badges/site.json".into(), json_bytes(&api::site_badge(&site))));
    files.push(("api/v2/summary.json".into(), json_bytes(&api::summary_json(&site))));
    files.push(("api/v2/status.json".into(), json_bytes(&api::status_json(&site))));
    // GitHub Pages runs Jekyll over an artifact unless told not to.
    files.push((".nojekyll".into(), Vec::new()));
    Ok((site, files))
}

fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    b
}

fn read_limited(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = crate::fsutil::open_read(path)?;
    let mut b = Vec::new();
    f.take(max + 1).read_to_end(&mut b)?;
    if b.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {} MiB", max >> 20)));
    }
    Ok(b)
}

/// Writes the files under `out` (created if missing); returns the site's size in bytes.
/// A file that cannot be written names its path. A file already there with the same
/// bytes is left alone, so a site rebuilt in place rewrites only what changed.
pub fn write_site(out: &Path, files: &Files) -> Result<u64, WriteError> {
    let what = "the status site";
    std::fs::create_dir_all(out).map_err(WriteError::of(what, out))?;
    let dirs: std::collections::BTreeSet<PathBuf> =
        files.iter().filter_map(|(rel, _)| out.join(rel).parent().map(Path::to_path_buf)).collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir).map_err(WriteError::of(what, dir))?;
    }
    // Creating thousands of small files is mostly the kernel's work, which runs on every
    // core: a large site is written from a few threads.
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).clamp(1, 4);
    let chunk = files.len().div_ceil(threads).max(256);
    let results: Vec<Result<(), WriteError>> = std::thread::scope(|sc| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                sc.spawn(move || {
                    for (rel, bytes) in part {
                        let path = out.join(rel);
                        write_if_changed(&path, bytes).map_err(WriteError::of(what, &path))?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(files.iter().map(|(_, b)| b.len() as u64).sum())
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() && m.len() == bytes.len() as u64 && std::fs::read(path).is_ok_and(|old| old == bytes) => {
            return Ok(())
        }
        // Never written through: a link left in the directory would point the site's
        // bytes at any file the job can write.
        Ok(m) if m.file_type().is_symlink() => std::fs::remove_file(path)?,
        _ => {}
    }
    std::fs::write(path, bytes)
}

/// What `vaktpost pages` did.
#[derive(Debug)]
pub struct Published {
    pub files: usize,
    pub bytes: u64,
    pub monitors: usize,
    /// Things to tell the user (state or history repaired, no report).
    pub notes: Vec<String>,
}

/// Everything `vaktpost pages` reads besides the config: the state, the history and
/// (optionally) the last report.
pub struct Sources<'a> {
    pub state_dir: &'a Path,
    pub report: Option<&'a crate::report::Report>,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Loads the state and history from `src.state_dir`, builds the site and writes it to `out`.
pub fn publish(
    config: &crate::config::Config,
    redactor: &crate::redact::Redactor,
    paths: &Paths,
    src: &Sources,
    out: &Path,
) -> Result<Published, PagesError> {
    let (state, mut notes) = crate::state::load(src.state_dir, src.now);
    let (history, hnotes) = crate::state::history::load_days(src.state_dir, src.now, model::DAYS + 1);
    notes.extend(hnotes);
    let inputs = Inputs { config, state: &state, history: &history, report: src.report, redactor, now: src.now };
    let (site, files) = generate(&inputs, paths)?;
    let bytes = write_site(out, &files)?;
    Ok(Published { files: files.len(), bytes, monitors: site.monitors.len(), notes })
}
