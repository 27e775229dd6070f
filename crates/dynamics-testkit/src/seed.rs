//! What the emulated org starts with: the fixtures, the application user and its org, generated records.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::webapi::store::Store;
use crate::{Error, Result};

const ACCOUNTS: &str = include_str!("../../../fixtures/testkit/accounts.json");
const CONTACTS: &str = include_str!("../../../fixtures/testkit/contacts.json");
const SYSTEM_USERS: &str = include_str!("../../../fixtures/testkit/systemusers.json");

/// The fixed ids of the emulated org.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ids {
    pub(crate) user_id: Uuid,
    pub(crate) business_unit_id: Uuid,
    pub(crate) organization_id: Uuid,
    pub(crate) object_id: Uuid,
}

impl Default for Ids {
    fn default() -> Self {
        Self {
            user_id: Uuid::from_u128(0x5e00_0001_0000_4000_8000_0000_0000_0a99),
            business_unit_id: Uuid::from_u128(0xb000_0001_0000_4000_8000_0000_0000_00b1),
            organization_id: Uuid::from_u128(0x0d00_0001_0000_4000_8000_0000_0000_0001),
            object_id: Uuid::from_u128(0x0b1e_c700_0000_4000_8000_0000_0000_0001),
        }
    }
}

/// Seeds the application user, business unit and organization, and the fixtures unless `fixtures` is false.
pub(crate) fn seed_defaults(store: &mut Store, ids: &Ids, client_id: &str, fixtures: bool) -> Result<()> {
    store.insert_seed(
        "organizations",
        json!({"organizationid": ids.organization_id.to_string(), "name": "Emulated Org", "languagecode": 1033}),
    )?;
    store.insert_seed(
        "businessunits",
        json!({
            "businessunitid": ids.business_unit_id.to_string(),
            "name": "emulatedorg",
            "_organizationid_value": ids.organization_id.to_string(),
        }),
    )?;
    store.insert_seed(
        "systemusers",
        json!({
            "systemuserid": ids.user_id.to_string(),
            "fullname": "# dynamics-testkit application user",
            "applicationid": client_id.to_ascii_lowercase(),
            "azureactivedirectoryobjectid": ids.object_id.to_string(),
            "isdisabled": false,
            "accessmode": 4,
            "_businessunitid_value": ids.business_unit_id.to_string(),
        }),
    )?;
    if fixtures {
        for (entity_set, text) in [("accounts", ACCOUNTS), ("contacts", CONTACTS), ("systemusers", SYSTEM_USERS)] {
            let records: Vec<Value> = serde_json::from_str(text).map_err(|error| Error::Seed {
                entity_set: entity_set.to_owned(),
                reason: format!("the built-in fixture is not a JSON array of records ({error})"),
            })?;
            for record in records {
                store.insert_seed(entity_set, record)?;
            }
        }
    }
    Ok(())
}

/// Adds `count` generated records to `entity_set`, with deterministic ids and values.
pub(crate) fn seed_generated(store: &mut Store, entity_set: &str, count: usize) -> Result<()> {
    let primary = store.table_or_guess(entity_set).spec.primary_id.clone();
    let set_tag =
        u128::from(entity_set.bytes().fold(0u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(u32::from(byte))));
    for index in 1..=count {
        // time_low = a hash of the set's name, version 4, variant 8, and the index in the last 48 bits.
        let id = Uuid::from_u128((set_tag << 96) | (0x4000 << 64) | (0x8000 << 48) | index as u128);
        let record = generated_record(entity_set, index);
        let mut record = match record {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        record.insert(primary.clone(), Value::String(id.to_string()));
        store.insert_seed(entity_set, Value::Object(record))?;
    }
    Ok(())
}

const CITIES: [&str; 6] = ["Redmond", "Seattle", "London", "Berlin", "Dublin", "Paris"];
const FIRST_NAMES: [&str; 6] = ["Alex", "Sam", "Robin", "Kim", "Jo", "Lee"];
const LAST_NAMES: [&str; 6] = ["Smith", "Jones", "Brown", "Garcia", "Müller", "O'Neil"];

fn generated_record(entity_set: &str, index: usize) -> Value {
    let day = 1 + index % 28;
    let created = format!("2026-01-{day:02}T{:02}:{:02}:00Z", index % 24, index % 60);
    match entity_set {
        "accounts" => json!({
            "name": format!("Generated account {index:05}"),
            "accountnumber": format!("GEN-{index:05}"),
            "address1_city": CITIES[index % CITIES.len()],
            "revenue": (index * 1000) as f64,
            "numberofemployees": index % 500,
            "statecode": 0,
            "statuscode": 1,
            "createdon": created,
            "modifiedon": created,
        }),
        "contacts" => {
            let first = FIRST_NAMES[index % FIRST_NAMES.len()];
            let last = LAST_NAMES[(index / FIRST_NAMES.len()) % LAST_NAMES.len()];
            json!({
                "firstname": first,
                "lastname": format!("{last} {index:05}"),
                "fullname": format!("{first} {last} {index:05}"),
                "emailaddress1": format!("contact{index:05}@generated.example"),
                "statecode": 0,
                "statuscode": 1,
                "createdon": created,
                "modifiedon": created,
            })
        }
        _ => json!({ "name": format!("Generated {entity_set} {index:05}"), "createdon": created }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntitySetSpec;

    #[test]
    fn built_in_fixtures_and_generated_records_seed_cleanly() {
        let mut store = Store::new(EntitySetSpec::defaults());
        seed_defaults(&mut store, &Ids::default(), "d15ea5e0-7e57-4c11-8000-0000000c11e7", true).unwrap();
        assert_eq!(store.snapshot("accounts").len(), 5);
        assert_eq!(store.snapshot("systemusers").len(), 3);
        seed_generated(&mut store, "accounts", 3000).unwrap();
        seed_generated(&mut store, "contacts", 10).unwrap();
        let accounts = store.snapshot("accounts");
        assert_eq!(accounts.len(), 3005);
        assert_eq!(accounts[5]["accountnumber"], "GEN-00001");
        let ids: std::collections::HashSet<&str> = accounts.iter().map(|a| a["accountid"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 3005, "generated ids are unique");
    }
}
