//! The kiosk's edge of operator mode: the operator key and door switch read on every tick, the
//! operator's screens, and the effects of `madoguchi_session::operator` carried out (audit log,
//! lamp, the session held out of service, the backend's settlement and door alert, the cash
//! unit's counters against the operator's count). Also `madoguchi operator-pin-hash`. The rules
//! themselves live in the sans-IO `madoguchi_session::operator`.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use madoguchi_api::client::{Client, ClientError, Reply};
use madoguchi_api::v1::SettlementReply;
use madoguchi_api::SignedBlob;
use madoguchi_drivers::gpio::Input;
use madoguchi_drivers::payment::{CashCounters, CashError, CashEvent, CashUnit};
use madoguchi_session::operator::{
    hash_pin, yen, Operator, OperatorAction, OperatorConfig, OperatorEffect, OperatorEvent, OutOfService, PinHashError,
    Refusal, SCREEN_MENU, SCREEN_PIN,
};
use madoguchi_session::{Event, PaymentEvent, PrinterEvent};
use madoguchi_ui::{OpLine, OperatorPanel};
use zeroize::Zeroizing;

use super::journal::{replay, MoneyEntry, MoneyReport};
use super::Kiosk;

/// The totals screen.
pub const SCREEN_TOTALS: &str = "operator-totals";
/// The operator's count of money collected or change refilled.
pub const SCREEN_COUNT: &str = "operator-count";
/// Digits of an operator PIN at most (more is a finger on the key, not a PIN).
const PIN_MAX: usize = 12;
/// Digits of a counted amount at most (under 10 億 yen).
const AMOUNT_MAX: usize = 9;
/// A door alert the backend did not take is sent again after this long.
const ALERT_RETRY: Duration = Duration::from_secs(30);

/// The cash unit shared by the cash worker (payments) and operator mode (its counters when the
/// operator counts): calls are serialised by the lock, and operator mode asks only between
/// residents.
#[derive(Clone)]
pub struct SharedCash(Arc<Mutex<Box<dyn CashUnit + Send>>>);

