//! Integrity (issue 12): the public listener under a flood, truncation of the audit chain caught
//! by a signed checkpoint, certificate links keyed and compared, payload erasure.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use serde_json::Value;
use sqlx::Row;

/// Stops a server as an operator does (SIGTERM), so that it writes what it holds in memory.
fn terminate(server: &mut Server) {
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "the server stopped with {exit:?}");
}

async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(pool).await.unwrap().get(0)
}

#[test]
fn the_public_listener_limits_each_source_and_counts_rejections_without_chaining_them() {
    // One token back every 1000 s: the burst is all a source gets during this test.
    let d = Deployment::new(None, "public_rate_per_s = 0.001\npublic_burst = 5\npublic_rejection_flush_s = 3600\n");
    let mut server = d.start();
    let kdir = d.enroll_kiosk("K301", "store A");
    rt().block_on(async {
        let pool = d.db().await;
        let rows_before = count(&pool, "SELECT COUNT(*) FROM audit_log").await;
        let public = server.public_url.clone().unwrap();
        let mut anon =
            madoguchi_api::client::Client::new(&public, madoguchi_api::client::client_config(&kdir, false).unwrap())
                .unwrap();
        let mut codes = Vec::new();
        for i in 0..12 {
            // A path the caller chose: it must not reach the database.
            let r = anon.get(&format!("/v1/verify/20990101-000000000{}?code=%3Cscript%3Ex{i}", i % 10)).await.unwrap();
            if r.status == 429 {
                madoguchi_backend::openapi::check_reply(spec(), "GET", "/v1/verify/{issuance_number}", 429, &r.json())
                    .unwrap();
            }
            codes.push(r.code().unwrap_or_default());
        }
        let failed = codes.iter().filter(|c| *c == "verification_failed").count();
        let limited = codes.iter().filter(|c| *c == "rate_limited").count();
        assert_eq!((failed, limited), (5, 7), "{codes:?}");
        let r = anon.get("/v1/openapi.json").await.unwrap();
        assert_eq!(r.status, 429, "the limit is per source, for every path");
        // Nothing was written while the flood lasted: no row per rejection.
        assert_eq!(count(&pool, "SELECT COUNT(*) FROM audit_log").await, rows_before);

        // The kiosk listener is not limited by the public one.
        let mut k = Kiosk::new(&server, &kdir);
        let (_, _) = k.challenge().await;

        // On shutdown the counts are written as one chained record, without the caller's path.
        terminate(&mut server);
        let rows =
            sqlx::query("SELECT actor, subject, detail FROM audit_log WHERE action = 'request.rejected.summary'")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<String, _>(0), "public");
        let detail: Value = serde_json::from_str(&rows[0].get::<String, _>(2)).unwrap();
        assert_eq!(detail["total"], 13, "{detail}");
        assert!(!detail.to_string().contains("script"), "{detail}");
        assert!(!detail.to_string().contains("20990101"), "{detail}");
        let n = |code: &str| {
            detail["counts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["code"] == code)
                .map(|c| c["count"].as_i64().unwrap())
                .sum::<i64>()
        };
        assert_eq!((n("verification_failed"), n("rate_limited")), (5, 8), "{detail}");
        // Counted under the route templates, not as unknown paths.
        let routes: Vec<&str> =
            detail["counts"].as_array().unwrap().iter().map(|c| c["route"].as_str().unwrap()).collect();
        assert!(routes.iter().all(|r| r.starts_with("/v1/")), "{detail}");
        assert_eq!(
            count(&pool, "SELECT COUNT(*) FROM audit_log WHERE actor = 'public' AND action = 'request.rejected'").await,
            0
        );
        assert!(madoguchi_backend::audit::verify(&pool).await.unwrap().ok);
        // Shutdown also signed a checkpoint of the head, the summary included.
        let head = count(&pool, "SELECT seq FROM audit_head WHERE id = 1").await;
        assert_eq!(count(&pool, "SELECT MAX(seq) FROM audit_checkpoints").await, head);
        pool.close().await;
    });
}

