//! A stateful fake of GitHub's Git Data API (refs, commits, trees, blobs), following the
//! documented request and response shapes: git blob ids, recursive trees with `truncated`,
//! base64 blobs wrapped at 60 columns, `base_tree` with `sha: null` deletions, fast-forward
//! checks on ref updates; token auth; injected faults (with headers: rate limits) and a
//! concurrent writer; replication lag (a ref read just after an update answers the
//! previous commit for the next N reads, as GitHub's replicas do); protected branches
//! (422 "Protected branch update failed …" / required status checks).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

pub const TOKEN: &str = "ghs_fakeDataBranchToken0987654321";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: String,
    pub path_contains: String,
    pub status: u16,
    pub message: String,
    pub times: usize,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct CommitRec {
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
    /// The committer date GitHub answers with (when the fake made it; tests may backdate).
    pub date: String,
}

type Hook = Box<dyn FnOnce(&mut Repo) + Send>;

/// The repository's object store and refs.
#[derive(Default)]
pub struct Repo {
    pub blobs: HashMap<String, Vec<u8>>,
    /// Tree id → flat map of file path → blob id (directories are derived).
    pub trees: HashMap<String, BTreeMap<String, String>>,
    pub commits: HashMap<String, CommitRec>,
    /// Full ref name (`refs/heads/x`) → commit id.
    pub refs: BTreeMap<String, String>,
    /// No commit at all yet: GitHub answers 409 "Git Repository is empty.".
    pub empty: bool,
    pub requests: Vec<Recorded>,
    pub faults: Vec<Fault>,
    /// Runs once, just before the next ref update is decided: another writer's commit.
    pub before_ref_update: Option<Hook>,
    /// Answer recursive tree reads with `truncated: true`.
    pub truncate_trees: bool,
    /// Replication lag: after each ref update, this many reads of that ref still answer
    /// the commit it pointed at before (404 for a ref just created).
    pub stale_reads: usize,
    /// Per ref: (the commit it pointed at before, stale reads left).
    lag: BTreeMap<String, (Option<String>, usize)>,
    /// Ref reads answered stale so far.
    pub stale_served: usize,
    /// Protected branches (full ref) and the message GitHub refuses their update with.
    pub protected: BTreeMap<String, String>,
    clock: u64,
}