impl SharedCash {
    pub fn new(unit: Box<dyn CashUnit + Send>) -> SharedCash {
        SharedCash(Arc::new(Mutex::new(unit)))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Box<dyn CashUnit + Send>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl CashUnit for SharedCash {
    fn ready(&mut self) -> Result<(), CashError> {
        self.with(|u| u.ready())
    }
    fn begin(&mut self, due_yen: u32) -> Result<(), CashError> {
        self.with(|u| u.begin(due_yen))
    }
    fn poll(&mut self) -> Result<Vec<CashEvent>, CashError> {
        self.with(|u| u.poll())
    }
    fn stop(&mut self) -> Result<u32, CashError> {
        self.with(|u| u.stop())
    }
    fn keep(&mut self, yen: u32) -> Result<(), CashError> {
        self.with(|u| u.keep(yen))
    }
    fn pay_out(&mut self, yen: u32) -> Result<(), CashError> {
        self.with(|u| u.pay_out(yen))
    }
    fn counters(&mut self) -> Result<CashCounters, CashError> {
        self.with(|u| u.counters())
    }
}

enum LinkRequest {
    Settlement,
    /// The signed catalog (`GET /v1/catalog`), at start-up and when operator mode opens.
    Catalog,
    Alert {
        reason: &'static str,
        at: String,
    },
}

enum LinkReply {
    Settlement(Result<SettlementReply, String>),
    Catalog(Result<SignedBlob, String>),
    Alert { reason: &'static str, at: String, result: Result<(), String> },
}

/// Operator mode's own calls to the backend (`/v1/settlement`, `/v1/catalog`, `/v1/alerts`) on a thread of
/// their own, so the kiosk loop never waits on the network.
struct BackendLink {
    requests: Sender<LinkRequest>,
    replies: Receiver<LinkReply>,
}

impl BackendLink {
    fn spawn(mut client: Client) -> Option<BackendLink> {
        let (requests, rx) = channel::<LinkRequest>();
        let (tx, replies) = channel();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        std::thread::Builder::new()
            .name("operator-backend".into())
            .spawn(move || {
                while let Ok(request) = rx.recv() {
                    let reply = runtime.block_on(async {
                        match request {
                            LinkRequest::Settlement => LinkReply::Settlement(
                                accepted(client.get("/v1/settlement").await, |s| s == 200).and_then(|body| {
                                    serde_json::from_slice::<SettlementReply>(&body).map_err(|e| e.to_string())
                                }),
                            ),
                            LinkRequest::Catalog => {
                                LinkReply::Catalog(accepted(client.get("/v1/catalog").await, |s| s == 200).and_then(
                                    |body| crate::workers::backend::parse_catalog(&body).map_err(|e| format!("{e:?}")),
                                ))
                            }
                            LinkRequest::Alert { reason, at } => {
                                let body = serde_json::json!({ "kind": reason, "at": at });
                                let result =
                                    accepted(client.post_json("/v1/alerts", &body).await, |s| s < 300).map(|_| ());
                                LinkReply::Alert { reason, at, result }
                            }
                        }
                    });
                    if tx.send(reply).is_err() {
                        return;
                    }
                }
            })
            .ok()?;
        Some(BackendLink { requests, replies })
    }
}

/// The body of a reply whose status is `ok`, or what went wrong, in words for the status screen.
fn accepted(reply: Result<Reply, ClientError>, ok: fn(u16) -> bool) -> Result<bytes::Bytes, String> {
    match reply {
        Ok(r) if ok(r.status) => Ok(r.body),
        Ok(r) => Err(format!("HTTP {} {}", r.status, r.code().unwrap_or_default())),
        Err(e) => Err(e.to_string()),
    }
}

/// Japan time (UTC+9, no daylight saving): the store's day and clock.
fn jst() -> time::UtcOffset {
    time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC)
}

/// What operator mode learns from a kiosk event (taken before the session consumes it; a
/// touch is never kept: it may be a PIN digit).
pub(super) enum Seen {
    PrinterReady(bool),
    PrinterJam,
    CashReady(bool),
    /// Coins of unknown value went in: out of service until staff count the cash box.
    CashFault,
    ReaderGone(String),
    CardOn(String),
    Nothing,
}

impl Seen {
    pub(super) fn of(ev: &Event) -> Seen {
        match ev {
            Event::PrinterStatus(PrinterEvent::Ready(r)) => Seen::PrinterReady(*r),
            Event::PrinterStatus(PrinterEvent::Failed { kind: madoguchi_drivers::printer::ErrorKind::Jam, .. }) => {
                Seen::PrinterJam
            }
            Event::Payment(PaymentEvent::Ready(r)) => Seen::CashReady(*r),
            Event::Payment(PaymentEvent::Fault { kind: madoguchi_session::io::CashFaultKind::CoinsLost, .. }) => {
                Seen::CashFault
            }
            Event::ReaderRemoved { reader } => Seen::ReaderGone(reader.clone()),
            Event::CardPresented { reader, .. } => Seen::CardOn(reader.clone()),
            _ => Seen::Nothing,
        }
    }
}

/// Operator mode at the kiosk: the state machine and what its screens show.
pub struct OperatorDesk {
    op: Operator,
    started: Instant,
    key_on: bool,
    door_open: bool,
    /// The operator screen over the resident's (none: the session's view shows).
    screen: Option<&'static str>,
    pin: Zeroizing<String>,
    amount: String,
    /// On `operator-count`: money collected (`true`) or change refilled.
    collecting: bool,
    message: String,
    message_alert: bool,
    totals: Vec<OpLine>,
    cash: SharedCash,
    cash_ready: bool,
    readers_lost: BTreeSet<String>,
    link: Option<BackendLink>,
    link_status: String,
    /// Door alerts the backend has not taken yet, and when to try again.
    alerts: Vec<(&'static str, String)>,
    alert_retry: Option<Instant>,
    visit_active: bool,
}

impl OperatorDesk {
    /// `config` none: no PIN opens operator mode (the door alarm still holds the kiosk).
    pub fn new(config: Option<OperatorConfig>, cash: SharedCash, client: Option<Client>) -> OperatorDesk {
        let config = config.unwrap_or(OperatorConfig {
            pin_hash: String::new(),
            max_failures: 5,
            lockout: Duration::from_secs(300),
        });
        let link = client.and_then(BackendLink::spawn);
        if let Some(l) = &link {
            // The catalog from the start: the operator's status names its version, and the
            // first resident's offers need no second request.
            let _ = l.requests.send(LinkRequest::Catalog);
        }
        OperatorDesk {
            op: Operator::new(config),
            started: Instant::now(),
            key_on: false,
            door_open: false,
            screen: None,
            pin: Zeroizing::new(String::new()),
            amount: String::new(),
            collecting: true,
            message: String::new(),
            message_alert: false,
            totals: Vec::new(),
            cash,
            cash_ready: true,
            readers_lost: BTreeSet::new(),
            link,
            link_status: String::new(),
            alerts: Vec::new(),
            alert_retry: None,
            visit_active: false,
        }
    }

    /// The operator screen shown over the resident's, if any.
    pub fn screen(&self) -> Option<&'static str> {
        self.screen
    }

    /// Why operator mode holds the kiosk out of service.
    pub fn out_of_service(&self) -> Vec<OutOfService> {
        self.op.out_of_service()
    }

    fn say(&mut self, text: impl Into<String>, alert: bool) {
        self.message = text.into();
        self.message_alert = alert;
    }
}

fn refusal_text(r: Refusal) -> &'static str {
    match r {
        Refusal::NotOpen => "点検モードではありません / Operator mode is not open",
        Refusal::LockedOut => {
            "暗証番号の誤りが続いたため、しばらく使えません / Too many wrong PINs: locked for a while"
        }
        Refusal::WrongPin => "暗証番号が違います / Wrong PIN",
        Refusal::PrinterNotReady => {
            "プリンターがまだ準備できていません。紙づまりを取り除き、カバーを閉じてください / The printer does not answer ready yet: remove the jammed paper and close the cover"
        }
        Refusal::JamNotCleared => {
            "先に「プリンター復旧」を押してください / Clear the printer jam first (Printer cleared)"
        }
        Refusal::NotConfigured => {
            "kiosk.toml に [operator] pin_hash がありません / kiosk.toml has no [operator] pin_hash"
        }
    }
}

fn reason_text(r: OutOfService) -> &'static str {
    match r {
        OutOfService::Operator => "点検者が休止にしました / Put out of service by an operator",
        OutOfService::DoorOpenedWithoutKey => {
            "鍵なしで扉が開けられました(不正の恐れ。読取機とスロットを確認してください) / Door opened without the key (possible tampering: check the readers and slots)"
        }
        OutOfService::PrinterJam => "紙づまりの後、プリンター未復旧 / Printer jam not yet cleared",
        OutOfService::CashUnitFault => {
            "金額不明の硬貨が投入されました。金庫を数え、入出金記録と照合してください / Coins of unknown value went in: count the cash box against the money journal"
        }
    }
}

