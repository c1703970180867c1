//! A stateful fake of GitHub's issues REST API, following the documented request and
//! response shapes: list (state, labels, per_page/page with a `Link` header, pull
//! requests mixed in), create, update, comments; token auth; injected faults (5xx,
//! primary and secondary rate limits with GitHub's headers) and slow answers.

#![allow(dead_code)]

use std::collections::BTreeMap;
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
    pub number: u64,
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
    pub body: String,
    pub times: usize,
}

#[derive(Default)]
pub struct Gh {
    pub issues: Vec<IssueRec>,
    pub requests: Vec<Recorded>,
    pub faults: Vec<Fault>,
    pub list_delay: Duration,
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

    pub fn issues(&self) -> Vec<IssueRec> {
        self.gh.lock().unwrap().issues.iter().filter(|i| !i.is_pr).cloned().collect()
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
        self.gh.lock().unwrap().faults.push(Fault {
            method: method.into(),
            path_suffix: path_suffix.into(),
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.into(),
            times,
        });
    }

    pub fn seed(&self, title: &str, body: &str, labels: &[&str], state: &str, is_pr: bool) -> u64 {
        let mut g = self.gh.lock().unwrap();
        let number = g.issues.len() as u64 + 1;
        g.issues.push(IssueRec {
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

fn issue_json(base: &str, repo: &str, i: &IssueRec) -> Value {
    let api = format!("{base}/repos/{repo}/issues/{}", i.number);
    let mut v = json!({
        "id": 1_000_000 + i.number,
        "node_id": format!("I_kwDO{}", i.number),
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
        "assignee": null,
        "assignees": i.assignees.iter().map(|a| json!({"login": a, "id": 1})).collect::<Vec<_>>(),
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": i.comments.len(),
        "closed_at": if i.state == "closed" { json!("2026-11-26T12:00:00Z") } else { json!(null) },
        "created_at": "2026-11-26T10:00:00Z",
        "updated_at": "2026-11-26T11:00:00Z",
        "author_association": "NONE"
    });
    if i.is_pr {
        v["pull_request"] = json!({"url": format!("{base}/repos/{repo}/pulls/{}", i.number), "html_url": format!("https://github.com/{repo}/pull/{}", i.number)});
    }
    v
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

fn query_map(q: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
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

    let delay = {
        let mut g = gh.lock().unwrap();
        g.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
            auth: auth.clone(),
        });
        if method == "GET" {
            g.list_delay
        } else {
            Duration::ZERO
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) && auth.as_deref() != Some(&format!("token {TOKEN}")) {
        return Ok(reply(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
            &[],
        ));
    }
    let mut g = gh.lock().unwrap();
    if let Some(f) = g.faults.iter_mut().find(|f| f.times > 0 && f.method == method && path.ends_with(&f.path_suffix)) {
        f.times -= 1;
        let (status, headers, body) = (f.status, f.headers.clone(), f.body.clone());
        return Ok(reply(
            status,
            json!({"message": body, "documentation_url": "https://docs.github.com/rest"}),
            &headers,
        ));
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let repo = format!("{}/{}", parts.get(1).unwrap_or(&""), parts.get(2).unwrap_or(&""));
    let json_body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["repos", _, _, "issues"]) => {
            let q = query_map(&query);
            let state = q.get("state").map(String::as_str).unwrap_or("open");
            let labels: Vec<&str> = q.get("labels").map(|l| l.split(',').collect()).unwrap_or_default();
            let per_page: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30).min(100);
            let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
            let all: Vec<&IssueRec> = g
                .issues
                .iter()
                .filter(|i| state == "all" || i.state == state)
                .filter(|i| labels.iter().all(|l| i.labels.iter().any(|x| x == l)))
                .collect();
            let last = all.len().div_ceil(per_page).max(1);
            let items: Vec<Value> =
                all.iter().skip((page - 1) * per_page).take(per_page).map(|i| issue_json(&base, &repo, i)).collect();
            let mut headers = vec![];
            if page < last {
                let mut q2 = q.clone();
                q2.insert("page".into(), (page + 1).to_string());
                let next = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(q2.iter()).finish();
                let mut q3 = q.clone();
                q3.insert("page".into(), last.to_string());
                let lastq = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(q3.iter()).finish();
                headers.push((
                    "link".to_string(),
                    format!("<{base}{path}?{next}>; rel=\"next\", <{base}{path}?{lastq}>; rel=\"last\""),
                ));
            }
            Ok(reply(200, Value::Array(items), &headers))
        }
        ("POST", ["repos", _, _, "issues"]) => {
            let Some(title) = json_body.get("title").and_then(|t| t.as_str()) else {
                return Ok(reply(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}]}),
                    &[],
                ));
            };
            let number = g.issues.len() as u64 + 1;
            let rec = IssueRec {
                number,
                title: title.into(),
                body: json_body.get("body").and_then(|b| b.as_str()).unwrap_or("").into(),
                state: "open".into(),
                state_reason: None,
                labels: json_body
                    .get("labels")
                    .and_then(|l| l.as_array())
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                    .unwrap_or_default(),
                assignees: json_body
                    .get("assignees")
                    .and_then(|l| l.as_array())
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                    .unwrap_or_default(),
                is_pr: false,
                comments: vec![],
            };
            let v = issue_json(&base, &repo, &rec);
            g.issues.push(rec);
            Ok(reply(201, v, &[("location".into(), format!("{base}/repos/{repo}/issues/{number}"))]))
        }
        ("PATCH", ["repos", _, _, "issues", n]) => {
            let Some(i) = n.parse::<u64>().ok().and_then(|n| g.issues.iter_mut().find(|i| i.number == n)) else {
                return Ok(reply(404, json!({"message": "Not Found"}), &[]));
            };
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
            if let Some(l) = json_body.get("labels").and_then(|l| l.as_array()) {
                i.labels = l.iter().filter_map(|x| x.as_str().map(String::from)).collect();
            }
            let v = issue_json(&base, &repo, i);
            Ok(reply(200, v, &[]))
        }
        ("POST", ["repos", _, _, "issues", n, "comments"]) => {
            let Some(i) = n.parse::<u64>().ok().and_then(|n| g.issues.iter_mut().find(|i| i.number == n)) else {
                return Ok(reply(404, json!({"message": "Not Found"}), &[]));
            };
            let text = json_body.get("body").and_then(|b| b.as_str()).unwrap_or("").to_string();
            i.comments.push(text.clone());
            let id = i.comments.len();
            Ok(reply(
                201,
                json!({"id": id, "node_id": format!("IC_{id}"), "url": format!("{base}/repos/{repo}/issues/comments/{id}"), "html_url": format!("https://github.com/{repo}/issues/{n}#issuecomment-{id}"), "body": text, "user": user(), "created_at": "2026-11-26T11:00:00Z", "updated_at": "2026-11-26T11:00:00Z", "issue_url": format!("{base}/repos/{repo}/issues/{n}"), "author_association": "NONE"}),
                &[],
            ))
        }
        // "Add labels to an issue": union with the labels it has; answers the full set.
        ("POST", ["repos", _, _, "issues", n, "labels"]) => {
            let Some(i) = n.parse::<u64>().ok().and_then(|n| g.issues.iter_mut().find(|i| i.number == n)) else {
                return Ok(reply(404, json!({"message": "Not Found"}), &[]));
            };
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
        ("DELETE", ["repos", _, _, "issues", n, "labels", name]) => {
            let Some(i) = n.parse::<u64>().ok().and_then(|n| g.issues.iter_mut().find(|i| i.number == n)) else {
                return Ok(reply(404, json!({"message": "Not Found"}), &[]));
            };
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy().to_string();
            let Some(pos) = i.labels.iter().position(|l| *l == name) else {
                return Ok(reply(
                    404,
                    json!({"message": "Label does not exist", "documentation_url": "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue"}),
                    &[],
                ));
            };
            i.labels.remove(pos);
            Ok(reply(200, label_list(&i.labels), &[]))
        }
        _ => Ok(reply(404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}), &[])),
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
