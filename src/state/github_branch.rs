//! The optional `state.backend: github` store: the state directory mirrored to a branch of
//! the repository (default `vaktpost-data`) through GitHub's Git Data API, so state
//! survives runners without `actions/cache`. One commit per run, never one per monitor;
//! a concurrent writer is met by re-pulling, re-applying this run's changes and retrying.
//!
//! Files live at the root of the branch (`state.json`, `history/rollups-2026-11.json`, …),
//! the same layout as the local directory, so `git show origin/vaktpost-data:state.json`
//! reads them. Raw sample segments, locks, temp and `.corrupt-*` files stay local
//! ([`included`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use tokio::time::Instant;

use crate::config::{Secret, StateConfig};
use crate::context::RunContext;
use crate::github::{self as gh, Verb};
use crate::retry::{self, Next, Policy};

pub const DEFAULT_BRANCH: &str = "vaktpost-data";
/// Conflict retries of [`BranchStore::sync`] (pushes in all).
pub const MAX_ATTEMPTS: u32 = 5;

/// Whether a file of the state directory (path relative to it, `/`-separated) is kept in
/// the branch. Raw sample segments are large and stay local (or in `actions/cache`); the
/// aggregates the figures need are mirrored. Locks, temp files and files moved aside as
/// corrupt never are.
pub fn included(rel: &str) -> bool {
    if rel.is_empty() {
        return false;
    }
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || p.starts_with('.') || p.contains(".corrupt-")) {
        return false;
    }
    let name = parts.last().copied().unwrap_or("");
    if name.ends_with(".tmp") || name.ends_with('~') {
        return false;
    }
    !(parts.len() == 2 && parts[0] == super::history::HISTORY_DIR && name.starts_with("samples-"))
}

/// Git's object id of a blob: SHA-1 of `blob {len}\0` and the bytes.
pub fn blob_sha(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// The branch as a run saw it: its head commit, that commit's tree, and the blob id of
/// every included file (path relative to the state directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub commit: String,
    pub tree: String,
    pub files: BTreeMap<String, String>,
    /// The head commit's committer date, which decides when the branch starts afresh.
    pub date: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The branch already holds the directory's files: no commit.
    Unchanged,
    Committed {
        commit: String,
        changed: usize,
        created_branch: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    pub outcome: PushOutcome,
    /// Pushes made, 1 when no concurrent writer got in the way.
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum BranchError {
    /// Someone else moved the branch since it was read; re-pull and try again.
    #[error("the branch moved while this run wrote it ({0})")]
    Conflict(String),
    #[error(
        "repository {0} is empty, so the data branch has nothing to start from; push a first commit (e.g. a README) to the default branch"
    )]
    EmptyRepository(String),
    #[error(
        "GitHub refused the token for {what} (HTTP {status}: {message}); give the workflow `permissions: contents: write` and pass its token as `github_token` (or GITHUB_TOKEN)"
    )]
    Forbidden { what: String, status: u16, message: String },
    #[error(
        "branch {branch} is protected, so vaktpost cannot move it (HTTP 422: {message}); use a data branch no protection rule or ruleset covers (`state.branch`, default vaktpost-data), or exempt it from the rule; this run's state is kept locally"
    )]
    Protected { branch: String, message: String },
    #[error("GitHub answered HTTP {status} to {what}: {message}")]
    Http { what: String, status: u16, message: String },
    #[error("{what}: {detail}")]
    Request { what: String, detail: String },
    #[error("unexpected answer from GitHub to {what}: {detail}")]
    Unexpected { what: String, detail: String },
    #[error(
        "the tree of branch {0} is too large for one API answer (truncated); remove old files from the branch or use `state.backend: file`"
    )]
    Truncated(String),
    #[error("state directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("re-applying this run's changes after a concurrent update failed: {0}")]
    Apply(String),
    #[error(
        "gave up after {attempts} attempts, each met a concurrent update of the branch (last: {last}); this run's state is kept locally and the next run writes it"
    )]
    GaveUp { attempts: u32, last: String },
    #[error("{0}")]
    Setup(String),
}