fn ok_line(label: &str, value: String, ok: bool) -> OpLine {
    OpLine { label: label.into(), value, other: String::new(), ok }
}

/// Charged, refunded and net on the store's `day` by the kiosk's own journal: a transaction that kept nothing paid
/// its money back as a refund; one that kept the fee was charged it (change is not a refund).
pub fn journal_totals(report: &MoneyReport, day: &str) -> (i64, i64, i64) {
    let (mut charged, mut refunded) = (0i64, 0i64);
    for t in report.on_day(day) {
        if t.kept > 0 {
            charged += i64::from(t.kept);
        } else if t.paid_out > 0 {
            charged += i64::from(t.paid_out.min(t.inserted));
            refunded += i64::from(t.paid_out.min(t.inserted));
        }
    }
    (charged, refunded, charged - refunded)
}

/// The totals table: the kiosk's figure beside the backend's, a difference marked.
/// `backend`: `None` while the backend is being asked (its column says so, not a failure).
pub fn totals_lines(kiosk: (i64, i64, i64), backend: Option<Result<&SettlementReply, &str>>) -> Vec<OpLine> {
    let money = |v: i64| format!("¥{}{}", if v < 0 { "-" } else { "" }, yen(v.unsigned_abs()));
    let mut lines = Vec::new();
    let rows = [("受領 / Charged", kiosk.0), ("返金 / Refunded", kiosk.1), ("差引 / Net", kiosk.2)];
    match backend {
        None => {
            for (label, mine) in rows {
                lines.push(OpLine {
                    label: label.into(),
                    value: money(mine),
                    other: "問い合わせ中… / asking…".into(),
                    ok: true,
                });
            }
        }
        Some(Ok(s)) => {
            let theirs = [s.charged_yen, s.refunded_yen, s.net_yen];
            for ((label, mine), theirs) in rows.into_iter().zip(theirs) {
                let differs = mine != theirs;
                let label = if differs { format!("{label} ※差異あり / differs") } else { label.to_string() };
                lines.push(OpLine { label, value: money(mine), other: money(theirs), ok: !differs });
            }
            for l in &s.lines {
                lines.push(OpLine {
                    label: format!("{} {} ({}件 / issued)", l.municipality_code, l.document.id(), l.issuances),
                    value: String::new(),
                    other: format!("{} / {} / {}", money(l.charged_yen), money(l.refunded_yen), money(l.net_yen)),
                    ok: true,
                });
            }
            if !s.refunds_due.is_empty() {
                lines.push(OpLine {
                    label: "未返金 / Refunds due".into(),
                    value: String::new(),
                    other: s.refunds_due.join(", "),
                    ok: false,
                });
            }
        }
        Some(Err(e)) => {
            for (label, mine) in rows {
                lines.push(OpLine { label: label.into(), value: money(mine), other: "?".into(), ok: true });
            }
            lines.push(OpLine {
                label: "センターに問い合わせできません / The backend did not answer".into(),
                value: String::new(),
                other: e.to_string(),
                ok: false,
            });
        }
    }
    lines
}

