//! The human-readable report of a bundle, as HTML and as a one-page PDF (base-14 Helvetica and
//! the JPEG thumbnail as is; no fonts, tiles or services needed).

use std::fmt::Write as _;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use crate::check::Verdict;
use crate::format::EvidenceInfo;

/// What the report shows.
#[derive(Clone, Copy, Debug)]
pub struct ReportInput<'a> {
    /// The EC's fields.
    pub info: &'a EvidenceInfo,
    /// The verdict of the offline checks at bundle time.
    pub verdict: &'a Verdict,
    /// The front-frame thumbnail (JPEG), if any.
    pub thumbnail: Option<&'a [u8]>,
    /// Length of the clip in bytes.
    pub clip_bytes: u64,
    /// When the bundle was made (RFC 3339).
    pub made_at: &'a str,
}

fn rfc3339(secs: u64) -> String {
    // Civil date from unix days (Howard Hinnant's algorithm), UTC.
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn degrees(micro: i32) -> f64 {
    f64::from(micro) / 1e6
}

fn osm_link(lat: f64, lon: f64) -> String {
    format!("https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}")
}

/// Lines of facts shared by both renderings: (label, value).
fn facts(r: &ReportInput<'_>) -> Vec<(&'static str, String)> {
    let i = r.info;
    let p = &i.params;
    vec![
        (
            "Evidence Contract",
            format!("{} (chain id {})", i.ec, i.chain_id),
        ),
        ("Status", i.status.clone()),
        (
            "Recorded",
            format!("{} (segment start, UTC)", rfc3339(p.recorded_at)),
        ),
        (
            "Place",
            format!(
                "{:.6}, {:.6} (as the EC states)",
                degrees(p.latitude),
                degrees(p.longitude)
            ),
        ),
        ("Clip Keccak-256 (videoHash)", p.video_hash.to_string()),
        ("Clip length", format!("{} bytes", r.clip_bytes)),
        ("Sealed clip (cipherHash)", p.cipher_hash.to_string()),
        ("Thumbnail (frameHash)", p.frame_hash.to_string()),
        ("Frames root (framesRoot)", p.frames_root.to_string()),
        ("Owner", i.owner.to_string()),
        ("EvidenceFactory", i.evidence_factory.to_string()),
        (
            "Created",
            format!("tx {} in block {}", i.created.tx, i.created.block),
        ),
        (
            "Verified",
            format!("tx {} in block {}", i.verified.tx, i.verified.block),
        ),
        (
            "State proof block",
            r.verdict
                .proof_block
                .map_or_else(|| "-".to_owned(), |(n, h)| format!("{n} (header hash {h})")),
        ),
        ("Bundle made", r.made_at.to_owned()),
    ]
}

const RECHECK: &str = "Re-check: `dashledger-verify BUNDLE.zip` (offline: exit 0 and \"result\": \"verified\"), then `dashledger-verify --rpc URL BUNDLE.zip` against a node you trust, which also confirms the block headers are on the chain.";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML report (one self-contained file; the thumbnail inline as a data URL).
pub fn html(r: &ReportInput<'_>) -> String {
    let p = &r.info.params;
    let (lat, lon) = (degrees(p.latitude), degrees(p.longitude));
    let mut h = String::new();
    h.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    let _ = writeln!(
        h,
        "<title>dashledger evidence {}</title>",
        esc(&r.info.ec.to_string())
    );
    h.push_str("<style>body{font-family:sans-serif;max-width:56em;margin:2em auto;padding:0 1em}td,th{text-align:left;vertical-align:top;padding:.15em .6em}code,td.h{font-family:monospace;word-break:break-all}.ok{color:#060}.bad{color:#a00}</style>\n</head><body>\n");
    let _ = writeln!(
        h,
        "<h1>Dashcam evidence: {}</h1>\n<p>Result of the checks when this bundle was made: <b class=\"{}\">{}</b>.</p>",
        esc(&rfc3339(p.recorded_at)),
        if r.verdict.verified() { "ok" } else { "bad" },
        r.verdict.result
    );
    if let Some(t) = r.thumbnail {
        let _ = writeln!(
            h,
            "<p><img alt=\"front-frame thumbnail\" style=\"max-width:100%\" src=\"data:image/jpeg;base64,{}\"></p>",
            base64(t)
        );
    }
    // A locator: the point in a ±0.005° box with a 250 m scale bar. No tiles: the bundle is
    // offline; the link opens the place on OpenStreetMap.
    let m_per_deg_lon = 111_320.0 * lat.to_radians().cos().max(0.01);
    let bar = 250.0 / m_per_deg_lon / 0.01 * 240.0;
    let _ = writeln!(
        h,
        "<figure><svg width=\"240\" height=\"160\" viewBox=\"0 0 240 160\" role=\"img\" aria-label=\"place\"><rect x=\"0\" y=\"0\" width=\"240\" height=\"160\" fill=\"#eef\" stroke=\"#99a\"/><path d=\"M120 0V160M0 80H240\" stroke=\"#ccd\"/><circle cx=\"120\" cy=\"80\" r=\"6\" fill=\"#c00\"/><path d=\"M10 150H{:.1}\" stroke=\"#000\" stroke-width=\"2\"/><text x=\"12\" y=\"145\" font-size=\"10\">250 m</text><text x=\"124\" y=\"74\" font-size=\"10\">{lat:.5}, {lon:.5}</text></svg><figcaption>Place as the EC states it (schematic, north up; no map tiles are embedded). <a href=\"{}\">Open on OpenStreetMap</a>.</figcaption></figure>",
        10.0 + bar.min(220.0),
        esc(&osm_link(lat, lon))
    );
    h.push_str("<h2>Facts</h2>\n<table>\n");
    for (k, v) in facts(r) {
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td class=\"h\">{}</td></tr>",
            esc(k),
            esc(&v)
        );
    }
    h.push_str("</table>\n<h2>What was checked</h2>\n<table>\n");
    for c in &r.verdict.checks {
        let _ = writeln!(
            h,
            "<tr><td class=\"{}\">{}</td><th>{}</th><td>{}</td></tr>",
            if c.ok { "ok" } else { "bad" },
            if c.ok { "ok" } else { "FAILED" },
            esc(&c.name),
            esc(&c.detail)
        );
    }
    h.push_str("</table>\n<h2>What could not be checked offline</h2>\n<ul>\n");
    for n in &r.verdict.not_checked {
        let _ = writeln!(h, "<li>{}. <i>How:</i> {}</li>", esc(&n.what), esc(&n.how));
    }
    let _ = writeln!(
        h,
        "</ul>\n<h2>How to re-check</h2>\n<p>{}</p>\n<p>The bundle format is described in dashledger's docs/formats.md (\"Evidence bundle\").</p>\n</body></html>",
        esc(RECHECK)
    );
    h
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(char::from(T[(n >> 18) as usize & 63]));
        out.push(char::from(T[(n >> 12) as usize & 63]));
        out.push(if c.len() > 1 {
            char::from(T[(n >> 6) as usize & 63])
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            char::from(T[n as usize & 63])
        } else {
            '='
        });
    }
    out
}

