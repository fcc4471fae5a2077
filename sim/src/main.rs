//! `madoguchi-sim`: the virtual JPKI card on vpcd, and the demo world generator.
//!
//! `card` keeps the card inserted until SIGTERM/SIGINT or `quit` on stdin, and takes `remove` /
//! `insert` lines on stdin so tests can pull the card at any moment. It prints one line per
//! state change on stdout (`inserted`, `removed`); diagnostics go to stderr (env_logger,
//! `RUST_LOG`). Exit codes: 0 stopped as asked, 1 internal failure, 2 bad arguments, profile
//! or log file.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand, ValueEnum};
use madoguchi_sim::card::{check_profile, VirtualCard, ATR_CONTACT, ATR_CONTACTLESS};
use madoguchi_sim::profile::{CardProfile, TokenKind};
use madoguchi_sim::vpcd::{CardSlot, Link, LinkEvent, DEFAULT_VPCD};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

const EXIT_INTERNAL: u8 = 1;
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(name = "madoguchi-sim", version, about = "Simulators for the madoguchi kiosk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Put a virtual My Number Card (or phone token) into vpcd's reader.
    ///
    /// stdin lines: `remove`, `insert`, `quit` (EOF is ignored). stdout: `inserted`, `removed`.
    Card(CardArgs),
    /// Generate the demo world (municipalities, residents, card profiles, kiosk certificates).
    World(WorldArgs),
    /// Run a PJL printer on a pseudo-terminal linked at --link (see `madoguchi_sim::printer`).
    Printer(madoguchi_sim::printer::PrinterArgs),
    /// Run a ccTalk coin acceptor and hoppers on a pseudo-terminal linked at --link (see
    /// `madoguchi_sim::cash::cctalk`).
    Cash(madoguchi_sim::cash::pty::CashArgs),
}

#[derive(clap::Args)]
struct CardArgs {
    /// Card profile (JSON); retry counters and changed PINs are written back to it.
    #[arg(long)]
    profile: PathBuf,
    /// Where vpcd listens (35963 = reader "Virtual PCD 00 00", 35964 = "… 00 01").
    #[arg(long, default_value = DEFAULT_VPCD)]
    vpcd: String,
    /// Token behaviour; default: the profile's.
    #[arg(long, value_enum)]
    token: Option<TokenArg>,
    /// ATR to present; default: contact for cards, contactless for phones.
    #[arg(long, value_enum)]
    interface: Option<Interface>,
    /// Append one line per APDU (header, lengths, status word; never data) to this file.
    #[arg(long)]
    apdu_log: Option<PathBuf>,
}

#[derive(clap::Args)]
struct WorldArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The world's "today", YYYY-MM-DD; default: today's local date.
    #[arg(long)]
    today: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum TokenArg {
    Card,
    Android,
    Iphone,
}

