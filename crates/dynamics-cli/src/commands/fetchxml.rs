//! `dynamics fetchxml`: run a FetchXML query from a file.

use std::path::Path;

use dynamics_webapi::Record;

use crate::args::FetchXmlArgs;
use crate::error::{Error, Result};
use crate::io::Io;
use crate::output::printer::RecordPrinter;
use crate::read_options::check_entity_set;
use crate::settings::connection::Connection;

pub(crate) async fn run(connection: &Connection, args: FetchXmlArgs, io: &mut Io) -> Result<()> {
    let xml = if args.file == Path::new("-") {
        String::from_utf8(io.read_stdin("the FetchXML")?).map_err(|_| Error::input("the FetchXML is not UTF-8 text"))?
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| Error::io(format!("the FetchXML file {} cannot be read", args.file.display()), e))?
    };
    let entity_set = match args.entity_set {
        Some(set) => set,
        None => entity_set_of(&xml)?,
    };
    check_entity_set(&entity_set)?;
    let read = connection.client.fetch_xml::<Record>(&entity_set, &xml);
    let printer = RecordPrinter::new(args.format, &[], false);
    crate::commands::print_read(read, args.all, printer, &entity_set, io).await
}

/// The entity set of `<entity name="...">`: the logical name made plural the way Dataverse names standard tables.
fn entity_set_of(xml: &str) -> Result<String> {
    let missing =
        || Error::usage_with_hint("the FetchXML has no <entity name=\"...\">", "pass --set with the entity set name");
    let start = xml.find("<entity").ok_or_else(missing)?;
    let tag = &xml[start..xml[start..].find('>').map_or(xml.len(), |end| start + end)];
    let after = tag.find("name=").ok_or_else(missing)? + "name=".len();
    let rest = &tag[after..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'').ok_or_else(missing)?;
    let name = rest[1..].split(quote).next().ok_or_else(missing)?;
    Ok(plural(name))
}

fn plural(name: &str) -> String {
    if let Some(stem) = name.strip_suffix('y').filter(|stem| !stem.ends_with(['a', 'e', 'o', 'u'])) {
        format!("{stem}ies")
    } else if name.ends_with('s') || name.ends_with('x') || name.ends_with("ch") || name.ends_with("sh") {
        format!("{name}es")
    } else {
        format!("{name}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_entity_set_from_the_entity_name() {
        assert_eq!(
            entity_set_of("<fetch><entity name='account'><all-attributes/></entity></fetch>").unwrap(),
            "accounts"
        );
        assert_eq!(entity_set_of(r#"<fetch><entity name="opportunity"/></fetch>"#).unwrap(), "opportunities");
        assert_eq!(plural("systemuser"), "systemusers");
        assert_eq!(plural("businessprocessflowinstance"), "businessprocessflowinstances");
        assert_eq!(plural("address"), "addresses");
        assert!(entity_set_of("<fetch/>").is_err());
    }
}
