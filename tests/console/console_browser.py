"""The municipality web console in a real browser: Debian's chromium, driven headless by
Playwright, presenting the administrator's client certificate (Playwright's client_certificates;
the backend's mTLS is the real one). Run by backend/tests/console_browser.rs, which starts the
backend, issues documents through a kiosk before and checks the kiosk's view of the catalog after.

Each kind of change is made through the forms (review, diff, save); the checks the browser can
see are made here, screenshots of every page go to --out, and what was done is printed as one
JSON line for the Rust side to check against the API and the database.
"""

import argparse
import json
import os
import struct
import sys
import zlib

from playwright.sync_api import sync_playwright

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def seal_png(size=96):
    """A red ring on transparency, as a municipal seal looks (PNG written by hand: no PIL)."""
    rows = []
    c = (size - 1) / 2
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            d = ((x - c) ** 2 + (y - c) ** 2) ** 0.5
            inside = (c - 8) <= d <= c or (abs(x - c) < 4 and d < c) or (abs(y - c) < 4 and d < c)
            row += bytes([200, 30, 30, 255]) if inside else bytes([0, 0, 0, 0])
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--url", required=True)
    a.add_argument("--code", required=True)
    a.add_argument("--cert", required=True)
    a.add_argument("--key", required=True)
    a.add_argument("--other-cert", required=True)
    a.add_argument("--other-key", required=True)
    a.add_argument("--numbers", required=True, help="comma-separated issuance numbers: printed, refund due, refunded")
    a.add_argument("--date", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--chromium", default="/usr/bin/chromium")
    args = a.parse_args()
    os.makedirs(args.out, exist_ok=True)
    base = f"{args.url}/console/{args.code}/"
    shots = []

    def shot(page, name):
        path = os.path.join(args.out, f"{name}.png")
        page.screenshot(path=path, full_page=True)
        shots.append(path)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True)
        ctx = browser.new_context(
            ignore_https_errors=True,  # the backend's own server CA; the client side is what is tested
            client_certificates=[{"origin": args.url, "certPath": args.cert, "keyPath": args.key}],
            locale="ja-JP",
            viewport={"width": 1280, "height": 900},
        )
        page = ctx.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        scripts = []
        page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)

        # /console/ sends the administrator to its own municipality.
        r = page.goto(f"{args.url}/console/")
        check(r.ok and page.url == base, f"/console/ redirects to {base}, got {page.url}")
        check("設定" in page.title(), "the configuration page's title is Japanese first")
        shot(page, "01-config")

        def review_and_save(name, expect_in_diff):
            """On the confirm page: the diff shows what changes; save; back with the saved banner."""
            if page.locator("table.diff").count() == 0:
                shot(page, f"failed-{name}")
                raise SystemExit(f"{name}: no confirm step at {page.url}: {page.locator('main').inner_text()}")
            check("変更の確認" in page.content(), f"{name}: a confirm step")
            diff = page.locator("table.diff").inner_text()
            for e in expect_in_diff:
                check(e in diff, f"{name}: the diff shows {e!r}: {diff!r}")
            shot(page, f"confirm-{name}")
            page.get_by_role("button", name="保存する").click()
            check("saved=" in page.url, f"{name}: saved, back on the configuration page ({page.url})")
            check(page.locator(".saved").count() == 1, f"{name}: the saved banner")

        def doc_form(doc):
            return page.locator(f"form#doc-{doc}")

        # 1. Fee: 住民票の写し 200 → 300 yen.
        page.locator('input[name=fee_yen][form="doc-juminhyo"]').fill("300")
        doc_form("juminhyo").get_by_role("button").click()
        review_and_save("fee", ["住民票の写し", "200", "300"])

        # 2. Document off: 印鑑登録証明書.
        page.locator('input[name=enabled][form="doc-inkan"]').uncheck()
        doc_form("inkan").get_by_role("button").click()
        review_and_save("document-off", ["印鑑登録証明書", "いいえ"])

        # 3. Maximum copies: 住民票記載事項証明書 10 → 3.
        page.locator('input[name=max_copies][form="doc-kisaijiko"]').fill("3")
        doc_form("kisaijiko").get_by_role("button").click()
        review_and_save("max-copies", ["最大部数", "10", "3"])

        # 4. Options: 住民票の写し without 本籍.
        page.locator('input[name=option][value=honseki][form="doc-juminhyo"]').uncheck()
        doc_form("juminhyo").get_by_role("button").click()
        review_and_save("options", ["オプション", "setainushi, honseki, household", "setainushi, household"])

        # 5. Hours: service 05:00 → 00:00 (the Rust side set 05:00), and 戸籍 08:30–17:15.
        hours = page.locator("form").filter(has=page.locator("input[name=change][value=hours]"))
        hours.locator("input[name=open]").fill("00:00")
        hours.locator("input[name=close]").fill("24:00")
        hours.get_by_role("button").click()
        review_and_save("hours", ["サービス時間", "05:00", "00:00"])
        page.locator('input[name=open][form="doc-koseki-zenbu"]').fill("08:30")
        page.locator('input[name=close][form="doc-koseki-zenbu"]').fill("17:15")
        doc_form("koseki-zenbu").get_by_role("button").click()
        review_and_save("document-hours", ["08:30", "17:15"])

        # 6. Closed days: the year-end closure removed, one day added.
        closed = page.locator("form").filter(has=page.locator("input[name=change][value=closed_add]"))
        closed.locator("input[name=from]").fill("2099-01-04")
        closed.locator("input[name=reason]").fill("システム更新 & <点検>")
        closed.get_by_role("button").click()
        review_and_save("closed-add", ["2099-01-04", "システム更新 & <点検>"])
        page.locator("form").filter(has=page.locator("input[name=change][value=closed_remove]")).first.get_by_role("button").click()
        review_and_save("closed-remove", ["12-29", "年末年始"])

        # 7. A notice with dates, whose text is markup: shown as text, never run.
        notice_text = '<script>alert("x")</script>年末年始は休止します'
        n = page.locator("form").filter(has=page.locator("input[name=change][value=notice_add]"))
        n.locator("input[name=text]").fill(notice_text)
        n.locator("input[name=from]").fill("2020-01-01")
        n.locator("input[name=until]").fill("2099-12-31")
        n.get_by_role("button").click()
        review_and_save("notice", [notice_text, "2099-12-31"])
        check(notice_text in page.locator("main").inner_text(), "the notice is shown as the text typed")
        check(page.locator("main script").count() == 0, "no script element made of the notice")

        # 8. Issuer and seal, each with the real renderer's sample PDF of the proposed configuration.
        iss = page.locator("form").filter(has=page.locator("input[name=change][value=issuer]"))
        iss.locator("input[name=issuer_title]").fill("清瀬市長")
        iss.locator("input[name=issuer_name]").fill("渋谷　金太郎")
        iss.get_by_role("button").click()
        check("渋谷　金太郎" in page.locator("table.diff").inner_text(), "issuer: the diff shows the new name")

        def proposed_pdf(name):
            form = page.locator(f"form[action='/console/{args.code}/sample.pdf']")
            values = {k: form.locator(f"input[name={k}]").get_attribute("value") for k in ("csrf", "config")}
            r = ctx.request.post(f"{base}sample.pdf", form=values, headers={"Origin": args.url})
            check(r.status == 200 and r.headers.get("content-type") == "application/pdf", f"{name}: sample PDF {r.status}")
            body = r.body()
            check(body.startswith(b"%PDF"), f"{name}: a PDF")
            with open(os.path.join(args.out, f"{name}.pdf"), "wb") as f:
                f.write(body)

        proposed_pdf("sample-issuer")
        review_and_save("issuer", ["証明者の氏名", "渋谷　金太郎"])
        png = seal_png()
        page.locator("input[type=file][name=seal]").set_input_files(
            files=[{"name": "seal.png", "mimeType": "image/png", "buffer": png}]
        )
        page.locator(f"form[action='/console/{args.code}/seal']").get_by_role("button").click()
        check(page.locator(".seal img").count() == 1, "seal: the confirm page shows the image")
        proposed_pdf("sample-seal")
        review_and_save("seal", ["公印", f"PNG {len(png)} bytes"])
        r = ctx.request.get(f"{base}sample.pdf")
        check(r.status == 200 and r.body().startswith(b"%PDF"), "the current configuration's sample PDF")

        # A refused change: the API's validation names the field, nothing is saved.
        # (A fee of -1 the browser itself refuses to send: the field has min=0.)
        hours = page.locator("form").filter(has=page.locator("input[name=change][value=hours]"))
        hours.locator("input[name=close]").fill("25:00")
        with page.expect_response(lambda r: r.url.endswith("/preview")) as resp:
            hours.get_by_role("button").click()
        check(resp.value.status == 422, f"a bad hour is 422, got {resp.value.status}")
        err = page.locator(".error").inner_text()
        check("service_hours.close" in err and "is not a time of day" in err, f"the field is named: {err!r}")
        hours = page.locator("form").filter(has=page.locator("input[name=change][value=hours]"))
        check(hours.locator("input[name=close]").input_value() == "25:00", "the refused page keeps what was typed")
        shot(page, "02-config-refused")

        # CSRF: a POST without the token, with a wrong one, or from another origin is refused.
        cfg_before = ctx.request.get(base).text()
        version = page.locator("form[action$='/apply'] input[name=version]").count()  # none on this page
        for what, form, headers in [
            ("no token", {"config": "{}", "version": "1"}, {}),
            ("wrong token", {"config": "{}", "version": "1", "csrf": "00" * 32}, {}),
        ]:
            r = ctx.request.post(f"{base}apply", form=form, headers=headers)
            check(r.status == 403, f"CSRF {what}: 403, got {r.status}")
        token = page.locator("input[name=csrf]").first.get_attribute("value")
        r = ctx.request.post(
            f"{base}preview",
            form={"csrf": token, "change": "hours", "open": "01:00", "close": "02:00"},
            headers={"Origin": "https://evil.example"},
        )
        check(r.status == 403, f"CSRF from another origin: 403, got {r.status}")
        check(ctx.request.get(base).text().count("saved") == cfg_before.count("saved"), "nothing saved by the refused posts")
        del version

        # Settlement, CSV, refunds, issuance lookup, audit.
        page.goto(f"{base}settlement?date={args.date}")
        s = page.locator("main").inner_text()
        check("合計" in s, "settlement total row")
        shot(page, "03-settlement")
        r = ctx.request.get(f"{base}settlement.csv?date={args.date}")
        csv = r.body().decode("utf-8-sig")
        check(r.status == 200 and csv.startswith("date,municipality_code,store"), "settlement CSV")
        with open(os.path.join(args.out, "settlement.csv"), "w", encoding="utf-8") as f:
            f.write(csv)
        printed, due, refunded = args.numbers.split(",")
        page.goto(f"{base}refunds")
        due_table = page.locator("table").nth(0).inner_text()
        done_table = page.locator("table").nth(1).inner_text()
        check(due in due_table and refunded not in due_table, "refunds due lists the due one only")
        check(refunded in done_table and "端末で返金済み" in done_table, "the refunded one is paid at the kiosk")
        shot(page, "04-refunds")
        for number, expect, name in [(printed, "印刷済み", "05-issuance-printed"), (due, "取消", "06-issuance-voided")]:
            page.goto(f"{base}issuance")
            page.locator("input[name=number]").fill(number)
            page.get_by_role("button", name="照会").click()
            body = page.locator("main").inner_text()
            check(expect in body and number in body, f"lookup {number}: {expect}")
            shot(page, name)
        r = page.goto(f"{base}issuance?number=20990101-NOSUCHNUMB")
        check(r.status == 404, "an unknown number is 404")
        page.goto(f"{base}audit")
        a = page.locator("main").inner_text()
        check("改ざんされていません" in a, "the audit chain verifies")
        check("admin:kiyose-console" in a, "the history names the administrator")
        shot(page, "07-audit")

        check(not dialogs, f"no script ran: {dialogs}")
        check(not scripts, f"the console loads no script: {scripts}")

        # Another municipality's administrator: 403 on every page of this one.
        other = browser.new_context(
            ignore_https_errors=True,
            client_certificates=[{"origin": args.url, "certPath": args.other_cert, "keyPath": args.other_key}],
            locale="ja-JP",
            viewport={"width": 1280, "height": 600},
        )
        op = other.new_page()
        for path in ["", "settlement", "refunds", f"issuance?number={printed}", "audit", "sample.pdf", "settlement.csv"]:
            r = op.goto(base + path) if not path.endswith((".pdf", ".csv")) else None
            status = r.status if r else other.request.get(base + path).status
            check(status == 403, f"another municipality's administrator on {path or '/'}: 403, got {status}")
        op.goto(base)
        shot(op, "08-other-municipality-403")
        r = other.request.post(f"{base}preview", form={"csrf": token, "change": "hours", "open": "01:00", "close": "02:00"})
        check(r.status == 403, f"another municipality's administrator posting (even with a stolen token): {r.status}")
        browser.close()

    print(json.dumps({"screenshots": shots, "failures": failures, "seal_bytes": len(png), "notice": notice_text}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
