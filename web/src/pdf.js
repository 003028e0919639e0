// A minimal PDF 1.4 writer for the bundle's report.pdf: A4 pages of text lines in the base-14
// Helvetica (no embedded fonts; text is limited to printable ASCII, anything else becomes '?')
// and, optionally, one JPEG image placed as is (DCTDecode), as in ISO 32000-1.

const enc = new TextEncoder();
const PAGE_W = 595;
const PAGE_H = 842;
const MARGIN = 50;

/** Width, height and components of a baseline/progressive JPEG, from its SOF marker; null if none. */
export function jpegSize(j) {
  if (!(j?.length > 4) || j[0] !== 0xff || j[1] !== 0xd8) return null;
  let p = 2;
  while (p + 4 <= j.length) {
    if (j[p] !== 0xff) return null;
    const m = j[p + 1];
    if (m === 0xff) {
      p += 1;
      continue;
    }
    const len = (j[p + 2] << 8) | j[p + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (p + 9 >= j.length) return null;
      const h = (j[p + 5] << 8) | j[p + 6];
      const w = (j[p + 7] << 8) | j[p + 8];
      return w && h ? { width: w, height: h, components: j[p + 9] } : null;
    }
    p += 2 + len;
  }
  return null;
}

/** A PDF string literal of printable ASCII. */
function pdfString(s) {
  const ascii = String(s).replace(/[^\x20-\x7e]/g, '?');
  return `(${ascii.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

/** Splits `s` into lines of at most `n` characters, at spaces where possible. */
export function wrap(s, n) {
  const out = [];
  let line = '';
  for (const word of String(s).split(' ')) {
    let w = word;
    while (w.length > n) {
      if (line) {
        out.push(line);
        line = '';
      }
      out.push(w.slice(0, n));
      w = w.slice(n);
    }
    if (!line) line = w;
    else if (line.length + 1 + w.length <= n) line += ` ${w}`;
    else {
      out.push(line);
      line = w;
    }
  }
  if (line || !out.length) out.push(line);
  return out;
}

/**
 * The PDF of `lines` ([{ text, size?, bold? }]; long lines wrapped) with `jpeg` (Uint8Array or
 * null) drawn under the first line at most 240 pt wide. Returns Uint8Array.
 */
export function pdfDocument(lines, jpeg = null) {
  const img = jpeg ? jpegSize(jpeg) : null;
  // Lay the lines out on pages.
  const pages = [[]];
  let y = PAGE_H - MARGIN;
  const place = (text, size, bold) => {
    const lead = size * 1.35;
    if (y - lead < MARGIN) {
      pages.push([]);
      y = PAGE_H - MARGIN;
    }
    y -= lead;
    pages[pages.length - 1].push(`BT /${bold ? 'F2' : 'F1'} ${size} Tf ${MARGIN} ${y.toFixed(2)} Td ${pdfString(text)} Tj ET`);
  };
  lines.forEach((l, i) => {
    const size = l.size ?? 9;
    // Helvetica averages ~0.5 em per character: a line of the text width.
    const max = Math.floor((PAGE_W - 2 * MARGIN) / (size * 0.5));
    for (const part of wrap(l.text, max)) place(part, size, l.bold);
    if (i === 0 && img) {
      const w = Math.min(240, img.width);
      const h = (w * img.height) / img.width;
      y -= h + 8;
      pages[0].push(`q ${w.toFixed(2)} 0 0 ${h.toFixed(2)} ${MARGIN} ${y.toFixed(2)} cm /Im1 Do Q`);
    }
  });

  const chunks = [];
  const offsets = [];
  let pos = 0;
  const push = (x) => {
    const b = typeof x === 'string' ? enc.encode(x) : x;
    chunks.push(b);
    pos += b.length;
  };
  const obj = (n, body) => {
    offsets[n] = pos;
    push(`${n} 0 obj\n`);
    for (const part of [].concat(body)) push(part);
    push('\nendobj\n');
  };
  push('%PDF-1.4\n');
  const first = img ? 6 : 5; // first page object number
  const pageRefs = pages.map((_, i) => `${first + 2 * i} 0 R`).join(' ');
  obj(1, '<< /Type /Catalog /Pages 2 0 R >>');
  obj(2, `<< /Type /Pages /Kids [${pageRefs}] /Count ${pages.length} >>`);
  obj(3, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  obj(4, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>');
  if (img) {
    const cs = img.components === 1 ? '/DeviceGray' : img.components === 4 ? '/DeviceCMYK' : '/DeviceRGB';
    obj(5, [`<< /Type /XObject /Subtype /Image /Width ${img.width} /Height ${img.height} /ColorSpace ${cs} /BitsPerComponent 8 /Filter /DCTDecode /Length ${jpeg.length} >>\nstream\n`, jpeg, '\nendstream']);
  }
  pages.forEach((ops, i) => {
    const n = first + 2 * i;
    const res = `<< /Font << /F1 3 0 R /F2 4 0 R >>${img && i === 0 ? ' /XObject << /Im1 5 0 R >>' : ''} >>`;
    obj(n, `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${PAGE_W} ${PAGE_H}] /Resources ${res} /Contents ${n + 1} 0 R >>`);
    const content = enc.encode(ops.join('\n'));
    obj(n + 1, [`<< /Length ${content.length} >>\nstream\n`, content, '\nendstream']);
  });
  const count = first + 2 * pages.length;
  const xref = pos;
  push(`xref\n0 ${count}\n0000000000 65535 f \n`);
  for (let n = 1; n < count; n++) push(`${String(offsets[n] ?? 0).padStart(10, '0')} 00000 n \n`);
  push(`trailer\n<< /Size ${count} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  const out = new Uint8Array(pos);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
