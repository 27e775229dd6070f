//! Parse and generate at Dataverse scale (not run by CI): `cargo bench -p dynamics-codegen --bench codegen`.
//!
//! - `scan` is a bare quick-xml event loop over the same bytes that `parse` reads: the floor for any reader.
//! - `parse` builds the `CsdlDocument`, `generate` writes every entity's code from it.
//! - `real_end_to_end` parses and generates the real 4 MB document from `../shared/realdata`.
//!
//! Before the timings, one parse plus generate of the synthetic document runs with the peak resident set
//! reset (`/proc/self/clear_refs`), and its peak (`VmHWM`) is printed. The heap's peak under a counting
//! allocator is the `memory` bench (a separate binary, so the counting does not slow these timings).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use dynamics_codegen::{CsdlDocument, Generator};
use peak_alloc::PeakAlloc;
use quick_xml::Reader;
use quick_xml::events::Event;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

mod synthetic;

use synthetic::{ENTITIES, PROPERTIES, or_fail, synthetic_csdl};

/// Every event of the document, attributes included, and nothing kept: the floor for a reader.
fn bare_scan(bytes: &[u8]) -> usize {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = Reader::from_reader(bytes);
    let mut count = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => count += e.attributes().count(),
            Ok(Event::Eof) => return count,
            Ok(_) => count += 1,
            Err(e) => panic!("scan: {e}"),
        }
    }
}

fn generated_bytes(document: &CsdlDocument) -> usize {
    let output = or_fail(Generator::new(document).all_entities().generate(), "generate");
    output.files().map(|(_, text)| text.len()).sum()
}

fn peak_resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report_once(bytes: &[u8]) {
    let baseline = peak_resident_kb();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let document = or_fail(CsdlDocument::parse(bytes, "synthetic.xml"), "parse");
    let parsed = started.elapsed();
    let generated = generated_bytes(&document);
    let total = started.elapsed();
    drop(document);
    eprintln!(
        "synthetic CSDL: {:.1} MB, {ENTITIES} entity types x {PROPERTIES} properties; parse {parsed:.2?}, \
         parse + generate {total:.2?} ({:.1} MB of code)",
        bytes.len() as f64 / 1e6,
        generated as f64 / 1e6
    );
    match (reset, peak_resident_kb()) {
        (true, Some(peak)) => {
            eprintln!("peak resident set during parse + generate: {} MB (input included)", peak / 1024)
        }
        (_, peak) => {
            eprintln!("peak resident set (could not reset; since start): {peak:?} kB, before: {baseline:?} kB")
        }
    }
}

fn benches(c: &mut Criterion) {
    let xml = synthetic_csdl();
    let bytes = xml.as_bytes();
    report_once(bytes);

    let mut group = c.benchmark_group("synthetic");
    group.sample_size(10);
    group.bench_function("scan", |b| b.iter(|| bare_scan(black_box(bytes))));
    // The parsed document is dropped outside the measurement: freeing it is not reading the XML.
    group.bench_function("parse", |b| {
        b.iter_with_large_drop(|| or_fail(CsdlDocument::parse(black_box(bytes), "synthetic.xml"), "parse"))
    });
    let document = or_fail(CsdlDocument::parse(bytes, "synthetic.xml"), "parse");
    group.bench_function("generate", |b| b.iter(|| generated_bytes(black_box(&document))));
    group.finish();

    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata/csdl/crm-online-8.1.xml");
    let real = or_fail(std::fs::read(&real), "the real CSDL in ../shared/realdata");
    let mut group = c.benchmark_group("real");
    group.sample_size(10);
    group.bench_function("end_to_end", |b| {
        b.iter(|| generated_bytes(&or_fail(CsdlDocument::parse(black_box(&real), "crm-online-8.1.xml"), "parse")))
    });
    group.finish();
}

criterion_group!(codegen, benches);

fn main() {
    codegen();
    Criterion::default().configure_from_args().final_summary();
}
