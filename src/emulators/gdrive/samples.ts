import { crc32, deflateSync, inflateSync } from 'node:zlib';
import JSZip from 'jszip';
import { SCAN_PNG_BASE64 } from './scan-sample.ts';

/** Sample files for the Drive emulator's demo folder and for tests: real PDF and DOCX bytes. */

/** A one-page PDF showing `text` in Helvetica, with a correct cross-reference table. */
export function pdfBytes(text: string): Uint8Array {
  return pdfPagesBytes([text]);
}

/** A text PDF of one page per string (the 10-page document of the deals bench). */
export function pdfPagesBytes(pages: string[]): Uint8Array {
  // Lines of at most 80 characters: text past the page's edge is not extracted by PDF readers.
  const content = (text: string) => {
    const lines = text.match(/.{1,80}(\s|$)/g) ?? [text];
    const shown = lines.map((l) => `(${l.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj 0 -16 Td`).join(' ');
    return `BT /F1 12 Tf 72 720 Td ${shown} ET`;
  };
  // Objects: 1 catalog, 2 page tree, 3 font, then a page and its content stream per page.
  const page = (i: number) => 4 + 2 * i;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${pages.map((_, i) => `${page(i)} 0 R`).join(' ')}] /Count ${pages.length} >>`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ...pages.flatMap((text, i) => {
      const stream = content(text);
      return [
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${page(i) + 1} 0 R /Resources << /Font << /F1 3 0 R >> >> >>`,
        `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
      ];
    }),
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}

/** A minimal Word document with one paragraph of `text`. */
export async function docxBytes(text: string): Promise<Uint8Array> {
  const zip = new JSZip();
  zip.file('[Content_Types].xml', `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`);
  zip.file('_rels/.rels', `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`);
  zip.file('word/document.xml', `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>${text}</w:t></w:r></w:p></w:body></w:document>`);
  return zip.generateAsync({ type: 'uint8array' });
}

/** The words of the sample scan (scan-sample.ts), for assertions. */
export const SCAN_TEXT = 'SCANNED CONFIDENTIAL MEMORANDUM The environmental survey found asbestos in warehouse B. ' +
  'The seller will give an indemnity for the remediation costs before closing. Pending litigation with the landlord is disclosed.';

/** The sample scan as a PNG file (an image upload). */
export function scanPng(): Uint8Array {
  return new Uint8Array(Buffer.from(SCAN_PNG_BASE64, 'base64'));
}

/**
 * The sample scan at `factor` times its resolution (each pixel a factor × factor block), as a PNG:
 * the same page as a finer scanner would give it. Drawn on a letter-wide PDF page, the sample is
 * about 165 dpi; factor 4 makes it about 660 dpi.
 */
export function scanPngScaled(factor: number): Uint8Array {
  const png = scanPng();
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idat: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  for (let at = 8; at < png.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    if (type === 'IHDR') [width, height] = [view.getUint32(at + 8), view.getUint32(at + 12)];
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  // The sample is 1-bit gray: rows of ceil(width / 8) bytes, each after its filter byte.
  const raw = inflateSync(Buffer.concat(idat));
  const rowBytes = (width + 7) >> 3;
  const rows: Uint8Array[] = [];
  let prev = new Uint8Array(rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)]!;
    const line = new Uint8Array(raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1)));
    for (let x = 0; x < rowBytes; x++) {
      const left = x ? line[x - 1]! : 0;
      const up = prev[x]!;
      const upLeft = x ? prev[x - 1]! : 0;
      const paeth = () => {
        const p = left + up - upLeft;
        const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
        return pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      };
      const add = [0, left, up, (left + up) >> 1, 0][filter] ?? 0;
      line[x] = (line[x]! + (filter === 4 ? paeth() : add)) & 255;
    }
    rows.push(line);
    prev = line;
  }
  const w = width * factor;
  const h = height * factor;
  const outRow = (w + 7) >> 3;
  const out = new Uint8Array(h * (outRow + 1));
  for (let y = 0; y < h; y++) {
    const src = rows[Math.floor(y / factor)]!;
    const dst = out.subarray(y * (outRow + 1) + 1);
    for (let x = 0; x < w; x++) {
      const sx = Math.floor(x / factor);
      if ((src[sx >> 3]! >> (7 - (sx & 7))) & 1) dst[x >> 3] = dst[x >> 3]! | (1 << (7 - (x & 7)));
    }
  }
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([1, 0, 0, 0, 0], 8);
  return new Uint8Array(Buffer.concat([png.subarray(0, 8), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(out)), chunk('IEND', new Uint8Array(0))]));
}

/**
 * A PDF of `pages` scanned pages, each the sample scan as its only content: an image XObject and
 * no text layer, as a scanner writes it. `tiles` > 1 stacks the scan that many times down a page
 * (6 fill a letter page with about 30 lines, for benchmarks). The PNG's compressed data goes in
 * unchanged: a PDF Flate stream with PNG predictors (Predictor 15) is the same bytes as a PNG's
 * IDAT chunks.
 */
export function scannedPdfBytes(pages = 1, png = scanPng(), tiles = 1): Uint8Array {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idat: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  let depth = 8;
  for (let at = 8; at < png.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') [width, height, depth] = [view.getUint32(at + 8), view.getUint32(at + 12), data[8]!];
    if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const image = Buffer.concat(idat);
  // The page keeps the scan's proportions on a letter-wide page.
  const tileHeight = Math.round((612 * height) / width);
  const pageHeight = tileHeight * tiles;
  // One image object per tile: pdf.js would fold repeats of one image into a single paint.
  const content = Array.from({ length: tiles }, (_, i) => `q 612 0 0 ${tileHeight} 0 ${i * tileHeight} cm /Scan${i} Do Q`).join(' ');
  const firstImage = 4 + pages;
  const xobjects = Array.from({ length: tiles }, (_, i) => `/Scan${i} ${firstImage + i} 0 R`).join(' ');
  const imageObject: [string, Uint8Array] = [`<< /Type /XObject /Subtype /Image /Width ${width} /Height ${height} /ColorSpace /DeviceGray /BitsPerComponent ${depth} ` +
    `/Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors 1 /BitsPerComponent ${depth} /Columns ${width} >> /Length ${image.length} >>\nstream\n`, image];
  const objects: (string | [string, Uint8Array])[] = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${Array.from({ length: pages }, (_, i) => `${3 + i} 0 R`).join(' ')}] /Count ${pages} >>`,
    ...Array.from({ length: pages }, () => `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 ${pageHeight}] /Contents ${3 + pages} 0 R /Resources << /XObject << ${xobjects} >> >> >>`),
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    ...Array.from({ length: tiles }, () => imageObject),
  ];
  const chunks: Buffer[] = [Buffer.from('%PDF-1.4\n', 'latin1')];
  let size = chunks[0]!.length;
  const push = (b: Buffer) => { chunks.push(b); size += b.length; };
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(size);
    if (typeof body === 'string') push(Buffer.from(`${i + 1} 0 obj\n${body}\nendobj\n`, 'latin1'));
    else {
      push(Buffer.from(`${i + 1} 0 obj\n${body[0]}`, 'latin1'));
      push(Buffer.from(body[1]));
      push(Buffer.from('\nendstream\nendobj\n', 'latin1'));
    }
  });
  const xref = size;
  push(Buffer.from(`xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}` +
    `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`, 'latin1'));
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * A PDF protected by a user password (standard security handler, RC4 40-bit): pdf.js cannot open
 * it without the password. The /U entry is random, so no password, the empty one included, opens it.
 */
export function encryptedPdfBytes(): Uint8Array {
  const hex = (n: number) => Array.from({ length: n }, (_, i) => ((i * 37 + 11) & 255).toString(16).padStart(2, '0')).join('');
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>',
    `<< /Filter /Standard /V 1 /R 2 /O <${hex(32)}> /U <${hex(32).split('').reverse().join('')}> /P -44 >>`];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Encrypt 4 0 R /ID [<${hex(16)}> <${hex(16)}>] >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}
