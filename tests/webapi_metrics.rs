//! The client's counters exported through the `metrics` facade (feature `metrics`), read by a recorder of the test's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dynamics_webapi::Record;
use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::json;
use support::{json_response, webapi_client};
use uuid::Uuid;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

/// Keeps every counter and gauge by its name and labels, as `name{label=value,…}`.
#[derive(Debug, Default)]
struct Captured {
    counters: Mutex<BTreeMap<String, Arc<Value>>>,
    gauges: Mutex<BTreeMap<String, Arc<Value>>>,
}

#[derive(Debug, Default)]
struct Value(AtomicU64);

impl CounterFn for Value {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }

    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::SeqCst);
    }
}

impl GaugeFn for Value {
    fn increment(&self, _: f64) {}

    fn decrement(&self, _: f64) {}

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::SeqCst);
    }
}

fn name_of(key: &Key) -> String {
    let labels: Vec<String> = key.labels().map(|label| format!("{}={}", label.key(), label.value())).collect();
    if labels.is_empty() { key.name().to_owned() } else { format!("{}{{{}}}", key.name(), labels.join(",")) }
}

impl Recorder for Captured {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let value = self.counters.lock().unwrap().entry(name_of(key)).or_default().clone();
        Counter::from_arc(value)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let value = self.gauges.lock().unwrap().entry(name_of(key)).or_default().clone();
        Gauge::from_arc(value)
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

impl Captured {
    fn counter(&self, name: &str) -> u64 {
        self.counters.lock().unwrap().get(name).map_or(0, |value| value.0.load(Ordering::SeqCst))
    }

    fn gauge(&self, name: &str) -> Option<f64> {
        self.gauges.lock().unwrap().get(name).map(|value| f64::from_bits(value.0.load(Ordering::SeqCst)))
    }
}

#[test]
fn requests_retries_throttling_and_the_pacer_are_exported() {
    let captured = Captured::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    metrics::with_local_recorder(&captured, || {
        runtime.block_on(async {
            let server = MockServer::start().await;
            let throttled =
                json!({"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit."}});
            Mock::given(method("GET"))
                .respond_with(json_response(429, &throttled.to_string()).insert_header("retry-after", "1"))
                .up_to_n_times(1)
                .mount(&server)
                .await;
            Mock::given(method("GET")).respond_with(json_response(503, "")).up_to_n_times(1).mount(&server).await;
            Mock::given(method("GET")).respond_with(json_response(200, r#"{"name":"Contoso"}"#)).mount(&server).await;
            let (client, _, _) = webapi_client(&server);

            client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();
        });
    });

    assert_eq!(captured.counter("dynamics_webapi.requests"), 3);
    assert_eq!(captured.counter("dynamics_webapi.retries{cause=throttled}"), 1);
    assert_eq!(captured.counter("dynamics_webapi.retries{cause=server_busy}"), 1);
    assert_eq!(captured.counter("dynamics_webapi.throttled{code=0x80072322}"), 1);
    assert_eq!(captured.gauge("dynamics_webapi.pacer.in_flight_limit"), Some(4.0));
    assert_eq!(captured.gauge("dynamics_webapi.pacer.rate"), Some(0.0), "no rate after one refusal");
}