impl Kiosk {
    /// The screen shown: an operator screen over the resident's, or the session's.
    pub fn screen_id(&self) -> String {
        match self.desk.screen {
            Some(s) => s.to_string(),
            None => self.shown.as_ref().map(|v| v.screen.id().to_string()).unwrap_or_default(),
        }
    }

    /// Why operator mode holds the kiosk out of service.
    pub fn operator_out_of_service(&self) -> Vec<OutOfService> {
        self.desk.out_of_service()
    }

    fn op_now(&self) -> Duration {
        self.desk.started.elapsed() + self.clock.skew
    }

    /// Reads the key and door (on every tick), and takes the backend link's answers.
    pub(super) fn operator_poll(&mut self) {
        let key = self.outputs.input(Input::OperatorKey);
        let door = self.outputs.input(Input::DoorSwitch);
        match (key, door) {
            (Ok(key), Ok(door_shut)) => {
                if key != self.desk.key_on {
                    self.desk.key_on = key;
                    self.operator_event(OperatorEvent::Key { on: key });
                }
                if door_shut == self.desk.door_open {
                    self.desk.door_open = !door_shut;
                    self.operator_event(OperatorEvent::Door { open: !door_shut });
                }
            }
            (Err(e), _) | (_, Err(e)) => log::error!("gpio inputs: {e}"),
        }
        self.operator_link();
    }

    fn operator_link(&mut self) {
        let mut replies = Vec::new();
        if let Some(link) = &self.desk.link {
            while let Ok(r) = link.replies.try_recv() {
                replies.push(r);
            }
        }
        let mut redraw = false;
        for r in replies {
            match r {
                LinkReply::Settlement(result) => {
                    let journal = replay(self.book.path()).unwrap_or_default();
                    let mine = journal_totals(&journal, &self.store_day());
                    self.desk.totals = totals_lines(mine, Some(result.as_ref().map_err(String::as_str)));
                    self.desk.link_status = match &result {
                        Ok(_) => "集計を受信 / settlement received".into(),
                        Err(e) => format!("集計を受信できません / no settlement: {e}"),
                    };
                    redraw = true;
                }
                LinkReply::Catalog(Ok(blob)) => {
                    match self.session.take_catalog(&blob) {
                        Ok(version) => log::info!("catalog version {version} held"),
                        Err(e) => {
                            log::error!("the backend's catalog is refused: {e:?}");
                            self.desk.link_status = "様式カタログを検証できません / the catalog did not verify".into();
                        }
                    }
                    redraw = true;
                }
                LinkReply::Catalog(Err(e)) => log::warn!("catalog not fetched: {e}"),
                LinkReply::Alert { reason, at, result } => match result {
                    Ok(()) => self.operator_audit("alert-sent", reason),
                    Err(e) => {
                        self.operator_audit("alert-not-delivered", &format!("{reason}: {e}"));
                        self.desk.alerts.push((reason, at));
                        self.desk.alert_retry = Some(Instant::now() + ALERT_RETRY);
                    }
                },
            }
        }
        if self.desk.alert_retry.is_some_and(|t| Instant::now() >= t) {
            self.desk.alert_retry = None;
            for (reason, at) in std::mem::take(&mut self.desk.alerts) {
                self.operator_send(LinkRequest::Alert { reason, at });
            }
        }
        if redraw {
            self.operator_render();
        }
    }

