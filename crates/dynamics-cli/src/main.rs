//! The `dynamics` binary: a thin wrapper around [`dynamics_cli::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let env = dynamics_cli::Env::from_process();
    let mut io = dynamics_cli::Io::std();
    runtime.block_on(dynamics_cli::run(std::env::args_os(), &env, &mut io))
}
