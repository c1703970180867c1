//! A stateful fake of GitHub's issues REST API, following the documented request and
//! response shapes: repositories with numeric ids (`GET /repos/{owner}/{repo}`), list
//! (state, labels, sort, direction with GitHub's defaults `created`/`desc`, per_page/page,
//! and a `Link` header pointing at `/repositories/{id}/issues`, the form GitHub sends,
//! which it serves too; pull requests mixed in), create (assignees must be assignable:
//! 422 otherwise), update, comments, labels; token auth recorded; issues disabled (410);
//! injected faults with GitHub's real error bodies (403 integration, rate limits primary
//! and secondary), and a barrier that holds listings until several runs overlap.

#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

pub const TOKEN: &str = "ghs_fakeTokenValue1234567890";

#[derive(Debug, Clone)]
pub struct IssueRec {
    /// `owner/name` of the repository the issue is in.
    pub repo: String,
    pub number: u64,
    /// Creation and last-update order (GitHub's `created_at`, `updated_at`).
    pub created: u64,
    pub updated: u64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub is_pr: bool,
    pub comments: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    pub auth: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: String,
    pub path_suffix: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The whole JSON body GitHub answers with.
    pub body: Value,
    pub times: usize,
    /// Answer without the usual `x-ratelimit-*` headers (a secondary rate limit).
    pub bare: bool,
}

#[derive(Debug, Clone)]
pub struct RepoRec {
    pub full_name: String,
    pub id: u64,
    pub has_issues: bool,
}

pub struct Gh {
    pub repos: Vec<RepoRec>,
    pub issues: Vec<IssueRec>,
    pub requests: Vec<Recorded>,
    pub faults: Vec<Fault>,
    pub list_delay: Duration,
    /// Logins that can be assigned (collaborators); others get GitHub's 422.
    pub assignable: Vec<String>,
    /// Hold every issue listing until this many have arrived (bounded wait), so
    /// overlapping runs provably overlap; `barrier_met` records that they did.
    pub list_barrier: Option<usize>,
    pub lists_seen: usize,
    pub barrier_met: bool,
    clock: u64,
}

impl Default for Gh {
    fn default() -> Gh {
        Gh {
            repos: vec![RepoRec { full_name: "acme/shop".into(), id: 708_412_395, has_issues: true }],
            issues: vec![],
            requests: vec![],
            faults: vec![],
            list_delay: Duration::ZERO,
            assignable: vec!["octocat".into(), "monalisa".into()],
            list_barrier: None,
            lists_seen: 0,
            barrier_met: false,
            clock: 0,
        }
    }
}

impl Gh {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
    fn repo(&self, name: &str) -> Option<&RepoRec> {
        self.repos.iter().find(|r| r.full_name.eq_ignore_ascii_case(name))
    }
    fn repo_by_id(&self, id: u64) -> Option<&RepoRec> {
        self.repos.iter().find(|r| r.id == id)
    }
    fn next_number(&self, repo: &str) -> u64 {
        self.issues.iter().filter(|i| i.repo == repo).count() as u64 + 1
    }
}

/// GitHub's error body: `message`, `documentation_url`, `status`.
pub fn error_body(status: u16, message: &str, doc: &str) -> Value {
    json!({"message": message, "documentation_url": doc, "status": status.to_string()})
}

#[derive(Clone)]
pub struct FakeGithub {
    pub url: String,
    pub repo: String,
    pub gh: Arc<Mutex<Gh>>,
}