    fn operator_send(&mut self, request: LinkRequest) {
        let sent = self.desk.link.as_ref().is_some_and(|l| l.requests.send(request).is_ok());
        if !sent {
            self.desk.link_status = "センターへの接続がありません / no backend link".into();
        }
    }

    /// Takes a kiosk event before the session: a touch on an operator screen is the operator's.
    /// Returns whether operator mode took it.
    pub(super) fn operator_takes(&mut self, ev: &Event) -> bool {
        match ev {
            Event::PrinterStatus(
                e @ (PrinterEvent::Finished { issuance_number, .. }
                | PrinterEvent::Failed { issuance_number, .. }
                | PrinterEvent::Progress { issuance_number, .. }),
            ) if issuance_number == madoguchi_paper::SAMPLE_NUMBER => {
                self.operator_sample_report(e);
                if self.desk.screen.is_some() {
                    self.operator_render();
                }
                true
            }
            Event::Touch(t) if self.desk.screen.is_some() => {
                if let Some(d) = t.digit() {
                    self.operator_digit(d);
                } else if let Some(id) = t.control() {
                    let id = id.to_string();
                    self.operator_touch(&id);
                }
                true
            }
            _ => false,
        }
    }

    /// Learns from a kiosk event what operator mode needs (after the session had it).
    pub(super) fn operator_saw(&mut self, seen: Seen) {
        match seen {
            Seen::PrinterReady(ready) => self.operator_event(OperatorEvent::PrinterReady(ready)),
            // PJL has no job cancel: never resume on its own after a jam
            Seen::PrinterJam => self.operator_event(OperatorEvent::PrinterJammed),
            Seen::CashReady(ready) => self.desk.cash_ready = ready,
            Seen::CashFault => self.operator_event(OperatorEvent::CashUnitFault),
            Seen::ReaderGone(reader) => {
                self.desk.readers_lost.insert(reader);
            }
            Seen::CardOn(reader) => {
                self.desk.readers_lost.remove(&reader);
            }
            Seen::Nothing => {}
        }
        let active = self.session.in_transaction();
        if active != self.desk.visit_active {
            self.desk.visit_active = active;
            self.operator_event(OperatorEvent::Visit { active });
        }
    }

    fn operator_digit(&mut self, d: u8) {
        match self.desk.screen {
            Some(SCREEN_PIN) if self.desk.pin.len() < PIN_MAX => self.desk.pin.push(char::from(b'0' + d)),
            Some(SCREEN_COUNT) if self.desk.amount.len() < AMOUNT_MAX => {
                if !(self.desk.amount.is_empty() && d == 0) {
                    self.desk.amount.push(char::from(b'0' + d));
                }
            }
            _ => return,
        }
        self.operator_render();
    }

    fn operator_touch(&mut self, id: &str) {
        let action = match (self.desk.screen, id) {
            (Some(SCREEN_PIN), "operator:pin-clear") => {
                self.desk.pin = Zeroizing::new(String::new());
                self.operator_render();
                return;
            }
            (Some(SCREEN_PIN), "operator:pin-enter") => {
                let pin = std::mem::replace(&mut self.desk.pin, Zeroizing::new(String::new()));
                self.operator_event(OperatorEvent::Pin(pin));
                return;
            }
            (Some(SCREEN_MENU), "operator:collect-cash" | "operator:refill-change") => {
                self.desk.collecting = id == "operator:collect-cash";
                self.desk.amount.clear();
                self.desk.screen = Some(SCREEN_COUNT);
                self.desk.say("", false);
                self.operator_render();
                return;
            }
            (Some(SCREEN_COUNT), "operator:amount-clear") => {
                self.desk.amount.clear();
                self.operator_render();
                return;
            }
            (Some(SCREEN_COUNT), "operator:record") => {
                let counted_yen = self.desk.amount.parse::<u64>().unwrap_or(0);
                self.desk.amount.clear();
                if self.desk.collecting {
                    OperatorAction::CollectCash { counted_yen }
                } else {
                    OperatorAction::RefillChange { counted_yen }
                }
            }
            (Some(SCREEN_COUNT | SCREEN_TOTALS), "operator:back") => {
                self.desk.screen = Some(SCREEN_MENU);
                self.operator_render();
                return;
            }
            (Some(SCREEN_MENU), "operator:test-print") => OperatorAction::TestPrint,
            (Some(SCREEN_MENU), "operator:out-of-service") => OperatorAction::OutOfService,
            (Some(SCREEN_MENU), "operator:in-service") => OperatorAction::InService,
            (Some(SCREEN_MENU), "operator:printer-cleared") => OperatorAction::PrinterCleared,
            (Some(SCREEN_MENU), "operator:totals") => OperatorAction::Totals,
            (Some(_), "operator:exit") => OperatorAction::Exit,
            // the top bar's controls and anything else: not for the operator's screens
            _ => return,
        };
        self.operator_event(OperatorEvent::Action(action));
    }

