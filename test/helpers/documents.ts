export { docxBytes, pdfBytes } from '../../src/emulators/gdrive/samples.ts';
