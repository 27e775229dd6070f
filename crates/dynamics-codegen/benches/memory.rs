//! Peak heap of parse plus generate at Dataverse scale, under a counting allocator (not run by CI):
//! `cargo bench -p dynamics-codegen --bench memory`.

mod synthetic;

use dynamics_codegen::{CsdlDocument, Generator};
use peak_alloc::PeakAlloc;
use synthetic::{ENTITIES, PROPERTIES, or_fail, synthetic_csdl};

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

fn main() {
    let xml = synthetic_csdl();
    let input = xml.len();
    let before = ALLOCATOR.current_usage_as_mb();
    ALLOCATOR.reset_peak_usage();
    let document = or_fail(CsdlDocument::parse(xml.as_bytes(), "synthetic.xml"), "parse");
    let parsed = ALLOCATOR.peak_usage_as_mb();
    let output = or_fail(Generator::new(&document).all_entities().generate(), "generate");
    let code: usize = output.files().map(|(_, text)| text.len()).sum();
    eprintln!(
        "synthetic CSDL {:.1} MB ({ENTITIES} entity types x {PROPERTIES} properties) -> {:.1} MB of code",
        input as f64 / 1e6,
        code as f64 / 1e6
    );
    eprintln!(
        "peak live heap: {parsed:.0} MB after parse, {:.0} MB after parse + generate (input buffer: {before:.0} MB)",
        ALLOCATOR.peak_usage_as_mb()
    );
}