    /// Feeds the state machine and carries out what it says.
    pub(super) fn operator_event(&mut self, event: OperatorEvent) {
        let now = self.op_now();
        let effects = self.desk.op.handle(event, now);
        let mut redraw = false;
        for fx in effects {
            redraw |= self.operator_effect(fx);
        }
        let held = self.desk.op.holds();
        for fx in self.session.hold(held) {
            self.apply(fx);
        }
        if redraw || self.desk.screen.is_some() {
            self.operator_render();
        }
    }

    /// Returns whether the screens must be drawn again.
    fn operator_effect(&mut self, fx: OperatorEffect) -> bool {
        match fx {
            OperatorEffect::Show(SCREEN_PIN) => {
                self.desk.pin = Zeroizing::new(String::new());
                self.desk.say("", false);
                self.desk.screen = Some(SCREEN_PIN);
            }
            OperatorEffect::Show(SCREEN_MENU) => {
                self.desk.say("", false);
                if self.desk.screen != Some(SCREEN_MENU) {
                    self.operator_send(LinkRequest::Catalog);
                }
                self.desk.screen = Some(SCREEN_MENU);
            }
            // idle or out-of-service: the session's own view, held or not
            OperatorEffect::Show(_) => {
                self.desk.pin = Zeroizing::new(String::new());
                self.desk.amount.clear();
                self.desk.screen = None;
            }
            OperatorEffect::Audit { action, detail } => self.operator_audit(action, &detail),
            OperatorEffect::Lamp(output, level) => self.outputs.apply(output, level),
            OperatorEffect::AlertBackend(reason) => {
                let at =
                    self.clock.now().wall.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
                self.operator_send(LinkRequest::Alert { reason: reason.name(), at });
            }
            OperatorEffect::PrintSample => {
                self.operator_print_sample();
            }
            OperatorEffect::ShowTotals => {
                let journal = replay(self.book.path()).unwrap_or_default();
                let mine = journal_totals(&journal, &self.store_day());
                self.desk.totals = totals_lines(mine, None);
                self.desk.screen = Some(SCREEN_TOTALS);
                self.desk.say("", false);
                self.operator_send(LinkRequest::Settlement);
            }
            OperatorEffect::ReconcileCash { collected, counted_yen } => self.operator_reconcile(collected, counted_yen),
            OperatorEffect::OutOfService(reasons) => {
                let text: Vec<&str> = reasons.iter().map(|r| r.name()).collect();
                log::warn!("operator mode: out of service: [{}]", text.join(", "));
                // The operator put the kiosk back in service: a cash fault they counted is
                // cleared in the unit too (the journal records it once the unit answers).
                if !reasons.contains(&OutOfService::CashUnitFault) && self.cash_fault().is_some() {
                    self.clear_cash_fault();
                }
            }
            OperatorEffect::Refused(r) => self.desk.say(refusal_text(r), true),
        }
        true
    }

