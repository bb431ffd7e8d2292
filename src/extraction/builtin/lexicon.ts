/**
 * Word lists of the builtin extractor. Kept apart from the rules so that tuning a list never
 * touches logic. English first; the language guess covers the common European languages.
 */

export const POSITIVE = new Set([
  'great', 'thanks', 'thank', 'appreciate', 'appreciated', 'excellent', 'happy', 'glad', 'pleased', 'love',
  'wonderful', 'perfect', 'awesome', 'excited', 'congratulations', 'congrats', 'good', 'nice', 'helpful',
  'success', 'successful', 'delighted', 'fantastic', 'impressed', 'approve', 'approved', 'agree', 'welcome',
  'brilliant', 'amazing', 'smooth', 'resolved', 'enjoyed', 'looking forward', 'well done', 'win', 'won',
]);

export const NEGATIVE = new Set([
  'unfortunately', 'disappointed', 'disappointing', 'problem', 'problems', 'issue', 'issues', 'delay', 'delayed',
  'fail', 'failed', 'failure', 'failing', 'error', 'errors', 'broken', 'bad', 'poor', 'angry', 'frustrated',
  'frustrating', 'concern', 'concerned', 'concerns', 'worried', 'complaint', 'cancel', 'cancelled', 'canceled',
  'refund', 'unacceptable', 'terrible', 'awful', 'sorry', 'blocked', 'stuck', 'late', 'overdue', 'risk', 'wrong',
  'unhappy', 'confused', 'annoyed', 'escalate', 'escalating', 'lost', 'outage', 'bug', 'crash', 'worse', 'worst',
]);

export const NEGATORS = new Set(['not', 'no', 'never', "don't", 'dont', "isn't", "wasn't", "aren't", "can't", 'cannot', "won't", 'without', 'hardly']);