/// The data branch of one repository.
pub struct BranchStore {
    octo: octocrab::Octocrab,
    api: String,
    repo: String,
    branch: String,
    /// Directory in the branch that mirrors the state directory ("" is the root).
    prefix: String,
    /// How requests and conflict retries wait (the run's sleep, clock and deadline).
    pace: gh::Pace,
    /// Today (UTC): the first push of a day whose head is older is a fresh root commit.
    today: chrono::NaiveDate,
}

impl std::fmt::Debug for BranchStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BranchStore").field("repo", &self.repo).field("branch", &self.branch).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ObjRef {
    sha: String,
}

#[derive(Deserialize)]
struct RefAnswer {
    object: ObjRef,
}

#[derive(Deserialize)]
struct CommitAnswer {
    sha: String,
    tree: ObjRef,
    #[serde(default)]
    committer: Option<Person>,
}

#[derive(Deserialize)]
struct Person {
    #[serde(default)]
    date: Option<String>,
}

#[derive(Deserialize)]
struct TreeEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
}

#[derive(Deserialize)]
struct TreeAnswer {
    sha: String,
    tree: Vec<TreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct BlobAnswer {
    content: String,
    #[serde(default)]
    encoding: String,
}

impl BranchStore {
    pub fn new(
        api_url: &str,
        repo: &str,
        branch: &str,
        token: &Secret,
        deadline: Instant,
    ) -> Result<BranchStore, BranchError> {
        if repo.split('/').filter(|p| !p.is_empty()).count() != 2 {
            return Err(BranchError::Setup(format!("repository {repo:?} is not owner/name; set GITHUB_REPOSITORY")));
        }
        if token.is_empty() {
            return Err(BranchError::Setup(no_token()));
        }
        let api = api_url.trim_end_matches('/').to_string();
        let octo = gh::octocrab(&api, token.expose()).map_err(BranchError::Setup)?;
        Ok(BranchStore {
            octo,
            api,
            repo: repo.to_string(),
            branch: branch.to_string(),
            prefix: String::new(),
            pace: gh::Pace::real(deadline),
            today: chrono::Utc::now().date_naive(),
        })
    }

    /// The store the config and the run's environment describe (`GITHUB_API_URL`,
    /// `GITHUB_REPOSITORY`, the token the GitHub alerts use).
    pub fn from_context(ctx: &RunContext, cfg: &StateConfig, deadline: Instant) -> Result<BranchStore, BranchError> {
        let token = gh::token(ctx).map(Secret::new).ok_or_else(|| BranchError::Setup(no_token()))?;
        let repo = ctx.var("GITHUB_REPOSITORY").ok_or_else(|| {
            BranchError::Setup("state.backend is github but GITHUB_REPOSITORY is not set; set it to owner/name".into())
        })?;
        let branch = cfg.branch.as_deref().unwrap_or(DEFAULT_BRANCH);
        Ok(BranchStore::new(gh::api_url(ctx), repo, branch, &token, deadline)?
            .with_today(ctx.now().date_naive())
            .with_pace(gh::Pace::of(ctx, deadline)))
    }

    /// Waits through `pace` (a run's sleep and clock) instead of real sleeps.
    pub fn with_pace(mut self, pace: gh::Pace) -> Self {
        self.pace = pace;
        self
    }

    /// Sets the day the once-a-day fresh root commit is decided by (the run's clock).
    pub fn with_today(mut self, today: chrono::NaiveDate) -> Self {
        self.today = today;
        self
    }

    /// Keeps the files under `prefix/` in the branch instead of its root.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_matches('/').to_string();
        self
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    fn url(&self, path: &str) -> String {
        format!("{}/repos/{}{path}", self.api, self.repo)
    }

    fn branch_path_of(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    fn rel_of_branch_path<'a>(&self, p: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            Some(p)
        } else {
            p.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
        }
    }

    /// One request; the status and body of any answer, an error only when there is none.
    async fn call(
        &self,
        what: &str,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
        retry_post: bool,
    ) -> Result<(StatusCode, String), BranchError> {
        let (status, _, text) = gh::request(&self.octo, verb, &self.url(path), body, &self.pace, retry_post)
            .await
            .map_err(|detail| BranchError::Request { what: what.to_string(), detail })?;
        Ok((status, text))
    }

