//! `madoguchi-lab demo`: a whole world on one machine (the demo world, a private pcscd with vpcd,
//! the municipal backend, the PJL printer simulator and the kiosk), and the headless scenario
//! runner that plays a resident's visit through the UI's action ids (`docs/scenarios.md`).
//!
//! The kiosk here is the product: the same [`Kiosk`] and workers `madoguchi --config` runs,
//! configured by a generated `kiosk.toml` that points at the simulators. Only the cash unit is
//! in-process (`cash.device = "simulated"`), because the resident's hand has to reach it.
//!
//! The modules: [`lab`] (the simulators as processes and the kiosk's configuration), [`runner`]
//! (the headless loop), [`checks`] (expectations and secret scans), [`measure`] (figures from
//! /proc) and [`window`] (the demo with a display); the command and its set-up are here.

mod checks;
mod lab;
mod measure;
mod runner;
#[cfg(test)]
mod tests;
mod voice;
mod window;

use checks::*;
use lab::Lab;
use measure::*;
use runner::*;
use window::windowed;

use crate::scenario::{self, Amount, Cast, Insert, Person, Role, Scenario, Step, StepAction};
use madoguchi_drivers::gpio::Output;
use madoguchi_firmware::config::KioskConfig;
use madoguchi_firmware::kiosk::{Kiosk, KioskClock};
use madoguchi_sim::backend_proxy::BackendProxy;
use madoguchi_sim::cash::SharedSimCash;
use madoguchi_sim::lab::{BackendProcess, CardProcess, LabError, Pcscd, PrinterProcess};
use madoguchi_ui::{Screen, Ui, ViewModel};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Marks the run inside the demo's private namespaces.
const INSIDE: &str = "MADOGUCHI_DEMO_ISOLATED";
const KIOSK_ID: &str = "K-DEMO-01";
/// The printer line's speed in the lab: the simulator's and the kiosk's, and the wire time of a job.
const PRINTER_BAUD: u32 = 115_200;
/// Screens are rendered at the kiosk's landscape size.
const SCREEN: (u32, u32) = (1280, 800);

#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// No window: run a scenario and write its pictures, printed PDFs and result.json.
    #[arg(long)]
    pub headless: bool,
    /// A shipped scenario's name (tests/scenarios/NAME.toml) or a scenario file.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Where everything goes (screens/, printed/, result.json, logs).
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
    /// Use this demo world (made by `madoguchi-sim world`) instead of generating one. Card
    /// profiles are copied, so the world is never changed.
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Where the shipped scenarios are (default: tests/scenarios beside the workspace).
    #[arg(long)]
    pub scenarios_dir: Option<PathBuf>,
    /// The kiosk's cash unit: `simulated` (in process) or `cctalk` (`madoguchi-sim cash` on a
    /// pty at 9600 baud as `cash.device`, driven by the kiosk's ccTalk driver).
    #[arg(long, default_value = "simulated", value_parser = ["simulated", "cctalk"])]
    pub cash: String,
}

/// Runs the demo; the exit code is 0 when the scenario passed (or the window was closed).
pub fn run(args: &DemoArgs) -> ExitCode {
    let mut forwarded: Vec<String> = std::env::args().skip(1).collect();
    // The isolated run must not write relative to a directory it cannot see differently.
    if let Some(i) = forwarded.iter().position(|a| a == "--out") {
        if let Some(v) = forwarded.get_mut(i + 1) {
            *v = absolute(Path::new(v)).display().to_string();
        }
    } else {
        forwarded.push("--out".into());
        forwarded.push(absolute(&args.out).display().to_string());
    }
    match madoguchi_sim::lab::isolate(INSIDE, &forwarded) {
        Ok(Some(status)) => return ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Ok(None) => {}
        Err(e) => {
            eprintln!("madoguchi-lab demo: {e}");
            return ExitCode::from(2);
        }
    }
    match inside(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("madoguchi-lab demo: {e}");
            ExitCode::from(2)
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

/// A failure of the demo's set-up (not of the scenario).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Lab(#[from] LabError),
    #[error("scenario: {0}")]
    Scenario(#[from] scenario::ScenarioError),
    #[error("{0}")]
    Other(String),
}

fn other(what: &str, e: impl std::fmt::Display) -> DemoError {
    DemoError::Other(format!("{what}: {e}"))
}

/// The programs next to this one.
fn sibling(name: &str) -> Result<PathBuf, DemoError> {
    let exe = std::env::current_exe().map_err(|e| other("finding this program", e))?;
    let p = exe.with_file_name(name);
    if p.exists() {
        Ok(p)
    } else {
        Err(DemoError::Other(format!(
            "{} is missing: build the workspace (cargo build --workspace --bins)",
            p.display()
        )))
    }
}

fn inside(args: &DemoArgs) -> Result<bool, DemoError> {
    if !args.headless {
        return windowed(args);
    }
    let Some(name) = &args.scenario else {
        return Err(DemoError::Other("--headless needs --scenario NAME|FILE".into()));
    };
    let shipped = args.scenarios_dir.clone().unwrap_or_else(default_scenarios_dir);
    let file = scenario::find(name, &shipped)?;
    let sc = scenario::load(&file)?;
    let mut lab = Lab::start(args)?;
    // Only a scenario that slows the backend or has it refuse a request puts the fault proxy on
    // the kiosk's way to it; every other run talks to the backend directly.
    let faults = sc.steps.iter().any(|s| {
        matches!(s.action, StepAction::Backend(scenario::BackendFault::Slow(_) | scenario::BackendFault::Reject(_)))
    });
    if faults {
        lab.start_fault_proxy()?;
    }
    let cast = scenario::cast(&sc, &lab.world)?;
    let cfg = lab.kiosk_config()?;
    let mut runner = Runner::new(&lab, &cfg, &sc, cast)?;
    let passed = runner.run()?;
    println!(
        "{}: {} — screens in {}, printed documents in {}, result in {}",
        sc.name,
        if passed { "passed" } else { "FAILED" },
        lab.out.join("screens").display(),
        lab.out.join("printed").display(),
        lab.out.join("result.json").display()
    );
    Ok(passed)
}

/// tests/scenarios of the source tree this program was built from, or beside the working dir.
fn default_scenarios_dir() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    if built.is_dir() {
        built
    } else {
        PathBuf::from("tests/scenarios")
    }
}