/// Width, height and components of a baseline or progressive JPEG (its SOF marker).
pub fn jpeg_size(j: &[u8]) -> Option<(u16, u16, u8)> {
    if j.get(..2)? != [0xff, 0xd8] {
        return None;
    }
    let mut i = 2;
    while i + 9 < j.len() {
        if j[i] != 0xff {
            return None;
        }
        let marker = j[i + 1];
        let len = usize::from(u16::from_be_bytes([j[i + 2], j[i + 3]]));
        if matches!(marker, 0xc0..=0xc3 | 0xc5..=0xc7 | 0xc9..=0xcb | 0xcd..=0xcf) {
            let h = u16::from_be_bytes([j[i + 5], j[i + 6]]);
            let w = u16::from_be_bytes([j[i + 7], j[i + 8]]);
            return Some((w, h, j[i + 9]));
        }
        i += 2 + len;
    }
    None
}

/// ASCII only (base-14 fonts in standard encoding); anything else becomes `?`.
fn ascii(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c as u8
            } else {
                b'?'
            }
        })
        .collect()
}

/// Splits `s` into lines of at most `n` characters (at spaces when possible).
fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in s.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > n {
            out.push(std::mem::take(&mut line));
        }
        let mut w = word;
        while w.len() > n {
            let (a, b) = w.split_at(n);
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            out.push(a.to_owned());
            w = b;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// A line of the PDF: (bold?, font size, text).
type PdfLine = (bool, f32, String);

/// The thumbnail as drawn: its JPEG bytes and (width, height, components).
type PdfThumb<'a> = (&'a [u8], (u16, u16, u8));

