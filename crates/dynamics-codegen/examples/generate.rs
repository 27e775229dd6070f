//! Generates entity modules from a saved CSDL document.
//!
//! ```text
//! cargo run -p dynamics-codegen --example generate -- metadata.xml out/ account,contact [optionsets.json]
//! ```

use dynamics_codegen::{CsdlDocument, Generator, OptionSets};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csdl, out, entities, rest @ ..] = args.as_slice() else {
        return Err("usage: generate <metadata.xml> <out dir> <entity,entity,...> [optionsets.json]".into());
    };
    let document = CsdlDocument::read(csdl)?;
    let option_sets = match rest.first() {
        Some(path) => OptionSets::read(path)?,
        None => OptionSets::new(),
    };
    let output = Generator::new(&document).option_sets(option_sets).entities(entities.split(',')).generate()?;
    for warning in output.warnings() {
        eprintln!("warning: {warning}");
    }
    let changed = output.write_to(out)?;
    eprintln!("{} entities, {} files changed in {out}", output.entities().len(), changed.len());
    Ok(())
}