    /// Records the operator's count in the money journal beside the cash unit's own counter
    /// (accepted money for a collection, money paid out for a refill), and says whether they
    /// agree.
    fn operator_reconcile(&mut self, collected: bool, counted: u64) {
        let counters = self.desk.cash.counters();
        let unit_says = counters.as_ref().ok().map(|c| if collected { c.accepted_yen } else { c.paid_out_yen });
        self.book.write(MoneyEntry::OperatorCount { collected, counted, unit_says });
        let what = if collected { "回収 / collected" } else { "補充 / refilled" };
        let (text, alert) = match (&counters, unit_says) {
            (Ok(_), Some(unit)) if unit == counted => (
                format!("{what} ¥{} を記録しました。機械の計数と一致 / recorded; matches the unit's counter", yen(counted)),
                false,
            ),
            (Ok(_), Some(unit)) => (
                format!(
                    "{what} ¥{} を記録。機械の計数は ¥{}、差 ¥{} / recorded; the unit's counter says ¥{}: a difference of ¥{}",
                    yen(counted),
                    yen(unit),
                    yen(unit.abs_diff(counted)),
                    yen(unit),
                    yen(unit.abs_diff(counted))
                ),
                true,
            ),
            (Err(e), _) => (
                format!("{what} ¥{} を記録。機械の計数を読めません / recorded; the unit's counters cannot be read: {e}", yen(counted)),
                true,
            ),
            (Ok(_), None) => (format!("{what} ¥{} を記録しました / recorded", yen(counted)), false),
        };
        self.operator_audit(
            if collected { "operator:collect-cash" } else { "operator:refill-change" },
            &format!("unit's counter {}", unit_says.map_or("unknown".to_string(), yen)),
        );
        self.desk.say(text, alert);
        self.desk.screen = Some(SCREEN_MENU);
    }