#[test]
fn a_checkpoint_handed_out_catches_rows_removed_from_the_end_of_the_chain() {
    let d = Deployment::new(None, "");
    let kdir = d.enroll_kiosk("K302", "store A");
    let _ = kdir;
    let cp = d.path("checkpoint.json");
    cli_ok(&d.config, &["audit", "export", "--out", cp.to_str().unwrap()]);
    // More records after the checkpoint: an intact chain still passes.
    d.enroll_kiosk("K303", "store B");
    cli_ok(&d.config, &["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    let blob: Value = serde_json::from_str(&std::fs::read_to_string(&cp).unwrap()).unwrap();
    let signed: Value = serde_json::from_str(blob["payload"].as_str().unwrap()).unwrap();
    let at = signed["seq"].as_i64().unwrap();
    assert!(at >= 2, "{signed}");

    rt().block_on(async {
        let pool = d.db().await;
        // The attacker removes the last rows, from below the checkpoint on, and rewrites the
        // head so that the chain is consistent again.
        let keep = at - 1;
        sqlx::query("DELETE FROM audit_log WHERE seq > $1").bind(keep).execute(&pool).await.unwrap();
        let hash: String =
            sqlx::query("SELECT hash FROM audit_log WHERE seq = $1").bind(keep).fetch_one(&pool).await.unwrap().get(0);
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(keep)
            .bind(hash)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    // The checkpoints stored in the database give it away...
    let out = cli(&d.config, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("truncated"));
    rt().block_on(async {
        let pool = d.db().await;
        // ... unless they are removed too (they are in the same database).
        sqlx::query("DELETE FROM audit_checkpoints").execute(&pool).await.unwrap();
        pool.close().await;
    });
    // The chain alone cannot tell.
    let plain = cli(&d.config, &["audit", "verify"]);
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stdout));
    // The checkpoint can.
    let out = cli(&d.config, &["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("truncated"), "{stdout}");

    // A checkpoint file that was changed is refused, not believed.
    let mut forged = blob.clone();
    forged["payload"] = Value::String(blob["payload"].as_str().unwrap().replace(&format!("\"seq\":{at}"), "\"seq\":1"));
    let fp = d.path("forged.json");
    std::fs::write(&fp, forged.to_string()).unwrap();
    let out = cli(&d.config, &["audit", "verify", "--checkpoint", fp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed by this backend"), "{out:?}");
}

#[test]
fn a_link_names_one_certificate_and_another_under_the_same_serial_is_refused() {
    let d = Deployment::new(None, "");
    // PIN resets on: their session's open checks the link the same way.
    let key = ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]);
    {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let pem = key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap();
        std::fs::write(d.path("keys/card-management-key.pem"), pem.as_bytes()).unwrap();
    }
    let server = d.start();
    d.open_all_hours(&server);
    let kdir = d.enroll_kiosk("K304", "store A");
    rt().block_on(async {
        let pool = d.db().await;
        let mut k = Kiosk::new(&server, &kdir);
        let me = card("R0001");
        // The link is what load-world recorded: the card authenticates, and a reset gets as far
        // as the reservation.
        k.login(&me).await;
        let open = |k: &mut Kiosk| {
            let body = serde_json::json!({"credential": "auth-pin", "auth_certificate": B64.encode(&me.cert)});
            let mut c = Kiosk::new(&server, &k.dir);
            async move { c.call("POST", "/v1/pin-reset/sessions", "/v1/pin-reset/sessions", Some(body)).await }
        };
        assert_eq!(open(&mut k).await.code().as_deref(), Some("reset_not_reserved"));
        // The stored link now names another certificate with the same issuer key and serial
        // (a mis-issued or substituted one): the presented certificate is not the linked one.
        let n = sqlx::query("UPDATE cert_links SET fingerprint = $1 WHERE fingerprint = $2")
            .bind("00".repeat(32))
            .bind(me.fingerprint())
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 1);
        let (sid, ch) = k.challenge().await;
        let r = k.authenticate_raw(&sid, &me.cert, &me.sign(&ch)).await;
        assert_eq!(r.code().as_deref(), Some("certificate_unlinked"), "{:?}", r.json());
        assert_eq!(open(&mut k).await.code().as_deref(), Some("certificate_unlinked"));
        pool.close().await;
    });
    // load-world refuses to move a link to another certificate, and changes nothing.
    let out = cli(&d.config, &["load-world", world().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to link"), "{out:?}");
}

/// Without a shutdown, the counts and the checkpoints are written on their intervals.
#[test]
fn counts_and_checkpoints_are_written_on_their_intervals() {
    let d = Deployment::new(None, "public_rejection_flush_s = 1\naudit_checkpoint_interval_s = 1\n");
    let server = d.start();
    let kdir = d.enroll_kiosk("K305", "store A");
    rt().block_on(async {
        let pool = d.db().await;
        let mut anon = madoguchi_api::client::Client::new(
            server.public_url.as_ref().unwrap(),
            madoguchi_api::client::client_config(&kdir, false).unwrap(),
        )
        .unwrap();
        let r = anon.get("/v1/verify/20990101-0000000000?code=222222222222").await.unwrap();
        assert_eq!(r.code().as_deref(), Some("verification_failed"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let summaries =
                count(&pool, "SELECT COUNT(*) FROM audit_log WHERE action = 'request.rejected.summary'").await;
            let head = count(&pool, "SELECT seq FROM audit_head WHERE id = 1").await;
            let checkpointed = count(&pool, "SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints").await;
            if summaries == 1 && checkpointed == head {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "summaries {summaries}, head {head}, checkpoint {checkpointed}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        pool.close().await;
    });
}