    /// A request that must succeed, its answer parsed.
    async fn expect<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
        retry_post: bool,
    ) -> Result<T, BranchError> {
        let (status, text) = self.call(what, verb, path, body, retry_post).await?;
        if !status.is_success() {
            return Err(self.failure(what, status, &text));
        }
        serde_json::from_str(&text)
            .map_err(|e| BranchError::Unexpected { what: what.to_string(), detail: e.to_string() })
    }

    fn failure(&self, what: &str, status: StatusCode, text: &str) -> BranchError {
        let message = gh::github_message(text);
        match status.as_u16() {
            409 if message.to_ascii_lowercase().contains("empty") => BranchError::EmptyRepository(self.repo.clone()),
            401 | 403 => BranchError::Forbidden { what: what.to_string(), status: status.as_u16(), message },
            404 => BranchError::Http {
                what: what.to_string(),
                status: 404,
                message: format!(
                    "{message}; check GITHUB_REPOSITORY ({}) and that the token can read it (`permissions: contents: write`)",
                    self.repo
                ),
            },
            s => BranchError::Http { what: what.to_string(), status: s, message },
        }
    }

    /// The branch's head and file list; `None` when the branch (or any commit) does not exist yet.
    pub async fn head(&self) -> Result<Option<Head>, BranchError> {
        let what = format!("reading branch {}", self.branch);
        let (status, text) =
            self.call(&what, Verb::Get, &format!("/git/ref/heads/{}", self.branch), None, false).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status == StatusCode::CONFLICT && gh::github_message(&text).to_ascii_lowercase().contains("empty") {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.failure(&what, status, &text));
        }
        let r: RefAnswer = serde_json::from_str(&text)
            .map_err(|e| BranchError::Unexpected { what: what.clone(), detail: e.to_string() })?;
        let c: CommitAnswer = self
            .expect("reading the branch's commit", Verb::Get, &format!("/git/commits/{}", r.object.sha), None, false)
            .await?;
        let t: TreeAnswer = self
            .expect(
                "reading the branch's tree",
                Verb::Get,
                &format!("/git/trees/{}?recursive=1", c.tree.sha),
                None,
                false,
            )
            .await?;
        if t.truncated {
            return Err(BranchError::Truncated(self.branch.clone()));
        }
        let files = t
            .tree
            .into_iter()
            .filter(|e| e.kind == "blob")
            .filter_map(|e| self.rel_of_branch_path(&e.path).filter(|p| included(p)).map(|p| (p.to_string(), e.sha)))
            .collect();
        let date = c
            .committer
            .and_then(|p| p.date)
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d).ok())
            .map(|d| d.with_timezone(&chrono::Utc));
        Ok(Some(Head { commit: c.sha, tree: t.sha, files, date }))
    }

    /// The commit the branch points at now (`None`: no branch).
    async fn head_commit(&self) -> Result<Option<String>, BranchError> {
        let what = format!("reading branch {}", self.branch);
        let (status, text) =
            self.call(&what, Verb::Get, &format!("/git/ref/heads/{}", self.branch), None, false).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.failure(&what, status, &text));
        }
        let r: RefAnswer =
            serde_json::from_str(&text).map_err(|e| BranchError::Unexpected { what, detail: e.to_string() })?;
        Ok(Some(r.object.sha))
    }

    /// Makes the included files of `dir` what the branch holds: downloads the ones that
    /// differ, removes the ones the branch does not have. No branch yet: nothing changes.
    pub async fn pull(&self, dir: &Path) -> Result<Option<Head>, BranchError> {
        let Some(head) = self.head().await? else { return Ok(None) };
        let local = local_files(dir)?;
        for (rel, sha) in &head.files {
            if local.get(rel).map(|(s, _)| s) == Some(sha) {
                continue;
            }
            let b: BlobAnswer = self
                .expect(&format!("reading {rel} from the branch"), Verb::Get, &format!("/git/blobs/{sha}"), None, false)
                .await?;
            let bytes = decode_blob(&b)
                .map_err(|detail| BranchError::Unexpected { what: format!("reading {rel} from the branch"), detail })?;
            let path = dir.join(rel);
            crate::fsutil::write_atomic(&path, &bytes).map_err(|source| BranchError::Io { path, source })?;
        }
        for (rel, (_, path)) in &local {
            if !head.files.contains_key(rel) {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(BranchError::Io { path: path.clone(), source }),
                }
            }
        }
        Ok(Some(head))
    }

    /// Commits the included files of `dir` on top of `base` (the head this run pulled; `None`
    /// creates the branch) and moves the branch to that commit, only if nobody else moved it.
    pub async fn push(&self, dir: &Path, base: Option<&Head>, message: &str) -> Result<PushOutcome, BranchError> {
        let local = local_files(dir)?;
        let empty = BTreeMap::new();
        let remote = base.map(|h| &h.files).unwrap_or(&empty);
        let mut entries = Vec::new();
        for (rel, (sha, path)) in &local {
            if remote.get(rel) == Some(sha) {
                continue;
            }
            let bytes = std::fs::read(path).map_err(|source| BranchError::Io { path: path.clone(), source })?;
            let content = base64::engine::general_purpose::STANDARD.encode(&bytes);
            // Blobs are content-addressed, so retrying a failed create is safe.
            let blob: ObjRef = self
                .expect(
                    &format!("uploading {rel}"),
                    Verb::Post,
                    "/git/blobs",
                    Some(&json!({"content": content, "encoding": "base64"})),
                    true,
                )
                .await?;
            entries.push(json!({"path": self.branch_path_of(rel), "mode": "100644", "type": "blob", "sha": blob.sha}));
        }
        for rel in remote.keys().filter(|r| !local.contains_key(*r)) {
            entries.push(json!({"path": self.branch_path_of(rel), "mode": "100644", "type": "blob", "sha": null}));
        }
        if entries.is_empty() {
            return Ok(PushOutcome::Unchanged);
        }
        let changed = entries.len();
        let mut tree_req = json!({ "tree": entries });
        if let Some(b) = base {
            tree_req["base_tree"] = json!(b.tree);
        }
        let tree: ObjRef = self.expect("creating the tree", Verb::Post, "/git/trees", Some(&tree_req), true).await?;
        // Bounded history: the first commit of a UTC day is a root commit of the full tree
        // (the tree above is the base tree plus this run's changes), so the branch holds at
        // most one day of commits instead of one per run forever.
        let fresh_root = base.is_some_and(|b| b.date.is_some_and(|d| d.date_naive() < self.today));
        let parents: Vec<&str> = match base {
            Some(b) if !fresh_root => vec![b.commit.as_str()],
            _ => vec![],
        };
        let commit: ObjRef = self
            .expect(
                "creating the commit",
                Verb::Post,
                "/git/commits",
                Some(&json!({"message": message, "tree": tree.sha, "parents": parents})),
                true,
            )
            .await?;
        let what = format!("moving branch {}", self.branch);
        let (status, text) = match base {
            Some(b) => {
                if fresh_root {
                    // A root commit is never a fast forward, so the update must force; it
                    // does so only while the branch still points at the commit this run read.
                    let current = self.head_commit().await?;
                    if current.as_deref() != Some(b.commit.as_str()) {
                        return Err(BranchError::Conflict(format!(
                            "branch {} moved from {} before the daily fresh commit",
                            self.branch,
                            b.commit.get(..7).unwrap_or(&b.commit)
                        )));
                    }
                }
                let body = json!({"sha": commit.sha, "force": fresh_root});
                self.call(&what, Verb::Patch, &format!("/git/refs/heads/{}", self.branch), Some(&body), false).await?
            }
            None => {
                let body = json!({"ref": format!("refs/heads/{}", self.branch), "sha": commit.sha});
                self.call(&what, Verb::Post, "/git/refs", Some(&body), false).await?
            }
        };
        if status.is_success() {
            return Ok(PushOutcome::Committed { commit: commit.sha, changed, created_branch: base.is_none() });
        }
        let message = gh::github_message(&text);
        let lower = message.to_ascii_lowercase();
        let conflict = (status == StatusCode::CONFLICT && !lower.contains("empty"))
            || (status == StatusCode::UNPROCESSABLE_ENTITY
                && (lower.contains("fast forward")
                    || lower.contains("fast-forward")
                    || lower.contains("already exists")));
        if conflict {
            return Err(BranchError::Conflict(format!("HTTP {}: {message}", status.as_u16())));
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY && protected(&lower) {
            return Err(BranchError::Protected { branch: self.branch.clone(), message });
        }
        Err(self.failure(&what, status, &text))
    }

    /// One commit for this run, whatever other writers do meanwhile: push; on a conflict,
    /// pull the new head into `dir`, let `apply` write this run's update on top of it
    /// again, and push again, up to [`MAX_ATTEMPTS`] times within the deadline.
    pub async fn sync<F>(
        &self,
        dir: &Path,
        base: Option<Head>,
        message: &str,
        mut apply: F,
    ) -> Result<Synced, BranchError>
    where
        F: FnMut(&Path) -> Result<(), String>,
    {
        // The head to push on, and the re-pull and re-apply before every retry, behind a
        // lock only so the attempts' futures can share them (they run one at a time).
        let base = std::sync::Mutex::new(base);
        let apply = std::sync::Mutex::new(&mut apply);
        let op = |attempt: u32| {
            let (base, apply) = (&base, &apply);
            async move {
                if attempt > 1 {
                    let fresh = self.pull(dir).await?;
                    *base.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
                    (apply.lock().unwrap_or_else(|e| e.into_inner()))(dir).map_err(BranchError::Apply)?;
                }
                let head = base.lock().unwrap_or_else(|e| e.into_inner()).clone();
                self.push(dir, head.as_ref(), message).await
            }
        };
        let judge = |r: &Result<PushOutcome, BranchError>| match r {
            Err(BranchError::Conflict(_)) => Next::Retry,
            _ => Next::Done,
        };
        let out = retry::run(&conflict_policy(), &self.pace.waiter, op, judge).await;
        match out.value {
            Ok(outcome) => Ok(Synced { outcome, attempts: out.attempts }),
            Err(BranchError::Conflict(last)) => {
                Err(BranchError::GaveUp { attempts: out.attempts, last: format!("{last}{}", out.stop.clause()) })
            }
            Err(e) => Err(e),
        }
    }
}

