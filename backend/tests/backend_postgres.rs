//! PostgreSQL: a private cluster on a free port, the same migrations, two backend instances over
//! one database with requests alternating between them (no session state in memory), and the
//! database going away.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use serde_json::json;
use sqlx::Row;

#[test]
fn two_instances_over_one_postgres_alternate_requests() {
    let pg = Postgres::start();
    let d = Deployment::new(Some(pg.url()), "db_busy_timeout_ms = 2000\n");
    // PIN resets on (checked below across the two instances).
    let reset_key = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let pem = reset_key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap();
        std::fs::write(d.path("keys/card-management-key.pem"), pem.as_bytes()).unwrap();
    }
    let a = d.start();
    let b = d.start();
    d.open_all_hours(&a);
    let kdir = d.enroll_kiosk("PG01", "store");
    let k2dir = d.enroll_kiosk("PG02", "store");
    let rt = rt();
    rt.block_on(async {
        let mut ka = Kiosk::new(&a, &kdir);
        let mut kb = Kiosk::new(&b, &kdir);
        let me = card("R0013");
        // Challenge on A, answer on B, offers on A, issue on B, repeat on A, outcome on B.
        let (sid, ch) = ka.challenge().await;
        let r = kb.authenticate_raw(&sid, &me.cert, &me.sign(&ch)).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        let r = ka.authenticate_raw(&sid, &me.cert, &me.sign(&ch)).await;
        assert_eq!(r.code().as_deref(), Some("challenge_used"), "single use across instances");
        let o = ka.offers(&sid).await.json();
        let j = o["offers"].as_array().unwrap().iter().find(|o| o["document"] == "juminhyo").unwrap().clone();
        let req = juminhyo(TOKOROZAWA, j["fee_yen"].as_i64().unwrap(), "pg-1");
        let first = kb.issue(&sid, req.clone()).await;
        assert_eq!(first.status, 201, "{:?}", first.json());
        let again = ka.issue(&sid, req.clone()).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.json(), first.json(), "the same issuance from the other instance");
        let doc = kb.document(&first.json());
        assert_eq!(doc["binding"]["session_id"], json!(sid));
        let number = first.json()["issuance_number"].as_str().unwrap().to_string();
        assert_eq!(kb.outcome(&sid, &number, json!({"outcome": "printed"})).await.status, 200);
        assert_eq!(
            ka.outcome(&sid, &number, json!({"outcome": "printed"})).await.code().as_deref(),
            Some("outcome_already_recorded")
        );
        // Migration 3 on PostgreSQL: a print lease, then a failure and its refund paid at the kiosk.
        let second = kb.issue(&sid, juminhyo(TOKOROZAWA, j["fee_yen"].as_i64().unwrap(), "pg-2")).await;
        assert_eq!(second.status, 201, "{:?}", second.json());
        let n2 = second.json()["issuance_number"].as_str().unwrap().to_string();
        let r = ka.outcome(&sid, &n2, json!({"outcome": "printing"})).await;
        assert_eq!((r.status, r.json()["status"].clone()), (200, json!("issued")), "{:?}", r.json());
        let r = kb.outcome(&sid, &n2, json!({"outcome": "failed", "reason": "printer-jam"})).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        let fee = j["fee_yen"].as_i64().unwrap();
        let r = ka.outcome(&sid, &n2, json!({"outcome": "refunded", "refunded_yen": fee})).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        // Verification through the other instance's public listener.
        let code = doc["verify_url"].as_str().unwrap().split("code=").nth(1).unwrap().to_string();
        let mut anon = madoguchi_api::client::Client::new(
            a.public_url.as_ref().unwrap(),
            madoguchi_api::client::client_config(&kdir, false).unwrap(),
        )
        .unwrap();
        let r = anon.get(&format!("/v1/verify/{number}?code={code}")).await.unwrap();
        assert_eq!(r.json()["holder_name"], json!("山口　和子"));

        // Concurrent flows from two kiosks, every request alternating between the instances.
        let mut tasks = Vec::new();
        for (kid, dir) in [("PG01", kdir.clone()), ("PG02", k2dir.clone())] {
            let (a_url, b_url) = (a.url.clone(), b.url.clone());
            tasks.push(tokio::spawn(async move {
                let mk = |u: &str| Kiosk {
                    client: madoguchi_api::client::Client::new(
                        u,
                        madoguchi_api::client::client_config(&dir, true).unwrap(),
                    )
                    .unwrap(),
                    dir: dir.clone(),
                    public: madoguchi_api::PublicKey::load(&dir.join("backend-signing.pub")).unwrap(),
                };
                let (mut x, mut y) = (mk(&a_url), mk(&b_url));
                let people = [card("R0010"), card("R0011"), card("R0013")];
                for n in 0..15 {
                    let me = &people[n % 3];
                    let (first, second) = if n % 2 == 0 { (&mut x, &mut y) } else { (&mut y, &mut x) };
                    let (sid, ch) = first.challenge().await;
                    let r = second.authenticate_raw(&sid, &me.cert, &me.sign(&ch)).await;
                    assert_eq!(r.status, 200, "{:?}", r.json());
                    let r = first.issue(&sid, juminhyo(TOKOROZAWA, 200, &format!("{kid}-{n}"))).await;
                    assert_eq!(r.status, 201, "{:?}", r.json());
                    let doc = second.document(&r.json());
                    assert_eq!(doc["binding"]["session_id"], json!(sid));
                    assert_eq!(doc["binding"]["certificate_fingerprint"], json!(me.fingerprint()));
                    assert_eq!(doc["body"]["persons"][0]["id"], json!(me.id));
                    let number = r.json()["issuance_number"].as_str().unwrap().to_string();
                    assert_eq!(second.outcome(&sid, &number, json!({"outcome": "printed"})).await.status, 200);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let pool = d.db().await;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM issuances WHERE status = 'printed'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 31);

        // A PIN reset over PostgreSQL, every step on the other instance than the one before.
        let line = cli_ok(&d.config, &["pin-reset", "reserve", "--resident", "R0013", "--credential", "auth-pin"]);
        assert!(line.contains("state live"), "{line}");
        let sign = sign_card("R0013").unwrap();
        let r = open(&mut ka, "auth-pin", &me.cert).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let sid = r.json()["session_id"].as_str().unwrap().to_string();
        let ch = B64.decode(r.json()["challenge"].as_str().unwrap()).unwrap();
        let body = json!({"certificate": B64.encode(&sign.cert), "signature": B64.encode(sign.sign(&ch))});
        let path = format!("/v1/pin-reset/sessions/{sid}/authenticate");
        let r = kb.call("POST", &path, "/v1/pin-reset/sessions/{session_id}/authenticate", Some(body.clone())).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        let r = ka.call("POST", &path, "/v1/pin-reset/sessions/{session_id}/authenticate", Some(body)).await;
        assert_eq!(r.code().as_deref(), Some("challenge_used"));
        let path = format!("/v1/pin-reset/sessions/{sid}/authorisation");
        let r = ka
            .call(
                "POST",
                &path,
                "/v1/pin-reset/sessions/{session_id}/authorisation",
                Some(json!({"card_challenge": B64.encode([7u8; 8])})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        let auth = B64.decode(r.json()["authorisation"].as_str().unwrap()).unwrap();
        assert!(madoguchi_api::pin_reset::authorisation_valid(
            &reset_key.verifying_key().to_bytes(),
            madoguchi_api::ResetCredential::AuthPin,
            &[7; 8],
            &me.cert,
            &auth
        ));
        let path = format!("/v1/pin-reset/sessions/{sid}/outcome");
        let r = kb
            .call("POST", &path, "/v1/pin-reset/sessions/{session_id}/outcome", Some(json!({"outcome": "reset"})))
            .await;
        assert_eq!(r.json()["reservation_state"], json!("used"), "{:?}", r.json());
        let r = open(&mut kb, "auth-pin", &me.cert).await;
        assert_eq!(r.code().as_deref(), Some("reset_not_reserved"));
        cli_ok(
            &d.config,
            &["pin-reset", "reserve", "--resident", "R0011", "--credential", "sign-password", "--hours-ago", "25"],
        );
        let r = open(&mut ka, "sign-password", &card("R0011").cert).await;
        assert_eq!(r.code().as_deref(), Some("reset_reservation_expired"));
        let list = cli_ok(&d.config, &["pin-reset", "list"]);
        assert!(list.contains("state used") && list.contains("state expired"), "{list}");
        pool.close().await;
    });
    assert!(cli(&d.config, &["audit", "verify"]).status.success());

    // The database goes away: a clear code, no crash; it comes back: service resumes.
    pg.stop();
    rt.block_on(async {
        let mut k = Kiosk::new(&a, &kdir);
        let r = k.call("POST", "/v1/sessions", "/v1/sessions", None).await;
        assert_eq!(r.code().as_deref(), Some("database_unavailable"), "{:?}", r.json());
        assert_eq!(r.status, 503);
    });
    pg.ctl_start();
    rt.block_on(async {
        let mut k = Kiosk::new(&b, &kdir);
        let ok = {
            let mut ok = false;
            for _ in 0..50 {
                if k.call("POST", "/v1/sessions", "/v1/sessions", None).await.status == 201 {
                    ok = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            ok
        };
        assert!(ok, "service did not resume after the database came back");
    });
}

async fn open(k: &mut Kiosk, credential: &str, cert: &[u8]) -> madoguchi_api::client::Reply {
    let body = json!({"credential": credential, "auth_certificate": B64.encode(cert)});
    k.call("POST", "/v1/pin-reset/sessions", "/v1/pin-reset/sessions", Some(body)).await
}

/// Many issuances of one session at once, over two instances: the per-session limit holds
/// exactly (the session row is locked in the issuance's transaction), and an issuance racing the
/// session's close is either voided by it or refused, never left open after it.
#[test]
fn one_session_issuances_keep_the_limit_and_never_outlive_the_close() {
    let pg = Postgres::start();
    let d = Deployment::new(Some(pg.url()), "db_busy_timeout_ms = 5000\nmax_issuances_per_session = 3\n");
    let a = d.start();
    let b = d.start();
    d.open_all_hours(&a);
    let kdir = d.enroll_kiosk("PG11", "store");
    rt().block_on(async {
        let me = card("R0013");
        let mk = |url: &str| Kiosk {
            client: madoguchi_api::client::Client::new(url, madoguchi_api::client::client_config(&kdir, true).unwrap())
                .unwrap(),
            dir: kdir.clone(),
            public: madoguchi_api::PublicKey::load(&kdir.join("backend-signing.pub")).unwrap(),
        };
        for round in 0..3 {
            let mut k = mk(&a.url);
            let sid = k.login(&me).await;
            let fee = k.offers(&sid).await.json()["offers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["document"] == "juminhyo")
                .unwrap()["fee_yen"]
                .as_i64()
                .unwrap();
            let mut tasks = Vec::new();
            for n in 0..12 {
                let mut kk = mk(if n % 2 == 0 { &a.url } else { &b.url });
                let sid = sid.clone();
                tasks.push(tokio::spawn(async move {
                    let r = kk.issue(&sid, juminhyo(TOKOROZAWA, fee, &format!("race-{round}-{n}"))).await;
                    (r.status, r.code())
                }));
            }
            // In the last round the session is closed while the issuances run.
            if round == 2 {
                let r = k.call("DELETE", &format!("/v1/sessions/{sid}"), "/v1/sessions/{session_id}", None).await;
                assert_eq!(r.status, 200);
            }
            let mut created = 0;
            for t in tasks {
                let (status, code) = t.await.unwrap();
                match status {
                    201 => created += 1,
                    _ => assert!(
                        matches!(code.as_deref(), Some("session_limit") | Some("session_expired")),
                        "{status} {code:?}"
                    ),
                }
            }
            let pool = d.db().await;
            let rows: Vec<String> = sqlx::query("SELECT status FROM issuances WHERE session_id = $1")
                .bind(sid.clone())
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            pool.close().await;
            assert!(rows.len() <= 3, "round {round}: {} issuances in a session limited to 3", rows.len());
            assert_eq!(rows.len(), created);
            if round < 2 {
                assert_eq!(created, 3, "round {round}");
            } else {
                assert!(rows.iter().all(|s| s == "voided"), "an issuance outlived the close: {rows:?}");
            }
        }
    });
}

/// Two instances' group commits over one PostgreSQL: a batch still open on one instance (a member
/// appended its audit record and has not committed) does not hold the audit chain's head, so the
/// other instance's writes commit meanwhile; the records are chained when each batch commits,
/// a member that leaves without committing takes its record with it, and the chain verifies.
#[test]
fn an_open_batch_on_one_instance_does_not_hold_the_audit_head_from_the_other() {
    use madoguchi_backend::audit;
    let pg = Postgres::start();
    rt().block_on(async {
        let (a, b) = two_instances(&pg).await;
        let entry = |s: &str| audit::Entry::new("test", "test.write", s.to_string(), json!({ "s": s }));
        let mut open = a.begin_durable().await.unwrap();
        audit::append(&mut open, &entry("a-1")).await.unwrap();
        // Meanwhile the other instance commits three writes, one of them left without commit.
        for s in ["b-1", "b-2", "b-3"] {
            let mut tx = b.begin_durable().await.unwrap();
            audit::append(&mut tx, &entry(s)).await.unwrap();
            if s == "b-2" {
                drop(tx);
                continue;
            }
            tokio::time::timeout(std::time::Duration::from_secs(10), tx.commit())
                .await
                .expect("the other instance's batch holds the audit head")
                .unwrap();
        }
        open.commit().await.unwrap();
        // Both instances, many writers at once, some rolled back.
        let mut tasks = Vec::new();
        for i in 0..40 {
            let db = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let mut tx = db.begin_durable().await.unwrap();
                let e = audit::Entry::new("test", "test.write", format!("c-{i}"), json!({ "i": i }));
                audit::append(&mut tx, &e).await.unwrap();
                if i % 5 == 0 {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let subjects: Vec<String> =
            sqlx::query("SELECT subject FROM audit_log WHERE action = 'test.write' ORDER BY seq")
                .fetch_all(&a.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
        assert_eq!(&subjects[..3], ["b-1", "b-3", "a-1"], "chained in commit order");
        assert_eq!(subjects.len(), 3 + 32);
        assert!(!subjects.iter().any(|s| s == "b-2" || s == "c-0" || s == "c-35"), "rolled back");
        let v = audit::verify(&a.pool).await.unwrap();
        assert!(v.ok, "{:?}", v.problems);
    });
}

/// The rows that make paper valid are flushed to disk before their commit returns, even on a
/// server that commits asynchronously by default: a durable batch sets `synchronous_commit` on
/// for itself. With the WAL writer nearly asleep, an asynchronous commit stays in memory for
/// seconds, so a batch that did not flush would be seen here.
#[test]
fn durable_batches_are_flushed_even_where_the_server_commits_asynchronously() {
    use madoguchi_backend::audit;
    let pg = Postgres::start();
    rt().block_on(async {
        let (a, b) = two_instances(&pg).await;
        for sql in [
            "ALTER SYSTEM SET synchronous_commit = off",
            "ALTER SYSTEM SET wal_writer_delay = '10s'",
            "ALTER SYSTEM SET wal_writer_flush_after = '64MB'",
            "SELECT pg_reload_conf()",
        ] {
            sqlx::query(sql).execute(&a.pool).await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let mut probe = a.pool.acquire().await.unwrap();
        // Whether the WAL is flushed beyond `lsn`.
        async fn flushed_past(c: &mut sqlx::AnyConnection, lsn: &str) -> bool {
            sqlx::query("SELECT (pg_current_wal_flush_lsn() > $1::text::pg_lsn)::text")
                .bind(lsn.to_string())
                .fetch_one(&mut *c)
                .await
                .unwrap()
                .get::<String, _>(0)
                == "true"
        }
        async fn lsn_now(c: &mut sqlx::AnyConnection) -> String {
            sqlx::query("SELECT pg_current_wal_insert_lsn()::text").fetch_one(&mut *c).await.unwrap().get(0)
        }

        // The premise: an ordinary commit is now left unflushed for a while.
        let mut unflushed = 0;
        for i in 0..3 {
            let mut c = a.pool.acquire().await.unwrap();
            sqlx::raw_sql(&format!("BEGIN; INSERT INTO meta (key, value) VALUES ('control-{i}', 'x')"))
                .execute(&mut *c)
                .await
                .unwrap();
            let lsn = lsn_now(&mut c).await;
            sqlx::raw_sql("COMMIT").execute(&mut *c).await.unwrap();
            if !flushed_past(&mut probe, &lsn).await {
                unflushed += 1;
            }
        }
        assert!(unflushed > 0, "the server flushed every asynchronous commit at once: the test proves nothing");

        // Each instance's durable batches: flushed when their commit returns.
        for i in 0..6 {
            let db = if i % 2 == 0 { &a } else { &b };
            let mut tx = db.begin_durable().await.unwrap();
            audit::append(&mut tx, &audit::Entry::new("test", "test.write", format!("d-{i}"), json!({ "i": i })))
                .await
                .unwrap();
            sqlx::query("INSERT INTO meta (key, value) VALUES ($1, 'x')")
                .bind(format!("durable-{i}"))
                .execute(&mut *tx)
                .await
                .unwrap();
            let lsn = lsn_now(&mut tx).await;
            tx.commit().await.unwrap();
            assert!(flushed_past(&mut probe, &lsn).await, "batch {i} answered before its WAL was flushed");
        }
        let v = audit::verify(&a.pool).await.unwrap();
        assert!(v.ok, "{:?}", v.problems);
    });
}

/// Three classes of write and how each waits for the disk: a session's single statements do not
/// (a crash may lose them, the kiosk starts again), the paper-making batch does, and every other
/// transaction follows the server's setting.
#[test]
fn only_single_session_writes_skip_the_wal_flush() {
    let pg = Postgres::start();
    rt().block_on(async {
        let (a, _) = two_instances(&pg).await;
        async fn setting(c: &mut sqlx::AnyConnection) -> String {
            sqlx::query("SELECT current_setting('synchronous_commit')").fetch_one(&mut *c).await.unwrap().get(0)
        }
        let mut single = a.single_write().await.unwrap();
        assert_eq!(setting(&mut single).await, "off");
        single.commit().await.unwrap();
        let mut paper = a.begin_durable().await.unwrap();
        assert_eq!(setting(&mut paper).await, "on");
        paper.commit().await.unwrap();
        let mut other = a.begin_write().await.unwrap();
        assert_eq!(setting(&mut other).await, "on", "the server's default");
        other.commit().await.unwrap();
    });
}

/// Two instances' storage over `pg`'s database, migrated.
async fn two_instances(pg: &Postgres) -> (madoguchi_backend::db::Db, madoguchi_backend::db::Db) {
    use madoguchi_backend::{config::Config, db::Db};
    let config = Config { database: pg.url(), db_busy_timeout_ms: 2_000, ..Default::default() };
    let a = Db::connect(&config).await.unwrap();
    a.migrate().await.unwrap();
    let b = Db::connect(&config).await.unwrap();
    (a, b)
}
