//! The body of each document kind: its header, rows and blocks, fitted to their boxes. The
//! page frame, certification and PDF assembly are the parent's ([`super`]).

use super::*;

impl Renderer {
    pub(super) fn juminhyo<'a>(
        &'a self,
        f: &Fitter<'a>,
        j: &'a Juminhyo,
        issuer: &Issuer,
        kisaijiko: bool,
        w: &Wording,
    ) -> Result<(Frame, Vec<Block<'a>>, Vec<Block<'a>>), DocumentError> {
        if j.members.is_empty() {
            return Err(DocumentError::EmptyHousehold);
        }
        let refused = j.requested.not_in(issuer.enabled);
        if !refused.is_empty() {
            return Err(DocumentError::OptionNotEnabled {
                options: refused.join("、"),
                municipality: issuer.municipality.clone(),
            });
        }
        let o = j.requested;
        // Header: address (and head of household).
        let mut rows = vec![Row::new(
            vec![(24.0, f.label("住所", 24.0)?), (W - 24.0, f.value("住所", &j.address, W - 24.0, 11.0, 2)?)],
            HEAVY,
        )];
        if o.head_and_relationship {
            rows.push(Row::new(
                vec![(24.0, f.label("世帯主", 24.0)?), (W - 24.0, f.value("世帯主", &j.head, W - 24.0, 12.0, 1)?)],
                RULE,
            ));
        }
        let header = vec![rows_block(rows)];
        let mut body = Vec::new();
        for m in &j.members {
            let who = m.name.as_str();
            let field = |what: &str| format!("{what}（{who}）");
            let mut rows = Vec::new();
            let kana = match &m.kana {
                Some(k) => Some(f.fit(&field("ふりがな"), k, 62.0, 7.0, 5.5, 1)?),
                None => None,
            };
            let name = f.fit(&field("氏名"), &m.name, 62.0, 12.0, 8.0, 1)?;
            let born = wareki(m.born);
            let mut cells = vec![
                (18.0, f.label("氏名", 18.0)?),
                (62.0, Cell::Name(kana, name)),
                (16.0, f.label("生年月日", 16.0)?),
            ];
            if o.head_and_relationship {
                cells.push((34.0, f.value(&field("生年月日"), &born, 34.0, 10.0, 1)?));
                cells.push((10.0, f.label("性別", 10.0)?));
                cells.push((9.0, f.value(&field("性別"), m.sex.label(), 9.0, 10.0, 1)?));
                cells.push((12.0, f.label("続柄", 12.0)?));
                cells.push((19.0, f.value(&field("続柄"), &m.relationship, 19.0, 10.0, 2)?));
            } else {
                cells.push((45.0, f.value(&field("生年月日"), &born, 45.0, 10.0, 1)?));
                cells.push((12.0, f.label("性別", 12.0)?));
                cells.push((27.0, f.value(&field("性別"), m.sex.label(), 27.0, 10.0, 1)?));
            }
            rows.push(Row::new(cells, HEAVY));
            let w6 = [27.0, 33.0, 27.0, 33.0, 16.0, 44.0];
            if kisaijiko {
                rows.push(f.pairs(
                    &[
                        ("住所を定めた年月日", &field("住所を定めた年月日"), &wareki(m.address_since)),
                        ("届出日", &field("届出日"), &opt_date(m.notified_on)),
                    ],
                    &[27.0, 63.0, 27.0, 63.0],
                    10.0,
                    RULE,
                )?);
            } else {
                rows.push(f.pairs(
                    &[
                        ("住民となった年月日", &field("住民となった年月日"), &opt_date(m.became_resident)),
                        ("住所を定めた年月日", &field("住所を定めた年月日"), &wareki(m.address_since)),
                        ("届出日", &field("届出日"), &opt_date(m.notified_on)),
                    ],
                    &w6,
                    10.0,
                    RULE,
                )?);
            }
            if o.previous_address {
                let prev = m.previous_address.as_deref().unwrap_or("");
                rows.push(f.pairs(&[("前住所", &field("前住所"), prev)], &[27.0, 153.0], 10.0, RULE)?);
            }
            if o.honseki && m.foreign.is_none() {
                let h =
                    m.honseki.as_ref().ok_or_else(|| DocumentError::MissingData {
                        field: "本籍・筆頭者".into(),
                        person: who.into(),
                    })?;
                rows.push(f.pairs(
                    &[("本籍", &field("本籍"), &h.address), ("筆頭者", &field("筆頭者"), &h.head)],
                    &[27.0, 99.0, 16.0, 38.0],
                    10.0,
                    RULE,
                )?);
            }
            let mut ids: Vec<(&str, String, String)> = Vec::new();
            if o.my_number {
                let v = m
                    .my_number
                    .clone()
                    .ok_or_else(|| DocumentError::MissingData { field: "個人番号".into(), person: who.into() })?;
                ids.push(("個人番号", field("個人番号"), spaced_digits(&v)));
            }
            if o.resident_code {
                let v =
                    m.resident_code.clone().ok_or_else(|| DocumentError::MissingData {
                        field: "住民票コード".into(),
                        person: who.into(),
                    })?;
                ids.push(("住民票コード", field("住民票コード"), v));
            }
            match ids.as_slice() {
                [] => {}
                [(l, fl, v)] => rows.push(f.pairs(&[(l, fl, v)], &[27.0, 153.0], 10.0, RULE)?),
                [(l1, f1, v1), (l2, f2, v2)] => {
                    rows.push(f.pairs(&[(l1, f1, v1), (l2, f2, v2)], &[27.0, 63.0, 27.0, 63.0], 10.0, RULE)?)
                }
                _ => {}
            }
            if let Some(fr) = &m.foreign {
                let period = match (&fr.period, fr.period_ends) {
                    (Some(p), Some(d)) => format!("{p}（{}まで）", wareki(d)),
                    (None, Some(d)) => format!("{}まで", wareki(d)),
                    (Some(p), None) => p.clone(),
                    (None, None) => "定めなし".to_string(),
                };
                let card = fr.card_number.clone().unwrap_or_default();
                let category = fr.category.clone().unwrap_or_default();
                if let Some(alias) = &fr.alias {
                    let v = f.fit(&field("通称"), alias, 153.0, 10.0, 6.5, 1)?;
                    rows.push(Row::new(vec![(27.0, f.label("通称", 27.0)?), (153.0, Cell::Shaded(v))], RULE));
                }
                rows.push(f.pairs(
                    &[
                        ("国籍・地域", &field("国籍・地域"), &fr.nationality),
                        ("法第30条の45に規定する区分", &field("区分"), &category),
                    ],
                    &[27.0, 63.0, 27.0, 63.0],
                    10.0,
                    RULE,
                )?);
                rows.push(f.pairs(
                    &[
                        ("在留資格", &field("在留資格"), &fr.status),
                        ("在留カード等の番号", &field("在留カード番号"), &card),
                    ],
                    &[27.0, 63.0, 27.0, 63.0],
                    10.0,
                    RULE,
                )?);
                rows.push(f.pairs(&[("在留期間等", &field("在留期間"), &period)], &[27.0, 153.0], 10.0, RULE)?);
            }
            body.push(rows_block(rows));
        }
        // The words are the municipality's (the payload's): title, certification, and the
        // line naming what was left off (a 住民票の写し only).
        let subtitle = if kisaijiko { None } else { w.omitted_note.clone() };
        Ok((Frame { title: w.title.clone(), subtitle, certification: w.certification.clone() }, header, body))
    }

    pub(super) fn inkan<'a>(
        &'a self,
        f: &Fitter<'a>,
        i: &'a Inkan,
        w: &Wording,
    ) -> Result<(Frame, Vec<Block<'a>>, Vec<Block<'a>>), DocumentError> {
        let impression = i.impression.clone().ok_or_else(|| DocumentError::MissingSealImpression(i.name.clone()))?;
        if let SealImpression::Engraved { text, diameter_mm } = &impression {
            self.fonts.check("印影", text)?;
            if text.trim().is_empty() || !(8..=INKAN_BOX as u8 - 4).contains(diameter_mm) {
                return Err(DocumentError::MissingSealImpression(i.name.clone()));
            }
        }
        let rw = W - INKAN_BOX;
        let mut rows = vec![
            Row::new(
                vec![(24.0, f.label("氏名", 24.0)?), (rw - 24.0, f.value("氏名", &i.name, rw - 24.0, 13.0, 1)?)],
                HEAVY,
            ),
            Row::new(
                vec![
                    (24.0, f.label("生年月日", 24.0)?),
                    (rw - 24.0, f.value("生年月日", &wareki(i.born), rw - 24.0, 11.0, 1)?),
                ],
                RULE,
            ),
        ];
        if let Some(s) = i.sex {
            rows.push(Row::new(
                vec![(24.0, f.label("性別", 24.0)?), (rw - 24.0, f.value("性別", s.label(), rw - 24.0, 11.0, 1)?)],
                RULE,
            ));
        }
        rows.push(Row::new(
            vec![(24.0, f.label("住所", 24.0)?), (rw - 24.0, f.value("住所", &i.address, rw - 24.0, 11.0, 3)?)],
            RULE,
        ));
        rows.push(Row::new(
            vec![
                (24.0, f.label("登録番号", 24.0)?),
                (rw - 24.0, f.value("登録番号", &i.registration_number, rw - 24.0, 11.0, 1)?),
            ],
            RULE,
        ));
        let rows_h: f32 = rows.iter().map(|r| r.height).sum();
        let h = rows_h.max(INKAN_BOX);
        if let Some(last) = rows.last_mut() {
            last.height += h - rows_h;
        }
        let fonts = &self.fonts;
        let block = Block {
            height: h + 4.0,
            draw: Box::new(move |p, y| {
                // 印影 box on the left, details on the right.
                p.gfx.width(HEAVY);
                p.gfx.rect(X0, y, W, h);
                p.gfx.op("S");
                p.gfx.width(RULE);
                p.gfx.segment(X0 + INKAN_BOX, y, X0 + INKAN_BOX, y + h);
                p.gfx.op("S");
                p.text(X0 + 2.0, y + 1.5, 7.0, Style::Mincho, Align::Left, "印影");
                if let SealImpression::Engraved { text, diameter_mm } = &impression {
                    let c = (X0 + INKAN_BOX / 2.0, y + INKAN_BOX / 2.0 + 1.5);
                    security::engraved_impression(&mut p.gfx, fonts, text, c.0, c.1, f32::from(*diameter_mm));
                }
                // The rows, right of the box.
                let mut yy = y;
                for r in &rows {
                    r.draw(p, X0 + INKAN_BOX, yy);
                    yy += r.height;
                }
            }),
        };
        let frame = Frame { title: w.title.clone(), subtitle: None, certification: w.certification.clone() };
        Ok((frame, Vec::new(), vec![block]))
    }

    pub(super) fn kazei<'a>(
        &'a self,
        f: &Fitter<'a>,
        k: &'a Kazei,
        w: &Wording,
    ) -> Result<(Frame, Vec<Block<'a>>, Vec<Block<'a>>), DocumentError> {
        let r = &k.record;
        let fy = fiscal_year(r.fiscal_year);
        let iy = calendar_year(r.fiscal_year - 1);
        let address_label =
            if r.address_on_jan_1 { format!("住所（{fy}年1月1日現在）") } else { "住所".to_string() };
        let head = vec![
            Row::new(
                vec![
                    (40.0, f.label(&address_label, 40.0)?),
                    (W - 40.0, f.value("住所", &r.address, W - 40.0, 11.0, 2)?),
                ],
                HEAVY,
            ),
            Row::new(
                vec![
                    (40.0, f.label("氏名", 40.0)?),
                    (70.0, f.value("氏名", &k.name, 70.0, 12.0, 1)?),
                    (24.0, f.label("生年月日", 24.0)?),
                    (46.0, f.value("生年月日", &wareki(k.born), 46.0, 10.0, 1)?),
                ],
                RULE,
            ),
        ];
        let amounts = |items: &[(&str, String)]| -> Result<Vec<Row>, DocumentError> {
            items
                .chunks(2)
                .enumerate()
                .map(|(i, pair)| {
                    let mut cells = Vec::new();
                    for (label, v) in pair {
                        cells.push((40.0, f.label(label, 40.0)?));
                        cells.push((
                            50.0,
                            Cell::Value(f.fit(label, v, 50.0, 10.5, 7.0, 1)?, Style::Mincho, Align::Right),
                        ));
                    }
                    if pair.len() == 1 {
                        cells.push((90.0, Cell::Empty));
                    }
                    Ok(Row::new(cells, if i == 0 { HEAVY } else { RULE }))
                })
                .collect()
        };
        let heading = |t: &str| -> Result<Block<'a>, DocumentError> {
            Ok(text_block(vec![vec![(0.0, f.fit("見出し", t, W, 10.0, 10.0, 1)?)]], 1.2, 3.0))
        };
        let mut income: Vec<(&str, String)> = r.incomes.iter().map(|(k, v)| (k.label(), yen(*v))).collect();
        income.push(("合計所得金額", yen(r.total_income)));
        let mut deductions: Vec<(&str, String)> = r.deductions.iter().map(|(k, v)| (k.label(), yen(*v))).collect();
        if let Some(t) = r.total_deductions {
            deductions.push(("所得控除合計", yen(t)));
        }
        if let Some(s) = r.has_spouse {
            deductions.push(("控除対象配偶者", if s { "有".into() } else { "無".into() }));
        }
        if let Some(d) = r.dependents {
            deductions.push(("扶養親族の数", format!("{d}人")));
        }
        let mut body = vec![heading(&format!("所得の状況（{iy}年分）"))?, rows_block(amounts(&income)?)];
        if !deductions.is_empty() {
            body.push(heading("所得控除の状況")?);
            body.push(rows_block(amounts(&deductions)?));
        }
        body.push(heading(&format!("税額（{fy}年度）"))?);
        body.push(rows_block(amounts(&[
            ("課税標準額", yen(r.taxable_income)),
            ("市町村民税", yen(r.municipal_tax)),
            ("道府県民税", yen(r.prefectural_tax)),
            ("年税額合計", yen(r.municipal_tax + r.prefectural_tax)),
        ])?));
        let frame = Frame {
            title: format!("{fy}年度　{}", w.title),
            subtitle: Some(format!("（{iy}年1月1日から12月31日までの所得）")),
            certification: w.certification.clone(),
        };
        Ok((frame, vec![rows_block(head)], body))
    }

    pub(super) fn koseki<'a>(
        &'a self,
        f: &Fitter<'a>,
        k: &'a Koseki,
        w: &Wording,
    ) -> Result<(Frame, Vec<Block<'a>>, Vec<Block<'a>>), DocumentError> {
        let chosen: Vec<&KosekiPerson> = match &k.scope {
            KosekiScope::All => k.persons.iter().collect(),
            KosekiScope::Persons(ix) => ix.iter().filter_map(|&i| k.persons.get(i)).collect(),
        };
        if chosen.is_empty() {
            return Err(DocumentError::EmptyHousehold);
        }
        let header = vec![honseki_header(f, &k.honseki, "氏名", &k.head)?];
        let piece = |field: &str, text: &str, dx: f32, width: f32| -> Result<(f32, Fitted), DocumentError> {
            Ok((dx, f.fit(field, text, width, 10.0, 7.5, 2)?))
        };
        let label = |text: &str| -> Result<(f32, Fitted), DocumentError> {
            Ok((0.0, f.fit("項目", text, KOSEKI_LABEL, 9.0, 7.0, 2)?))
        };
        let item = |field: &str, text: &str| piece(field, text, KOSEKI_LABEL, W - KOSEKI_LABEL);
        let mut body = Vec::new();
        if let Some(created) = k.created {
            body.push(rule_block(text_block(
                vec![
                    vec![label("戸籍事項")?],
                    vec![
                        (4.0, f.fit("事項", "戸籍編製", KOSEKI_LABEL - 4.0, 10.0, 8.0, 1)?),
                        item("編製日", &format!("【編製日】{}", wareki(created)))?,
                    ],
                ],
                1.35,
                3.0,
            )));
        }
        for p in chosen {
            let mut lines =
                vec![vec![label("戸籍に記録されている者")?, item("名", &format!("【名】{}", p.given_name))?]];
            let mut details = format!("【生年月日】{}", wareki(p.born));
            if let Some(role) = &p.spouse_role {
                details.push_str(&format!("　【配偶者区分】{role}"));
            }
            lines.push(vec![item("生年月日", &details)?]);
            for (l, v) in [("父", &p.father), ("母", &p.mother)] {
                if let Some(v) = v {
                    lines.push(vec![item(l, &format!("【{l}】{v}"))?]);
                }
            }
            if let Some(r) = &p.relationship {
                lines.push(vec![item("続柄", &format!("【続柄】{r}"))?]);
            }
            if p.removed {
                lines.push(vec![label("除　籍")?]);
            }
            body.push(rule_block(text_block(lines, 1.35, 3.0)));
            if !p.events.is_empty() {
                let mut ev_lines = vec![vec![label("身分事項")?]];
                for ev in &p.events {
                    // Two-character events are spaced as the register prints them: 出　生.
                    let kind: Vec<char> = ev.kind.chars().collect();
                    let kind = if kind.len() == 2 { format!("{}　{}", kind[0], kind[1]) } else { ev.kind.clone() };
                    for (i, (l, value)) in ev.items.iter().enumerate() {
                        let mut line = Vec::new();
                        if i == 0 {
                            line.push((4.0, f.fit("事項", &kind, KOSEKI_LABEL - 4.0, 10.0, 7.5, 1)?));
                        }
                        line.push(item(l, &format!("【{l}】{value}"))?);
                        ev_lines.push(line);
                    }
                }
                body.push(text_block(ev_lines, 1.35, 2.0));
            }
        }
        let all = matches!(k.scope, KosekiScope::All);
        let frame = Frame {
            title: w.title.clone(),
            subtitle: Some(if all { "（全部事項証明）" } else { "（個人事項証明）" }.into()),
            certification: w.certification.clone(),
        };
        Ok((frame, header, body))
    }

    pub(super) fn fuhyo<'a>(
        &'a self,
        f: &Fitter<'a>,
        k: &'a Fuhyo,
        w: &Wording,
    ) -> Result<(Frame, Vec<Block<'a>>, Vec<Block<'a>>), DocumentError> {
        if k.persons.is_empty() {
            return Err(DocumentError::EmptyHousehold);
        }
        let header = vec![honseki_header(f, &k.honseki, "筆頭者", &k.head)?];
        let mut body = Vec::new();
        for p in &k.persons {
            let mut rows = vec![Row::new(
                vec![
                    (24.0, f.label("氏名", 24.0)?),
                    (97.0, f.value("氏名", &p.name, 97.0, 12.0, 1)?),
                    (27.0, f.label("生年月日", 27.0)?),
                    (32.0, f.value("生年月日", &wareki(p.born), 32.0, 10.0, 1)?),
                ],
                HEAVY,
            )];
            for a in &p.addresses {
                rows.push(f.pairs(
                    &[("住所", "住所", &a.address), ("住所を定めた年月日", "住所を定めた年月日", &wareki(a.since))],
                    &[24.0, 97.0, 27.0, 32.0],
                    10.0,
                    RULE,
                )?);
            }
            body.push(rows_block(rows));
        }
        let frame = Frame { title: w.title.clone(), subtitle: None, certification: w.certification.clone() };
        Ok((frame, header, body))
    }
}
