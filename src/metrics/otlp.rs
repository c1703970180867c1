//! OTLP/HTTP protobuf metrics: one `ExportMetricsServiceRequest` per run, built from
//! OpenTelemetry's published messages (the `opentelemetry-proto` crate). The resource
//! is vaktpost's job and instance (`service.name`, `service.instance.id`, which
//! Prometheus's OTLP receiver turns into `job` and `instance`); each family is a gauge
//! with its unit, each series a data point whose attributes are its labels.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::model::Model;

pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// The signal path appended to the base endpoint (OTLP/HTTP's default).
pub const METRICS_PATH: &str = "/v1/metrics";

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_string())) }),
        ..Default::default()
    }
}

/// The metrics URL of a base endpoint: `/v1/metrics` appended unless already there.
pub fn metrics_url(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    if e.ends_with(METRICS_PATH) {
        e.to_string()
    } else {
        format!("{e}{METRICS_PATH}")
    }
}

/// The request for `model`, from `job` and `instance`.
pub fn request(model: &Model, job: &str, instance: &str) -> ExportMetricsServiceRequest {
    let nanos = model.time.timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
    let metrics = model
        .families
        .iter()
        .filter(|f| !f.series.is_empty())
        .map(|f| Metric {
            name: f.name.to_string(),
            description: f.help.to_string(),
            unit: f.unit.to_string(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: f
                    .series
                    .iter()
                    .map(|s| NumberDataPoint {
                        attributes: model
                            .common
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .chain(model.labels(s))
                            .map(|(k, v)| kv(k, v))
                            .collect(),
                        time_unix_nano: nanos,
                        value: Some(number_data_point::Value::AsDouble(s.value)),
                        ..Default::default()
                    })
                    .collect(),
            })),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", job), kv("service.instance.id", instance)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "vaktpost".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn body(req: &ExportMetricsServiceRequest) -> Vec<u8> {
    req.encode_to_vec()
}

/// The protobuf bytes of [`request`]`(model, job, instance)`, written straight into one
/// buffer: the data points' attributes are borrowed from the model, not copied into a
/// `KeyValue` tree per point first. The small envelope (resource, scope) is `prost`'s.
pub fn encode(model: &Model, job: &str, instance: &str) -> Vec<u8> {
    use super::pb::{delimited_len, fixed64, header, str_len, string};
    let nanos = model.time.timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
    let envelope = request(&Model::empty(model.time), job, instance);
    let rm = &envelope.resource_metrics[0];
    let resource = rm.resource.as_ref().map(Message::encode_to_vec).unwrap_or_default();
    let scope = rm.scope_metrics[0].scope.as_ref().map(Message::encode_to_vec).unwrap_or_default();
    let kv_len = |k: &str, v: &str| str_len(k) + delimited_len(delimited_len(v.len()));
    let attribute = |out: &mut Vec<u8>, k: &str, v: &str| {
        header(out, 7, kv_len(k, v));
        string(out, 1, k);
        header(out, 2, delimited_len(v.len()));
        header(out, 1, v.len());
        out.extend_from_slice(v.as_bytes());
    };
    // The attributes of `common` and of each label set, encoded once for all their points.
    let sets: Vec<Vec<u8>> = model
        .sets
        .iter()
        .map(|set| {
            let mut b = Vec::new();
            for (k, v) in model.common.iter().chain(set) {
                attribute(&mut b, k, v);
            }
            b
        })
        .collect();
    let mut common = Vec::new();
    for (k, v) in &model.common {
        attribute(&mut common, k, v);
    }
    let mut metrics = Vec::with_capacity(model.series_count() * 200 + 4096);
    let mut points = Vec::new();
    for f in model.families.iter().filter(|f| !f.series.is_empty()) {
        points.clear();
        for s in &f.series {
            let set = sets.get(s.set as usize).unwrap_or(&common);
            let len = set.len()
                + s.own().map(|(k, v)| delimited_len(kv_len(k, v))).sum::<usize>()
                + if nanos != 0 { 9 } else { 0 }
                + 9;
            header(&mut points, 1, len);
            // prost writes fields in tag order: time (3), value (4), attributes (7).
            if nanos != 0 {
                fixed64(&mut points, 3, nanos);
            }
            fixed64(&mut points, 4, s.value.to_bits());
            points.extend_from_slice(set);
            for (k, v) in s.own() {
                attribute(&mut points, k, v);
            }
        }
        header(&mut metrics, 2, str_len(f.name) + str_len(f.help) + str_len(f.unit) + delimited_len(points.len()));
        string(&mut metrics, 1, f.name);
        string(&mut metrics, 2, f.help);
        string(&mut metrics, 3, f.unit);
        header(&mut metrics, 5, points.len());
        metrics.extend_from_slice(&points);
    }
    let sm_len = delimited_len(scope.len()) + metrics.len();
    let rm_len = delimited_len(resource.len()) + delimited_len(sm_len);
    let mut out = Vec::with_capacity(delimited_len(rm_len));
    header(&mut out, 1, rm_len);
    header(&mut out, 1, resource.len());
    out.extend_from_slice(&resource);
    header(&mut out, 2, sm_len);
    header(&mut out, 1, scope.len());
    out.extend_from_slice(&scope);
    out.extend_from_slice(&metrics);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_path_is_appended_once() {
        assert_eq!(metrics_url("http://c:4318"), "http://c:4318/v1/metrics");
        assert_eq!(metrics_url("http://c:4318/"), "http://c:4318/v1/metrics");
        assert_eq!(metrics_url("http://c:4318/otlp/v1/metrics"), "http://c:4318/otlp/v1/metrics");
    }

    use crate::metrics::remote_write::tests::awkward_model;
    use proptest::prelude::*;

    #[test]
    fn the_hand_encoding_is_prosts() {
        let m = awkward_model(&[0.0, -0.0, 1.0, -2.5, f64::NAN, f64::INFINITY, 1e300, 5e-324], Some("1/2"));
        assert_eq!(encode(&m, "vaktpost", "acme/site"), body(&request(&m, "vaktpost", "acme/site")));
        let mut epoch = m.clone();
        epoch.time = chrono::DateTime::UNIX_EPOCH;
        assert_eq!(encode(&epoch, "", ""), body(&request(&epoch, "", "")));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_hand_encoding_is_prosts_for_any_values(values in proptest::collection::vec(any::<f64>(), 0..12), inst in "\\PC{0,300}") {
            let m = awkward_model(&values, None);
            prop_assert_eq!(encode(&m, "j", &inst), body(&request(&m, "j", &inst)));
        }
    }
}
