import { describe, expect, it } from 'vitest';
import { extractionOutput, isEmailAddress, salvageOutput } from '../schema.ts';
import { prepareBody } from '../text.ts';
import { BuiltinExtractor, extractBuiltin } from './index.ts';
import { findPeople } from './rules.ts';

const SENT = new Date('2025-03-10T15:00:00Z'); // a Monday

/** Fixture emails as they arrive from Nylas: HTML, quoted history, signatures. */
const fixtures = {
  deal: {
    subject: 'Re: Order form for Q2',
    from: [{ name: 'Maria Lopez', email: 'maria@initech.io' }],
    to: [{ name: 'Sam Carter', email: 'sam@globex.com' }],
    body: `<div>Hi Sam,</div><div>Thanks for the call today. We are blocked until legal signs off on the MSA.
      Could you send the signed order form by Friday, March 14? The total is $12,500.00 plus a setup fee of €2.5k.</div>
      <div>I'll share the rollout plan on 2025-03-20.</div><div>Please loop in jane.doe@acme-robotics.com.</div>
      <div>Best regards,</div><div>Maria Lopez<br>Head of Sales, Initech</div>
      <div class="gmail_quote">On Mon, Mar 10, 2025 at 9:00 AM Sam wrote:<blockquote>Can you send the $99 invoice by April 1?</blockquote></div>`,
  },
  invoice: {
    subject: 'Invoice 1042 overdue',
    from: [{ name: 'Billing', email: 'billing@northwind.co.uk' }],
    to: [{ name: null, email: 'ap@globex.com' }],
    body: 'Hello,\n\nInvoice 1042 for USD 3,400 was due on 03/01/2025 and is now overdue. Please pay the amount due by end of month.\nA late fee of 150 euros applies after that.\n\nThanks,\nNorthwind Billing',
  },
  fine: {
    subject: 'Launch update',
    from: [{ name: 'Lee', email: 'lee@gmail.com' }],
    to: [{ name: 'Team', email: 'team@globex.com' }],
    body: '<p>Great news: the launch went smoothly and there are no blockers left. Thank you all, excellent work!</p>',
  },
};

const run = (f: (typeof fixtures)[keyof typeof fixtures]) => {
  const body = prepareBody(f.body, 3000);
  return extractBuiltin({ subject: f.subject, from: f.from, to: f.to, cc: [], date: SENT, ...body });
};

describe('builtin extractor', () => {
  it('extracts action items with owners and due dates, dates, amounts and the blocker of a deal email', () => {
    const x = run(fixtures.deal);
    expect(extractionOutput.safeParse(x).success).toBe(true);
    expect(x.actionItems).toEqual([
      { text: 'Could you send the signed order form by Friday, March 14?', owner: 'Sam Carter', dueDate: '2025-03-14' },
      { text: "I'll share the rollout plan on 2025-03-20.", owner: 'Maria Lopez', dueDate: '2025-03-20' },
      { text: 'Please loop in jane.doe@acme-robotics.com.', owner: 'Sam Carter', dueDate: null },
    ]);
    expect(x.dates).toEqual([
      { text: 'today', date: '2025-03-10', kind: 'meeting' },
      { text: 'by Friday, March 14', date: '2025-03-14', kind: 'deadline' },
      { text: '2025-03-20', date: '2025-03-20', kind: 'event' },
    ]);
    expect(x.amounts).toEqual([
      { text: '$12,500.00', value: 12500, currency: 'USD' },
      { text: '€2.5k', value: 2500, currency: 'EUR' },
    ]);
    expect(x.blocker).toEqual({ isBlocker: true, reason: 'We are blocked until legal signs off on the MSA.' });
    expect(x.category).toBe('request');
    expect(x.language).toBe('en');
    expect(x.people).toContainEqual({ name: null, email: 'jane.doe@acme-robotics.com', organization: 'Acme Robotics' });
    expect(x.organizations.map((o) => o.name)).toEqual(['Initech', 'Globex', 'Acme Robotics']);
    // The quoted history ($99, April 1) and the signature are not this message's facts.
    expect(JSON.stringify(x)).not.toMatch(/\$99|04-01|Head of Sales/);
  });

  it('reads an invoice: amounts in words and codes, US dates, end of month, payment intent', () => {
    const x = run(fixtures.invoice);
    expect(x.category).toBe('invoice');
    expect(x.intent).toBe('request payment: Invoice 1042 overdue');
    expect(x.amounts).toEqual([
      { text: 'USD 3,400', value: 3400, currency: 'USD' },
      { text: '150 euros', value: 150, currency: 'EUR' },
    ]);
    expect(x.dates).toEqual([
      { text: '03/01/2025', date: '2025-03-01', kind: 'deadline' },
      { text: 'end of month', date: '2025-03-31', kind: 'deadline' },
    ]);
    expect(x.actionItems).toEqual([{ text: 'Please pay the amount due by end of month.', owner: 'ap@globex.com', dueDate: '2025-03-31' }]);
    expect(x.organizations).toEqual([{ name: 'Northwind', domain: 'northwind.co.uk' }, { name: 'Globex', domain: 'globex.com' }]);
    expect(x.sentiment.label).toBe('negative');
  });

  it('sees a positive update with "no blockers" as no blocker', () => {
    const x = run(fixtures.fine);
    expect(x.blocker).toEqual({ isBlocker: false, reason: null });
    expect(x.sentiment.label).toBe('positive');
    expect(x.sentiment.score).toBeGreaterThan(0.5);
    expect(x.category).toBe('update');
    expect(x.actionItems).toEqual([]);
    // Free mail is no organisation.
    expect(x.people.find((p) => p.email === 'lee@gmail.com')?.organization).toBeNull();
  });

  it('guesses the language and handles an empty body', () => {
    const es = extractBuiltin({ subject: 'Hola', from: [], to: [], cc: [], date: SENT, text: 'Gracias por la reunión, el contrato es para la empresa y los documentos están listos.', truncated: false });
    expect(es.language).toBe('es');
    const empty = extractBuiltin({ subject: '', from: [], to: [], cc: [], date: SENT, text: '', truncated: false });
    expect(extractionOutput.safeParse(empty).success).toBe(true);
    expect(empty.summary).toBe('(empty message)');
    expect(empty.language).toBe('und');
  });
});

