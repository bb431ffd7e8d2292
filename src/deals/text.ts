/**
 * The text of a document file, by type: plain text as is, PDF through unpdf (pdf.js, no native
 * code), DOCX through mammoth. Scanned images are not read: OCR is left out (docs/MIGRATING.md).
 * A file that cannot be read throws UnreadableDocument, which no retry can fix.
 */

/** A file whose text cannot be read: the job fails at once, with this reason stored. */
export class UnreadableDocument extends Error {
  override name = 'UnreadableDocument';
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|csv|x-yaml|markdown))/;
export const PDF = 'application/pdf';
export const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

/** What a name's extension says when the source gave no type. */
export function mimeOf(name: string, given?: string | null): string {
  if (given && given !== 'application/octet-stream') return given;
  const ext = name.toLowerCase().split('.').pop();
  if (ext === 'pdf') return PDF;
  if (ext === 'docx') return DOCX;
  if (ext === 'txt' || ext === 'md' || ext === 'csv') return 'text/plain';
  return given ?? 'application/octet-stream';
}

/** The readable text of `bytes`, cut at `maxChars`. */
export async function extractText(bytes: Uint8Array, mime: string, maxChars: number): Promise<string> {
  let text: string;
  if (TEXT_TYPES.test(mime)) {
    // fatal: a binary file mislabelled as text is unreadable, not a page of replacement chars.
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new UnreadableDocument(`the ${mime} file is not valid UTF-8 text`);
    }
  } else if (mime === PDF) {
    text = await pdfText(bytes);
  } else if (mime === DOCX) {
    text = await docxText(bytes);
  } else {
    throw new UnreadableDocument(`no text reader for ${mime} files`);
  }
  text = text.replace(/\u0000/g, '').trim();
  if (!text) throw new UnreadableDocument(`the ${mime} file has no text (a scan needs OCR, which Nova does not run)`);
  return text.slice(0, maxChars);
}

async function pdfText(bytes: Uint8Array): Promise<string> {
  const { extractText: extract, getDocumentProxy } = await import('unpdf');
  try {
    // pdf.js takes ownership of the buffer it is given: hand it a copy.
    const pdf = await getDocumentProxy(new Uint8Array(bytes));
    const { text } = await extract(pdf, { mergePages: true });
    return text;
  } catch (err) {
    throw new UnreadableDocument(`unreadable PDF: ${(err as Error).message}`, { cause: err });
  }
}

async function docxText(bytes: Uint8Array): Promise<string> {
  const mammoth = await import('mammoth');
  try {
    const { value } = await mammoth.extractRawText({ buffer: Buffer.from(bytes) });
    return value;
  } catch (err) {
    throw new UnreadableDocument(`unreadable DOCX: ${(err as Error).message}`, { cause: err });
  }
}