fn sha1_hex(kind: &str, body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("{kind} {}\0", body.len()).as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

impl Repo {
    pub fn put_blob(&mut self, bytes: &[u8]) -> String {
        let sha = sha1_hex("blob", bytes);
        self.blobs.insert(sha.clone(), bytes.to_vec());
        sha
    }

    /// Tree ids: SHA-1 over the sorted `mode path\0sha` entries (not git's binary form,
    /// but unique and stable, which is all a client may rely on).
    pub fn put_tree(&mut self, files: BTreeMap<String, String>) -> String {
        let mut body = Vec::new();
        for (p, s) in &files {
            body.extend(format!("100644 {p}\0{s}\n").as_bytes());
        }
        let sha = sha1_hex("tree", &body);
        self.trees.insert(sha.clone(), files);
        sha
    }

    pub fn put_commit(&mut self, tree: &str, parents: Vec<String>, message: &str) -> String {
        self.clock += 1;
        let mut body = format!("tree {tree}\n");
        for p in &parents {
            body.push_str(&format!("parent {p}\n"));
        }
        body.push_str(&format!("author vaktpost <bot@example.com> {} +0000\n\n{message}", 1_700_000_000 + self.clock));
        let sha = sha1_hex("commit", body.as_bytes());
        self.commits.insert(
            sha.clone(),
            CommitRec {
                tree: tree.into(),
                parents,
                message: message.into(),
                date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
        );
        sha
    }

    pub fn head(&self, branch: &str) -> Option<String> {
        self.refs.get(&format!("refs/heads/{branch}")).cloned()
    }

    /// The files at the branch's head.
    pub fn files(&self, branch: &str) -> BTreeMap<String, Vec<u8>> {
        let Some(c) = self.head(branch) else { return BTreeMap::new() };
        let tree = &self.trees[&self.commits[&c].tree];
        tree.iter().map(|(p, s)| (p.clone(), self.blobs[s].clone())).collect()
    }

    /// Commits reachable from the branch's head (first parents).
    pub fn history(&self, branch: &str) -> Vec<CommitRec> {
        let mut out = Vec::new();
        let mut cur = self.head(branch);
        while let Some(c) = cur {
            let rec = self.commits[&c].clone();
            cur = rec.parents.first().cloned();
            out.push(rec);
        }
        out
    }

    /// Another writer's commit on the branch (or a first one), as a real client would make it.
    pub fn commit_files(&mut self, branch: &str, changes: &[(&str, Option<&[u8]>)], message: &str) -> String {
        let parent = self.head(branch);
        let mut files = match &parent {
            Some(c) => self.trees[&self.commits[c].tree].clone(),
            None => BTreeMap::new(),
        };
        for (p, content) in changes {
            match content {
                Some(b) => {
                    let s = self.put_blob(b);
                    files.insert(p.to_string(), s);
                }
                None => {
                    files.remove(*p);
                }
            }
        }
        let tree = self.put_tree(files);
        let c = self.put_commit(&tree, parent.into_iter().collect(), message);
        self.set_ref(&format!("refs/heads/{branch}"), &c);
        self.empty = false;
        c
    }

    /// Moves a ref, remembering the old commit for the replication lag.
    fn set_ref(&mut self, name: &str, sha: &str) {
        let old = self.refs.insert(name.to_string(), sha.to_string());
        if self.stale_reads > 0 {
            self.lag.insert(name.to_string(), (old, self.stale_reads));
        }
    }

    /// A ref as a (possibly lagging) replica answers it.
    fn read_ref(&mut self, name: &str) -> Option<String> {
        if let Some((old, left)) = self.lag.get_mut(name) {
            if *left > 0 {
                *left -= 1;
                self.stale_served += 1;
                return old.clone();
            }
        }
        self.refs.get(name).cloned()
    }

    fn is_ancestor(&self, anc: &str, mut of: String) -> bool {
        loop {
            if of == anc {
                return true;
            }
            match self.commits.get(&of).and_then(|c| c.parents.first()) {
                Some(p) => of = p.clone(),
                None => return false,
            }
        }
    }
}

#[derive(Clone)]
pub struct FakeGitData {
    pub url: String,
    pub repo: String,
    pub gh: Arc<Mutex<Repo>>,
}

impl FakeGitData {
    pub async fn start() -> FakeGitData {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gh = Arc::new(Mutex::new(Repo::default()));
        let fake = FakeGitData { url: url.clone(), repo: "acme/shop".into(), gh: gh.clone() };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let gh = gh.clone();
                let base = url.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(req, gh.clone(), base.clone()));
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        fake
    }

    /// A fake started on its own thread and runtime, for tests that run the binary.
    pub fn start_blocking() -> FakeGitData {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                tx.send(FakeGitData::start().await).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GITHUB_API_URL".into(), self.url.clone()),
            ("GITHUB_REPOSITORY".into(), self.repo.clone()),
            ("GITHUB_TOKEN".into(), TOKEN.into()),
        ]
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Repo) -> T) -> T {
        f(&mut self.gh.lock().unwrap())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.gh.lock().unwrap().requests.clone()
    }

    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.requests().iter().filter(|r| r.method == method && r.path.ends_with(path_suffix)).count()
    }

    pub fn clear_requests(&self) {
        self.gh.lock().unwrap().requests.clear();
    }

    pub fn fault(&self, method: &str, path_contains: &str, status: u16, message: &str, times: usize) {
        self.fault_with(method, path_contains, status, message, &[], times);
    }

    pub fn fault_with(
        &self,
        method: &str,
        path_contains: &str,
        status: u16,
        message: &str,
        headers: &[(&str, &str)],
        times: usize,
    ) {
        self.gh.lock().unwrap().faults.push(Fault {
            method: method.into(),
            path_contains: path_contains.into(),
            status,
            message: message.into(),
            times,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        });
    }

    /// GitHub's primary rate limit on the next `times` matching requests: `status` (403 or
    /// 429), `x-ratelimit-remaining: 0`, the reset as Unix seconds.
    pub fn rate_limit(&self, method: &str, path_contains: &str, status: u16, reset: i64, times: usize) {
        let reset = reset.to_string();
        self.fault_with(
            method,
            path_contains,
            status,
            "API rate limit exceeded for installation ID 45802511.",
            &[("x-ratelimit-remaining", "0"), ("x-ratelimit-used", "5000"), ("x-ratelimit-reset", &reset)],
            times,
        );
    }

    /// Protects `branch`: its updates get 422 with `message`.
    pub fn protect(&self, branch: &str, message: &str) {
        self.gh.lock().unwrap().protected.insert(format!("refs/heads/{branch}"), message.into());
    }
}

