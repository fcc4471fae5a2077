//! The kiosk's touchscreen UI (slint). It shows a [`ViewModel`] and reports touches by action
//! id; it knows nothing of cards, printers or money beyond what the view model says.
//!
//! ```no_run
//! use madoguchi_ui::{Language, Screen, Ui, ViewModel};
//! let ui = Ui::headless(1280, 800).unwrap();
//! ui.on_touch(|action: &str| println!("touched {action}"));
//! ui.set_view(&ViewModel::new(Screen::PlaceCard, Language::En));
//! ui.render_png("place-card.png".as_ref(), 1280, 800).unwrap();
//! ui.touch("cancel").unwrap(); // presses and releases the pointer on the cancel button
//! ```
//!
//! # Action ids and labels
//! Every touchable control is a `KButton` (ui/controls.slint) whose `accessible-id` is its
//! action id (`digit:4`, `document:juminhyo`, `language:en`, ...; reference/scenarios.md) and
//! whose `accessible-label` is its label in the current language. [`Ui::find_action`] finds a
//! control by action id; [`Ui::find_label`] by translated label. Only the current screen's
//! controls exist, each action id at most once per screen.
//!
//! # Threads
//! slint keeps its platform, fonts and translation per thread: create and use a [`Ui`] on one
//! thread. Several headless `Ui`s may live on one thread, but the language is per thread, so
//! the last `set_view` decides it for all of them.
#![forbid(unsafe_code)]

mod flat;
mod fonts;
mod platform;
#[cfg(feature = "testing")]
mod probe;
pub mod samples;

/// The demo's simulator panel (`madoguchi-lab demo` on a desktop, feature `panel`): a second window where a person
/// trying the kiosk places cards, inserts money and makes the printer fail.
#[cfg(feature = "panel")]
pub mod panel {
    pub use madoguchi_ui_slint::{PanelToken, SimulatorPanel};
}

pub use fonts::{embedded_fonts, EmbeddedFonts};
pub use madoguchi_session::view_model::{
    CertificateProblem, Choice, Countdown, Date, Failure, FailureCode, Hours, Language, MoneyState, NewValueRetry,
    Order, Payment, PinPad, PinPurpose, Progress, Reason, ResetTarget, Screen, Stage, ViewModel,
};
pub use platform::{Rotation, ScreenSetup};
#[cfg(feature = "testing")]
pub use probe::{Control, NotTouchable, TextBox};

use flat::Flat;
use madoguchi_ui_slint::{Api, KioskWindow, Names};
use slint::platform::software_renderer::MinimalSoftwareWindow;
use slint::platform::WindowEvent;
use slint::{ComponentHandle, ModelRc, PhysicalSize, Rgb8Pixel, SharedString, VecModel};
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::rc::Rc;

/// Errors from creating or rendering the UI.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// slint could not create the window or platform.
    #[error("slint platform: {0}")]
    Platform(String),
    /// The kiosk's screen is not there: no DRM/KMS device (feature `kms`).
    #[error("{0}")]
    NoDisplay(String),
    /// Writing the PNG failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Encoding the PNG failed.
    #[error("encoding PNG: {0}")]
    Png(#[from] png::EncodingError),
    /// This UI has a real window; headless rendering is not available.
    #[error("not a headless UI")]
    NotHeadless,
}

/// The failure catalogue's words for one failure in one language, as the failure screen shows
/// them ([`Ui::failure_text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureText {
    /// The screen's title.
    pub title: String,
    /// What happened.
    pub what: String,
    /// Whether money was taken and where it is ("You have not been charged.", "Your ¥300 has
    /// been returned.", "¥300 could not be returned.").
    pub money: String,
    /// The line under `money` (where to take it; tell staff); may be empty.
    pub money_detail: String,
    /// What to do now.
    pub todo: String,
}

type Handler = Rc<RefCell<Option<Box<dyn Fn(&str)>>>>;

