//! The public listener's defences against a flood: a per-source rate limit (token buckets, with
//! a bounded table) and a tally of rejections written as one audit record of counts per interval,
//! instead of one hash-chained row per rejected request under the write lock issuances need.
//!
//! Both are sans-IO (time is passed in), so the rules are tested without clocks; `server` wires
//! them to requests and `app` flushes the tally.

use madoguchi_api::ErrorCode;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Who a request comes from, for the rate limit: an IPv4 address, or an IPv6 /64 (one
/// subscriber's prefix: counting single IPv6 addresses would let one host take 2^64 buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
    /// Every source beyond `max_sources` (see [`RateLimiter`]).
    Overflow,
}

impl Source {
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(v4) => Source::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4.octets()),
                None => {
                    let o = v6.octets();
                    let mut p = [0u8; 8];
                    p.copy_from_slice(&o[..8]);
                    Source::V6Prefix(p)
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per source: `burst` requests at once, then `rate` per second. At most
/// `max_sources` buckets: when the table is full, buckets that have refilled completely are
/// dropped (forgetting them changes nothing), and if it is still full, new sources share one
/// overflow bucket, so a flood from many addresses costs bounded memory and is still limited.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    max_sources: usize,
    buckets: HashMap<Source, Bucket>,
}

impl RateLimiter {
    pub fn new(rate_per_s: f64, burst: u32, max_sources: usize) -> RateLimiter {
        RateLimiter {
            rate: rate_per_s,
            burst: f64::from(burst.max(1)),
            max_sources: max_sources.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `source` at `now`; false: over the limit.
    pub fn allow(&mut self, source: Source, now: Instant) -> bool {
        let key = if self.buckets.contains_key(&source) || self.room(now) { source } else { Source::Overflow };
        let (rate, burst) = (self.rate, self.burst);
        let b = self.buckets.entry(key).or_insert(Bucket { tokens: burst, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether a new source gets a bucket of its own (dropping full buckets if needed).
    fn room(&mut self, now: Instant) -> bool {
        // One slot is kept for the overflow bucket.
        if self.buckets.len() + 1 < self.max_sources {
            return true;
        }
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|s, b| {
            *s == Source::Overflow || b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
        self.buckets.len() + 1 < self.max_sources
    }

    /// Buckets held (for tests and the log).
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }
}

/// Rejections of the public listener since the last flush, by route template (never the raw
/// path a caller sent) and code: a bounded set of counters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RejectionTally {
    counts: HashMap<(&'static str, ErrorCode), u64>,
    since_ms: Option<i64>,
}

/// The routes of the public listener, as the tally names them.
pub const PUBLIC_ROUTES: &[&str] = &["/v1/verify/{issuance_number}", "/v1/openapi.json"];

impl RejectionTally {
    /// `route`: the matched route template; anything else (an unknown path) counts as `other`.
    pub fn record(&mut self, route: Option<&str>, code: ErrorCode, now_ms: i64) {
        let route = route.and_then(|r| PUBLIC_ROUTES.iter().copied().find(|k| *k == r)).unwrap_or("other");
        *self.counts.entry((route, code)).or_default() += 1;
        self.since_ms.get_or_insert(now_ms);
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The audit record of the counts so far (`None` when nothing was rejected), emptying the
    /// tally.
    pub fn take(&mut self, now_ms: i64) -> Option<crate::audit::Entry> {
        let since = self.since_ms.take()?;
        let counts = std::mem::take(&mut self.counts);
        let total: u64 = counts.values().sum();
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_by_key(|((route, code), _)| (*route, code.as_str()));
        let rows: Vec<_> = counts
            .iter()
            .map(|((route, code), n)| serde_json::json!({ "route": route, "code": code.as_str(), "count": n }))
            .collect();
        Some(crate::audit::Entry::new(
            "public",
            "request.rejected.summary",
            "public listener",
            serde_json::json!({
                "from": crate::db::rfc3339(since), "to": crate::db::rfc3339(now_ms), "total": total, "counts": rows,
            }),
        ))
    }
}

/// The rate limiter and the tally of one service, shared by its public listener's requests.
#[derive(Debug)]
pub struct PublicGuard {
    limiter: Mutex<RateLimiter>,
    tally: Mutex<RejectionTally>,
    /// Seconds a limited source should wait (what `Retry-After` says).
    retry_after_s: u64,
}

impl PublicGuard {
    pub fn new(config: &crate::config::Config) -> PublicGuard {
        PublicGuard {
            limiter: Mutex::new(RateLimiter::new(
                config.public_rate_per_s,
                config.public_burst,
                config.public_max_sources,
            )),
            tally: Mutex::new(RejectionTally::default()),
            retry_after_s: (1.0 / config.public_rate_per_s).ceil().clamp(1.0, 3600.0) as u64,
        }
    }

    pub fn allow(&self, source: Source) -> bool {
        self.limiter.lock().expect("lock").allow(source, Instant::now())
    }

    pub fn retry_after_s(&self) -> u64 {
        self.retry_after_s
    }

    pub fn record(&self, route: Option<&str>, code: ErrorCode) {
        self.tally.lock().expect("lock").record(route, code, crate::db::now_ms());
    }

    /// Writes the counts so far as one audit record (nothing when nothing was rejected). On a
    /// storage failure the counts go back into the tally for the next flush.
    pub async fn flush(&self, db: &crate::db::Db) -> Result<u64, sqlx::Error> {
        let taken = std::mem::take(&mut *self.tally.lock().expect("lock"));
        let mut pending = taken.clone();
        let Some(entry) = pending.take(crate::db::now_ms()) else { return Ok(0) };
        match crate::audit::append_alone(db, &entry).await {
            Ok(_) => Ok(taken.total()),
            Err(e) => {
                self.tally.lock().expect("lock").merge(taken);
                Err(e)
            }
        }
    }
}

impl RejectionTally {
    fn merge(&mut self, other: RejectionTally) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_default() += n;
        }
        if let Some(s) = other.since_ms {
            self.since_ms = Some(self.since_ms.map_or(s, |m| m.min(s)));
        }
    }
}

/// Flushes the tally every `public_rejection_flush_s` until the process ends.
pub async fn flusher(db: crate::db::Db, guard: std::sync::Arc<PublicGuard>, every_s: u64) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(every_s)).await;
        if let Err(e) = guard.flush(&db).await {
            log::warn!("audit of the public listener's rejections failed (kept for the next try): {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn v4(last: u8) -> Source {
        Source::of(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn a_source_gets_its_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(2.0, 3, 100);
        assert!((0..3).all(|_| l.allow(v4(1), t0)), "the burst");
        assert!(!l.allow(v4(1), t0), "over the burst");
        assert!(l.allow(v4(2), t0), "another source has its own bucket");
        // Half a second at 2/s gives one token back, and no more.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.allow(v4(1), t1));
        assert!(!l.allow(v4(1), t1));
        // Refills up to the burst only.
        let t2 = t1 + Duration::from_secs(3600);
        assert!((0..3).all(|_| l.allow(v4(1), t2)));
        assert!(!l.allow(v4(1), t2));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Source::of(a), Source::of(b));
        assert_ne!(Source::of(a), Source::of(c));
        assert_eq!(Source::of("::ffff:192.0.2.1".parse().unwrap()), v4(1));
    }

    #[test]
    fn the_table_is_bounded_and_new_sources_beyond_it_share_one_bucket() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(1.0, 2, 5);
        for i in 0..4 {
            assert!(l.allow(v4(i), t0));
        }
        // The table is full of busy sources: new ones share the overflow bucket (burst 2).
        assert!(l.allow(v4(100), t0));
        assert!(l.allow(v4(101), t0));
        assert!(!l.allow(v4(102), t0), "the overflow bucket is limited too");
        assert!(l.sources() <= 5);
        // Once the old buckets have refilled they are forgotten and a new source gets its own.
        let later = t0 + Duration::from_secs(10);
        assert!(l.allow(v4(103), later));
        assert!(l.allow(v4(103), later));
        assert!(l.sources() <= 5);
        for i in 0..10_000u32 {
            l.allow(Source::of(IpAddr::from(i.to_be_bytes())), later);
        }
        assert!(l.sources() <= 5, "a flood from many addresses keeps the table bounded");
    }

    #[test]
    fn the_tally_names_routes_not_paths_and_empties_on_take() {
        let mut t = RejectionTally::default();
        assert!(t.take(0).is_none(), "nothing rejected: no record");
        for _ in 0..3 {
            t.record(Some("/v1/verify/{issuance_number}"), ErrorCode::VerificationFailed, 1_000);
        }
        t.record(None, ErrorCode::NotFound, 2_000);
        t.record(Some("/v1/<script>"), ErrorCode::NotFound, 2_000);
        t.record(Some("/v1/verify/{issuance_number}"), ErrorCode::RateLimited, 3_000);
        assert_eq!(t.total(), 6);
        let e = t.take(4_000).unwrap();
        assert_eq!(e.action, "request.rejected.summary");
        let text = e.detail.to_string();
        assert!(!text.contains("script"), "a caller's path is never stored: {text}");
        assert_eq!(e.detail["total"], 6);
        let counts = e.detail["counts"].as_array().unwrap();
        let n = |route: &str, code: &str| {
            counts.iter().find(|c| c["route"] == route && c["code"] == code).map(|c| c["count"].as_u64().unwrap())
        };
        assert_eq!(n("/v1/verify/{issuance_number}", "verification_failed"), Some(3));
        assert_eq!(n("other", "not_found"), Some(2));
        assert_eq!(n("/v1/verify/{issuance_number}", "rate_limited"), Some(1));
        assert!(t.take(5_000).is_none(), "emptied");
    }
}
