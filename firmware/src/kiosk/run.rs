//! `madoguchi --config kiosk.toml`: the kiosk in a store. A bad or missing setting stops
//! start-up with a message naming the key, before any resident can meet the machine.

use super::{Kiosk, KioskClock, StartError};
use crate::config::KioskConfig;
use crate::notify::Notifier;
use crate::watchdog::{Liveness, Notice, Watchdog, Watched, STUCK_AFTER};
use madoguchi_drivers::card::{Connector, PcscConnector};
use madoguchi_drivers::payment::CashUnit;
use madoguchi_ui::Ui;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
    let mut supervisor = Supervisor::new(Notifier::from_env(), crate::notify::watchdog_interval(), STUCK_AFTER);
    let readers: Box<dyn Connector> = Box::new(PcscConnector::new(cfg.readers.clone()));
    let mut kiosk = match supervisor.start(&cfg, ui, cash, readers, &state, KioskClock::system()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("madoguchi: {}: {e}", config.display());
            let _ = supervisor.notifier.status(&format!("cannot start: {e}"));
            return ExitCode::from(2);
        }
    };
    if check_only {
        println!("madoguchi: {}: configuration and devices OK", config.display());
        return ExitCode::SUCCESS;
    }
    if cfg.voice.enabled {
        // No sound card is no reason to stay closed: the guide logs it once and stays silent.
        let device = cfg.voice.device.clone();
        kiosk.set_voice(madoguchi_voice::VoiceGuide::spawn(cfg.voice.clone(), move || {
            madoguchi_voice::AlsaSpeaker::open(&device)
        }));
    }
    // Everything `--check` checks holds: only now may systemd count the kiosk as started.
    supervisor.ready(&format!("open: kiosk {}", cfg.kiosk_id));
    drive(kiosk, supervisor)
}

/// The kiosk's side of systemd: `READY=1` once it could start, and `WATCHDOG=1` from the
/// kiosk loop while every watched worker makes progress. The loop calls [`Supervisor::round`]
/// after each pump on the UI thread, so a stalled UI or session stops the pings as well.
pub struct Supervisor {
    notifier: Notifier,
    watchdog: Option<Watchdog>,
    liveness: Liveness,
    stuck_after: Duration,
}

impl Supervisor {
    /// `watchdog`: systemd's `WatchdogSec` (none: not watched); `stuck_after`: how long one
    /// device call may last before its worker counts as hung.
    pub fn new(notifier: Notifier, watchdog: Option<Duration>, stuck_after: Duration) -> Supervisor {
        Supervisor { notifier, watchdog: watchdog.map(Watchdog::new), liveness: Liveness::default(), stuck_after }
    }

    /// Starts the kiosk with its cash unit and card readers watched.
    pub fn start(
        &mut self,
        cfg: &KioskConfig,
        ui: Ui,
        cash: Box<dyn CashUnit + Send>,
        readers: Box<dyn Connector>,
        state: &Path,
        clock: KioskClock,
    ) -> Result<Kiosk, StartError> {
        let cash = Box::new(Watched::new(cash, self.liveness.heartbeat("cash")));
        let readers = Box::new(Watched::new(readers, self.liveness.heartbeat("card")));
        Kiosk::start_with_readers(cfg, ui, cash, None, state, clock, readers)
    }

    /// The kiosk is open (its start-up checks held).
    pub fn ready(&self, status: &str) {
        if let Err(e) = self.notifier.ready(status) {
            log::error!("systemd notification: {e}");
        }
    }

    /// After a round of the kiosk loop: pings systemd if due and every worker answers.
    pub fn round(&mut self, now: Instant) {
        let Some(w) = self.watchdog.as_mut() else { return };
        let stuck = self.liveness.stuck(now, self.stuck_after);
        for notice in w.round(now, stuck.as_ref().map(|(n, d)| (n.as_str(), *d))) {
            let sent = match notice {
                Notice::Ping => self.notifier.watchdog(),
                Notice::Status(s) => {
                    log::error!("watchdog: {s}");
                    self.notifier.status(&s)
                }
            };
            if let Err(e) = sent {
                log::error!("systemd notification: {e}");
            }
        }
    }

    pub fn liveness(&self) -> &Liveness {
        &self.liveness
    }
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
fn drive(kiosk: Kiosk, supervisor: Supervisor) -> ExitCode {
    use std::cell::RefCell;
    use std::rc::Rc;
    let kiosk = Rc::new(RefCell::new(kiosk));
    let timer = slint::Timer::default();
    {
        let kiosk = kiosk.clone();
        let mut supervisor = supervisor;
        timer.start(slint::TimerMode::Repeated, std::time::Duration::from_millis(20), move || {
            kiosk.borrow_mut().pump_ready();
            supervisor.round(Instant::now());
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
fn drive(_kiosk: Kiosk, _supervisor: Supervisor) -> ExitCode {
    eprintln!("madoguchi: this build has no display support; build with `--features window` (or use `madoguchi-lab demo --headless`)");
    ExitCode::from(2)
}