/// What a probe touch reported (feature `testing`): recorded only while [`Ui::touch`] or
/// [`Ui::touch_at`] presses, each id in a buffer wiped when the probe has read it. Touches of a
/// real finger are never recorded, so no touch history (and no PIN) piles up.
#[cfg(feature = "testing")]
#[derive(Default)]
pub(crate) struct Probed {
    pub(crate) pressing: Cell<bool>,
    pub(crate) reported: RefCell<Vec<zeroize::Zeroizing<String>>>,
}

/// The kiosk UI: one `KioskWindow` with its view model.
pub struct Ui {
    window: KioskWindow,
    headless: Option<Rc<MinimalSoftwareWindow>>,
    handler: Handler,
    /// What the probe touch being made reported (feature `testing` only).
    #[cfg(feature = "testing")]
    probed: Rc<Probed>,
    screen: Cell<Screen>,
    language: Cell<Language>,
    size: Cell<(u32, u32)>,
}

/// The scale at which a window of `width` x `height` physical pixels is drawn: the UI is laid
/// out for at least 1280x800 logical pixels (800x1280 in portrait), so 1920x1080 is drawn at
/// 1.35 (1422x800 logical).
pub fn scale_for(width: u32, height: u32) -> f32 {
    let (w, h) = (width as f32, height as f32);
    let s = if w >= h { (w / 1280.0).min(h / 800.0) } else { (w / 800.0).min(h / 1280.0) };
    s.clamp(0.5, 4.0)
}

impl Ui {
    /// A UI drawn off-screen by slint's software renderer into memory (tests, the headless
    /// scenario runner, the gallery). Sets this thread's slint platform on first use.
    pub fn headless(width: u32, height: u32) -> Result<Ui, UiError> {
        platform::install();
        let window = KioskWindow::new().map_err(|e| UiError::Platform(e.to_string()))?;
        let adapter = platform::take_last_window().ok_or_else(|| {
            UiError::Platform("another slint platform is active on this thread; use Ui::windowed".into())
        })?;
        let ui = Ui::wrap(window, Some(adapter));
        ui.resize(width, height);
        ui.window.show().map_err(|e| UiError::Platform(e.to_string()))?;
        Ok(ui)
    }

    /// A UI in a real desktop window (winit), for the demo. Run it with [`Ui::run`].
    #[cfg(feature = "window")]
    pub fn windowed() -> Result<Ui, UiError> {
        let window = KioskWindow::new().map_err(|e| UiError::Platform(e.to_string()))?;
        Ok(Ui::wrap(window, None))
    }

    /// The UI full-screen on the kiosk's own display (DRM/KMS, touch from libinput; feature
    /// `kms`), mounted and calibrated as `setup` says. Run it with [`Ui::run`]. Sets this
    /// thread's slint platform: call it once, before any other `Ui` on the thread.
    #[cfg(feature = "kms")]
    pub fn on_screen(setup: &ScreenSetup) -> Result<Ui, UiError> {
        let dir = std::path::Path::new(platform::DRI_DIR);
        if platform::drm_cards(dir).is_empty() {
            return Err(UiError::NoDisplay(format!(
                "no DRM/KMS display device (no {}/card*): is the panel connected and its kernel driver loaded?",
                dir.display()
            )));
        }
        platform::install_kms(setup).map_err(|e| UiError::Platform(e.to_string()))?;
        let window = KioskWindow::new().map_err(|e| UiError::Platform(e.to_string()))?;
        Ok(Ui::wrap(window, None))
    }

    /// Shows the window and runs slint's event loop until the window closes (windowed UI).
    #[cfg(any(feature = "window", feature = "kms"))]
    pub fn run(&self) -> Result<(), UiError> {
        self.window.run().map_err(|e| UiError::Platform(e.to_string()))
    }

