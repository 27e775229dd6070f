//! Starts an emulated Azure AD and Dataverse org and keeps them running, printing the environment
//! that points `aad-auth`, `dynamics-webapi` or the `dynamics` command line at them.
//!
//! ```text
//! cargo run -p dynamics-testkit --example serve
//! ```
//!
//! Then, in another shell, paste the printed `export` lines and run for example `dynamics whoami`.
//! Stop it with Ctrl-C.

#![allow(clippy::print_stdout)]

use std::time::Duration;

use dynamics_testkit::Emulator;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dynamics_testkit::Error> {
    let emulator = Emulator::builder().seed_generated("accounts", 3000).start().await?;
    println!("# an emulated org at {} (Azure AD at {})", emulator.org_url(), emulator.authority_host());
    for (name, value) in emulator.env() {
        // A test secret, printed on purpose so that another process can use it.
        println!("export {name}='{value}'");
    }
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let counters = emulator.counters();
        println!("# {} requests so far ({} tokens issued)", counters.requests, counters.tokens_issued);
    }
}
