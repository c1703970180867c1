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
                .chain(labels.iter().chain(&s.labels).map(|(k, v)| (k.as_str(), v.as_str())))
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
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .map_err(|e| format!("cannot compress the remote-write request: {e}"))
}

/// The headers remote write 1.0 requires, besides auth.
pub const HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/x-protobuf"),
    ("content-encoding", "snappy"),
    ("x-prometheus-remote-write-version", "0.1.0"),
];