/** Phrases that say progress is stopped until someone acts. */
export const BLOCKER_PATTERNS: RegExp[] = [
  /\bblock(?:ed|er|ers|ing)\b/i,
  /\b(?:can(?:no|')t|unable to|not able to) (?:proceed|move forward|continue|go ahead|sign|launch|ship|deploy)\b/i,
  /\bon hold\b/i,
  /\b(?:stuck|stalled|held up)\b/i,
  /\bwaiting (?:on|for) (?:\w+ ){0,3}(?:approval|sign-?off|legal|signature|budget|review|security|procurement|contract|po|purchase order|green light|funding)\b/i,
  /\bpending (?:\w+ ){0,2}(?:approval|review|sign-?off|signature)\b/i,
  /\bneeds? (?:\w+ ){0,2}(?:approval|sign-?off) before\b/i,
  /\b(?:showstopper|show-stopper|deal-?breaker)\b/i,
  /\b(?:budget|hiring|spending) freeze\b/i,
  /\bno budget\b/i,
  /\bat risk\b/i,
];

/** A blocker phrase that is negated ("no blockers", "unblocked") is not one. */
export const NOT_BLOCKER = /\b(?:no|not|zero|without|nothing|never|aren't|isn't)\s+(?:\w+\s+)?(?:blocker|blockers|blocked|blocking|stuck|on hold)\b|\bunblock(?:ed|ing)?\b/i;

/** Sentences that ask the reader to act; `owner` says who the phrase makes responsible. */
export const ACTION_PATTERNS: { re: RegExp; owner: 'recipient' | 'sender' | 'none' }[] = [
  { re: /^(?:please|pls|kindly)\b/i, owner: 'recipient' },
  { re: /\b(?:could|can|would|will) you(?: please)?\b/i, owner: 'recipient' },
  { re: /\b(?:don't forget|do not forget|remember to|make sure|be sure to|let me know|get back to me|send me|send over)\b/i, owner: 'recipient' },
  { re: /\byou (?:need|have|must|should) to\b|\byou must\b/i, owner: 'recipient' },
  { re: /\bplease\b/i, owner: 'recipient' },
  { re: /\b(?:I|we)(?:'ll| will| shall| am going to| are going to)\b(?! (?:be|have) )/i, owner: 'sender' },
  { re: /\b(?:I|we) (?:need|have|must) to\b/i, owner: 'sender' },
  { re: /\b(?:action items?|todo|to-do|next steps?)\s*:/i, owner: 'none' },
];

/** Polite phrases that look like requests but ask for nothing. */
export const NOT_ACTION = /\bplease (?:find|see) (?:attached|enclosed|below)\b|\bplease note\b|\bplease don't hesitate\b|\bthank you\b|\bhave a (?:great|good|nice)\b|\bwill you be\b|\bI'll be (?:out|away|travell?ing)\b/i;

export const FREE_MAIL = new Set([
  'gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'live.com', 'msn.com', 'icloud.com',
  'me.com', 'aol.com', 'proton.me', 'protonmail.com', 'gmx.com', 'gmx.de', 'mail.com', 'yandex.com', 'zoho.com',
  'fastmail.com', 'hey.com', 'example.com',
]);

export const ORG_SUFFIX = /\b((?:[A-Z][\w&'-]*\s){1,3}(?:Inc|LLC|Ltd|Limited|Corp|Corporation|GmbH|AG|SA|SAS|BV|PLC|Co)\b\.?)/g;

/** Frequent short words per language; the language with the most hits wins. */
export const STOPWORDS: Record<string, string[]> = {
  en: ['the', 'and', 'is', 'are', 'you', 'to', 'of', 'for', 'with', 'this', 'that', 'please', 'we', 'will'],
  es: ['el', 'la', 'los', 'las', 'que', 'de', 'y', 'para', 'con', 'por', 'una', 'es', 'gracias', 'usted'],
  fr: ['le', 'la', 'les', 'des', 'et', 'est', 'pour', 'avec', 'vous', 'nous', 'une', 'merci', 'dans', 'pas'],
  de: ['der', 'die', 'das', 'und', 'ist', 'nicht', 'mit', 'für', 'sie', 'wir', 'ein', 'eine', 'danke', 'bitte'],
  pt: ['o', 'os', 'as', 'que', 'de', 'e', 'para', 'com', 'uma', 'não', 'obrigado', 'você', 'por', 'em'],
  it: ['il', 'lo', 'gli', 'che', 'di', 'e', 'per', 'con', 'una', 'non', 'grazie', 'sono', 'della', 'siamo'],
  nl: ['de', 'het', 'een', 'en', 'is', 'niet', 'met', 'voor', 'van', 'wij', 'jullie', 'bedankt', 'dat', 'ik'],
};

/** Category cues, tried in order; the first that matches wins (see builtin/index.ts). */
export const CATEGORY_CUES: { category: string; re: RegExp }[] = [
  { category: 'newsletter', re: /\bunsubscribe\b|\bview (?:this|it) in (?:your )?browser\b|\bnewsletter\b/i },
  { category: 'invoice', re: /\binvoice\b|\bpayment (?:is )?(?:due|overdue)\b|\bamount due\b|\breceipt\b|\bbilling\b|\bremittance\b/i },
  { category: 'introduction', re: /\b(?:introduc(?:e|ing|tion)|connect you with|e-?intro)\b/i },
  // Arranging a meeting, not mentioning one ("thanks for the call" is no meeting request).
  { category: 'meeting', re: /\b(?:schedule|reschedule|availability|available|calendar|invite|set up (?:a |an )?(?:call|meeting|demo)|book (?:a |an )?(?:call|meeting|demo)|(?:call|meeting|demo|sync) (?:on|at|next|tomorrow|this)|meet (?:on|at|next|tomorrow|this|up))\b/i },
  { category: 'follow_up', re: /\bfollow(?:ing)?[- ]up\b|\bchecking in\b|\bcircling back\b|\bany updates?\b|\bjust wanted to check\b/i },
  { category: 'update', re: /\b(?:update|status|progress|fyi|heads up|report|released?|shipped)\b/i },
];

export const NOTIFICATION_SENDER = /\b(?:no-?reply|do-?not-?reply|notifications?|mailer-daemon|alerts?)@/i;
export const COMPLAINT = /\b(?:complain|complaint|unacceptable|disappointed|refund|escalat\w*)\b/i;
export const GREETING = /^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|bonjour|hola)\b[^.!?\n]{0,40}[,!:]?\s*$/i;
