//! Figures, not assertions: the size of the shipped prompts, and the latency from the kiosk
//! showing a view to the file speaker starting its prompt (and what `follow` costs the loop).

use madoguchi_session::view_model::{Language, Screen, ViewModel};
use madoguchi_voice::{clips, FileSpeaker, VoiceConfig, VoiceGuide};
use std::time::{Duration, Instant};

fn main() {
    let total = clips::shipped_bytes();
    println!(
        "MEASURE voice prompts: {} files, {} bytes ({:.2} MiB) compiled in",
        clips::FILES.len(),
        total,
        total as f64 / 1048576.0
    );
    for l in Language::ALL {
        let (n, bytes, secs) = clips::FILES.iter().filter(|f| f.0 == l.code()).fold((0, 0, 0.0), |(n, b, s), f| {
            let c = madoguchi_voice::wav::read(f.2).expect("prompt wav");
            (n + 1, b + f.2.len(), s + c.duration().as_secs_f64())
        });
        println!("  {:8} {n} prompts, {bytes:>8} bytes, {secs:5.1} s of speech", l.code());
    }

    let dir = std::env::temp_dir().join(format!("madoguchi-voice-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("audio.wav");
    let p = path.clone();
    let mut g = VoiceGuide::spawn(VoiceConfig::default(), move || FileSpeaker::create(&p));
    let wall = time::OffsetDateTime::now_utc().replace_time(time::macros::time!(1:00)); // 10:00 JST
    let screens = [
        Screen::PlaceCard,
        Screen::PinEntry,
        Screen::RemoveCard,
        Screen::Payment,
        Screen::TakeDocuments,
        Screen::TakeCard,
    ];
    let rounds = 300;
    let mut follow = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let v = ViewModel::new(screens[i % screens.len()], if i % 2 == 0 { Language::Ja } else { Language::En });
        let t = Instant::now();
        g.follow(&v, wall);
        follow.push(t.elapsed());
        assert!(g.drain(Duration::from_secs(5)), "the worker did not finish");
    }
    let mut latency: Vec<Duration> = g.played().iter().map(|p| p.started.saturating_sub(p.asked)).collect();
    latency.sort();
    follow.sort();
    let q = |v: &[Duration], f: f64| v[((v.len() - 1) as f64 * f) as usize].as_secs_f64() * 1e6;
    println!(
        "MEASURE voice latency (view shown -> file speaker starts), {} prompts: median {:.0} us, p95 {:.0} us, max {:.0} us",
        latency.len(),
        q(&latency, 0.5),
        q(&latency, 0.95),
        q(&latency, 1.0)
    );
    println!(
        "MEASURE voice follow() on the kiosk loop: median {:.1} us, max {:.1} us",
        q(&follow, 0.5),
        q(&follow, 1.0)
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("  recording: {size} bytes");
    drop(g);
    let _ = std::fs::remove_dir_all(&dir);
}
