//! `madoguchi --config kiosk.toml`: the kiosk in a store. A bad or missing setting stops
//! start-up with a message naming the key, before any resident can meet the machine.

use super::{Kiosk, KioskClock};
use crate::config::KioskConfig;
use madoguchi_ui::Ui;
use std::path::Path;
use std::process::ExitCode;

/// Loads the configuration, starts the workers and runs the kiosk window until it is closed.
pub fn run(config: &Path, check_only: bool) -> ExitCode {
    let cfg = match KioskConfig::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("madoguchi: {}: {e}", config.display());
            return ExitCode::from(2);
        }
    };
    if cfg.cash_device != "simulated" {
        eprintln!(
            "madoguchi: {}: cash.device: no driver for {:?} in this build (only \"simulated\")",
            config.display(),
            cfg.cash_device
        );
        return ExitCode::from(2);
    }
    let state = config.parent().unwrap_or(Path::new(".")).join("state");
    let ui = match open_window() {
        Ok(ui) => ui,
        Err(e) => {
            eprintln!("madoguchi: display: {e}");
            return ExitCode::from(2);
        }
    };
    let cash = super::cash::SharedSimCash::default();
    let kiosk = match Kiosk::start(&cfg, ui, Box::new(cash), None, &state, KioskClock::system()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("madoguchi: {}: {e}", config.display());
            return ExitCode::from(2);
        }
    };
    if check_only {
        println!("madoguchi: {}: configuration and devices OK", config.display());
        return ExitCode::SUCCESS;
    }
    drive(kiosk)
}

#[cfg(feature = "window")]
fn open_window() -> Result<Ui, String> {
    Ui::windowed().map_err(|e| e.to_string())
}

#[cfg(not(feature = "window"))]
fn open_window() -> Result<Ui, String> {
    // Without window support the kiosk can still be checked (`--check`) headless.
    Ui::headless(1280, 800).map_err(|e| e.to_string())
}

#[cfg(feature = "window")]
fn drive(kiosk: Kiosk) -> ExitCode {
    use std::cell::RefCell;
    use std::rc::Rc;
    let kiosk = Rc::new(RefCell::new(kiosk));
    let timer = slint::Timer::default();
    {
        let kiosk = kiosk.clone();
        timer.start(slint::TimerMode::Repeated, std::time::Duration::from_millis(20), move || {
            kiosk.borrow_mut().pump_ready();
        });
    }
    let r = kiosk.borrow().ui().run();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("madoguchi: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(not(feature = "window"))]
fn drive(_kiosk: Kiosk) -> ExitCode {
    eprintln!("madoguchi: this build has no display support; build with `--features window` (or use `madoguchi demo --headless`)");
    ExitCode::from(2)
}
