//! Prometheus remote write 1.0: a snappy-compressed (block format) protobuf
//! `prometheus.WriteRequest`. The messages are written out with `prost` derives, field
//! numbers as in Prometheus's `prompb/remote.proto` and `prompb/types.proto` (no protoc
//! at build time); only what a gauge sample needs.

use prost::Message;

use super::model::Model;

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`: labels sorted by name, `__name__` among them.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: the timestamp in milliseconds since the epoch.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata` (type 2 is `GAUGE`).
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

pub const GAUGE: i32 = 2;

/// The request `model` makes, with `labels` (job, instance, shard) on every series.
pub fn request(model: &Model, labels: &[(String, String)]) -> WriteRequest {
    let ts = model.time.timestamp_millis();
    let mut timeseries = Vec::with_capacity(model.series_count());
    let mut metadata = Vec::new();
    for f in model.families.iter().filter(|f| !f.series.is_empty()) {
        metadata.push(MetricMetadata {
            r#type: GAUGE,
            metric_family_name: f.name.to_string(),
            help: f.help.to_string(),
            unit: String::new(),
        });
        for s in &f.series {
            let mut l: Vec<Label> = std::iter::once(("__name__", f.name))
                .chain(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .chain(model.labels(s))
                .filter(|(_, v)| !v.is_empty())
                .map(|(name, value)| Label { name: name.to_string(), value: value.to_string() })
                .collect();
            l.sort_by(|a, b| a.name.cmp(&b.name));
            l.dedup_by(|a, b| a.name == b.name);
            timeseries.push(TimeSeries { labels: l, samples: vec![Sample { value: s.value, timestamp: ts }] });
        }
    }
    WriteRequest { timeseries, metadata }
}

/// The request body: protobuf, then snappy's block format (not the framed stream).
pub fn body(req: &WriteRequest) -> Result<Vec<u8>, String> {
    compress(&req.encode_to_vec())
}

fn compress(raw: &[u8]) -> Result<Vec<u8>, String> {
    snap::raw::Encoder::new().compress_vec(raw).map_err(|e| format!("cannot compress the remote-write request: {e}"))
}

/// The protobuf bytes of [`request`]`(model, labels)`, written straight into one buffer.
/// Each label set is merged with `labels`, sorted and deduplicated once; a series then
/// only adds `__name__` and its own labels into that sorted run. Precedence is
/// [`request`]'s (the first of equal names is kept: `__name__`, then `labels`, then the
/// set's, then the series' own), and empty values are left out before it applies.
pub fn encode(model: &Model, labels: &[(String, String)]) -> Vec<u8> {
    use super::pb::{delimited_len, fixed64, header, str_len, string, varint, varint_len};
    let ts = model.time.timestamp_millis();
    let mut out = Vec::with_capacity(model.series_count() * 200 + 4096);
    fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
        v.iter().map(|(k, v)| (k.as_str(), v.as_str())).filter(|(_, v)| !v.is_empty()).collect()
    }
    let base: Vec<Vec<(&str, &str)>> = model
        .sets
        .iter()
        .map(|set| {
            let mut b = pairs(labels);
            b.extend(pairs(set));
            b.sort_by(|a, b| a.0.cmp(b.0));
            b.dedup_by(|a, b| a.0 == b.0);
            b
        })
        .collect();
    let none = pairs(labels);
    let mut l: Vec<(&str, &str)> = Vec::with_capacity(16);
    let families = || model.families.iter().filter(|f| !f.series.is_empty());
    let sample_len = |v: f64| (if v != 0.0 { 9 } else { 0 }) + if ts != 0 { 1 + varint_len(ts as u64) } else { 0 };
    for f in families() {
        for s in &f.series {
            l.clear();
            l.extend_from_slice(base.get(s.set as usize).unwrap_or(&none));
            // `__name__` wins over a label of the same name; an own label loses to any.
            match l.binary_search_by(|x| x.0.cmp("__name__")) {
                Ok(i) => l[i] = ("__name__", f.name),
                Err(i) => l.insert(i, ("__name__", f.name)),
            }
            for own in s.own().filter(|(_, v)| !v.is_empty()) {
                if let Err(i) = l.binary_search_by(|x| x.0.cmp(own.0)) {
                    l.insert(i, own);
                }
            }
            let label_len = |(n, v): &(&str, &str)| str_len(n) + str_len(v);
            let sample = sample_len(s.value);
            let len = l.iter().map(|x| delimited_len(label_len(x))).sum::<usize>() + delimited_len(sample);
            header(&mut out, 1, len);
            for x in &l {
                header(&mut out, 1, label_len(x));
                string(&mut out, 1, x.0);
                string(&mut out, 2, x.1);
            }
            header(&mut out, 2, sample);
            if s.value != 0.0 {
                fixed64(&mut out, 1, s.value.to_bits());
            }
            if ts != 0 {
                out.push(2 << 3);
                varint(&mut out, ts as u64);
            }
        }
    }
    for f in families() {
        header(&mut out, 3, 2 + str_len(f.name) + str_len(f.help));
        out.extend_from_slice(&[1 << 3, GAUGE as u8]);
        string(&mut out, 2, f.name);
        string(&mut out, 4, f.help);
    }
    out
}