impl From<TokenArg> for TokenKind {
    fn from(t: TokenArg) -> Self {
        match t {
            TokenArg::Card => TokenKind::Card,
            TokenArg::Android => TokenKind::Android,
            TokenArg::Iphone => TokenKind::Iphone,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Interface {
    Contact,
    Contactless,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    match cli.command {
        Command::Card(args) => run_card(args),
        Command::World(args) => run_world(args),
        Command::Printer(args) => ExitCode::from(madoguchi_sim::printer::run(args)),
        Command::Cash(args) => ExitCode::from(madoguchi_sim::cash::pty::run(args)),
    }
}

/// What the control loop reacts to.
enum Event {
    Line(String),
    Signal(i32),
}

fn run_card(args: CardArgs) -> ExitCode {
    let path = args.profile.clone();
    let profile = match CardProfile::load(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("madoguchi-sim: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = check_profile(&profile) {
        eprintln!("madoguchi-sim: profile {} is not usable: {e}", path.display());
        return ExitCode::from(EXIT_CONFIG);
    }
    let token = args.token.map(TokenKind::from).unwrap_or(profile.token);
    let interface = args.interface.unwrap_or(match token {
        TokenKind::Card => Interface::Contact,
        TokenKind::Android | TokenKind::Iphone => Interface::Contactless,
    });
    let atr: &[u8] = match interface {
        Interface::Contact => &ATR_CONTACT,
        Interface::Contactless => &ATR_CONTACTLESS,
    };
    log::info!("card {} ({:?}) for vpcd at {}", profile.holder, token, args.vpcd);
    let mut card = VirtualCard::new(profile, token);
    card.seed_rng(os_seed());
    let store_path = path.clone();
    let mut slot = CardSlot::new(card, atr)
        .with_persist(Box::new(move |p: &CardProfile| p.store(&store_path).map_err(|e| e.to_string())));
    if let Some(log_path) = &args.apdu_log {
        match std::fs::OpenOptions::new().create(true).append(true).open(log_path) {
            Ok(f) => slot = slot.with_apdu_log(Box::new(f)),
            Err(e) => {
                eprintln!("madoguchi-sim: cannot open the APDU log {}: {e}", log_path.display());
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }

    let (tx, rx) = mpsc::channel::<Event>();
    let signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT]);
    match signals {
        Ok(mut signals) => {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for s in signals.forever() {
                    if tx.send(Event::Signal(s)).is_err() {
                        break;
                    }
                }
            });
        }
        Err(e) => log::warn!("cannot catch SIGTERM/SIGINT ({e}); they will kill the card abruptly"),
    }
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(Event::Line(l)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    log::warn!("stdin: {e}");
                    break;
                }
            }
        }
        // EOF (tests may pass /dev/null): keep the card in until a signal.
        log::debug!("stdin closed; stop with SIGTERM or SIGINT");
    });

    let start = |slot: CardSlot| Link::insert(args.vpcd.clone(), slot, Box::new(announce));
    let mut link = match start(slot) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("madoguchi-sim: cannot start the vpcd link: {e}");
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    // The slot while the card is out of the reader.
    let mut pocket: Option<CardSlot> = None;
    let mut quit = false;
    while !quit {
        let Ok(event) = rx.recv() else { break };
        let command = match event {
            Event::Signal(s) => {
                log::info!("signal {s}: stopping");
                "quit".to_string()
            }
            Event::Line(l) => l.trim().to_ascii_lowercase(),
        };
        match command.as_str() {
            "remove" => match link.take() {
                Some(l) => match l.remove() {
                    Some(s) => pocket = Some(s),
                    None => return internal("the vpcd link thread died"),
                },
                None => log::info!("remove: the card is already out"),
            },
            "insert" => match pocket.take() {
                Some(s) => match start(s) {
                    Ok(l) => link = Some(l),
                    Err(e) => return internal(&format!("cannot start the vpcd link: {e}")),
                },
                None => log::info!("insert: the card is already in"),
            },
            "quit" | "exit" => quit = true,
            "" => {}
            other => log::warn!("unknown command {other:?} (remove, insert, quit)"),
        }
    }
    if let Some(l) = link.take() {
        if l.remove().is_none() {
            return internal("the vpcd link thread died");
        }
    }
    ExitCode::SUCCESS
}

/// One stdout line per state change, flushed at once: tests and the demo follow them.
fn announce(event: LinkEvent) {
    let line = match event {
        LinkEvent::Inserted => "inserted",
        LinkEvent::Removed => "removed",
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
}

fn internal(msg: &str) -> ExitCode {
    eprintln!("madoguchi-sim: {msg}");
    ExitCode::from(EXIT_INTERNAL)
}

/// A fresh RNG seed per run for GET CHALLENGE (std's RandomState is keyed from the OS).
fn os_seed() -> [u8; 32] {
    use sha2::{Digest, Sha256};
    use std::hash::{BuildHasher, Hasher};
    let mut h = Sha256::new();
    for _ in 0..4 {
        h.update(std::collections::hash_map::RandomState::new().build_hasher().finish().to_le_bytes());
    }
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.update(d.as_nanos().to_le_bytes());
    }
    h.update(std::process::id().to_le_bytes());
    h.finalize().into()
}

fn run_world(args: WorldArgs) -> ExitCode {
    let today = match &args.today {
        Some(s) => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            match time::Date::parse(s, &fmt) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("madoguchi-sim: --today {s:?} is not YYYY-MM-DD: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            }
        }
        // Local date; falls back to UTC if the offset cannot be determined.
        None => time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc()).date(),
    };
    match madoguchi_sim::world::generate_world(&args.out, args.seed, today) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => internal(&format!("world: {e}")),
    }
}
