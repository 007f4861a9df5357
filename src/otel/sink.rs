//! Where spans go: a collector over OTLP/HTTP protobuf (the `opentelemetry-otlp` exporter on
//! the project's own reqwest client, rustls only) and/or an OTLP/JSON Lines file.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};

use super::{ExportConfig, OtelError};

/// How long one export may take before it counts as failed (the OTLP default is 10 s).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The configured destinations.
#[derive(Debug)]
pub struct Sink {
    http: Option<(opentelemetry_otlp::SpanExporter, String)>,
    /// The client's last transport error: the exporter reports only "network error".
    last_error: LastError,
    file: Option<PathBuf>,
    resource: Resource,
}

impl Sink {
    /// Builds the exporter for `config` (nothing is sent yet); each export takes at most
    /// `config.timeout`, else `default_timeout`.
    pub fn new(config: &ExportConfig, default_timeout: Duration) -> Result<Self, OtelError> {
        let timeout = config.timeout.unwrap_or(default_timeout);
        let resource = resource();
        let last_error = LastError::default();
        let http = match &config.endpoint {
            Some(endpoint) => {
                let client = Client::new(&config.headers, timeout, last_error.clone())?;
                let mut exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_http_client(client)
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(endpoint.clone())
                    .with_timeout(timeout)
                    .build()
                    .map_err(|e| OtelError::Build(e.to_string()))?;
                exporter.set_resource(&resource);
                Some((exporter, endpoint.clone()))
            }
            None => None,
        };
        Ok(Sink {
            http,
            last_error,
            file: config.file.clone(),
            resource,
        })
    }

    /// The collector's traces URL, when sending.
    pub fn endpoint(&self) -> Option<&str> {
        self.http.as_ref().map(|(_, e)| e.as_str())
    }

    /// Sends `spans` to the collector and appends them to the file, whichever are configured.
    pub async fn send(&self, spans: Vec<SpanData>) -> Result<(), OtelError> {
        if spans.is_empty() {
            return Ok(());
        }
        if let Some(path) = &self.file {
            self.append(path, &spans)?;
        }
        if let Some((exporter, endpoint)) = &self.http {
            if let Err(e) = exporter.export(spans).await {
                let cause = self.last_error.lock().ok().and_then(|mut l| l.take());
                let detail = match cause {
                    Some(cause) => cause,
                    None => e.to_string(),
                };
                return Err(OtelError::Export {
                    endpoint: endpoint.clone(),
                    detail: one_line(&detail),
                });
            }
            if let Ok(mut l) = self.last_error.lock() {
                l.take();
            }
        }
        Ok(())
    }

    /// Appends one OTLP/JSON `ExportTraceServiceRequest` line (the Collector's file format).
    fn append(&self, path: &std::path::Path, spans: &[SpanData]) -> Result<(), OtelError> {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
        use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
        let fail = |detail: String| OtelError::File {
            path: path.display().to_string(),
            detail,
        };
        let resource = ResourceAttributesWithSchema::from(&self.resource);
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans.to_vec(), &resource),
        };
        let mut line = serde_json::to_string(&request).map_err(|e| fail(e.to_string()))?;
        line.push('\n');
        crate::secrets::append_private(path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| fail(e.to_string()))
    }
}

/// `service.name = turnscope` and Phoenix's project `turnscope`, overridable through
/// `OTEL_RESOURCE_ATTRIBUTES` (e.g. `openinference.project.name=my-agents`).
fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "turnscope"),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("openinference.project.name", "turnscope"),
        ])
        .with_detector(Box::new(
            opentelemetry_sdk::resource::EnvResourceDetector::new(),
        ))
        .build()
}

/// Collapses a multi-line error into one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The exporter's HTTP client: the project's reqwest (rustls), with the validated headers set
/// on every request so `--otlp-header` wins over anything the exporter read itself.
#[derive(Debug)]
struct Client {
    inner: reqwest::Client,
    headers: http::HeaderMap,
    last_error: LastError,
}

type LastError = std::sync::Arc<std::sync::Mutex<Option<String>>>;

impl Client {
    fn new(
        headers: &std::collections::BTreeMap<String, String>,
        timeout: Duration,
        last_error: LastError,
    ) -> Result<Self, OtelError> {
        crate::endpoint::install_crypto_provider();
        let inner = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| OtelError::Build(e.to_string()))?;
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            // Validated by `otel::headers`; a failure here is a bug, reported as a build error.
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| OtelError::Build(format!("header {k}: {e}")))?;
            let mut value = http::HeaderValue::from_str(v)
                .map_err(|e| OtelError::Build(format!("header {k}: {e}")))?;
            value.set_sensitive(true);
            map.insert(name, value);
        }
        Ok(Client {
            inner,
            headers: map,
            last_error,
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Client {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let mut request = reqwest::Request::try_from(request)?;
        for (k, v) in &self.headers {
            request.headers_mut().insert(k.clone(), v.clone());
        }
        let result = async {
            let response = self.inner.execute(request).await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.bytes().await?))
        }
        .await;
        match result {
            Ok((status, body)) => Ok(http::Response::builder().status(status).body(body)?),
            Err(e) => {
                let text = chain(&e);
                if let Ok(mut l) = self.last_error.lock() {
                    *l = Some(text.clone());
                }
                Err(text.into())
            }
        }
    }
}

/// A reqwest error with its causes on one line ("… : Connection refused"), so the message
/// says why the collector was not reached.
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
