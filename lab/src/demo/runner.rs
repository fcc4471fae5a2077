//! The headless runner: plays a scenario's steps through the UI's action ids as a resident's
//! finger would, lets the kiosk settle, and keeps every screen it showed.

use super::*;
/// One step's outcome in result.json.
pub(super) struct StepResult {
    pub(super) line: usize,
    pub(super) action: String,
    pub(super) ok: bool,
    pub(super) screen: String,
    pub(super) error: Option<String>,
    pub(super) ms: u128,
}

pub(super) struct Runner<'a> {
    pub(super) lab: &'a Lab,
    pub(super) sc: &'a Scenario,
    pub(super) cast: Cast,
    pub(super) kiosk: Kiosk,
    pub(super) cards: Vec<(Role, CardProcess, PathBuf)>,
    pub(super) profiles: Vec<(Role, PathBuf)>,
    pub(super) results: Vec<StepResult>,
    pub(super) shot: usize,
    pub(super) png_time: Duration,
    pub(super) offered_yen: u32,
    pub(super) apdus_to_auth: Option<u32>,
    /// APDUs spent and the moment the resident confirmed a new PIN or password: the reset's card
    /// work (GET CHALLENGE, the backend's authorisation, RESET RETRY COUNTER, VERIFY) starts there.
    reset_started: Option<(u32, Instant)>,
    /// The reset's APDUs and wall time, confirmation to `pin-reset-done`.
    reset_measured: Option<(u32, Duration)>,
    pub(super) last_visit: Option<u64>,
    /// The screen id last pictured (operator screens show over one session view).
    pub(super) last_shown: String,
    /// Screens whose visible text held a secret of [`Runner::secrets`] (there must be none).
    pub(super) pin_on_screen: Vec<String>,
    /// Every secret of the run, with a label that names it without showing it: the people's
    /// PINs and passwords, the values the scenario typed (new PINs among them) and the
    /// `[expect]` pin and password. The screens, files and memory are scanned for each.
    pub(super) secrets: Vec<(String, Zeroizing<String>)>,
    /// When the last coin of the run went into the slot (Unix time, ms).
    last_coin_unix_ms: Option<u64>,
    /// When the runner began to start the kiosk (its UI first): the cold start's zero.
    started: Instant,
    /// Cold start to the first idle screen drawn, and the resident set then (kB).
    to_idle: Option<(Duration, u64)>,
}