impl FakeGithub {
    pub async fn start() -> FakeGithub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gh = Arc::new(Mutex::new(Gh::default()));
        let fake = FakeGithub { url: url.clone(), repo: "acme/shop".into(), gh: gh.clone() };
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

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GITHUB_API_URL".into(), self.url.clone()),
            ("GITHUB_REPOSITORY".into(), self.repo.clone()),
            ("GITHUB_TOKEN".into(), TOKEN.into()),
        ]
    }

    /// The issues (pull requests left out) of every repository.
    pub fn issues(&self) -> Vec<IssueRec> {
        self.gh.lock().unwrap().issues.iter().filter(|i| !i.is_pr).cloned().collect()
    }

    pub fn issues_in(&self, repo: &str) -> Vec<IssueRec> {
        self.issues().into_iter().filter(|i| i.repo == repo).collect()
    }

    /// Another repository; its numeric id is returned.
    pub fn add_repo(&self, full_name: &str, has_issues: bool) -> u64 {
        let mut g = self.gh.lock().unwrap();
        let id = 708_412_395 + g.repos.len() as u64 * 7919;
        g.repos.push(RepoRec { full_name: full_name.into(), id, has_issues });
        id
    }

    pub fn repo_id(&self, full_name: &str) -> u64 {
        self.gh.lock().unwrap().repo(full_name).unwrap().id
    }

    /// A person (or another tool) changes an issue.
    pub fn edit(&self, number: u64, f: impl FnOnce(&mut IssueRec)) {
        let mut g = self.gh.lock().unwrap();
        let t = g.tick();
        let repo = self.repo.clone();
        let i = g.issues.iter_mut().find(|i| i.number == number && i.repo == repo).unwrap();
        f(i);
        i.updated = t;
    }

    /// The next `times` matching requests get `status` with this JSON `body`.
    #[allow(clippy::too_many_arguments)]
    pub fn fault_json(
        &self,
        method: &str,
        path_suffix: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: Value,
        times: usize,
        bare: bool,
    ) {
        self.gh.lock().unwrap().faults.push(Fault {
            method: method.into(),
            path_suffix: path_suffix.into(),
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body,
            times,
            bare,
        });
    }

    /// The commonest real failure: the workflow's token lacks `issues: write`.
    pub fn forbid_integration(&self, method: &str, path_suffix: &str, times: usize) {
        let body = error_body(
            403,
            "Resource not accessible by integration",
            "https://docs.github.com/rest/issues/issues#create-an-issue",
        );
        self.fault_json(method, path_suffix, 403, &[], body, times, false);
    }

    /// GitHub's secondary rate limit: 403, its message, no `retry-after` and no rate-limit headers.
    pub fn secondary_rate_limit(&self, method: &str, path_suffix: &str, times: usize) {
        let body = error_body(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0C00:1F2E:3A4B5C:6D7E8F:656F0A1B.",
            "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        );
        self.fault_json(method, path_suffix, 403, &[], body, times, true);
    }

    /// GitHub's primary rate limit: `status` (403 or 429), `x-ratelimit-remaining: 0` and
    /// the reset as Unix seconds.
    pub fn primary_rate_limit(&self, method: &str, path_suffix: &str, status: u16, reset: i64, times: usize) {
        let reset = reset.to_string();
        let body = error_body(
            status,
            "API rate limit exceeded for installation ID 45802511.",
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-rate-limits",
        );
        let headers = [
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-used", "5000"),
            ("x-ratelimit-reset", reset.as_str()),
            ("x-ratelimit-resource", "core"),
        ];
        self.fault_json(method, path_suffix, status, &headers, body, times, false);
    }

    /// Requests whose path ends with `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.requests().iter().filter(|r| r.method == method && r.path.ends_with(suffix)).count()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.gh.lock().unwrap().requests.clone()
    }

    pub fn fault(
        &self,
        method: &str,
        path_suffix: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
        times: usize,
    ) {
        let body = json!({"message": body, "documentation_url": "https://docs.github.com/rest"});
        self.fault_json(method, path_suffix, status, headers, body, times, false);
    }

    pub fn seed(&self, title: &str, body: &str, labels: &[&str], state: &str, is_pr: bool) -> u64 {
        let mut g = self.gh.lock().unwrap();
        let number = g.next_number(&self.repo);
        let t = g.tick();
        g.issues.push(IssueRec {
            repo: self.repo.clone(),
            created: t,
            updated: t,
            number,
            title: title.into(),
            body: body.into(),
            state: state.into(),
            state_reason: None,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            assignees: vec![],
            is_pr,
            comments: vec![],
        });
        number
    }
}

fn user() -> Value {
    json!({"login": "github-actions[bot]", "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=", "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4", "gravatar_id": "", "url": "https://api.github.com/users/github-actions%5Bbot%5D", "html_url": "https://github.com/apps/github-actions", "type": "Bot", "site_admin": false})
}

