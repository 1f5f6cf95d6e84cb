// Every line of unsafe code (the SIMD kernels) lives in heavyball-core.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match heavyball::cli::run(heavyball::cli::Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            heavyball::errors::to_stderr(&format!("Error: {}", heavyball::errors::one_line(&e)));
            ExitCode::FAILURE
        }
    }
}