    fn wrap(window: KioskWindow, headless: Option<Rc<MinimalSoftwareWindow>>) -> Ui {
        fonts::register_embedded_fonts();
        let handler: Handler = Rc::new(RefCell::new(None));
        #[cfg(feature = "testing")]
        let probed = Rc::new(Probed::default());
        {
            let handler = handler.clone();
            #[cfg(feature = "testing")]
            let probed = probed.clone();
            // The action id is handed on borrowed: no copy of it is made here (a PIN key's id
            // spells a digit of the PIN).
            window.global::<Api>().on_touched(move |action| {
                #[cfg(feature = "testing")]
                if probed.pressing.get() {
                    probed.reported.borrow_mut().push(zeroize::Zeroizing::new(action.as_str().to_owned()));
                }
                if let Some(h) = handler.borrow().as_ref() {
                    h(action.as_str());
                }
            });
        }
        let ui = Ui {
            window,
            headless,
            handler,
            #[cfg(feature = "testing")]
            probed,
            screen: Cell::new(Screen::Idle),
            language: Cell::new(Language::Ja),
            size: Cell::new((0, 0)),
        };
        ui.set_language(Language::Ja);
        ui
    }

    /// Calls `f` with the action id of every control the resident touches (and of every
    /// [`Ui::touch`]), borrowed for the call: whoever keeps it decides how (a PIN key's id spells
    /// a digit of the PIN). Replaces any earlier handler.
    pub fn on_touch(&self, f: impl Fn(&str) + 'static) {
        *self.handler.borrow_mut() = Some(Box::new(f));
    }

    /// The slint component, for embedding (e.g. a window's event loop in the demo).
    pub fn component(&self) -> &KioskWindow {
        &self.window
    }

    /// Shows `vm`.
    pub fn set_view(&self, vm: &ViewModel) {
        let api = self.window.global::<Api>();
        let flat = Flat { vm };
        self.set_language(vm.language);
        api.set_screen(vm.screen.id().into());
        api.set_language(vm.language.code().into());
        api.set_large_text(vm.large_text);
        api.set_high_contrast(vm.high_contrast);
        api.set_seconds_left(vm.countdown.map_or(-1, |c| clamp_i32(c.seconds_left)));
        api.set_can_more_time(vm.countdown.is_some_and(|c| c.more_time));
        api.set_phone(vm.phone);
        api.set_resumes(vm.resumes.map_or("", Screen::id).into());
        api.set_can_back(vm.can_go_back);
        api.set_can_cancel(vm.can_cancel);
        api.set_services(choices(&vm.services));

        api.set_stage(vm.progress.stage.id().into());
        api.set_step(clamp_i32(vm.progress.step));
        api.set_steps(clamp_i32(vm.progress.steps));
        api.set_pages_done(clamp_i32(vm.progress.pages_done));
        api.set_pages_total(clamp_i32(vm.progress.pages_total));

        api.set_pin_purpose(flat.pin_purpose().into());
        api.set_typed(i32::from(vm.pin.typed));
        api.set_pin_min(i32::from(vm.pin.min_len));
        api.set_pin_max(i32::from(vm.pin.max_len.max(1)));
        api.set_tries_left(vm.pin.tries_left.map_or(-1, i32::from));
        api.set_alphanumeric(vm.pin.alphanumeric);
        api.set_previous_wrong(vm.pin.previous_wrong);
        api.set_pin_retry(vm.pin.retry.map_or("", NewValueRetry::id).into());

        api.set_resets(choices(&vm.resets));
        api.set_reset_target(vm.reset_target.map_or("", ResetTarget::id).into());

        let (problem, date, days_left) = flat.problem();
        api.set_problem(problem.into());
        api.set_problem_days_left(clamp_i32(days_left));
        api.set_problem_has_date(date.is_some());
        if let Some(d) = date {
            api.set_problem_year(d.year);
            api.set_problem_month(i32::from(d.month));
            api.set_problem_day(i32::from(d.day));
        }

        api.set_municipalities(choices(&vm.municipalities));
        api.set_documents(choices(&vm.documents));
        api.set_options(choices(&vm.options));
        api.set_years(choices(&vm.years));
        api.set_persons(choices(&vm.persons));
        let notices: Vec<slint::SharedString> = vm.notices.iter().map(|n| n.as_str().into()).collect();
        api.set_notices(ModelRc::new(VecModel::from(notices)));

        let o = &vm.order;
        api.set_order_municipality(o.municipality.as_str().into());
        api.set_order_document(o.document.as_str().into());
        api.set_order_document_label(o.document_label.as_str().into());
        api.set_order_options(ModelRc::new(VecModel::from(
            o.options.iter().map(|s| SharedString::from(s.as_str())).collect::<Vec<_>>(),
        )));
        api.set_order_year(o.year.map_or(-1, i32::from));
        api.set_copies(i32::from(o.copies));
        api.set_max_copies(i32::from(o.max_copies));
        api.set_fee_per_copy(clamp_i32(o.fee_per_copy_yen));
        api.set_fee_total(clamp_i32(o.total_yen));

        api.set_inserted(clamp_i32(vm.payment.inserted_yen));
        api.set_change(clamp_i32(vm.payment.change_yen));

        api.set_failure(flat.failure().into());
        let (money, money_yen) = flat.money();
        api.set_money(money.into());
        api.set_money_yen(clamp_i32(money_yen));
        let (reference, pages) = vm.failure.as_ref().map_or(("", 0), |f| (f.reference.as_str(), f.pages_printed));
        api.set_reference(reference.into());
        api.set_pages_printed(clamp_i32(pages));

        api.set_opens(vm.hours.opens.as_str().into());
        api.set_closes(vm.hours.closes.as_str().into());
        api.set_year_end_closed(vm.hours.year_end_closed);
        api.set_reason(flat.reason().into());

        self.screen.set(vm.screen);
        self.language.set(vm.language);
        self.settle();
    }