/// A4 in points, and the margin on every side.
const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;

/// Object ids: the catalog, the page tree, the two fonts, the thumbnail; the pages (each a
/// page and its content stream) follow from [`FIRST_PAGE`].
const CATALOG: Ref = Ref::new(1);
const TREE: Ref = Ref::new(2);
const FONT: Ref = Ref::new(3);
const BOLD: Ref = Ref::new(4);
const IMAGE: Ref = Ref::new(5);
const FIRST_PAGE: i32 = 6;

/// Resource names of the regular and bold fonts and of the thumbnail.
const FONT_NAME: Name<'static> = Name(b"F1");
const BOLD_NAME: Name<'static> = Name(b"F2");
const IMAGE_NAME: Name<'static> = Name(b"Im1");

/// The PDF report: A4 pages with the same contents as the HTML (thumbnail, facts, checks,
/// what was not checked, how to re-check; the place as coordinates and an OpenStreetMap link).
pub fn pdf(r: &ReportInput<'_>) -> Vec<u8> {
    let p = &r.info.params;
    let place = (degrees(p.latitude), degrees(p.longitude));
    let thumb = r.thumbnail.and_then(|t| jpeg_size(t).map(|s| (t, s)));
    let pages = pdf_pages(&pdf_lines(r, place), thumb.map(|(_, s)| s), place);
    pdf_document(pages, thumb)
}

/// The text of the PDF, line by line: title, result, facts, map link, checks, what was not
/// checked, how to re-check.
fn pdf_lines(r: &ReportInput<'_>, (lat, lon): (f64, f64)) -> Vec<PdfLine> {
    let mut lines: Vec<PdfLine> = Vec::new();
    lines.push((
        true,
        15.0,
        format!("Dashcam evidence: {}", rfc3339(r.info.params.recorded_at)),
    ));
    lines.push((
        false,
        10.0,
        format!(
            "Result of the checks when this bundle was made: {}",
            r.verdict.result
        ),
    ));
    lines.push((true, 11.0, "Facts".into()));
    for (k, v) in facts(r) {
        push_wrapped(&mut lines, &format!("{k}: {v}"), 100, 8.0, "    ");
    }
    lines.push((false, 8.0, format!("Map: {}", osm_link(lat, lon))));
    lines.push((true, 11.0, "What was checked".into()));
    for c in &r.verdict.checks {
        let head = format!(
            "[{}] {}: {}",
            if c.ok { "ok" } else { "FAILED" },
            c.name,
            c.detail
        );
        push_wrapped(&mut lines, &head, 110, 7.5, "      ");
    }
    lines.push((true, 11.0, "What could not be checked offline".into()));
    for n in &r.verdict.not_checked {
        let item = format!("- {}. How: {}", n.what, n.how);
        push_wrapped(&mut lines, &item, 110, 7.5, "  ");
    }
    lines.push((true, 11.0, "How to re-check".into()));
    push_wrapped(&mut lines, RECHECK, 110, 7.5, "");
    lines
}

