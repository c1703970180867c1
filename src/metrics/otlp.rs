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
                        attributes: model.common.iter().chain(&s.labels).map(|(k, v)| kv(k, v)).collect(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_path_is_appended_once() {
        assert_eq!(metrics_url("http://c:4318"), "http://c:4318/v1/metrics");
        assert_eq!(metrics_url("http://c:4318/"), "http://c:4318/v1/metrics");
        assert_eq!(metrics_url("http://c:4318/otlp/v1/metrics"), "http://c:4318/otlp/v1/metrics");
    }
}