/// Conflict retries of [`BranchStore::sync`]: [`MAX_ATTEMPTS`] pushes, jittered backoff
/// from 250 ms doubling to 4 s, so writers that collided do not collide again in step.
pub fn conflict_policy() -> Policy {
    Policy {
        attempts: MAX_ATTEMPTS,
        min_delay: Duration::from_millis(250),
        max_delay: Duration::from_secs(4),
        max_server_wait: Duration::ZERO,
        jitter: true,
    }
}

/// Whether a refused ref update is branch protection (a protection rule's required status
/// checks or pull requests, or a repository ruleset), which no retry gets past.
fn protected(lower_message: &str) -> bool {
    [
        "protected branch",
        "required status check",
        "status checks are expected",
        "through a pull request",
        "rule violation",
    ]
    .iter()
    .any(|p| lower_message.contains(p))
}

fn no_token() -> String {
    "state.backend is github but no token is set; give the action `github_token` or set GITHUB_TOKEN (the job needs `permissions: contents: write`)".into()
}

fn decode_blob(b: &BlobAnswer) -> Result<Vec<u8>, String> {
    if !b.encoding.is_empty() && b.encoding != "base64" {
        return Err(format!("blob encoding {:?}, expected base64", b.encoding));
    }
    let clean: String = b.content.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).map_err(|e| format!("blob is not base64: {e}"))
}