fn reply(status: u16, body: Value, headers: &[(String, String)]) -> Response<Full<Bytes>> {
    let mut r = Response::builder().status(status).header("content-type", "application/json; charset=utf-8");
    for (k, v) in [
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4999"),
        ("x-ratelimit-used", "1"),
        ("x-ratelimit-resource", "core"),
        ("x-github-api-version-selected", "2022-11-28"),
    ] {
        if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
            r = r.header(k, v);
        }
    }
    for (k, v) in headers {
        r = r.header(k.as_str(), v.as_str());
    }
    r.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

fn error(status: u16, message: &str, doc: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        json!({"message": message, "documentation_url": format!("https://docs.github.com/rest/git/{doc}"), "status": status.to_string()}),
        &[],
    )
}

fn person(date: &str) -> Value {
    json!({"name": "github-actions[bot]", "email": "41898282+github-actions[bot]@users.noreply.github.com", "date": date})
}

fn ref_json(base: &str, repo: &str, name: &str, sha: &str) -> Value {
    json!({
        "ref": name,
        "node_id": format!("REF_{}", &sha[..10]),
        "url": format!("{base}/repos/{repo}/git/{name}"),
        "object": {"sha": sha, "type": "commit", "url": format!("{base}/repos/{repo}/git/commits/{sha}")}
    })
}

fn commit_json(base: &str, repo: &str, sha: &str, c: &CommitRec) -> Value {
    json!({
        "sha": sha,
        "node_id": format!("C_{}", &sha[..10]),
        "url": format!("{base}/repos/{repo}/git/commits/{sha}"),
        "html_url": format!("https://github.com/{repo}/commit/{sha}"),
        "author": person(&c.date),
        "committer": person(&c.date),
        "message": c.message,
        "tree": {"sha": c.tree, "url": format!("{base}/repos/{repo}/git/trees/{}", c.tree)},
        "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{base}/repos/{repo}/git/commits/{p}"), "html_url": format!("https://github.com/{repo}/commit/{p}")})).collect::<Vec<_>>(),
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
    })
}