/// Appends `text` wrapped at `width` characters in regular type of `size`, every line after
/// the first indented by `indent`.
fn push_wrapped(lines: &mut Vec<PdfLine>, text: &str, width: usize, size: f32, indent: &str) {
    for (i, l) in wrap(text, width).into_iter().enumerate() {
        lines.push((false, size, if i == 0 { l } else { format!("{indent}{l}") }));
    }
}

/// Lays the lines out on pages: the first page starts with the thumbnail (up to 240 x 135 pt)
/// and the locator, after the title and the result line.
fn pdf_pages(lines: &[PdfLine], thumb: Option<(u16, u16, u8)>, place: (f64, f64)) -> Vec<Content> {
    let mut pages: Vec<Content> = Vec::new();
    let mut content = Content::new();
    let mut y = PAGE_H - MARGIN;
    for (idx, (b, size, text)) in lines.iter().enumerate() {
        if idx == 2
            && let Some((w, h, _)) = thumb
        {
            y = draw_thumbnail(&mut content, y, (w, h), place);
        }
        let lead = size * 1.35;
        if y - lead < MARGIN {
            pages.push(std::mem::replace(&mut content, Content::new()));
            y = PAGE_H - MARGIN;
        }
        y -= lead;
        content.begin_text();
        content.set_font(if *b { BOLD_NAME } else { FONT_NAME }, *size);
        content.next_line(MARGIN, y);
        content.show(Str(&ascii(text)));
        content.end_text();
    }
    pages.push(content);
    pages
}

/// Draws the thumbnail of `w` x `h` pixels on the left below `y` and the locator on the
/// right; returns where the text goes on.
fn draw_thumbnail(content: &mut Content, mut y: f32, (w, h): (u16, u16), place: (f64, f64)) -> f32 {
    let scale = (240.0 / f32::from(w)).min(135.0 / f32::from(h.max(1)));
    let (dw, dh) = (f32::from(w) * scale, f32::from(h) * scale);
    y -= dh + 6.0;
    content.save_state();
    content.transform([dw, 0.0, 0.0, dh, MARGIN, y]);
    content.x_object(IMAGE_NAME);
    content.restore_state();
    draw_locator(content, (MARGIN + 260.0, y, 160.0, dh), place);
    y - 8.0
}

/// The locator: a box (x, y, width, height) with the point in its centre and its coordinates
/// (no tiles in an offline file).
fn draw_locator(
    content: &mut Content,
    (bx, by, bw, bh): (f32, f32, f32, f32),
    (lat, lon): (f64, f64),
) {
    content.set_stroke_gray(0.5);
    content.rect(bx, by, bw, bh);
    content.stroke();
    content.move_to(bx + bw / 2.0, by);
    content.line_to(bx + bw / 2.0, by + bh);
    content.move_to(bx, by + bh / 2.0);
    content.line_to(bx + bw, by + bh / 2.0);
    content.stroke();
    content.set_fill_rgb(0.8, 0.0, 0.0);
    content.rect(bx + bw / 2.0 - 3.0, by + bh / 2.0 - 3.0, 6.0, 6.0);
    content.fill_nonzero();
    content.set_fill_gray(0.0);
    content.begin_text();
    content.set_font(FONT_NAME, 7.0);
    content.next_line(bx + 4.0, by + 4.0);
    content.show(Str(&ascii(&format!("{lat:.5}, {lon:.5}"))));
    content.end_text();
}

