//! `madoguchi-sim cash --bench N --link PATH --baud B`: how long the kiosk's ccTalk driver
//! takes to collect 1,350 yen in coins (500, 500, 100, 100, 100, 50) through the simulated
//! devices on a real pty paced at the line rate, with the single-wire echo. Each coin drops as
//! soon as the one before was credited, so the figure is the protocol's own time: a resident's
//! hand (about a second a coin) comes on top.

use super::cctalk::SharedDevices;
use super::pty::{serve, CashArgs};
use madoguchi_drivers::cctalk::link::Timing;
use madoguchi_drivers::cctalk::unit::{open_serial, CcTalkConfig};
use madoguchi_drivers::payment::{CashEvent, CashUnit};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const COINS: [u32; 6] = [500, 500, 100, 100, 100, 50];

/// Runs the bench; the exit code.
pub fn run(args: &CashArgs, runs: u32, devices: SharedDevices, shutdown: Arc<AtomicBool>) -> u8 {
    let server = {
        let (args, devices, shutdown) = (args.clone(), devices.clone(), shutdown.clone());
        std::thread::spawn(move || serve(&args, &devices, &shutdown))
    };
    let r = measure(args, runs.max(1), &devices);
    shutdown.store(true, Ordering::SeqCst);
    let served = server.join();
    let _ = std::fs::remove_file(&args.link);
    match (r, served) {
        (Ok(()), Ok(Ok(()))) => 0,
        (Err(e), _) | (_, Ok(Err(e))) => {
            eprintln!("madoguchi-sim cash --bench: {e}");
            1
        }
        (_, Err(_)) => 1,
    }
}

fn measure(args: &CashArgs, runs: u32, devices: &SharedDevices) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::symlink_metadata(&args.link).is_err() {
        if Instant::now() > deadline {
            return Err("the pty never appeared".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let link = args.link.to_str().ok_or("--link is not UTF-8")?;
    let cfg = CcTalkConfig { timing: Timing { baud: args.baud, ..Timing::default() }, ..CcTalkConfig::default() };
    let t_open = Instant::now();
    let mut unit = open_serial(link, cfg)?;
    let opened = t_open.elapsed();
    let mut times = Vec::new();
    for _ in 0..runs {
        let before = unit.bus().stats;
        let t0 = Instant::now();
        unit.begin(1350).map_err(|e| e.to_string())?;
        let mut total = 0;
        for c in COINS {
            devices.lock().insert(c);
            total += c;
            credited(&mut unit, total)?;
        }
        let inserted = unit.stop().map_err(|e| e.to_string())?;
        let took = t0.elapsed();
        if inserted != 1350 {
            return Err(format!("{inserted} yen collected, not 1350"));
        }
        unit.keep(1350).map_err(|e| e.to_string())?;
        let after = unit.bus().stats;
        times.push((took, after.exchanges - before.exchanges, after.retries - before.retries));
    }
    let mut sorted: Vec<Duration> = times.iter().map(|t| t.0).collect();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let exchanges: u64 = times.iter().map(|t| t.1).sum::<u64>() / u64::from(runs);
    let retries: u64 = times.iter().map(|t| t.2).sum();
    // One credit-buffer read on the wire: 5-byte request, its echo, 16-byte reply, 10 bits a byte.
    let read_ms = (5 + 5 + 16) as f64 * 10_000.0 / f64::from(args.baud);
    println!(
        "ccTalk 1,350 yen in six coins at {} baud{}: median {:.0} ms (min {:.0}, max {:.0}) over {runs} runs; \
         {exchanges} exchanges a run, {retries} retries in all; one credit read is {read_ms:.1} ms of wire time; \
         opening the bus took {:.0} ms",
        args.baud,
        if args.no_echo { ", no echo" } else { ", with echo" },
        median.as_secs_f64() * 1000.0,
        sorted[0].as_secs_f64() * 1000.0,
        sorted[sorted.len() - 1].as_secs_f64() * 1000.0,
        opened.as_secs_f64() * 1000.0,
    );
    Ok(())
}

/// Polls until `total` yen are credited.
fn credited(unit: &mut dyn CashUnit, total: u32) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for e in unit.poll().map_err(|e| e.to_string())? {
            if let CashEvent::Accepted { total_yen, .. } = e {
                if total_yen == total {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{total} yen never credited"));
        }
    }
}