    /// Shows one of operator mode's screens (`operator-pin`, `operator-menu`,
    /// `operator-totals`, `operator-count`) in place of the resident's; [`Ui::set_view`] brings
    /// the resident's back. The operator's screens speak Japanese and English together.
    pub fn set_operator(&self, panel: &OperatorPanel) {
        let api = self.window.global::<Api>();
        self.set_language(Language::Ja);
        api.set_language("ja".into());
        api.set_large_text(false);
        api.set_high_contrast(false);
        api.set_screen(panel.screen.as_str().into());
        api.set_op_status(op_lines(&panel.status));
        api.set_op_totals(op_lines(&panel.totals));
        api.set_op_reasons(panel.reasons.as_str().into());
        api.set_op_message(panel.message.as_str().into());
        api.set_op_message_alert(panel.message_alert);
        api.set_op_typed(clamp_i32(panel.typed));
        api.set_op_counting(panel.counting.as_str().into());
        api.set_op_amount(panel.amount.as_str().into());
        self.settle();
    }

    /// The words the failure screen shows for `code` and `money` in `language`: the one
    /// catalogue of resident-facing failure messages (ui/names.slint and its translations).
    /// The screen shown keeps its language.
    pub fn failure_text(&self, code: FailureCode, money: MoneyState, language: Language) -> FailureText {
        let names = self.window.global::<Names>();
        self.set_language(language);
        let id = SharedString::from(code.id());
        let flat = Failure { code, money, reference: String::new(), pages_printed: 0 };
        let (state, yen) = flat::money_id(&flat);
        let text = FailureText {
            title: names.invoke_failure_title(id.clone()).into(),
            what: names.invoke_failure_what(id.clone()).into(),
            money: names.invoke_money_title(state.into(), clamp_i32(yen)).into(),
            money_detail: names.invoke_money_text(state.into()).into(),
            todo: names.invoke_failure_todo(id).into(),
        };
        self.set_language(self.language.get());
        text
    }

    fn set_language(&self, language: Language) {
        // Japanese is the source language: "" selects the untranslated strings.
        let code = if language == Language::Ja { "" } else { language.code() };
        if let Err(e) = slint::select_bundled_translation(code) {
            // the catalogues are compiled in, so this is a build defect: keep the current text
            log_error(&format!("madoguchi-ui: language {code}: {e}"));
        }
    }

