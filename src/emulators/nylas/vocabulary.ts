/**
 * Word lists the generated mailbox draws from. They deliberately mix ASCII with accents, CJK,
 * right-to-left script and emoji (some outside the BMP), and include characters that must be
 * escaped in HTML, so clients meet the encodings real mailboxes contain.
 */

export interface Person {
  name: string;
  email: string;
}

export const PEOPLE: readonly Person[] = [
  { name: 'Dany Targaryen', email: 'dany@dragonstone.example' },
  { name: 'Jon Snow', email: 'jon.snow@wall.example' },
  { name: 'Zoë Müller', email: 'zoe.mueller@example.de' },
  { name: 'José Álvarez', email: 'jose.alvarez@example.es' },
  { name: 'Jean-François Côté', email: 'jf.cote@example.ca' },
  { name: '王芳', email: 'wang.fang@example.cn' },
  { name: '佐藤 花子', email: 'hanako.sato@example.jp' },
  { name: '김민준', email: 'minjun.kim@example.kr' },
  { name: 'Søren Ødegaard', email: 'soren@example.dk' },
  { name: 'Ana Lima', email: 'ana.lima@example.com.br' },
  { name: 'Łukasz Wójcik', email: 'lukasz.wojcik@example.pl' },
  { name: 'Αλέξανδρος Παππάς', email: 'alex.pappas@example.gr' },
  { name: 'Ольга Смирнова', email: 'olga.smirnova@example.ru' },
  { name: 'نور حداد', email: 'nour.haddad@example.ae' },
  { name: 'Priya Raghunathan', email: 'priya@example.in' },
  { name: "Siobhán O'Connor", email: 'siobhan.oconnor@example.ie' },
  { name: 'Billing Team', email: 'billing@vendor.example' },
  { name: 'GitHub', email: 'noreply@github.example' },
  { name: 'Ngọc Trần', email: 'ngoc.tran@example.vn' },
  { name: 'Émilie Dubois', email: 'emilie.dubois@example.fr' },
];

export const OWNER_NAMES: readonly string[] = ['Alex Rivera', 'Maëlle Laurent', '陈静', 'Sam Okafor', 'Ingrid Bjørnsen'];

export const SUBJECTS: readonly string[] = [
  'Dinner Wednesday?',
  'Quarterly report — Q3 numbers',
  'Réunion de lundi : ordre du jour',
  '会议纪要 2024',
  'Invoice #4821 is due',
  'Your build passed ✅',
  'Trip to Zürich 🇨🇭',
  'Re: contract & NDA <draft>',
  'Feedback on the design doc',
  '見積書の件',
  'Happy birthday! 🎂🎉',
  'Offsite planning',
  'Candidate: senior engineer',
  'Café tomorrow? ☕',
  'Rückfrage zur Lieferung',
  'Weekly sync notes',
  'Update: migration schedule',
  'Photos from the weekend 📸',
  'Password reset requested',
  'Propuesta de colaboración',
];

export const GREETINGS: readonly string[] = ['Hi', 'Hello', 'Bonjour', 'Hola', 'Hallo', 'こんにちは', 'Hey', 'Dear'];

export const SENTENCES: readonly string[] = [
  'Sounds good, let us go with Wednesday at 7.',
  'I attached the latest figures; revenue is up 12% quarter over quarter.',
  "Could you take a look before Friday? It's mostly the R&D section.",
  'Merci pour votre réponse rapide, je reviens vers vous demain.',
  '请查收附件中的会议纪要，如有问题请告诉我。',
  'The deploy finished without errors 🚀 and the dashboards look healthy.',
  'Ich habe die Unterlagen geprüft und alles passt soweit.',
  'Can we move the call to 3pm? Something came up <again>.',
  'Gracias por todo, nos vemos la próxima semana.',
  'Here is the summary: scope is fixed, budget needs one more review.',
  '来週の打ち合わせの日程を調整させてください。',
  'Let me know if "Option B" works for you — otherwise we keep A.',
  'Reminder: the invoice is due in 5 days.',
  'Great news 🎉 the client signed this morning!',
  'I will be out of office until Monday; Priya can help in the meantime.',
  'Obrigada! Vou revisar e te retorno hoje à tarde.',
];

export const SIGNOFFS: readonly string[] = ['Thanks', 'Best', 'Cheers', 'Cordialement', 'Saludos', 'Viele Grüße', 'よろしくお願いします'];

export interface AttachmentKind {
  filename: string;
  contentType: string;
}

export const ATTACHMENTS: readonly AttachmentKind[] = [
  { filename: 'report-q3.pdf', contentType: 'application/pdf' },
  { filename: 'Rapport financier – été.pdf', contentType: 'application/pdf' },
  { filename: '見積書.xlsx', contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  { filename: 'photo 🏔️.jpg', contentType: 'image/jpeg' },
  { filename: 'invoice-4821.pdf', contentType: 'application/pdf' },
  { filename: 'notes.txt', contentType: 'text/plain' },
  { filename: 'design-v2.png', contentType: 'image/png' },
];

export const CATEGORIES: readonly string[] = ['CATEGORY_PERSONAL', 'CATEGORY_UPDATES', 'CATEGORY_FORUMS', 'CATEGORY_PROMOTIONS'];

export const LABELS: readonly string[] = ['Label_1', 'Label_2', 'Label_3', 'Label_4', 'Label_5'];

export const SCOPES: readonly string[] = [
  'https://www.googleapis.com/auth/gmail.readonly',
  'https://www.googleapis.com/auth/gmail.modify',
  'https://www.googleapis.com/auth/userinfo.email',
];