/// The request body of `model` with `labels`: [`encode`], then snappy's block format.
pub fn encoded_body(model: &Model, labels: &[(String, String)]) -> Result<Vec<u8>, String> {
    compress(&encode(model, labels))
}

/// The headers remote write 1.0 requires, besides auth.
pub const HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/x-protobuf"),
    ("content-encoding", "snappy"),
    ("x-prometheus-remote-write-version", "0.1.0"),
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metrics::model::{Family, Series};
    use proptest::prelude::*;

    /// A model with what the encoders must get right: zero and negative values, NaN,
    /// empty label values, duplicate names, unicode, long values, empty families.
    pub(crate) fn awkward_model(values: &[f64], shard: Option<&str>) -> Model {
        let l = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let mut m = Model::empty(chrono::DateTime::from_timestamp_millis(1_774_999_000_123).unwrap());
        let sets = [
            m.add_set(l(&[("monitor", "api"), ("type", "http"), ("team", "")])),
            m.add_set(l(&[
                ("monitor", "é\\\"\n"),
                ("type", "tcp"),
                ("job", "dup"),
                ("aaa", "1"),
                ("__name__", "fake"),
            ])),
            0,
            m.add_set(l(&[("monitor", &"x".repeat(300)), ("status", "up")])),
        ];
        let series = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut s = Series::new(sets[i % 4], *v);
                // Own labels after the set's: a static one, one from the report, a duplicate.
                s.own = match i % 3 {
                    0 => [Some(("phase", "tls".into())), Some(("zz", "".into()))],
                    1 => [Some(("series", "used_memory \"rss\"".to_string().into())), Some(("window", "24h".into()))],
                    _ => [Some(("monitor", "again".into())), None],
                };
                s
            })
            .collect::<Vec<_>>();
        let fam = |name, help, unit, series| Family { name, help, unit, series };
        m.families = vec![
            fam("probe_success", "Whether.", "", series.clone()),
            fam("probe_empty", "None.", "s", vec![]),
            fam("vaktpost_x_seconds", "", "s", series),
        ];
        m.common = shard.map(|s| vec![("shard".to_string(), s.to_string())]).unwrap_or_default();
        m
    }

    #[test]
    fn the_hand_encoding_is_prosts() {
        let m = awkward_model(&[0.0, -0.0, 1.0, -2.5, f64::NAN, f64::INFINITY, 1e300, 5e-324], Some("1/2"));
        let labels = [("job".to_string(), "vaktpost".to_string()), ("instance".to_string(), String::new())];
        assert_eq!(encode(&m, &labels), request(&m, &labels).encode_to_vec());
        let mut epoch = m.clone();
        epoch.time = chrono::DateTime::UNIX_EPOCH;
        assert_eq!(encode(&epoch, &[]), request(&epoch, &[]).encode_to_vec());
        assert_eq!(encoded_body(&m, &labels).unwrap(), body(&request(&m, &labels)).unwrap());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_hand_encoding_is_prosts_for_any_values(values in proptest::collection::vec(any::<f64>(), 0..12), inst in "\\PC{0,300}") {
            let m = awkward_model(&values, None);
            let labels = [("instance".to_string(), inst)];
            prop_assert_eq!(encode(&m, &labels), request(&m, &labels).encode_to_vec());
        }
    }
}