    /// The id of the screen shown.
    pub fn screen_id(&self) -> &'static str {
        self.screen.get().id()
    }

    /// The screen shown.
    pub fn screen(&self) -> Screen {
        self.screen.get()
    }

    /// The window size in physical pixels.
    pub fn size(&self) -> (u32, u32) {
        self.size.get()
    }

    /// Logical pixels per physical pixel at the current size ([`scale_for`]).
    pub fn scale_factor(&self) -> f32 {
        self.window.window().scale_factor()
    }

    /// Resizes the (headless) window; layouts follow. 1280x800, 1920x1080 and their portrait
    /// forms are the sizes designed for.
    pub fn resize(&self, width: u32, height: u32) {
        if self.size.get() == (width, height) {
            return;
        }
        self.size.set((width, height));
        let w = self.window.window();
        w.dispatch_event(WindowEvent::ScaleFactorChanged { scale_factor: scale_for(width, height) });
        w.set_size(PhysicalSize::new(width, height));
        self.settle();
    }

    /// Draws the current screen at `width` x `height` and writes it as an RGB PNG. The window
    /// keeps that size afterwards.
    pub fn render_png(&self, path: &Path, width: u32, height: u32) -> Result<(), UiError> {
        let rgb = self.render_rgb(width, height)?;
        write_png(path, width, height, &rgb)
    }

    /// Draws the current screen at `width` x `height` into RGB bytes (3 per pixel, row-major).
    pub fn render_rgb(&self, width: u32, height: u32) -> Result<Vec<u8>, UiError> {
        let adapter = self.headless.as_ref().ok_or(UiError::NotHeadless)?;
        self.resize(width, height);
        self.settle();
        let mut buffer = vec![Rgb8Pixel::new(0, 0, 0); width as usize * height as usize];
        adapter.request_redraw();
        adapter.draw_if_needed(|renderer| {
            renderer.render(&mut buffer, width as usize);
        });
        Ok(buffer.iter().flat_map(|p| [p.r, p.g, p.b]).collect())
    }

    pub(crate) fn settle(&self) {
        slint::platform::update_timers_and_animations();
    }
}

/// What operator mode's screens show (filled by the kiosk's operator desk).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorPanel {
    /// `operator-pin`, `operator-menu`, `operator-totals` or `operator-count`.
    pub screen: String,
    /// The menu's status table: printer, cash unit, readers, backend link, clock, versions.
    pub status: Vec<OpLine>,
    /// The totals: kiosk's figure as `value`, the backend's as `other`.
    pub totals: Vec<OpLine>,
    /// Why the kiosk is out of service (empty: in service).
    pub reasons: String,
    /// The answer to the last action.
    pub message: String,
    pub message_alert: bool,
    /// Digits of the PIN typed so far (never the digits).
    pub typed: u32,
    /// `collect` or `refill` on `operator-count`.
    pub counting: String,
    /// The amount typed so far, with separators.
    pub amount: String,
}

/// One line of an operator table; `ok == false` is shown as a problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpLine {
    pub label: String,
    pub value: String,
    pub other: String,
    pub ok: bool,
}

fn op_lines(list: &[OpLine]) -> ModelRc<madoguchi_ui_slint::OpLine> {
    let v: Vec<madoguchi_ui_slint::OpLine> = list
        .iter()
        .map(|l| madoguchi_ui_slint::OpLine {
            label: l.label.as_str().into(),
            value: l.value.as_str().into(),
            other: l.other.as_str().into(),
            ok: l.ok,
        })
        .collect();
    ModelRc::new(VecModel::from(v))
}

fn choices(list: &[Choice]) -> ModelRc<madoguchi_ui_slint::Choice> {
    let v: Vec<madoguchi_ui_slint::Choice> = list
        .iter()
        .map(|c| madoguchi_ui_slint::Choice {
            id: c.id.as_str().into(),
            label: c.label.as_str().into(),
            detail: c.detail.as_str().into(),
            note: c.note.as_str().into(),
            fee: c.fee_yen.map_or(-1, clamp_i32),
            enabled: c.enabled,
            selected: c.selected,
        })
        .collect();
    ModelRc::new(VecModel::from(v))
}

fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn log_error(msg: &str) {
    // no logger dependency: the firmware's env_logger is not ours to configure
    eprintln!("{msg}");
}

/// Writes RGB bytes as a PNG file.
pub fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<(), UiError> {
    let io = |source| UiError::Io { path: path.display().to_string(), source };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(())
}
