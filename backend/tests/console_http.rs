//! The municipality web console over HTTP without a browser (so it runs everywhere): who may
//! see which page, the CSRF token, escaping, the confirm step's compare-and-swap, and that the
//! console saves through the API's validation and audit.

mod common;

use common::*;
use madoguchi_api::client::{Client, Reply};
use serde_json::json;

fn text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

/// The value of the first hidden input `name` on a page.
fn hidden(page: &str, name: &str) -> String {
    let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in {page}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

#[test]
fn only_the_municipality_s_own_administrator_changes_it_and_only_as_confirmed() {
    let d = Deployment::new(None, "");
    let server = d.start();
    let kdir = d.enroll_kiosk("K601", "清瀬駅前店");
    let admin = d.enroll_admin("kiyose-web", KIYOSE);
    let other = d.enroll_admin("tokorozawa-web", TOKOROZAWA);
    d.open_all_hours(&server);
    rt().block_on(async {
        let mut a = Client::from_dir(&server.url, &admin).unwrap();
        let mut o = Client::from_dir(&server.url, &other).unwrap();
        let mut k = Client::from_dir(&server.url, &kdir).unwrap();
        let base = format!("/console/{KIYOSE}/");

        // An issuance is found by its own municipality's administrator only, and shows its state.
        let mut kiosk = Kiosk::new(&server, &kdir);
        let sid = kiosk.login(&card("R0001")).await;
        let r = kiosk.issue(&sid, juminhyo(KIYOSE, 200, "web-1")).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let n = r.json()["issuance_number"].as_str().unwrap().to_string();
        let holder = kiosk.document(&r.json())["body"]["persons"][0]["name"].as_str().unwrap().to_string();
        let r = a.get(&format!("{base}issuance?number={n}")).await.unwrap();
        assert_eq!(r.status, 200);
        assert!(text(&r).contains(&n) && text(&r).contains("未確定"), "{}", text(&r));
        assert!(!text(&r).contains(&holder), "never the contents");
        let r = o.get(&format!("/console/{TOKOROZAWA}/issuance?number={n}")).await.unwrap();
        assert_eq!(r.status, 404, "another municipality's number is not found");

        // Who sees what.
        let r = a.get("/console/").await.unwrap();
        assert_eq!(r.status, 303);
        assert_eq!(a.get(&format!("/console/{KIYOSE}")).await.unwrap().status, 303);
        for path in ["", "settlement", "settlement.csv", "refunds", "issuance?number=x", "audit", "sample.pdf"] {
            let r = o.get(&format!("{base}{path}")).await.unwrap();
            assert_eq!(r.status, 403, "another municipality's administrator on {path:?}: {}", text(&r));
            let r = k.get(&format!("{base}{path}")).await.unwrap();
            assert_eq!(r.status, 403, "a kiosk on {path:?}");
        }
        assert_eq!(k.get("/console/").await.unwrap().status, 403);
        let page = a.get(&base).await.unwrap();
        assert_eq!(page.status, 200);
        let page = text(&page);
        let token = hidden(&page, "csrf");

        // Every value is escaped: a notice saved through the API is shown as text.
        let path = format!("/v1/admin/municipalities/{KIYOSE}/config");
        let mut cfg = a.get(&path).await.unwrap().json()["config"].clone();
        cfg["notices"] = json!([{"text": "<script>alert(1)</script>\"&'"}]);
        assert_eq!(a.put_json(&path, &cfg).await.unwrap().status, 200);
        let page = text(&a.get(&base).await.unwrap());
        assert!(!page.contains("<script>alert"), "the notice is escaped");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&amp;&#x27;"), "{page}");

        // CSRF: no token, a wrong one, another municipality's: refused, nothing changes.
        let change = |t: &str| form(&[("csrf", t), ("change", "hours"), ("open", "07:00"), ("close", "22:00")]);
        for t in ["", "zz", &"00".repeat(32)] {
            let r = a.request("POST", &format!("{base}preview"), Some(change(t))).await.unwrap();
            assert_eq!(r.status, 403, "token {t:?}: {}", text(&r));
        }
        let other_page = text(&o.get(&format!("/console/{TOKOROZAWA}/")).await.unwrap());
        let other_token = hidden(&other_page, "csrf");
        assert_ne!(other_token, token, "a token is bound to the certificate and municipality");
        let r = a.request("POST", &format!("{base}preview"), Some(change(&other_token))).await.unwrap();
        assert_eq!(r.status, 403);

        // The confirm step shows the diff and changes nothing yet.
        let version_before = a.get(&path).await.unwrap().json()["config_version"].as_i64().unwrap();
        let r = a.request("POST", &format!("{base}preview"), Some(change(&token))).await.unwrap();
        assert_eq!(r.status, 200, "{}", text(&r));
        let confirm = text(&r);
        assert!(confirm.contains("サービス時間") && confirm.contains("07:00") && confirm.contains("22:00"), "{confirm}");
        assert_eq!(a.get(&path).await.unwrap().json()["config_version"].as_i64().unwrap(), version_before);
        let proposed = unescape(&hidden(&confirm, "config"));
        let version = hidden(&confirm, "version");
        assert_eq!(version, version_before.to_string());

        // Another change lands in between: the confirmed diff is no longer what would be saved.
        let mut cfg = a.get(&path).await.unwrap().json()["config"].clone();
        cfg["documents"]["inkan"]["fee_yen"] = json!(250);
        assert_eq!(a.put_json(&path, &cfg).await.unwrap().status, 200);
        let apply = |t: &str, c: &str, v: &str| form(&[("csrf", t), ("config", c), ("version", v)]);
        let r = a.request("POST", &format!("{base}apply"), Some(apply(&token, &proposed, &version))).await.unwrap();
        assert_eq!(r.status, 422, "{}", text(&r));
        assert!(text(&r).contains("changed meanwhile"), "{}", text(&r));
        let now = a.get(&path).await.unwrap().json();
        assert_eq!(now["config"]["service_hours"]["open"], cfg["service_hours"]["open"], "nothing saved");

        // Reviewed again against the current version: saved through the API's path.
        let r = a.request("POST", &format!("{base}preview"), Some(change(&token))).await.unwrap();
        let confirm = text(&r);
        let (proposed, version) = (unescape(&hidden(&confirm, "config")), hidden(&confirm, "version"));
        assert!(proposed.contains("\"fee_yen\":250"), "the new diff is made on the current configuration");
        let r = a.request("POST", &format!("{base}apply"), Some(apply(&token, &proposed, &version))).await.unwrap();
        assert_eq!(r.status, 303, "{}", text(&r));
        let now = a.get(&path).await.unwrap().json();
        assert_eq!(now["config"]["service_hours"], json!({"open": "07:00", "close": "22:00"}));
        assert_eq!(now["config"]["documents"]["inkan"]["fee_yen"], json!(250));

        // A configuration the API refuses is refused by the console too, naming the field.
        let bad = proposed.replace("\"fee_yen\":250", "\"fee_yen\":-3");
        let v = (version.parse::<i64>().unwrap() + 1).to_string();
        let r = a.request("POST", &format!("{base}apply"), Some(apply(&token, &bad, &v))).await.unwrap();
        assert_eq!(r.status, 422);
        assert!(text(&r).contains("documents.inkan.fee_yen"), "{}", text(&r));
        let r = a.request("POST", &format!("{base}apply"), Some(apply(&token, "{\"x\":1}", &v))).await.unwrap();
        assert_eq!(r.status, 422, "an unknown field, as the API: {}", text(&r));

        // The sample PDF is the real renderer's.
        let r = a.get(&format!("{base}sample.pdf")).await.unwrap();
        assert_eq!(r.status, 200);
        assert!(r.body.starts_with(b"%PDF"));

        // Audited: the console's change with the administrator's id, the refusals as rejected.
        let pool = d.db().await;
        let actors: Vec<String> = sqlx::query_scalar(
            "SELECT actor FROM audit_log WHERE action = 'config.changed' AND subject = $1 ORDER BY seq",
        )
        .bind(KIYOSE)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(actors.last().map(String::as_str), Some("admin:kiyose-web"));
        let rejected: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'request.rejected' AND actor = 'admin:tokorozawa-web' AND subject LIKE 'GET /console/%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(rejected, 7);
        let refused: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'request.rejected' AND actor = 'admin:kiyose-web' AND subject LIKE 'POST /console/%/apply' AND detail LIKE '%invalid_config%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(refused, 2, "the refused saves (changed meanwhile, a negative fee) are audited");
        pool.close().await;
    });
}