/// A tree's entries as GitHub lists them: recursive lists directories (type `tree`) and
/// every file; non-recursive only the top level.
fn tree_json(base: &str, repo: &str, g: &Repo, sha: &str, recursive: bool) -> Value {
    let files = &g.trees[sha];
    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    for (p, s) in files {
        let parts: Vec<&str> = p.split('/').collect();
        for i in 1..parts.len() {
            let dir = parts[..i].join("/");
            if !recursive && i > 1 {
                break;
            }
            let dsha = sha1_hex("tree", dir.as_bytes());
            entries.entry(dir.clone()).or_insert_with(|| {
                json!({"path": dir, "mode": "040000", "type": "tree", "sha": dsha, "url": format!("{base}/repos/{repo}/git/trees/{dsha}")})
            });
        }
        if recursive || parts.len() == 1 {
            entries.insert(
                p.clone(),
                json!({"path": p, "mode": "100644", "type": "blob", "sha": s, "size": g.blobs[s].len(), "url": format!("{base}/repos/{repo}/git/blobs/{s}")}),
            );
        }
    }
    json!({
        "sha": sha,
        "url": format!("{base}/repos/{repo}/git/trees/{sha}"),
        "tree": entries.into_values().collect::<Vec<_>>(),
        "truncated": recursive && g.truncate_trees,
    })
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    gh: Arc<Mutex<Repo>>,
    base: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body_bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = String::from_utf8_lossy(&body_bytes).to_string();

    let mut g = gh.lock().unwrap();
    g.requests.push(Recorded { method: method.clone(), path: path.clone(), query: query.clone(), body: body.clone() });
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) && auth.as_deref() != Some(&format!("token {TOKEN}")) {
        return Ok(reply(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
            &[],
        ));
    }
    if let Some(f) = g.faults.iter_mut().find(|f| f.times > 0 && f.method == method && path.contains(&f.path_contains))
    {
        f.times -= 1;
        let (status, message, headers) = (f.status, f.message.clone(), f.headers.clone());
        let body = json!({"message": message, "documentation_url": "https://docs.github.com/rest/git/refs", "status": status.to_string()});
        return Ok(reply(status, body, &headers));
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.len() < 5 || parts[0] != "repos" || parts[3] != "git" {
        return Ok(error(404, "Not Found", "refs"));
    }
    let repo = format!("{}/{}", parts[1], parts[2]);
    if g.empty {
        return Ok(error(409, "Git Repository is empty.", "refs"));
    }
    let json_body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let rest = &parts[4..];
    let resp = match (method.as_str(), rest) {
        ("GET", ["ref", name @ ..]) => {
            let full = format!("refs/{}", name.join("/"));
            match g.read_ref(&full) {
                Some(sha) => reply(200, ref_json(&base, &repo, &full, &sha), &[]),
                None => error(404, "Not Found", "refs#get-a-reference"),
            }
        }
        ("GET", ["commits", sha]) => match g.commits.get(*sha) {
            Some(c) => reply(200, commit_json(&base, &repo, sha, c), &[]),
            None => error(404, "Not Found", "commits#get-a-commit-object"),
        },
        ("GET", ["trees", sha]) => {
            if !g.trees.contains_key(*sha) {
                return Ok(error(404, "Not Found", "trees#get-a-tree"));
            }
            let recursive = query.split('&').any(|kv| kv.starts_with("recursive=") && kv != "recursive=0");
            reply(200, tree_json(&base, &repo, &g, sha, recursive), &[])
        }
        ("GET", ["blobs", sha]) => match g.blobs.get(*sha) {
            Some(b) => {
                let enc = base64::engine::general_purpose::STANDARD.encode(b);
                // GitHub wraps the base64 at 60 columns with newlines.
                let wrapped: Vec<String> =
                    enc.as_bytes().chunks(60).map(|c| String::from_utf8_lossy(c).to_string()).collect();
                reply(
                    200,
                    json!({"sha": sha, "node_id": format!("B_{}", &sha[..10]), "size": b.len(), "url": format!("{base}/repos/{repo}/git/blobs/{sha}"), "content": wrapped.join("\n") + "\n", "encoding": "base64"}),
                    &[],
                )
            }
            None => error(404, "Not Found", "blobs#get-a-blob"),
        },
        ("POST", ["blobs"]) => {
            let content = json_body.get("content").and_then(|c| c.as_str()).unwrap_or("");
            let bytes = match json_body.get("encoding").and_then(|e| e.as_str()).unwrap_or("utf-8") {
                "base64" => match base64::engine::general_purpose::STANDARD.decode(content) {
                    Ok(b) => b,
                    Err(_) => {
                        return Ok(error(422, "Invalid request.\n\ncontent is not valid Base64", "blobs#create-a-blob"))
                    }
                },
                _ => content.as_bytes().to_vec(),
            };
            let sha = g.put_blob(&bytes);
            reply(
                201,
                json!({"url": format!("{base}/repos/{repo}/git/blobs/{sha}"), "sha": sha}),
                &[("location".into(), format!("{base}/repos/{repo}/git/blobs/{sha}"))],
            )
        }
        ("POST", ["trees"]) => {
            let mut files = match json_body.get("base_tree").and_then(|b| b.as_str()) {
                Some(b) => match g.trees.get(b) {
                    Some(t) => t.clone(),
                    None => return Ok(error(422, "Invalid tree info", "trees#create-a-tree")),
                },
                None => BTreeMap::new(),
            };
            let Some(entries) = json_body.get("tree").and_then(|t| t.as_array()) else {
                return Ok(error(422, "Invalid request.\n\n\"tree\" wasn't supplied.", "trees#create-a-tree"));
            };
            for e in entries {
                let (Some(p), Some(mode), Some(kind)) = (
                    e.get("path").and_then(|v| v.as_str()),
                    e.get("mode").and_then(|v| v.as_str()),
                    e.get("type").and_then(|v| v.as_str()),
                ) else {
                    return Ok(error(422, "Invalid tree info", "trees#create-a-tree"));
                };
                if mode != "100644" || kind != "blob" {
                    return Ok(error(422, "Invalid tree info", "trees#create-a-tree"));
                }
                match e.get("sha") {
                    Some(Value::Null) => {
                        // GitHub: "Returns an error if you try to delete a file that does not exist."
                        if files.remove(p).is_none() {
                            return Ok(error(422, "GitRPC::BadObjectState", "trees#create-a-tree"));
                        }
                    }
                    Some(Value::String(s)) if g.blobs.contains_key(s) => {
                        files.insert(p.to_string(), s.clone());
                    }
                    _ => return Ok(error(422, "Invalid tree info", "trees#create-a-tree")),
                }
            }
            let sha = g.put_tree(files);
            let mut v = tree_json(&base, &repo, &g, &sha, true);
            v["truncated"] = json!(false);
            reply(201, v, &[("location".into(), format!("{base}/repos/{repo}/git/trees/{sha}"))])
        }
        ("POST", ["commits"]) => {
            let (Some(msg), Some(tree)) =
                (json_body.get("message").and_then(|v| v.as_str()), json_body.get("tree").and_then(|v| v.as_str()))
            else {
                return Ok(error(
                    422,
                    "Invalid request.\n\n\"message\", \"tree\" weren't supplied.",
                    "commits#create-a-commit",
                ));
            };
            if !g.trees.contains_key(tree) {
                return Ok(error(422, "Tree SHA does not exist", "commits#create-a-commit"));
            }
            let parents: Vec<String> = json_body
                .get("parents")
                .and_then(|p| p.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                .unwrap_or_default();
            if parents.iter().any(|p| !g.commits.contains_key(p)) {
                return Ok(error(
                    422,
                    "Parent SHA does not exist or is not a commit object",
                    "commits#create-a-commit",
                ));
            }
            let sha = g.put_commit(tree, parents, msg);
            let v = commit_json(&base, &repo, &sha, &g.commits[&sha]);
            reply(201, v, &[("location".into(), format!("{base}/repos/{repo}/git/commits/{sha}"))])
        }
        ("POST", ["refs"]) => {
            let (Some(name), Some(sha)) =
                (json_body.get("ref").and_then(|v| v.as_str()), json_body.get("sha").and_then(|v| v.as_str()))
            else {
                return Ok(error(422, "Invalid request.", "refs#create-a-reference"));
            };
            if !name.starts_with("refs/") || name.matches('/').count() < 2 {
                return Ok(error(422, "Reference name is invalid", "refs#create-a-reference"));
            }
            if let Some(h) = g.before_ref_update.take() {
                h(&mut g);
            }
            if g.refs.contains_key(name) {
                return Ok(error(422, "Reference already exists", "refs#create-a-reference"));
            }
            if !g.commits.contains_key(sha) {
                return Ok(error(422, "Object does not exist", "refs#create-a-reference"));
            }
            if let Some(m) = g.protected.get(name) {
                return Ok(error(422, &m.clone(), "refs#create-a-reference"));
            }
            g.set_ref(name, sha);
            reply(
                201,
                ref_json(&base, &repo, name, sha),
                &[("location".into(), format!("{base}/repos/{repo}/git/{name}"))],
            )
        }
        ("PATCH", ["refs", name @ ..]) => {
            let full = format!("refs/{}", name.join("/"));
            let Some(sha) = json_body.get("sha").and_then(|v| v.as_str()).map(String::from) else {
                return Ok(error(422, "Invalid request.\n\n\"sha\" wasn't supplied.", "refs#update-a-reference"));
            };
            let force = json_body.get("force").and_then(|v| v.as_bool()).unwrap_or(false);
            if let Some(h) = g.before_ref_update.take() {
                h(&mut g);
            }
            let Some(cur) = g.refs.get(&full).cloned() else {
                return Ok(error(422, "Reference does not exist", "refs#update-a-reference"));
            };
            if !g.commits.contains_key(&sha) {
                return Ok(error(422, "Object does not exist", "refs#update-a-reference"));
            }
            if let Some(m) = g.protected.get(&full) {
                return Ok(error(422, &m.clone(), "refs#update-a-reference"));
            }
            if !force && !g.is_ancestor(&cur, sha.clone()) {
                return Ok(error(422, "Update is not a fast forward", "refs#update-a-reference"));
            }
            g.set_ref(&full, &sha);
            reply(200, ref_json(&base, &repo, &full, &sha), &[])
        }
        _ => error(404, "Not Found", "refs"),
    };
    Ok(resp)
}
