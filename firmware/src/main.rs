//! `madoguchi`: the kiosk application and its operator commands.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use madoguchi_firmware::diagnostics;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "madoguchi", version, about = "Certificate kiosk firmware (コンビニ交付)")]
struct Cli {
    /// Run the kiosk with this configuration (kiosk.toml; see firmware/kiosk.example.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// With --config: check the configuration and exit (0 when the kiosk could start).
    #[arg(long, requires = "config")]
    check: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Operator diagnostics of the card readers and the card or phone on them.
    Card {
        #[command(subcommand)]
        what: CardCommand,
    },
    /// Checks the kiosk's audit.log chain (exit 0 when every line verifies, 3 at a break).
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Renders a certificate from demo data to a PDF file and, with --printer, prints it
    /// through the serial PJL driver (exit 0 only when the printer confirmed the job's end).
    PrintSample(madoguchi_firmware::print_sample::PrintSampleArgs),
    /// Reads the store operator's PIN (4 or more digits) from standard input and prints its
    /// salted Argon2id hash for kiosk.toml's [operator] pin_hash. The PIN is never echoed.
    OperatorPinHash,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recomputes the hash chain of an audit.log and prints its head (lines, last chain value),
    /// or the first line where it breaks.
    Verify {
        /// The kiosk's audit.log (in its state directory).
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum CardCommand {
    /// Readers, token kind, user-authentication certificate (subject, serial, validity,
    /// renewal window, chain) and tries left. Never spends a PIN try.
    Info(diagnostics::CardOptions),
    /// Tries left on the user-authentication PIN and the signature password. Never spends a try.
    PinStatus(diagnostics::CardOptions),
    /// Runs the resident authentication path once with a test card: reads the PIN from
    /// standard input, VERIFY, signs a random challenge, checks the signature. Spends a try
    /// only if the PIN is wrong, and says so.
    AuthCheck(diagnostics::CardOptions),
    /// Prints reader and card events as they happen (hot-plug, cards and phones placed and
    /// removed). With --until, exits 0 once that state holds, 1 on --timeout.
    Watch {
        #[command(flatten)]
        opts: diagnostics::CardOptions,
        #[arg(long, value_enum)]
        until: Option<diagnostics::WatchUntil>,
        /// Give up after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
}

fn main() -> ExitCode {
    // First, before a thread or a PIN exists: no core dumps, no memory readers, no swap.
    let hardening = madoguchi_firmware::hardening::harden();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    hardening.log();
    let cli = Cli::parse();
    match (cli.command, cli.config) {
        (Some(Command::Card { what }), None) => card(what),
        (Some(Command::Audit { what: AuditCommand::Verify { file } }), None) => audit_verify(&file),
        (Some(Command::PrintSample(args)), None) => ExitCode::from(madoguchi_firmware::print_sample::run(&args)),
        (Some(Command::OperatorPinHash), None) => operator_pin_hash(),
        (None, Some(config)) => madoguchi_firmware::kiosk::run::run(&config, cli.check),
        (Some(_), Some(_)) => {
            eprintln!("madoguchi: --config runs the kiosk and takes no command");
            ExitCode::from(2)
        }
        (None, None) => {
            eprintln!("madoguchi: give --config kiosk.toml to run the kiosk, or a command (see --help)");
            ExitCode::from(2)
        }
    }
}

fn card(what: CardCommand) -> ExitCode {
    let (opts, with_cert) = match what {
        CardCommand::Info(o) => (o, true),
        CardCommand::PinStatus(o) => (o, false),
        CardCommand::AuthCheck(o) => return auth_check(&o),
        CardCommand::Watch { opts, until, timeout } => {
            let timeout = timeout.map(std::time::Duration::from_secs);
            return match diagnostics::watch(&opts, until, timeout, &mut std::io::stdout()) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => {
                    eprintln!("madoguchi card watch: timed out");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("madoguchi card watch: {e}");
                    ExitCode::from(1)
                }
            };
        }
    };
    match diagnostics::inspect(&opts, with_cert) {
        Ok(report) => {
            if opts.json {
                println!("{}", diagnostics::render_json(&report));
            } else {
                print!("{}", diagnostics::render_text(&report, with_cert));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("madoguchi card: {e}");
            ExitCode::from(1)
        }
    }
}

fn auth_check(opts: &diagnostics::CardOptions) -> ExitCode {
    let mut line = zeroize::Zeroizing::new(String::new());
    if std::io::stdin().read_line(&mut line).is_err() {
        eprintln!("madoguchi card auth-check: could not read the PIN from standard input");
        return ExitCode::from(2);
    }
    match diagnostics::auth_check(opts, &line) {
        Ok(a) => {
            print!("{}", diagnostics::render_auth_check(&a));
            if a.signature_valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("madoguchi card auth-check: {e}");
            ExitCode::from(1)
        }
    }
}

fn audit_verify(file: &std::path::Path) -> ExitCode {
    use madoguchi_firmware::kiosk::audit_log;
    match audit_log::verify_file(file) {
        Ok(head) => {
            println!("{}: {} lines verify, chain {}", file.display(), head.lines, hex::encode(head.chain));
            ExitCode::SUCCESS
        }
        Err(e @ audit_log::ChainError::Io(_)) => {
            eprintln!("madoguchi audit verify: {}: {e}", file.display());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("madoguchi audit verify: {}: {e}", file.display());
            ExitCode::from(3)
        }
    }
}

fn operator_pin_hash() -> ExitCode {
    match madoguchi_firmware::kiosk::operator::pin_hash_from(std::io::stdin().lock()) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("madoguchi: {e}");
            ExitCode::from(2)
        }
    }
}