    /// Today in the store (Japan time) by the kiosk's clock, as the money journal writes it.
    pub(super) fn store_day(&self) -> String {
        let d = self.clock.now().wall.to_offset(jst()).date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    fn operator_print_sample(&mut self) {
        let day = self.clock.now().wall.to_offset(jst()).date();
        self.printer.print_sample(day);
        self.desk.say("見本を印刷しています… / Printing the sample page…", false);
    }

    /// The sample page's progress and end, which are operator mode's, not the session's.
    fn operator_sample_report(&mut self, e: &PrinterEvent) {
        match e {
            PrinterEvent::Finished { pages, .. } => {
                self.operator_audit("operator:test-print", &format!("sample printed: {pages} page(s)"));
                self.desk.say(format!("見本を印刷しました({pages}枚) / Sample printed ({pages} page(s))"), false);
            }
            PrinterEvent::Failed { kind, paper, .. } => {
                self.operator_audit("operator:test-print", &format!("sample failed: {kind:?}, {paper:?}"));
                self.desk.say(format!("見本を印刷できません / The sample did not print: {kind:?}"), true);
                if *kind == madoguchi_drivers::printer::ErrorKind::Jam {
                    // PJL has no job cancel: a jam holds the kiosk whoever's page it was
                    self.operator_event(OperatorEvent::PrinterJammed);
                }
            }
            PrinterEvent::Progress { .. } | PrinterEvent::Ready(_) => {}
        }
    }

    fn operator_audit(&mut self, action: &str, detail: &str) {
        let at = self.clock.now().wall.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let line = format!("{at} - Operator {{ action: {action:?}, detail: {detail:?} }}");
        if let Some(log) = self.audit.as_mut() {
            if let Err(e) = log.append(&line) {
                log::error!("the audit log {} cannot be written: {e}", log.path().display());
            }
        }
    }

    /// Draws the operator screen shown, or gives the screen back to the session's view.
    fn operator_render(&mut self) {
        let Some(screen) = self.desk.screen else {
            if let Some(v) = &self.shown {
                self.ui.set_view(v);
            }
            return;
        };
        let d = &self.desk;
        let wall = self.clock.now().wall.to_offset(jst());
        let clock = format!(
            "{:04}-{:02}-{:02} {:02}:{:02} JST",
            wall.year(),
            u8::from(wall.month()),
            wall.day(),
            wall.hour(),
            wall.minute()
        );
        let pending = self.backend.pending_durable();
        let status = vec![
            ok_line(
                "プリンター / Printer",
                if d.op.printer_ready() {
                    "印刷できます / ready to print".into()
                } else {
                    "印刷できません / not ready".into()
                },
                d.op.printer_ready(),
            ),
            ok_line(
                "現金ユニット / Cash unit",
                if d.cash_ready {
                    "準備完了 / ready".into()
                } else {
                    "準備できていません / not ready".into()
                },
                d.cash_ready,
            ),
            ok_line(
                "カード読取機 / Card readers",
                if d.readers_lost.is_empty() {
                    "接続 / connected".into()
                } else {
                    format!("外れています / gone: {}", d.readers_lost.iter().cloned().collect::<Vec<_>>().join(", "))
                },
                d.readers_lost.is_empty(),
            ),
            ok_line(
                "センター接続 / Backend link",
                if pending == 0 {
                    if d.link_status.is_empty() {
                        "未送信なし / nothing waiting".into()
                    } else {
                        d.link_status.clone()
                    }
                } else {
                    format!("未送信 {pending} 件 / {pending} report(s) waiting")
                },
                pending == 0 && d.alerts.is_empty(),
            ),
            ok_line("時計 / Clock", clock, true),
            ok_line("版 / Version", env!("CARGO_PKG_VERSION").to_string(), true),
            ok_line(
                "様式カタログ / Catalog version",
                self.session.held_catalog().map_or("未取得 / none yet".into(), |v| format!("第{v}版 / version {v}")),
                true,
            ),
        ];
        let reasons: Vec<&str> = d.op.out_of_service().into_iter().map(reason_text).collect();
        let panel = OperatorPanel {
            screen: screen.to_string(),
            status,
            totals: d.totals.clone(),
            reasons: reasons.join("\n"),
            message: d.message.clone(),
            message_alert: d.message_alert,
            typed: u32::try_from(d.pin.len()).unwrap_or(0),
            counting: if d.collecting { "collect".into() } else { "refill".into() },
            amount: d.amount.parse::<u64>().map(yen).unwrap_or_default(),
        };
        self.ui.set_operator(&panel);
    }
}

/// Reads one PIN line from `input` (the operator types it, or pipes it from a password manager)
/// and returns the salted Argon2id PHC string for `kiosk.toml`. The PIN lives only in zeroizing
/// buffers; the salt is 16 bytes from the operating system.
pub fn pin_hash_from(mut input: impl BufRead) -> Result<String, PinHashError> {
    let mut line = Zeroizing::new(String::new());
    if input.read_line(&mut line).is_err() {
        return hash_pin(&Zeroizing::new(String::new()), &[0; 16]);
    }
    let pin = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
    let mut salt = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    hash_pin(&pin, &salt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_session::operator::{Operator, OperatorConfig, OperatorEffect, OperatorEvent, SCREEN_MENU};
    use std::time::Duration;

    #[test]
    fn totals_say_asking_until_the_backend_answers_and_a_failure_only_when_it_failed() {
        let text = |lines: Vec<OpLine>| {
            lines.iter().map(|l| format!("{}|{}|{}", l.label, l.value, l.other)).collect::<Vec<_>>().join("\n")
        };
        let asking = text(totals_lines((300, 0, 300), None));
        assert!(asking.contains("asking") && !asking.contains("did not answer"), "{asking}");
        assert!(asking.contains("¥300"), "the kiosk's own figures show at once: {asking}");
        let failed = text(totals_lines((300, 0, 300), Some(Err("HTTP 503"))));
        assert!(failed.contains("did not answer") && failed.contains("HTTP 503"), "{failed}");
    }

    #[test]
    fn the_printed_hash_opens_operator_mode_with_that_pin_and_is_salted_afresh() {
        let a = pin_hash_from(&b"7351\n"[..]).unwrap();
        let b = pin_hash_from(&b"7351\n"[..]).unwrap();
        assert_ne!(a, b, "a fresh salt each time");
        assert!(!a.contains("7351"));
        let mut op = Operator::new(OperatorConfig { pin_hash: a, max_failures: 3, lockout: Duration::from_secs(60) });
        op.handle(OperatorEvent::Key { on: true }, Duration::ZERO);
        let fx = op.handle(OperatorEvent::Pin(Zeroizing::new("7351".into())), Duration::ZERO);
        assert!(fx.contains(&OperatorEffect::Show(SCREEN_MENU)), "{fx:?}");
    }

    #[test]
    fn an_empty_or_non_digit_pin_is_refused() {
        assert!(pin_hash_from(&b"\n"[..]).is_err());
        assert!(pin_hash_from(&b"abcd\n"[..]).is_err());
        assert!(pin_hash_from(&b""[..]).is_err());
    }
}
