//! Parses the benchmarks' synthetic CSDL in a loop, for profiling:
//! `cargo run --release -p dynamics-codegen --example parse_synthetic`;
//! with a path argument, writes the document there instead (to try `cargo xtask gen-entities` on it).

#[path = "../benches/synthetic/mod.rs"]
mod synthetic;

fn main() {
    let xml = synthetic::synthetic_csdl();
    if let Some(path) = std::env::args().nth(1) {
        synthetic::or_fail(std::fs::write(&path, &xml), "write");
        eprintln!("wrote {} MB to {path}", xml.len() / 1_000_000);
        return;
    }
    let mut types = 0;
    for _ in 0..20 {
        let document =
            synthetic::or_fail(dynamics_codegen::CsdlDocument::parse(xml.as_bytes(), "synthetic.xml"), "parse");
        types += document.entity_type_names().count();
    }
    eprintln!("{types} entity types read");
}
