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

/// The exit status of a kiosk that finds no screen to draw on (no DRM/KMS device): apart from
/// 2 (a setting or device to fix), since a display driver that loads late is worth a restart.
pub const NO_DISPLAY: u8 = 4;

/// Where the kiosk keeps its state (outbox, audit log, money journal): systemd's
/// `StateDirectory=` (`$STATE_DIRECTORY`, /var/lib/madoguchi, kept across package upgrades and
/// writable under `ProtectSystem=strict`), else `state/` beside the configuration.
pub fn state_dir(config: &Path, from_systemd: Option<std::ffi::OsString>) -> std::path::PathBuf {
    match from_systemd {
        // systemd lists one directory per StateDirectory= entry, separated by ':'
        Some(dirs) if !dirs.is_empty() => {
            let first = dirs.to_string_lossy().split(':').next().unwrap_or_default().to_string();
            std::path::PathBuf::from(first)
        }
        _ => config.parent().unwrap_or(Path::new(".")).join("state"),
    }
}

/// Loads the configuration, starts the workers and runs the kiosk window until it is closed.
pub fn run(config: &Path, check_only: bool) -> ExitCode {
    let cfg = match KioskConfig::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("madoguchi: {}: {e}", config.display());
            return ExitCode::from(2);
        }
    };
    let state = state_dir(config, std::env::var_os("STATE_DIRECTORY"));
    // The backend first: one of another API version or deployment mode than this build and the
    // site expect (kiosk-domain.md §8) is a mistake in the installation that no restart and no
    // other device can mend, so staff hear of it before anything else.
    if let Err(e) = check_backend(&cfg) {
        eprintln!("madoguchi: {}: backend: {e}", config.display());
        let _ = Notifier::from_env().status(&format!("cannot start: backend: {e}"));
        return ExitCode::from(if e.is_mismatch() { 2 } else { 1 });
    }
    // Then the screen, before the kiosk touches its devices.
    let ui = match open_window(&cfg) {
        Ok(ui) => ui,
        Err(e @ madoguchi_ui::UiError::NoDisplay(_)) => {
            eprintln!("madoguchi: display: {e}");
            let _ = Notifier::from_env().status(&format!("cannot start: display: {e}"));
            return ExitCode::from(NO_DISPLAY);
        }
        Err(e) => {
            eprintln!("madoguchi: display: {e}");
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

/// Asks the configured backend what it is and judges it against this build and
/// `backend.deployment`; logs what it found.
fn check_backend(cfg: &KioskConfig) -> Result<(), super::compat::CompatError> {
    let info =
        super::compat::check_backend(&cfg.backend, &cfg.kiosk_id, cfg.deployment, cfg.session.timeouts.backend_reply)?;
    log::info!(
        "backend: API version {}, {} deployment, build {}",
        info.api_version,
        info.deployment.as_str(),
        info.build
    );
    Ok(())
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

/// A developer's desktop window (feature `window`).
#[cfg(feature = "window")]
fn open_window(_cfg: &KioskConfig) -> Result<Ui, madoguchi_ui::UiError> {
    Ui::windowed()
}

/// The kiosk's own screen (feature `kms`, the default): DRM/KMS and libinput.
#[cfg(all(feature = "kms", not(feature = "window")))]
fn open_window(cfg: &KioskConfig) -> Result<Ui, madoguchi_ui::UiError> {
    Ui::on_screen(&cfg.display)
}

#[cfg(not(any(feature = "window", feature = "kms")))]
fn open_window(_cfg: &KioskConfig) -> Result<Ui, madoguchi_ui::UiError> {
    // Without display support the kiosk can still be checked (`--check`) headless.
    Ui::headless(1280, 800)
}

#[cfg(any(feature = "window", feature = "kms"))]
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

#[cfg(not(any(feature = "window", feature = "kms")))]
fn drive(_kiosk: Kiosk, _supervisor: Supervisor) -> ExitCode {
    eprintln!("madoguchi: this build has no display support; build with the default features (`kms`) or `--features window` (or use `madoguchi-lab demo --headless`)");
    ExitCode::from(2)
}