fn stamp(t: u64) -> String {
    (chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z").unwrap() + chrono::Duration::seconds(t as i64))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn issue_json(base: &str, i: &IssueRec) -> Value {
    let repo = &i.repo;
    let api = format!("{base}/repos/{repo}/issues/{}", i.number);
    let mut v = json!({
        "id": 1_000_000 + i.created,
        "node_id": format!("I_kwDO{}", i.created),
        "url": api,
        "repository_url": format!("{base}/repos/{repo}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("https://github.com/{repo}/{}/{}", if i.is_pr { "pull" } else { "issues" }, i.number),
        "number": i.number,
        "state": i.state,
        "state_reason": i.state_reason,
        "title": i.title,
        "body": i.body,
        "user": user(),
        "labels": i.labels.iter().enumerate().map(|(n, l)| json!({"id": n + 1, "node_id": format!("LA_{n}"), "url": format!("{base}/repos/{repo}/labels/{l}"), "name": l, "color": "ededed", "default": false, "description": null})).collect::<Vec<_>>(),
        "assignee": i.assignees.first().map(|a| json!({"login": a, "id": 1})),
        "assignees": i.assignees.iter().map(|a| json!({"login": a, "id": 1})).collect::<Vec<_>>(),
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": i.comments.len(),
        "closed_at": if i.state == "closed" { json!(stamp(i.updated)) } else { json!(null) },
        "created_at": stamp(i.created),
        "updated_at": stamp(i.updated),
        "author_association": "NONE"
    });
    if i.is_pr {
        v["pull_request"] = json!({"url": format!("{base}/repos/{repo}/pulls/{}", i.number), "html_url": format!("https://github.com/{repo}/pull/{}", i.number)});
    }
    v
}

fn repo_json(base: &str, r: &RepoRec) -> Value {
    let (owner, name) = r.full_name.split_once('/').unwrap();
    json!({
        "id": r.id,
        "node_id": format!("R_kgDO{}", r.id),
        "name": name,
        "full_name": r.full_name,
        "private": false,
        "owner": {"login": owner, "id": 9919, "type": "Organization"},
        "html_url": format!("https://github.com/{}", r.full_name),
        "url": format!("{base}/repos/{}", r.full_name),
        "issues_url": format!("{base}/repos/{}/issues{{/number}}", r.full_name),
        "has_issues": r.has_issues,
        "default_branch": "main",
        "open_issues_count": 0
    })
}

fn reply(status: u16, body: Value, headers: &[(String, String)]) -> Response<Full<Bytes>> {
    reply_with(status, body, headers, false)
}

fn reply_with(status: u16, body: Value, headers: &[(String, String)], bare: bool) -> Response<Full<Bytes>> {
    let mut r = Response::builder().status(status).header("content-type", "application/json; charset=utf-8");
    let usual = [
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4999"),
        ("x-ratelimit-used", "1"),
        ("x-ratelimit-resource", "core"),
    ];
    for (k, v) in usual {
        if !bare && !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
            r = r.header(k, v);
        }
    }
    if !bare && !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case("x-ratelimit-reset")) {
        let reset = chrono::Utc::now().timestamp() + 3600;
        r = r.header("x-ratelimit-reset", reset.to_string());
    }
    r = r.header("x-github-api-version-selected", "2022-11-28");
    for (k, v) in headers {
        r = r.header(k.as_str(), v.as_str());
    }
    r.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

fn not_found() -> Response<Full<Bytes>> {
    reply(404, error_body(404, "Not Found", "https://docs.github.com/rest"), &[])
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

/// List issues as GitHub does: `state` (default open), `labels` (all of them, names
/// compared without case), `sort` created|updated|comments (default created), `direction`
/// (default desc), `per_page` (default 30, at most 100), `page`; pull requests included.
/// The `Link` header keeps the query as sent and points at `/repositories/{id}/issues`.
fn list(g: &Gh, base: &str, repo: &RepoRec, query: &str) -> Response<Full<Bytes>> {
    let q = query_pairs(query);
    let get = |k: &str| q.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let state = get("state").unwrap_or("open");
    if !["open", "closed", "all"].contains(&state) {
        return reply(
            422,
            json!({"message": "Validation Failed", "errors": [{"value": state, "resource": "Issue", "field": "state", "code": "invalid"}], "documentation_url": "https://docs.github.com/rest/issues/issues#list-repository-issues", "status": "422"}),
            &[],
        );
    }
    let labels: Vec<String> = get("labels")
        .map(|l| l.split(',').map(|x| x.trim().to_lowercase()).filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let sort = get("sort").unwrap_or("created");
    let asc = get("direction") == Some("asc");
    let per_page: usize = get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30).clamp(1, 100);
    let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let mut all: Vec<&IssueRec> = g
        .issues
        .iter()
        .filter(|i| i.repo == repo.full_name)
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| labels.iter().all(|l| i.labels.iter().any(|x| x.to_lowercase() == *l)))
        .collect();
    all.sort_by_key(|i| match sort {
        "updated" => (i.updated, i.created),
        "comments" => (i.comments.len() as u64, i.created),
        _ => (i.created, 0),
    });
    if !asc {
        all.reverse();
    }
    let last = all.len().div_ceil(per_page).max(1);
    let items: Vec<Value> =
        all.iter().skip((page - 1) * per_page).take(per_page).map(|i| issue_json(base, i)).collect();
    let link_to = |n: usize| {
        let mut pairs: Vec<(String, String)> = q.iter().filter(|(k, _)| k != "page").cloned().collect();
        pairs.push(("page".into(), n.to_string()));
        let qs = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        format!("{base}/repositories/{}/issues?{qs}", repo.id)
    };
    let mut links = vec![];
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", link_to(1)));
    }
    let headers = if links.is_empty() { vec![] } else { vec![("link".to_string(), links.join(", "))] };
    reply(200, Value::Array(items), &headers)
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    gh: Arc<Mutex<Gh>>,
    base: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body_bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = String::from_utf8_lossy(&body_bytes).to_string();
    let is_list = method == "GET" && path.ends_with("/issues");

    let delay = {
        let mut g = gh.lock().unwrap();
        g.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
            auth: auth.clone(),
        });
        if is_list {
            g.lists_seen += 1;
        }
        if method == "GET" {
            g.list_delay
        } else {
            Duration::ZERO
        }
    };
    if !delay.is_zero() {
        // sleep-ok: a slow GitHub, when a test asks for one
        tokio::time::sleep(delay).await;
    }
    // The barrier: a listing waits (bounded) until `n` listings arrived, then all go on.
    if is_list {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let wait = {
                let mut g = gh.lock().unwrap();
                match g.list_barrier {
                    Some(n) if g.lists_seen >= n => {
                        g.barrier_met = true;
                        g.list_barrier = None;
                        false
                    }
                    Some(_) if std::time::Instant::now() < deadline => true,
                    Some(_) => {
                        g.list_barrier = None;
                        false
                    }
                    None => false,
                }
            };
            if !wait {
                break;
            }
            // sleep-ok: the poll interval of the bounded list barrier
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) && auth.as_deref() != Some(&format!("token {TOKEN}")) {
        return Ok(reply(401, error_body(401, "Bad credentials", "https://docs.github.com/rest"), &[]));
    }
    let mut g = gh.lock().unwrap();
    if let Some(f) = g.faults.iter_mut().find(|f| f.times > 0 && f.method == method && path.ends_with(&f.path_suffix)) {
        f.times -= 1;
        let (status, headers, body, bare) = (f.status, f.headers.clone(), f.body.clone(), f.bare);
        return Ok(reply_with(status, body, &headers, bare));
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // `/repositories/{id}/…` (the form of GitHub's Link headers) or `/repos/{owner}/{repo}/…`.
    let (repo, rest): (Option<RepoRec>, &[&str]) = match parts.as_slice() {
        ["repositories", id, rest @ ..] => (id.parse().ok().and_then(|id| g.repo_by_id(id)).cloned(), rest),
        ["repos", o, r, rest @ ..] => (g.repo(&format!("{o}/{r}")).cloned(), rest),
        _ => (None, &[]),
    };
    let Some(repo) = repo else { return Ok(not_found()) };
    if rest.is_empty() {
        return Ok(if method == "GET" { reply(200, repo_json(&base, &repo), &[]) } else { not_found() });
    }
    if rest[0] == "issues" && !repo.has_issues {
        return Ok(reply(
            410,
            error_body(410, "Issues are disabled for this repo", "https://docs.github.com/v3/issues/"),
            &[],
        ));
    }
    let name = repo.full_name.clone();
    let json_body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let find = |g: &mut Gh, n: &str| -> Option<usize> {
        let n = n.parse::<u64>().ok()?;
        g.issues.iter().position(|i| i.number == n && i.repo == name)
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
    };
    match (method.as_str(), rest) {
        ("GET", ["issues"]) => Ok(list(&g, &base, &repo, &query)),
        ("POST", ["issues"]) => {
            let Some(title) = json_body.get("title").and_then(|t| t.as_str()) else {
                return Ok(reply(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}], "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue", "status": "422"}),
                    &[],
                ));
            };
            let assignees = strings(&json_body["assignees"]);
            if let Some(bad) = assignees.iter().find(|a| !g.assignable.iter().any(|x| x.eq_ignore_ascii_case(a))) {
                return Ok(reply(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"value": bad, "resource": "Issue", "field": "assignees", "code": "invalid"}], "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue", "status": "422"}),
                    &[],
                ));
            }
            let number = g.next_number(&name);
            let t = g.tick();
            let rec = IssueRec {
                repo: name.clone(),
                number,
                created: t,
                updated: t,
                title: title.into(),
                body: json_body.get("body").and_then(|b| b.as_str()).unwrap_or("").into(),
                state: "open".into(),
                state_reason: None,
                labels: strings(&json_body["labels"]),
                assignees,
                is_pr: false,
                comments: vec![],
            };
            let v = issue_json(&base, &rec);
            g.issues.push(rec);
            Ok(reply(201, v, &[("location".into(), format!("{base}/repos/{name}/issues/{number}"))]))
        }
        ("PATCH", ["issues", n]) => {
            let t = g.tick();
            let Some(k) = find(&mut g, n) else { return Ok(not_found()) };
            let i = &mut g.issues[k];
            if let Some(t) = json_body.get("title").and_then(|t| t.as_str()) {
                i.title = t.into();
            }
            if let Some(b) = json_body.get("body").and_then(|t| t.as_str()) {
                i.body = b.into();
            }
            if let Some(s) = json_body.get("state").and_then(|t| t.as_str()) {
                i.state = s.into();
                i.state_reason = if s == "closed" { Some("completed".into()) } else { Some("reopened".into()) };
            }
            if let Some(r) = json_body.get("state_reason").and_then(|t| t.as_str()) {
                i.state_reason = Some(r.into());
            }
            if json_body.get("labels").is_some() {
                i.labels = strings(&json_body["labels"]);
            }
            i.updated = t;
            let v = issue_json(&base, i);
            Ok(reply(200, v, &[]))
        }
        ("POST", ["issues", n, "comments"]) => {
            let t = g.tick();
            let Some(k) = find(&mut g, n) else { return Ok(not_found()) };
            let i = &mut g.issues[k];
            let text = json_body.get("body").and_then(|b| b.as_str()).unwrap_or("").to_string();
            i.comments.push(text.clone());
            i.updated = t;
            let id = i.comments.len();
            Ok(reply(
                201,
                json!({"id": id, "node_id": format!("IC_{id}"), "url": format!("{base}/repos/{name}/issues/comments/{id}"), "html_url": format!("https://github.com/{name}/issues/{n}#issuecomment-{id}"), "body": text, "user": user(), "created_at": stamp(t), "updated_at": stamp(t), "issue_url": format!("{base}/repos/{name}/issues/{n}"), "author_association": "NONE"}),
                &[],
            ))
        }
        // "Add labels to an issue": union with the labels it has; answers the full set.
        ("POST", ["issues", n, "labels"]) => {
            let Some(k) = find(&mut g, n) else { return Ok(not_found()) };
            let i = &mut g.issues[k];
            let Some(add) = json_body.get("labels").and_then(|l| l.as_array()) else {
                return Ok(reply(422, json!({"message": "Invalid request.\n\n\"labels\" wasn't supplied."}), &[]));
            };
            for l in add.iter().filter_map(|x| x.as_str()) {
                if !i.labels.iter().any(|have| have == l) {
                    i.labels.push(l.to_string());
                }
            }
            Ok(reply(200, label_list(&i.labels), &[]))
        }
        // "Remove a label from an issue": 404 "Label does not exist" when it is not there.
        ("DELETE", ["issues", n, "labels", label]) => {
            let Some(k) = find(&mut g, n) else { return Ok(not_found()) };
            let i = &mut g.issues[k];
            let label = percent_encoding::percent_decode_str(label).decode_utf8_lossy().to_string();
            let Some(pos) = i.labels.iter().position(|l| *l == label) else {
                return Ok(reply(
                    404,
                    error_body(
                        404,
                        "Label does not exist",
                        "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue",
                    ),
                    &[],
                ));
            };
            i.labels.remove(pos);
            Ok(reply(200, label_list(&i.labels), &[]))
        }
        _ => Ok(not_found()),
    }
}

fn label_list(labels: &[String]) -> Value {
    Value::Array(
        labels
            .iter()
            .enumerate()
            .map(|(k, l)| json!({"id": k + 1, "node_id": format!("LA_{k}"), "name": l, "color": "ededed", "default": false, "description": null}))
            .collect(),
    )
}