/// The included files under `dir`: relative path → (blob id, full path).
pub fn local_files(dir: &Path) -> Result<BTreeMap<String, (String, PathBuf)>, BranchError> {
    let mut out = BTreeMap::new();
    for (rel, path) in walk(dir)? {
        let bytes = std::fs::read(&path).map_err(|source| BranchError::Io { path: path.clone(), source })?;
        out.insert(rel, (blob_sha(&bytes), path));
    }
    Ok(out)
}

/// The included regular files under `dir`, by relative `/`-separated path.
fn walk(dir: &Path) -> Result<Vec<(String, PathBuf)>, BranchError> {
    let mut out = Vec::new();
    let mut todo = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, d)) = todo.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(BranchError::Io { path: d, source }),
        };
        for e in rd.flatten() {
            let Ok(name) = e.file_name().into_string() else { continue };
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if !rel.split('/').any(|p| p.starts_with('.')) {
                    todo.push((rel, e.path()));
                }
            } else if ft.is_file() && included(&rel) {
                out.push((rel, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Included files and their bytes, to see later what a run changed.
pub fn snapshot(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, BranchError> {
    walk(dir)?
        .into_iter()
        .map(|(rel, path)| std::fs::read(&path).map(|b| (rel, b)).map_err(|source| BranchError::Io { path, source }))
        .collect()
}

/// What one run changed in the state directory (files before and after its saves), to
/// write it again on top of another writer's files after a conflict.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    before: BTreeMap<String, Vec<u8>>,
    after: BTreeMap<String, Vec<u8>>,
}

impl Changes {
    pub fn new(before: BTreeMap<String, Vec<u8>>, after: BTreeMap<String, Vec<u8>>) -> Self {
        Changes { before, after }
    }

    pub fn is_empty(&self) -> bool {
        self.paths().next().is_none()
    }

    fn paths(&self) -> impl Iterator<Item = &String> {
        let all: BTreeSet<&String> = self.before.keys().chain(self.after.keys()).collect();
        all.into_iter().filter(|p| self.before.get(*p) != self.after.get(*p))
    }

    /// Three-way merges every changed file with the fresh one in `dir` ([`merge_file`]).
    pub fn reapply(&self, dir: &Path) -> Result<(), String> {
        for rel in self.paths() {
            let path = dir.join(rel);
            let theirs = match std::fs::read(&path) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            };
            let merged = merge_file(
                rel,
                self.before.get(rel).map(Vec::as_slice),
                self.after.get(rel).map(Vec::as_slice),
                theirs.as_deref(),
            );
            match merged {
                Some(bytes) => crate::fsutil::write_atomic(&path, &bytes),
                None => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    r => r,
                },
            }
            .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// One file after a conflict: unchanged on one side takes the other side; JSON objects
/// (`state.json`'s monitors, rules and alerts; rollups by day and monitor) merge key by
/// key two levels deep, so two writers' monitors both survive; otherwise this run wins.
pub fn merge_file(rel: &str, base: Option<&[u8]>, ours: Option<&[u8]>, theirs: Option<&[u8]>) -> Option<Vec<u8>> {
    if ours == base || ours == theirs {
        return theirs.map(<[u8]>::to_vec);
    }
    if theirs == base {
        return ours.map(<[u8]>::to_vec);
    }
    let (Some(o), Some(t)) = (ours, theirs) else { return ours.map(<[u8]>::to_vec) };
    if !rel.ends_with(".json") {
        return Some(o.to_vec());
    }
    let parse = |b: &[u8]| serde_json::from_slice::<Value>(b).ok();
    let b = base.and_then(parse).unwrap_or_else(|| json!({}));
    match (parse(o), parse(t)) {
        (Some(ov), Some(tv)) => {
            let merged = merge_json(&b, &ov, &tv, 2);
            serde_json::to_vec_pretty(&merged).ok().or_else(|| Some(o.to_vec()))
        }
        _ => Some(o.to_vec()),
    }
}

/// Three-way merge of JSON values: objects key by key down to `depth` levels, below that
/// (and for anything but objects) the side that changed, this run's when both did.
pub fn merge_json(base: &Value, ours: &Value, theirs: &Value, depth: u32) -> Value {
    if ours == base {
        return theirs.clone();
    }
    if theirs == base || ours == theirs {
        return ours.clone();
    }
    let (Value::Object(o), Value::Object(t), true) = (ours, theirs, depth > 0) else { return ours.clone() };
    let empty = serde_json::Map::new();
    let b = base.as_object().unwrap_or(&empty);
    let mut out = serde_json::Map::new();
    let keys: Vec<&String> = {
        let mut seen = BTreeSet::new();
        o.keys().chain(t.keys()).chain(b.keys()).filter(|k| seen.insert(*k)).collect()
    };
    for k in keys {
        let (bk, ok, tk) = (b.get(k), o.get(k), t.get(k));
        let v = if ok == bk {
            tk.cloned()
        } else if tk == bk || ok == tk {
            ok.cloned()
        } else {
            match (ok, tk) {
                (Some(ov), Some(tv)) => Some(merge_json(bk.unwrap_or(&Value::Null), ov, tv, depth - 1)),
                _ => ok.cloned(),
            }
        };
        if let Some(v) = v {
            out.insert(k.clone(), v);
        }
    }
    Value::Object(out)
}

pub use crate::config::endpoints::check_branch_name;

/// The data branch as a run pulled it into the state directory, and the directory's
/// mirrored files right after, so [`push_for_run`] can tell this run's changes apart.
#[derive(Debug, Clone)]
pub struct BranchPulled {
    pub head: Option<Head>,
    pub before: BTreeMap<String, Vec<u8>>,
}

/// Whether the config keeps the state store in a data branch.
pub fn uses_branch(cfg: &StateConfig) -> bool {
    cfg.backend.as_deref() == Some("github")
}

/// Pulls the data branch into the state directory before anything reads it (nothing when
/// the state is not kept in a branch). A failure is a note, and the run then leaves the
/// branch alone (it never writes what it could not read).
pub async fn pull_for_run(ctx: &RunContext, cfg: &StateConfig, dir: &Path) -> (Option<BranchPulled>, Vec<String>) {
    if !uses_branch(cfg) {
        return (None, vec![]);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let pulled = async {
        let store = BranchStore::from_context(ctx, cfg, deadline)?;
        let head = store.pull(dir).await?;
        let before = snapshot(dir)?;
        let note =
            head.is_none().then(|| format!("state branch {} does not exist yet; this run creates it", store.branch()));
        Ok::<_, BranchError>((BranchPulled { head, before }, note))
    }
    .await;
    match pulled {
        Ok((p, note)) => (Some(p), note.into_iter().collect()),
        Err(e) => (
            None,
            vec![format!(
                "state branch not read: {e}; this run used the local state only and did not write the branch"
            )],
        ),
    }
}

/// Pushes the state directory to the data branch as one commit, re-applying this run's
/// changes on top of a concurrent writer's. Returns notes for the report; a failure never
/// fails the run (the state is saved locally either way).
pub fn push_for_run(
    ctx: &RunContext,
    cfg: &StateConfig,
    dir: &Path,
    pulled: &BranchPulled,
    message: &str,
) -> Vec<String> {
    let after = match snapshot(dir) {
        Ok(a) => a,
        Err(e) => return vec![format!("state branch not written: {e}")],
    };
    // state.json merges key by key with another writer's (monitors, rules, alerts), so
    // shards and overlapping runs keep each other's data; history aggregates merge by
    // monitor and hour (or day). Two writers that both added a sample to the same
    // monitor's same hour keep this run's aggregate: one sample of uptime, not a loss of
    // state, and only when two runs write one branch at the same moment.
    let changes = Changes::new(pulled.before.clone(), after);
    let res = block_on_own_runtime(async {
        let deadline = Instant::now() + Duration::from_secs(120);
        let store = BranchStore::from_context(ctx, cfg, deadline)?;
        let synced = store.sync(dir, pulled.head.clone(), message, |d| changes.reapply(d)).await?;
        Ok::<_, BranchError>((store.branch().to_string(), synced))
    });
    match res {
        Ok(Ok((branch, s))) => match s.outcome {
            PushOutcome::Committed { commit, created_branch, .. } if created_branch => {
                vec![format!("state branch {branch} created at {}", short(&commit))]
            }
            PushOutcome::Committed { commit, .. } if s.attempts > 1 => vec![format!(
                "state branch {branch}: another run wrote it meanwhile; merged and committed {} after {} attempts",
                short(&commit),
                s.attempts
            )],
            _ => vec![],
        },
        Ok(Err(e)) => vec![format!("state branch not written: {e}")],
        Err(e) => vec![format!("state branch not written: {e}")],
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// Runs a future to completion on a runtime of its own, on a thread of its own:
/// [`push_for_run`] is synchronous (the run's `write_outputs` calls it) and is called both outside a runtime (the binary) and
/// inside one (tests, embedders), where blocking the current runtime would panic.
fn block_on_own_runtime<F: std::future::Future + Send>(f: F) -> Result<F::Output, String>
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            Ok(rt.block_on(f))
        })
        .join()
        .map_err(|_| "the state branch writer panicked".to_string())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_filter_keeps_aggregates_and_drops_raw_samples_and_scratch() {
        for ok in ["state.json", "history/rollups-2026-11.json", "history/errors.json", "history/hours-2026-11-26.json"]
        {
            assert!(included(ok), "{ok}");
        }
        for no in [
            "history/samples-2026-11-26.jsonl",
            "history/samples-2026-11-20.jsonl.gz",
            "history/.lock",
            ".tmpAbc123",
            "history/.tmpX",
            "state.json.corrupt-20261126T100000Z",
            "history/rollups-2026-11.json.corrupt-20261126T100000Z",
            "",
        ] {
            assert!(!included(no), "{no}");
        }
    }

    #[test]
    fn blob_sha_is_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(blob_sha(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(blob_sha(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn branch_names() {
        assert!(check_branch_name("vaktpost-data").is_ok());
        assert!(check_branch_name("data/vaktpost").is_ok());
        for b in [
            "", "-x", "a b", "a..b", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "a/", "/a", "a.lock", "a/.b", "a.",
            "a@{1}",
        ] {
            assert!(check_branch_name(b).is_err(), "{b:?}");
        }
    }

    #[test]
    fn two_writers_monitors_both_survive_a_merge() {
        let base = json!({"version": 1, "monitors": {"a": {"s": 1}}, "rules": {"a/r": {"failing": 1}}});
        let ours = json!({"version": 1, "monitors": {"a": {"s": 2}}, "rules": {}});
        let theirs = json!({"version": 1, "monitors": {"a": {"s": 1}, "b": {"s": 9}}, "rules": {"a/r": {"failing": 1}, "b/r": {"failing": 3}}});
        let m = merge_json(&base, &ours, &theirs, 2);
        assert_eq!(m["monitors"]["a"]["s"], 2);
        assert_eq!(m["monitors"]["b"]["s"], 9);
        assert!(m["rules"].get("a/r").is_none(), "our resolution is kept: {m}");
        assert_eq!(m["rules"]["b/r"]["failing"], 3);
        // Both changed one monitor: ours wins as a whole, never a mix of fields.
        let theirs2 = json!({"version": 1, "monitors": {"a": {"s": 5, "x": 1}}});
        let m = merge_json(&base, &ours, &theirs2, 2);
        assert_eq!(m["monitors"]["a"], json!({"s": 2}));
    }

    #[test]
    fn merge_file_takes_the_side_that_changed() {
        assert_eq!(merge_file("x.bin", Some(b"a"), Some(b"a"), Some(b"b")), Some(b"b".to_vec()));
        assert_eq!(merge_file("x.bin", Some(b"a"), Some(b"c"), Some(b"a")), Some(b"c".to_vec()));
        assert_eq!(merge_file("x.bin", Some(b"a"), Some(b"c"), Some(b"b")), Some(b"c".to_vec()));
        assert_eq!(merge_file("x.bin", Some(b"a"), None, Some(b"a")), None);
        assert_eq!(
            merge_file("x.json", None, Some(br#"{"a":1}"#), Some(br#"{"b":2}"#))
                .map(|v| { serde_json::from_slice::<Value>(&v).unwrap() }),
            Some(json!({"a": 1, "b": 2}))
        );
    }
}
