//! `madoguchi --config kiosk.toml`: the kiosk in a store. A bad or missing setting stops
//! start-up with a message naming the key, before any resident can meet the machine.

use super::{Kiosk, KioskClock};
use crate::config::KioskConfig;
use madoguchi_drivers::payment::CashUnit;
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
    // The kiosk binary links no simulator: the simulated cash unit exists only inside
    // `madoguchi-lab demo`; a serial unit speaks ccTalk.
    let cash: Box<dyn CashUnit + Send> = match open_cash_unit(&cfg) {
        Ok(unit) => unit,
        Err(e) => {
            eprintln!("madoguchi: {}: cash.device: {e}", config.display());
            return ExitCode::from(2);
        }
    };
    let state = config.parent().unwrap_or(Path::new(".")).join("state");
    let ui = match open_window() {
        Ok(ui) => ui,
        Err(e) => {
            eprintln!("madoguchi: display: {e}");
            return ExitCode::from(2);
        }
    };
    let kiosk = match Kiosk::start(&cfg, ui, cash, None, &state, KioskClock::system()) {
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

/// The cash unit named by `cash.device`: a ccTalk bus found and checked (every configured
/// address answers as what it should be), or a message for the operator: a kiosk that cannot
/// give change must not open.
pub fn open_cash_unit(cfg: &KioskConfig) -> Result<Box<dyn CashUnit + Send>, String> {
    use madoguchi_drivers::cctalk::link::Timing;
    use madoguchi_drivers::cctalk::unit::{open_serial, CcTalkConfig};
    let device = cfg.cash_device.as_str();
    if device == "simulated" {
        return Err("the simulated cash unit runs only inside `madoguchi-lab demo`".into());
    }
    let Some(c) = &cfg.cash_cctalk else { return Err(format!("no protocol for the cash unit at {device:?}")) };
    let cctalk = CcTalkConfig {
        acceptor: c.acceptor_address,
        hoppers: c.hoppers.clone(),
        timing: Timing { baud: c.baud, ..Timing::default() },
        ..CcTalkConfig::default()
    };
    Ok(Box::new(open_serial(device, cctalk)?))
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
    eprintln!("madoguchi: this build has no display support; build with `--features window` (or use `madoguchi-lab demo --headless`)");
    ExitCode::from(2)
}
