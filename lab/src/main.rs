//! `madoguchi-lab`: the demo and scenario runner and the backend bench (test tooling).
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use madoguchi_lab::{bench, demo};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "madoguchi-lab", version, about = "Demo, scenarios and benchmarks for madoguchi (test tooling)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A whole demo world on this machine (pcscd with vpcd, backend, printer simulator, kiosk).
    /// With --headless --scenario NAME it plays a scenario and writes screens, printed PDFs and
    /// result.json to --out.
    Demo(demo::DemoArgs),
    /// Drive full resident flows against the municipal backend and print throughput and
    /// latency as one JSON line.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Bench(args) => {
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("madoguchi-lab bench: runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            if let Some(minutes) = args.soak {
                return match rt.block_on(madoguchi_lab::soak::run(&args, minutes, args.kill_every)) {
                    Ok(report) => {
                        println!("{}", serde_json::to_string(&report).expect("json"));
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("madoguchi-lab bench --soak: {e}");
                        ExitCode::from(1)
                    }
                };
            }
            match rt.block_on(bench::run(args)) {
                Ok(report) => {
                    println!("{}", serde_json::to_string(&report).expect("json"));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("madoguchi-lab bench: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
