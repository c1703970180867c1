//! The `dns` check: one lookup of `query` for `record_type` through the run's resolver
//! (the system's, or `VAKTPOST_DNS_SERVER`) or the monitor's own `resolver`, with hickory
//! as everywhere else; the response code and the answers are the result, so a record that
//! changed, vanished or never propagated is a finding.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType as HRecordType};
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{Name, ResolveError};
use schemars::JsonSchema;
use serde::Deserialize;

use super::kinds::Kind;
use super::metrics::Metric::{self, *};
use super::{ms, CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::retry::{self, Next, Policy};
use crate::values::duration::format_duration;
use crate::values::vartype::Ty;

/// The record types a `dns` monitor asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum RecordType {
    A,
    #[allow(clippy::upper_case_acronyms)]
    AAAA,
    #[allow(clippy::upper_case_acronyms)]
    CNAME,
    MX,
    #[allow(clippy::upper_case_acronyms)]
    TXT,
    NS,
    #[allow(clippy::upper_case_acronyms)]
    SOA,
}

impl RecordType {
    fn hickory(self) -> HRecordType {
        match self {
            RecordType::A => HRecordType::A,
            RecordType::AAAA => HRecordType::AAAA,
            RecordType::CNAME => HRecordType::CNAME,
            RecordType::MX => HRecordType::MX,
            RecordType::TXT => HRecordType::TXT,
            RecordType::NS => HRecordType::NS,
            RecordType::SOA => HRecordType::SOA,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsOptions {
    /// The name to look up (`name` is the monitor's own name).
    pub query: String,
    /// `A`, `AAAA`, `CNAME`, `MX`, `TXT`, `NS` or `SOA`.
    pub record_type: RecordType,
    /// A DNS server to ask instead of the system's: `ip` or `ip:port` (UDP, then TCP).
    #[serde(default)]
    pub resolver: Option<String>,
    /// Answers that must all be present (IP addresses, names, `10 mail.example.com` or
    /// just `mail.example.com` for MX, the text of a TXT record); more answers are fine.
    #[serde(default)]
    pub expected: Vec<String>,
    /// The response code the answer must have (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, …).
    #[serde(default = "d_noerror")]
    pub expected_rcode: String,
}

fn d_noerror() -> String {
    "NOERROR".to_string()
}

/// The response codes `expected_rcode` accepts, as `rcode` reports them (RFC 1035, 2136).
pub const RCODES: &[&str] =
    &["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];

/// Most answers kept in the `answers` metric (a TXT-heavy name can have hundreds).
pub const MAX_ANSWERS: usize = 50;
/// Characters of one answer kept.
pub const MAX_ANSWER_CHARS: usize = 512;

fn rcode_name(c: ResponseCode) -> String {
    match c {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

/// `ip` or `ip:port` (`[v6]:port`), port 53 by default.
pub fn parse_resolver(v: &str) -> Result<SocketAddr, String> {
    let v = v.trim();
    if let Ok(a) = v.parse::<SocketAddr>() {
        return Ok(a);
    }
    v.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{v:?} is not a DNS server address; write an IP address with an optional port, e.g. 1.1.1.1 or 127.0.0.1:5353"))
}

/// A name as answers show it: lower case, no trailing dot.
fn norm(s: &str) -> String {
    s.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// One answer as text, and its forms that `expected` may name.
fn answer_text(d: &RData) -> Option<(String, Vec<String>)> {
    let name = |n: &Name| n.to_string().trim_end_matches('.').to_string();
    let s = match d {
        RData::A(a) => a.to_string(),
        RData::AAAA(a) => a.to_string(),
        RData::CNAME(c) => name(&c.0),
        RData::NS(n) => name(&n.0),
        RData::MX(m) => {
            let ex = name(m.exchange());
            return Some((format!("{} {ex}", m.preference()), vec![norm(&ex)]));
        }
        RData::TXT(t) => t.txt_data().iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<String>(),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            name(s.mname()),
            name(s.rname()),
            s.serial(),
            s.refresh(),
            s.retry(),
            s.expire(),
            s.minimum()
        ),
        _ => return None,
    };
    let s = crate::untrusted::bound(&s, MAX_ANSWER_CHARS);
    Some((s, Vec::new()))
}

/// What one lookup returned: the response code, the answers of the asked type (with
/// their other matchable forms) and the smallest TTL among them.
struct Answer {
    rcode: String,
    answers: Vec<(String, Vec<String>)>,
    ttl_min: Option<u32>,
    took: Duration,
}

async fn lookup(o: &DnsOptions, env: &CheckEnv, server: Option<SocketAddr>) -> Result<Answer, CheckError> {
    // An absolute name: no search domains appended.
    let fqdn = if o.query.ends_with('.') { o.query.clone() } else { format!("{}.", o.query) };
    let name = Name::from_ascii(&fqdn)
        .map_err(|e| CheckError::new(ErrorKind::Config, format!("query {:?} is not a DNS name: {e}", o.query)))?;
    let own;
    let resolver = match server {
        Some(a) => {
            own = super::net::resolver(Some(a));
            &own
        }
        None => env.net.resolver(),
    };
    let t0 = Instant::now();
    let res = resolver.lookup(name, o.record_type.hickory()).await;
    let took = t0.elapsed();
    match res {
        Ok(l) => {
            let want = o.record_type.hickory();
            let mut answers = Vec::new();
            let mut ttl_min: Option<u32> = None;
            for rec in l.record_iter().filter(|r| r.record_type() == want) {
                if let Some(a) = answer_text(rec.data()) {
                    ttl_min = Some(ttl_min.map_or(rec.ttl(), |t| t.min(rec.ttl())));
                    if answers.len() < MAX_ANSWERS {
                        answers.push(a);
                    }
                }
            }
            // Servers rotate their answers; sorted, the metric changes only when they do.
            answers.sort();
            Ok(Answer { rcode: "NOERROR".into(), answers, ttl_min, took })
        }
        Err(e) => match negative(&e) {
            Some(rcode) => Ok(Answer { rcode, answers: Vec::new(), ttl_min: None, took }),
            None => Err(lookup_error(&o.query, &e)),
        },
    }
}

/// The response code of an answer without records (NXDOMAIN, NODATA, SERVFAIL, REFUSED).
fn negative(e: &ResolveError) -> Option<String> {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => Some(rcode_name(*response_code)),
        _ => None,
    }
}

fn lookup_error(q: &str, e: &ResolveError) -> CheckError {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::Timeout) => {
            CheckError::new(ErrorKind::Timeout, format!("DNS lookup of {q}: no DNS server answered in time"))
        }
        _ => CheckError::new(ErrorKind::Dns, format!("DNS lookup of {q} failed: {e}")),
    }
}

pub async fn check(o: &DnsOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    let server = match o.resolver.as_deref().map(parse_resolver).transpose() {
        Ok(s) => s,
        Err(e) => return r.fail(CheckError::new(ErrorKind::Config, e)),
    };
    let op = |_| async move {
        match tokio::time::timeout(eff.timeout, lookup(o, env, server)).await {
            Ok(res) => res,
            Err(_) => Err(CheckError::new(
                ErrorKind::Timeout,
                format!("DNS lookup of {} timed out after {}", o.query, format_duration(eff.timeout)),
            )),
        }
    };
    // Timeouts are retried (`retry::run`, the check policy); an answer is an answer.
    let judge = |res: &Result<Answer, CheckError>| match res {
        Err(e) if e.kind == ErrorKind::Timeout => Next::Retry,
        _ => Next::Done,
    };
    let out = retry::run(&Policy::check(eff.retries), &env.waiter, op, judge).await;
    r.set("attempts", out.attempts as u64);
    let a = match out.value {
        Ok(a) => a,
        Err(mut e) => {
            e.message.push_str(&out.stop.clause());
            return r.fail(e);
        }
    };
    r.set("dns_ms", ms(a.took));
    r.set("rcode", a.rcode.clone());
    r.set("answers", a.answers.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>());
    if let Some(t) = a.ttl_min {
        r.set("ttl_min", t);
    }
    if let Some(e) = judge_answer(o, &a) {
        return r.fail(e);
    }
    r.status = Status::Up;
    r
}

fn judge_answer(o: &DnsOptions, a: &Answer) -> Option<CheckError> {
    let ty = format!("{:?}", o.record_type);
    let want = o.expected_rcode.to_ascii_uppercase();
    if a.rcode != want {
        let why = match a.rcode.as_str() {
            "NXDOMAIN" => "the name does not exist".to_string(),
            "SERVFAIL" => "the DNS server could not answer; its upstream or the domain's name servers are failing".into(),
            "REFUSED" => "the DNS server refused the query".into(),
            "NOERROR" => "the name exists".into(),
            other => format!("the DNS server answered {other}"),
        };
        // A failed resolution is `dns`; an answer where a failure was expected is an assertion.
        let kind = if want == "NOERROR" { ErrorKind::Dns } else { ErrorKind::Assertion };
        return Some(CheckError::new(
            kind,
            format!("{ty} lookup of {}: {why} ({}), expected_rcode is {want}", o.query, a.rcode),
        ));
    }
    if want == "NOERROR" && a.answers.is_empty() {
        return Some(CheckError::new(
            ErrorKind::Dns,
            format!("{ty} lookup of {}: the name exists but has no {ty} record (NOERROR, no data)", o.query),
        ));
    }
    let missing: Vec<&String> = o
        .expected
        .iter()
        .filter(|e| {
            let e = norm(e);
            !a.answers.iter().any(|(s, alt)| norm(s) == e || alt.contains(&e))
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let got: Vec<&str> = a.answers.iter().map(|(s, _)| s.as_str()).collect();
    Some(CheckError::new(
        ErrorKind::Assertion,
        format!(
            "{ty} lookup of {}: expected {} not among the answers [{}]",
            o.query,
            missing.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", "),
            got.join(", ")
        ),
    ))
}

impl Kind for DnsOptions {
    fn secrets(&self, _: &mut Vec<String>) {}
    fn target(&self) -> String {
        match &self.resolver {
            Some(s) => format!("{} {:?} @{s}", self.query, self.record_type),
            None => format!("{} {:?}", self.query, self.record_type),
        }
    }
    fn host_key(&self) -> Option<String> {
        self.resolver.clone()
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        let q = self.query.trim();
        if q.is_empty() || q.contains("://") || q.contains('/') || Name::from_ascii(q).is_err() {
            err(&format!("{p}.query"), format!("must be a DNS name such as api.example.com, got {:?}", self.query));
        }
        if let Some(Err(e)) = self.resolver.as_deref().map(parse_resolver) {
            err(&format!("{p}.resolver"), e);
        }
        let rc = self.expected_rcode.to_ascii_uppercase();
        if !RCODES.contains(&rc.as_str()) {
            let hint = crate::values::hint::did_you_mean(&rc, RCODES.iter().copied())
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            err(
                &format!("{p}.expected_rcode"),
                format!("unknown response code {:?}{hint}; use one of {}", self.expected_rcode, RCODES.join(", ")),
            );
        }
        for (i, e) in self.expected.iter().enumerate() {
            if e.trim().is_empty() {
                err(&format!("{p}.expected[{i}]"), "is empty; write an answer such as 192.0.2.1".into());
            }
        }
    }
    const METRICS: &'static [(&'static str, Metric)] =
        &[("attempts", Num), ("dns_ms", Num), ("rcode", Str), ("answers", Strs), ("ttl_min", Num)];
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[("attempts", N), ("dns_ms", N), ("rcode", S), ("answers", LIST_S), ("ttl_min", N)]
    };
    fn summary_parts(r: &CheckResult, parts: &mut Vec<String>) {
        if let Some(rc) = r.metrics.get("rcode").and_then(|v| v.as_str()) {
            let n = r.metrics.get("answers").and_then(|v| v.as_array()).map_or(0, |a| a.len());
            parts.push(format!("{rc}, {n} answers"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_parse_with_and_without_port() {
        assert_eq!(parse_resolver("1.1.1.1").unwrap(), "1.1.1.1:53".parse().unwrap());
        assert_eq!(parse_resolver("127.0.0.1:5353").unwrap(), "127.0.0.1:5353".parse().unwrap());
        assert_eq!(parse_resolver("[::1]:53").unwrap(), "[::1]:53".parse().unwrap());
        assert!(parse_resolver("dns.google").unwrap_err().contains("IP address"));
    }
}