/// The PDF file: catalog, page tree, the pages with their content, the fonts and the
/// thumbnail.
fn pdf_document(pages: Vec<Content>, thumb: Option<PdfThumb<'_>>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    pdf.catalog(CATALOG).pages(TREE);
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(FIRST_PAGE + 2 * i as i32))
        .collect();
    pdf.pages(TREE)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    for (i, c) in pages.into_iter().enumerate() {
        let id = page_ids[i];
        let cid = Ref::new(id.get() + 1);
        let mut page = pdf.page(id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(TREE);
        page.contents(cid);
        {
            let mut res = page.resources();
            res.fonts().pair(FONT_NAME, FONT).pair(BOLD_NAME, BOLD);
            if thumb.is_some() {
                res.x_objects().pair(IMAGE_NAME, IMAGE);
            }
        }
        page.finish();
        pdf.stream(cid, &c.finish());
    }
    pdf.type1_font(FONT).base_font(Name(b"Helvetica"));
    pdf.type1_font(BOLD).base_font(Name(b"Helvetica-Bold"));
    if let Some((data, (w, h, comps))) = thumb {
        let mut img = pdf.image_xobject(IMAGE, data);
        img.filter(Filter::DctDecode);
        img.width(i32::from(w));
        img.height(i32::from(h));
        if comps == 1 {
            img.color_space().device_gray();
        } else {
            img.color_space().device_rgb();
        }
        img.bits_per_component(8);
        img.finish();
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input_parts() -> (EvidenceInfo, Verdict) {
        use crate::format::{Params, TxRef};
        use alloy::primitives::{Address, B256, Bytes};
        let info = EvidenceInfo {
            chain_id: 31337,
            evidence_factory: Address::repeat_byte(1),
            search_contract: Address::repeat_byte(2),
            ec: Address::repeat_byte(3),
            owner: Address::repeat_byte(4),
            status: "Verified".into(),
            evidence_hash: B256::repeat_byte(5),
            params: Params {
                video_hash: B256::repeat_byte(6),
                cipher_hash: B256::repeat_byte(7),
                frame_hash: B256::repeat_byte(8),
                frames_root: B256::repeat_byte(9),
                key_commitment: B256::repeat_byte(10),
                recorded_at: 1_700_000_000,
                latitude: 52_516_275,
                longitude: 13_377_704,
                capsule: Bytes::new(),
                wrapped_key: Bytes::new(),
                owner_umbral_key: Bytes::new(),
            },
            created: TxRef {
                tx: B256::repeat_byte(11),
                block: 3,
            },
            verified: TxRef {
                tx: B256::repeat_byte(12),
                block: 4,
            },
            request: None,
        };
        let verdict = crate::check::verify(&crate::format::Bundle::default());
        (info, verdict)
    }

    #[test]
    fn pdf_and_html_reports() {
        // SOI, then a SOF0 segment: 8-bit, 90 x 160, 3 components.
        let jpeg = [
            0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x5a, 0x00, 0xa0, 0x03, 1, 0x22, 0, 2,
            0x11, 1, 3, 0x11, 1, 0xff, 0xd9,
        ];
        assert_eq!(jpeg_size(&jpeg), Some((160, 90, 3)));
        assert_eq!(jpeg_size(b"not a jpeg"), None);
        let (info, verdict) = input_parts();
        let input = ReportInput {
            info: &info,
            verdict: &verdict,
            thumbnail: Some(&jpeg),
            clip_bytes: 42,
            made_at: "2026-12-03T00:00:00Z",
        };
        let pdf = pdf(&input);
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/DCTDecode") && text.contains("/Helvetica"));
        assert!(text.contains("2023-11-14T22:13:20Z"));
        assert!(text.contains("FAILED"), "the checks are listed");
        let html = html(&input);
        assert!(html.contains("data:image/jpeg;base64,"));
        assert!(html.contains("openstreetmap.org/?mlat=52.516275&amp;mlon=13.377704"));
        assert!(
            html.contains("approved dashcam"),
            "what was not checked is listed"
        );
    }

    #[test]
    fn dates_base64_wrap() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"f"), "Zg==");
        let w = wrap("aaa bbb ccc", 7);
        assert_eq!(w, vec!["aaa bbb", "ccc"]);
        assert!(wrap(&"x".repeat(25), 10).iter().all(|l| l.len() <= 10));
        assert_eq!(ascii("é a"), b"? a");
    }
}