impl<'a> Runner<'a> {
    pub(super) fn new(lab: &'a Lab, cfg: &KioskConfig, sc: &'a Scenario, cast: Cast) -> Result<Runner<'a>, DemoError> {
        let started = Instant::now();
        let ui = Ui::headless(SCREEN.0, SCREEN.1).map_err(|e| other("UI", e))?;
        let mut clock = KioskClock::system();
        // A fixed time of day, so the run does not depend on when it happens: 10:00 Japan time
        // today, or the scenario's own `start_at`.
        let wall = sc.start_at.unwrap_or_else(|| {
            let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
            let today = time::OffsetDateTime::now_utc().to_offset(jst).date();
            today.with_hms(10, 0, 0).map(|t| t.assume_offset(jst)).unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        });
        clock.set_wall(wall);
        let outputs: Box<dyn madoguchi_firmware::kiosk::SignalOutputs> = Box::new(lab.gpio.clone());
        let cash: Box<dyn madoguchi_drivers::payment::CashUnit + Send> = match &lab.cctalk {
            Some(_) => madoguchi_firmware::kiosk::run::open_cash_unit(cfg).map_err(|e| other("cash.device", e))?,
            None => Box::new(lab.cash.clone()),
        };
        let mut kiosk =
            Kiosk::start(cfg, ui, cash, Some(outputs), &lab.out.join("state"), clock).map_err(|e| other("kiosk", e))?;
        kiosk.set_voice(super::voice::recording(&lab.out, cfg));
        Ok(Runner {
            lab,
            sc,
            cast,
            kiosk,
            cards: Vec::new(),
            profiles: Vec::new(),
            results: Vec::new(),
            shot: 0,
            png_time: Duration::ZERO,
            offered_yen: 0,
            last_coin_unix_ms: None,
            apdus_to_auth: None,
            reset_started: None,
            reset_measured: None,
            last_visit: None,
            last_shown: String::new(),
            pin_on_screen: Vec::new(),
            secrets: Vec::new(),
            started,
            to_idle: None,
        }
        .with_known_secrets())
    }

    /// The secrets known before the first step: the people's and the `[expect]` values.
    fn with_known_secrets(mut self) -> Self {
        let mut found = Vec::new();
        for (who, p) in std::iter::once(("the resident's", &self.cast.resident))
            .chain(self.cast.other.iter().map(|o| ("the other's", o)))
            .chain(self.cast.member.iter().map(|m| ("the household member's", m)))
        {
            found.push((format!("{who} PIN"), p.auth_pin.clone()));
            found.extend(p.sign_password.clone().map(|s| (format!("{who} signature password"), s)));
            found.extend(p.phone_pin.clone().map(|s| (format!("{who} phone PIN"), s)));
            found.extend(p.phone_password.clone().map(|s| (format!("{who} phone password"), s)));
        }
        let e = &self.sc.expect;
        for (what, secret) in [("[expect] pin", &e.pin), ("[expect] password", &e.password)] {
            if let Some(v) = secret.as_ref().and_then(|s| s.value.expand(&self.cast).ok()) {
                found.push((what.to_string(), v));
            }
        }
        for (label, value) in found {
            self.add_secret(label, value);
        }
        self
    }

    /// Notes a secret to scan for (once; too short a value would only find noise).
    pub(super) fn add_secret(&mut self, label: String, value: Zeroizing<String>) {
        if value.len() >= 4 && !self.secrets.iter().any(|(_, v)| *v == value) {
            self.secrets.push((label, value));
        }
    }

    pub(super) fn run(&mut self) -> Result<bool, DemoError> {
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        // The kiosk comes up: devices report, the idle screen shows.
        self.settle(Duration::from_secs(10));
        let mut passed = true;
        for step in &self.sc.steps {
            let started = Instant::now();
            let r = self.step(step);
            let screen = self.screen();
            let ok = r.is_ok();
            self.results.push(StepResult {
                line: step.line,
                action: describe(&step.action),
                ok,
                screen,
                error: r.err(),
                ms: started.elapsed().as_millis(),
            });
            if !ok {
                passed = false;
                break;
            }
        }
        let end_to_end = t0.elapsed();
        let cpu = cpu_time().saturating_sub(cpu0);
        // Before the checks below, which are the runner's work, not the kiosk's.
        let peak_rss = peak_rss_kb();
        let machine = cpu.saturating_sub(self.png_time);
        // Let durable reports reach the backend before judging outcomes.
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.kiosk.backend_pending() > 0 && Instant::now() < deadline {
            self.kiosk.pump(Duration::from_millis(100));
        }
        for (role, card, _) in self.cards.drain(..) {
            let _ = role;
            let _ = card.remove();
        }
        // The scan first: the checks after it read card profiles (which hold the PINs) into
        // this process, and those copies are the runner's, not the kiosk's.
        let secrets = self.secret_scan();
        let (mut checks, money) = self.check_expectations();
        // After the scan: the runner's own VERIFY commands are not the kiosk's to answer for.
        checks.extend(self.verify_expected());
        passed &= checks.iter().all(|c| c.1);
        passed &= secrets.is_empty();
        let t = self.kiosk.tally();
        let paper = self.payment_to_paper();
        let result = json!({
            "scenario": self.sc.name,
            "passed": passed,
            "steps": self.results.iter().map(|s| json!({
                "line": s.line, "action": s.action, "ok": s.ok, "screen": s.screen, "ms": s.ms, "error": s.error,
            })).collect::<Vec<_>>(),
            "expectations": checks.iter().map(|(what, ok, detail)| json!({"what": what, "ok": ok, "detail": detail})).collect::<Vec<_>>(),
            "issuances": t.issuances.iter().map(|(n, d)| json!({"number": n, "document": d,
                "outcome": t.outcomes.iter().find(|o| &o.0 == n).map(|o| o.1.as_str()).unwrap_or("voided")})).collect::<Vec<_>>(),
            "refunds": t.refunded_yen,
            "charged_yen": money.charged,
            "refunded_yen": money.refunded,
            "net_yen": money.net,
            "kept_by_cash_unit_yen": money.kept,
            "apdu_count": self.apdus_to_auth,
            "pin_reset": self.reset_measured.map(|(apdus, wall)| json!({"apdus": apdus, "wall_ms": wall.as_millis()})),
            "machine_time_ms": machine.as_millis(),
            "cpu_time_ms": cpu.as_millis(),
            "screen_pictures_ms": self.png_time.as_millis(),
            "end_to_end_ms": end_to_end.as_millis(),
            "payment_to_paper_ms": paper.map(|p| p.0),
            "paper_wire_ms": paper.map(|p| p.1),
            "peak_rss_kb": peak_rss,
            // the kiosk's start (UI, configuration, workers, devices) to its idle screen drawn
            "start_to_idle": self.to_idle.map(|(t, rss)| json!({"ms": t.as_millis(), "rss_kb": rss})),
            "screens": t.screens,
            "secrets_found": secrets,
            "voice": super::voice::report(&self.kiosk),
        });
        let text = serde_json::to_string_pretty(&result).unwrap_or_default();
        std::fs::write(self.lab.out.join("result.json"), text).map_err(|e| other("result.json", e))?;
        Ok(passed)
    }

    /// From the last coin to the end of the first job the printer finished after it (ms), and
    /// that job's time on the wire at the lab's 115200 baud (10 bits a byte), from the
    /// printer's journal.
    fn payment_to_paper(&self) -> Option<(u64, u64)> {
        let coin = self.last_coin_unix_ms?;
        let journal = std::fs::read_to_string(self.lab.printer.spool.join("journal.jsonl")).ok()?;
        journal
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["outcome"] == "printed")
            .filter_map(|e| Some((e["ended_unix_ms"].as_u64()?, e["bytes"].as_u64()?)))
            .filter(|(end, _)| *end >= coin)
            .min()
            .map(|(end, bytes)| (end - coin, bytes * 10 * 1000 / u64::from(PRINTER_BAUD)))
    }

    pub(super) fn screen(&self) -> String {
        // an operator screen over the resident's counts as the screen shown
        self.kiosk.screen_id()
    }

    /// Handles events until no command waits for an answer and nothing new happened for a
    /// moment, rendering every screen shown on the way.
    pub(super) fn settle(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut quiet_since = Instant::now();
        loop {
            let n = self.kiosk.pump(Duration::from_millis(30));
            self.observe();
            if n > 0 {
                quiet_since = Instant::now();
            }
            if self.kiosk.settled() && quiet_since.elapsed() >= Duration::from_millis(150) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    /// Pumps until `done` holds (or the limit passes).
    pub(super) fn pump_until(&mut self, limit: Duration, done: impl Fn(&Kiosk) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while !done(&self.kiosk) {
            if Instant::now() >= deadline {
                return false;
            }
            self.kiosk.pump(Duration::from_millis(20));
            self.observe();
        }
        true
    }

    /// Writes a picture of every new screen; notes the fee offered and the APDUs spent.
    pub(super) fn observe(&mut self) {
        let Some(v) = self.kiosk.view() else { return };
        let screen_now = self.kiosk.screen_id();
        if self.last_visit == Some(v.visit) && self.last_shown == screen_now {
            return;
        }
        self.last_visit = Some(v.visit);
        self.last_shown = screen_now.clone();
        if v.order.total_yen > 0 {
            self.offered_yen = v.order.total_yen;
        }
        let id = screen_now.as_str();
        if self.apdus_to_auth.is_none() && id == "remove-card" {
            self.apdus_to_auth = Some(self.kiosk.card_apdus());
        }
        match id {
            // A mismatch asks again: the card was not touched, the next confirmation counts.
            "new-pin-entry" => self.reset_started = None,
            "pin-reset-done" => {
                if let Some((apdus, at)) = self.reset_started.take() {
                    self.reset_measured = Some((self.kiosk.card_apdus().saturating_sub(apdus), at.elapsed()));
                }
            }
            _ => {}
        }
        self.shot += 1;
        let texts = self.kiosk.ui().visible_texts();
        let shown: Vec<String> = self
            .secrets
            .iter()
            .filter(|(_, v)| texts.iter().any(|t| contains_token(t.as_bytes(), v.as_bytes())))
            .map(|(label, _)| format!("{label} on screen {:03}-{id}", self.shot))
            .collect();
        self.pin_on_screen.extend(shown);
        let path = self.lab.out.join("screens").join(format!("{:03}-{id}.png", self.shot));
        // Drawing the screen is the kiosk's own work; encoding and writing the PNG is not.
        match self.kiosk.ui().render_rgb(SCREEN.0, SCREEN.1) {
            Ok(rgb) => {
                if self.to_idle.is_none() && id == "idle" {
                    self.to_idle = Some((self.started.elapsed(), rss_kb()));
                }
                let t = thread_cpu_time();
                if let Err(e) = madoguchi_ui::write_png(&path, SCREEN.0, SCREEN.1, &rgb) {
                    log::warn!("screen picture {}: {e}", path.display());
                }
                self.png_time += thread_cpu_time().saturating_sub(t);
            }
            Err(e) => log::warn!("screen picture {}: {e}", path.display()),
        }
    }

    fn fault_proxy(&self) -> Result<&BackendProxy, String> {
        self.lab.proxy.as_ref().ok_or_else(|| "the lab started no fault proxy for this run".to_string())
    }

    pub(super) fn person(&self, role: Role) -> Result<&Person, String> {
        match role {
            Role::Resident => Ok(&self.cast.resident),
            Role::Other => self.cast.other.as_ref().ok_or_else(|| "the scenario names no `other`".to_string()),
            Role::Member => self.cast.member.as_ref().ok_or_else(|| "the scenario names no `member`".to_string()),
        }
    }

    pub(super) fn step(&mut self, step: &Step) -> Result<(), String> {
        let limit = step.timeout;
        match &step.action {
            StepAction::PlaceCard { who, reader, token } => {
                let person = self.person(*who)?;
                let (src, extra): (PathBuf, Vec<&str>) = match token {
                    scenario::Token::Card => (person.card_profile.clone(), vec![]),
                    scenario::Token::Android => (
                        person.phone_profiles.android.clone().ok_or("this person has no Android token")?,
                        vec!["--token", "android"],
                    ),
                    scenario::Token::Iphone => (
                        person.phone_profiles.iphone.clone().ok_or("this person has no iPhone token")?,
                        vec!["--token", "iphone"],
                    ),
                };
                let contactless = matches!(reader, scenario::ReaderKind::Contactless);
                let log = self.lab.out.join("lab").join("apdu.log");
                let (card, copy) = self.lab.place(&src, contactless, &extra, Some(&log))?;
                if !self.profiles.iter().any(|(r, p)| *r == *who && *p == copy) {
                    self.profiles.push((*who, copy.clone()));
                }
                let name = card.reader.to_string();
                self.cards.push((*who, card, copy));
                if !self.pump_until(limit, |k| k.cards_present().contains(&name)) {
                    return Err("the kiosk did not see the card".into());
                }
                self.settle(limit);
                Ok(())
            }
            StepAction::RemoveCard => {
                let (_, card, _) = self.cards.pop().ok_or("no card is on a reader")?;
                let name = card.reader.to_string();
                card.remove().map_err(|e| e.to_string())?;
                if !self.pump_until(limit, |k| !k.cards_present().contains(&name)) {
                    return Err("the kiosk did not see the card go".into());
                }
                self.settle(limit);
                Ok(())
            }
            StepAction::Touch(action) => {
                self.settle(limit);
                let action = action.expand(&self.cast).map_err(|e| e.message)?;
                if action.as_str() == "ok" && self.screen() == "new-pin-confirm" {
                    self.reset_started = Some((self.kiosk.card_apdus(), Instant::now()));
                }
                self.kiosk.ui().touch(&action).map_err(|e| format!("{e} (screen {})", self.screen()))?;
                self.settle(limit);
                Ok(())
            }
            StepAction::Type(text) => {
                self.settle(limit);
                let text = text.expand(&self.cast).map_err(|e| e.to_string())?;
                // What is typed on the keypad is a PIN or password (a new one, or a wrong one),
                // except an amount the operator counted.
                if self.screen() != "operator-count" {
                    self.add_secret(format!("the value typed at line {}", step.line), text.clone());
                }
                for c in text.chars() {
                    // The key's id in a buffer wiped after the touch (it spells a PIN digit).
                    let mut action = Zeroizing::new(String::with_capacity(8));
                    action.push_str(if c.is_ascii_digit() { "digit:" } else { "key:" });
                    action.push(c);
                    // Not the key in the error: it may be a PIN digit.
                    self.kiosk
                        .ui()
                        .touch(&action)
                        .map_err(|_| format!("a keypad key cannot be touched on {}", self.screen()))?;
                    self.kiosk.pump(Duration::from_millis(10));
                    self.observe();
                }
                self.settle(limit);
                Ok(())
            }
            StepAction::InsertYen(insert) => {
                self.settle(limit);
                let coins = match insert {
                    Insert::Coins(c) => c.clone(),
                    Insert::Exact => {
                        let paying = |v: &&ViewModel| v.screen == Screen::Payment || v.resumes == Some(Screen::Payment);
                        let view = self.kiosk.view().filter(paying);
                        let due = view.map(|v| v.order.total_yen.saturating_sub(v.payment.inserted_yen));
                        coins_for(due.filter(|d| *d > 0).ok_or("no fee is due on this screen")?)
                    }
                };
                let before = self.kiosk.payment_total();
                let mut sum = 0;
                if let Some(device) = &self.lab.cctalk {
                    // Coins the acceptor knows are credited once it takes coins.
                    device.insert(&coins).map_err(|e| e.to_string())?;
                    sum = coins.iter().filter(|c| [10, 50, 100, 500].contains(*c)).sum();
                    self.last_coin_unix_ms = Some(unix_ms());
                } else {
                    for c in coins {
                        if self.lab.cash.slot().insert(c) {
                            sum += c;
                            self.last_coin_unix_ms = Some(unix_ms());
                        }
                    }
                }
                let want = before + sum;
                self.pump_until(limit, |k| k.payment_total() >= want || k.payment_total() < before);
                self.settle(limit);
                Ok(())
            }
            StepAction::Printer(fault) => {
                self.lab.printer.control(&fault.to_string()).map_err(|e| e.to_string())?;
                self.settle(limit);
                Ok(())
            }
            StepAction::Backend(scenario::BackendFault::Down) => {
                self.lab.backend.borrow_mut().stop();
                self.settle(limit);
                Ok(())
            }
            StepAction::Backend(scenario::BackendFault::Up) => {
                self.lab.backend.borrow_mut().restart().map_err(|e| e.to_string())?;
                if let Some(proxy) = &self.lab.proxy {
                    proxy.slow(Duration::ZERO);
                }
                self.settle(limit);
                Ok(())
            }
            StepAction::Backend(scenario::BackendFault::Slow(by)) => {
                self.fault_proxy()?.slow(*by);
                self.settle(limit);
                Ok(())
            }
            StepAction::Backend(scenario::BackendFault::Reject(code)) => {
                let code = madoguchi_api::ErrorCode::parse(code).ok_or_else(|| format!("no error code `{code}`"))?;
                self.fault_proxy()?.reject_next(code);
                self.settle(limit);
                Ok(())
            }
            StepAction::Advance(by) => {
                self.kiosk.clock_mut().advance(*by);
                self.kiosk.tick();
                self.settle(limit);
                Ok(())
            }
            StepAction::ExpectScreen(id) => {
                self.settle(limit);
                let want = id.clone();
                self.pump_until(limit, |k| k.screen_id() == want);
                let s = self.screen();
                if &s == id {
                    Ok(())
                } else {
                    Err(format!("the screen is {s}, not {id}"))
                }
            }
            StepAction::ExpectText(t) => {
                self.settle(limit);
                let t = t.expand(&self.cast).map_err(|e| e.to_string())?;
                let want = t.to_string();
                self.pump_until(limit, |k| k.ui().visible_texts().iter().any(|x| x.contains(want.as_str())));
                let texts = self.kiosk.ui().visible_texts();
                if texts.iter().any(|x| x.contains(t.as_str())) {
                    Ok(())
                } else {
                    Err(format!("no visible text contains {:?} on {}", t.as_str(), self.screen()))
                }
            }
            StepAction::ExpectTriesLeft(n) => {
                self.settle(limit);
                let want = Some(*n);
                self.pump_until(limit, |k| k.view().and_then(|v| v.pin.tries_left) == want);
                let shown = self.kiosk.view().and_then(|v| v.pin.tries_left);
                if shown == Some(*n) {
                    Ok(())
                } else {
                    Err(format!("tries left shown: {shown:?}, expected {n}"))
                }
            }
            StepAction::ExpectLamp(which) => {
                self.settle(limit);
                let out = match which.as_str() {
                    "card-slot" => Output::CardSlotLamp,
                    "status" => Output::StatusLamp,
                    other => return Err(format!("unknown lamp {other}")),
                };
                self.pump_until(limit, |k| k.outputs().level(out) != madoguchi_drivers::gpio::Level::Off);
                if self.kiosk.outputs().level(out) != madoguchi_drivers::gpio::Level::Off {
                    Ok(())
                } else {
                    Err(format!("the {which} lamp is off"))
                }
            }
            StepAction::ExpectFailure(code) => {
                self.settle(limit);
                let want = code.clone();
                let code_of = |k: &Kiosk| k.view().and_then(|v| v.failure.as_ref().map(|f| f.code.id()));
                self.pump_until(limit, |k| code_of(k) == Some(want.as_str()));
                match code_of(&self.kiosk) {
                    Some(c) if c == code => Ok(()),
                    Some(c) => Err(format!("the failure shown is {c}, not {code} (screen {})", self.screen())),
                    None => Err(format!("no failure is shown (screen {}), expected {code}", self.screen())),
                }
            }
            StepAction::ReservePinReset { credential, hours_ago } => {
                let resident = self.cast.resident.id.clone();
                let r = self.lab.backend.borrow().reserve_pin_reset(&resident, credential.id(), *hours_ago);
                r.map_err(|e| format!("the backend refused the reservation: {e}"))?;
                self.settle(limit);
                Ok(())
            }
            StepAction::OperatorKey(on) => {
                self.lab.gpio.turn_key(*on);
                // the kiosk reads its switches on every tick: read them now
                self.kiosk.tick();
                self.settle(limit);
                Ok(())
            }
            StepAction::Door { open } => {
                self.lab.gpio.open_door(*open);
                self.kiosk.tick();
                self.settle(limit);
                Ok(())
            }
            StepAction::ExpectChime(on) => {
                self.settle(limit);
                let want = *on;
                self.pump_until(limit, |k| {
                    (k.outputs().level(Output::Chime) != madoguchi_drivers::gpio::Level::Off) == want
                });
                let is = self.kiosk.outputs().level(Output::Chime) != madoguchi_drivers::gpio::Level::Off;
                if is == *on {
                    Ok(())
                } else {
                    Err(format!("the chime is {}", if is { "on" } else { "off" }))
                }
            }
        }
    }
}

/// Coins and notes that make `yen` (largest first), as a resident paying exactly would.
pub(super) fn coins_for(mut yen: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for d in [10_000, 5_000, 1_000, 500, 100, 50, 10] {
        while yen >= d {
            out.push(d);
            yen -= d;
        }
    }
    out
}

pub(super) fn describe(a: &StepAction) -> String {
    match a {
        // Never the text typed: it may be a PIN.
        StepAction::Type(_) => "type".into(),
        other => format!("{other:?}"),
    }
}

/// Now as Unix time in milliseconds (the printer simulator's journal uses the same clock).
fn unix_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}