describe('addresses in the builtin extractor', () => {
  const valid = [
    'josé@example.com', 'info@münchen.de', 'bounces+ana=example.com@lists.example.org', 'a%b@example.com',
    'tom&jerry@example.com', '~user@example.com', 'user@[192.0.2.1]', 'user@[IPv6:2001:db8::1]', 'δοκιμή@παράδειγμα.δοκιμή',
  ];

  it.each(valid)('accepts %s from the headers and from the body, and the extraction validates', async (address) => {
    const input = {
      subject: 'Hello', from: [{ name: 'Sender', email: address }], to: [], cc: [], date: SENT,
      text: `Please write to ${address} by Friday.`, truncated: false,
    };
    const outcome = await new BuiltinExtractor().extract(input);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.output.people.map((p) => p.email)).toEqual([address.normalize('NFC').toLowerCase()]);
    expect(outcome.notes).toBeUndefined();
  });

  it('finds a written address and its display name without taking the punctuation around it', () => {
    const { people } = findPeople([], 'Contact "Ana Lee" <ana.lee@münchen.de>, or (ops~1@[10.0.0.1]). Mail bounce=x@y.example.org.');
    expect(people.map((p) => [p.name, p.email])).toEqual([['Ana Lee', 'ana.lee@münchen.de'], [null, 'ops~1@[10.0.0.1]'], [null, 'bounce=x@y.example.org']]);
  });

  it('drops one invalid entity with a note instead of failing the whole extraction', () => {
    const output = extractBuiltin({ subject: 'Deal', from: [{ name: 'Ana', email: 'ana@example.org' }], to: [], cc: [], date: SENT, text: 'We are blocked. The price is $5,000.', truncated: false });
    const broken = { ...output, people: [...output.people, { name: 'x'.repeat(300), email: 'not an address', organization: null }] };
    const salvaged = salvageOutput(broken);
    expect(salvaged.ok).toBe(true);
    if (!salvaged.ok) return;
    expect(salvaged.output.people).toEqual(output.people);
    expect(salvaged.output.amounts).toEqual(output.amounts);
    expect(salvaged.notes).toHaveLength(1);
    expect(salvaged.notes[0]).toMatch(/^dropped people\.1: /);
    // A problem outside the entity lists still fails: nothing can be dropped to fix it.
    expect(salvageOutput({ ...output, summary: '' }).ok).toBe(false);
  });

  it('refuses what is not an address', () => {
    for (const bad of ['a@b', '@example.com', 'a@@example.com', 'a b@example.com', 'a@exa mple.com', `${'a'.repeat(65)}@example.com`, 'a@[999.1]', 'a..b@example.com']) {
      expect(isEmailAddress(bad), bad).toBe(false);
    }
  });
});
